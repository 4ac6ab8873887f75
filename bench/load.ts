// The load test of issue 12: a repository grown as a busy one grows (a real-sized
// history, then pushes that each add a large blob on their own branch), then rounds of
// concurrent `git clone --bare` with pushes in flight, against Gitflare and against C
// git's `git http-backend` alike. Shared by `npm run bench` (full size) and
// e2e/load.test.ts (small enough for CI).
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { mulberry32 } from "../src/util/prng";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs git in `cwd` (the runner supplies the environment: credentials, config). */
export type GitRunner = (cwd: string, args: string[], input?: Buffer) => Promise<RunResult>;

/** A GitRunner over `execFile` with this environment. */
export function gitRunner(env: NodeJS.ProcessEnv): GitRunner {
  return (cwd, args, input) =>
    new Promise((resolve) => {
      const child = execFile("git", args, { cwd, env, maxBuffer: 1 << 30 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      });
      if (input) child.stdin?.end(input);
    });
}

async function must(run: GitRunner, cwd: string, args: string[], input?: Buffer): Promise<string> {
  const r = await run(cwd, args, input);
  if (r.code !== 0) throw new Error(`git ${args.join(" ")} failed (${r.code}):\n${r.stderr}`);
  return r.stdout.trim();
}

/**
 * Makes `ref` in the bare repository `source` a new commit on main that adds one file
 * of `bytes` random (incompressible) bytes at the top of the tree.
 */
export async function commitBlob(run: GitRunner, source: string, ref: string, bytes: number, seed: number): Promise<string> {
  const rand = mulberry32(seed);
  const data = Buffer.alloc(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) data.writeUInt32LE(Math.floor(rand() * 2 ** 32), i);
  const blob = await must(run, source, ["hash-object", "-w", "--stdin"], data);
  const top = await must(run, source, ["ls-tree", "refs/heads/main"]);
  const name = `${ref.replace(/^refs\/heads\//, "").replace(/[^A-Za-z0-9]+/g, "-")}.bin`;
  const tree = await must(run, source, ["mktree"], Buffer.from(`${top}\n100644 blob ${blob}\t${name}\n`));
  const commit = await must(run, source, [
    "-c",
    "user.name=Load",
    "-c",
    "user.email=load@example.com",
    "commit-tree",
    tree,
    "-p",
    "refs/heads/main",
    "-m",
    `add ${name}`,
  ]);
  await must(run, source, ["update-ref", ref, commit]);
  return commit;
}

export interface GrowOptions {
  /** Pushes after the history, each adding one blob on its own branch. */
  blobPushes: number;
  blobBytes: number;
}

/**
 * Pushes the history of `source` (all branches and tags) to each URL, then `blobPushes`
 * pushes of one new branch each carrying a new random blob: one pack per push, as a busy
 * repository receives them.
 */
export async function growRepository(run: GitRunner, source: string, urls: string[], options: GrowOptions): Promise<void> {
  for (const url of urls) await must(run, source, ["push", "-q", url, "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*"]);
  for (let i = 0; i < options.blobPushes; i++) {
    const ref = `refs/heads/blob/${String(i).padStart(2, "0")}`;
    await commitBlob(run, source, ref, options.blobBytes, 1000 + i);
    for (const url of urls) await must(run, source, ["push", "-q", url, `${ref}:${ref}`]);
  }
}

export interface Outcome {
  ok: boolean;
  ms: number;
  /** The end of git's stderr when it failed. */
  error?: string;
}

async function timed(run: GitRunner, cwd: string, args: string[]): Promise<Outcome> {
  const started = performance.now();
  const r = await run(cwd, args);
  const ms = performance.now() - started;
  return r.code === 0 ? { ok: true, ms } : { ok: false, ms, error: r.stderr.trim().split("\n").slice(-3).join(" / ") };
}

/** One `git clone --bare` of `url` into `dir`, timed; the clone is removed afterwards. */
export async function cloneOnce(run: GitRunner, work: string, url: string, dir: string): Promise<Outcome> {
  const out = await timed(run, work, ["clone", "-q", "--bare", url, dir]);
  rmSync(join(work, dir), { recursive: true, force: true });
  return out;
}

export interface LoadOptions {
  concurrency: number;
  rounds: number;
  /** Pushes started with each round's clones, each a new blob on its own branch. */
  pushesInFlight: number;
  pushBlobBytes: number;
}

export interface RoundResult {
  ms: number;
  clones: Outcome[];
  pushes: Outcome[];
}

export interface LoadResult {
  /** A clone with nothing else running, before the rounds. */
  loneMs: number;
  rounds: RoundResult[];
  failures: number;
  slowestMs: number;
  /** Clones completed per second of the rounds' wall time. */
  clonesPerSecond: number;
  errors: string[];
}

/**
 * A lone clone, then `rounds` rounds of `concurrency` concurrent clones with
 * `pushesInFlight` pushes started alongside. `source` is the bare repository the pushes
 * come from (it gains their branches); `tag` keeps each server's branch names apart.
 */
export async function cloneLoad(
  run: GitRunner,
  work: string,
  url: string,
  source: string,
  tag: string,
  options: LoadOptions,
): Promise<LoadResult> {
  tag = tag.replace(/[^A-Za-z0-9]+/g, "-").toLowerCase();
  // Each server's pushed blobs differ, so that neither repository holds the other's.
  const salt = [...tag].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 997, 7);
  const lone = await cloneOnce(run, work, url, `${tag}-lone.git`);
  if (!lone.ok) throw new Error(`the lone clone failed: ${lone.error}`);
  const rounds: RoundResult[] = [];
  for (let r = 0; r < options.rounds; r++) {
    // The pushes' commits are made before the round starts, so only sending them overlaps.
    const refs: string[] = [];
    for (let k = 0; k < options.pushesInFlight; k++) {
      const ref = `refs/heads/load/${tag}-${r}-${k}`;
      await commitBlob(run, source, ref, options.pushBlobBytes, 10_000 * salt + r * 100 + k);
      refs.push(ref);
    }
    const started = performance.now();
    const clones = Array.from({ length: options.concurrency }, (_, i) => cloneOnce(run, work, url, `${tag}-${r}-${i}.git`));
    const pushes = refs.map((ref) => timed(run, source, ["push", "-q", url, `${ref}:${ref}`]));
    const [c, p] = await Promise.all([Promise.all(clones), Promise.all(pushes)]);
    rounds.push({ ms: performance.now() - started, clones: c, pushes: p });
  }
  const all = rounds.flatMap((r) => [...r.clones, ...r.pushes]);
  const clones = rounds.flatMap((r) => r.clones);
  return {
    loneMs: lone.ms,
    rounds,
    failures: all.filter((o) => !o.ok).length,
    slowestMs: Math.max(...clones.map((c) => c.ms)),
    clonesPerSecond: clones.filter((c) => c.ok).length / (rounds.reduce((s, r) => s + r.ms, 0) / 1000),
    errors: [...new Set(all.filter((o) => !o.ok).map((o) => o.error ?? ""))],
  };
}

/** The isolate's heap + ArrayBuffers, sampled while a load runs, and how long it went unanswered. */
export class HeapSampler {
  private timer: ReturnType<typeof setInterval> | null = null;
  private waiting = false;
  private lastAnswer = 0;
  peakBytes = 0;
  samples = 0;
  /** The longest time the inspector did not answer (the isolate busy without a break). */
  longestSilenceMs = 0;

  constructor(
    private readonly heap: () => Promise<{ js: number; buffers: number }>,
    private readonly everyMs = 100,
  ) {}

  start(): void {
    this.lastAnswer = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      this.longestSilenceMs = Math.max(this.longestSilenceMs, now - this.lastAnswer);
      if (this.waiting) return;
      this.waiting = true;
      void this.heap().then((h) => {
        this.waiting = false;
        this.lastAnswer = performance.now();
        this.samples++;
        this.peakBytes = Math.max(this.peakBytes, h.js + h.buffers);
      });
    }, this.everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

export interface LoadTarget {
  name: string;
  url: string;
  /** Reads the server's isolate heap (Gitflare's, through the inspector). */
  heap?: () => Promise<{ js: number; buffers: number }>;
  /** Called when this target's load is over (to stop its server before the next one's). */
  done?: () => Promise<void>;
}

export interface TargetResult extends LoadResult {
  name: string;
  heapPeakBytes?: number;
  heapSamples?: number;
  longestSilenceMs?: number;
}

/**
 * Grows the repository on every target alike, lets maintenance start (`settleMs`, as a
 * real repository idles between bursts), then loads each target in turn.
 */
export async function loadTargets(
  run: GitRunner,
  work: string,
  source: string,
  targets: LoadTarget[],
  grow: GrowOptions,
  load: LoadOptions,
  settleMs: number,
  log: (line: string) => void = () => undefined,
): Promise<TargetResult[]> {
  const t = performance.now();
  await growRepository(
    run,
    source,
    targets.map((x) => x.url),
    grow,
  );
  log(
    `grown: history and ${grow.blobPushes} pushes of ${grow.blobBytes} bytes to each server in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  await new Promise((r) => setTimeout(r, settleMs));
  const out: TargetResult[] = [];
  for (const target of targets) {
    const sampler = target.heap ? new HeapSampler(target.heap) : null;
    sampler?.start();
    const r = await cloneLoad(run, work, target.url, source, target.name, load);
    sampler?.stop();
    await target.done?.();
    out.push({
      name: target.name,
      ...r,
      ...(sampler ? { heapPeakBytes: sampler.peakBytes, heapSamples: sampler.samples, longestSilenceMs: sampler.longestSilenceMs } : {}),
    });
    log(summary(out[out.length - 1]));
  }
  return out;
}

export function summary(r: TargetResult): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return (
    `${r.name.padEnd(9)} lone clone ${s(r.loneMs)}; rounds ${r.rounds.map((x) => s(x.ms)).join(", ")}; ` +
    `slowest clone ${s(r.slowestMs)} (${(r.slowestMs / r.loneMs).toFixed(1)}× lone); failures ${r.failures}; ` +
    `${r.clonesPerSecond.toFixed(2)} clones/s` +
    (r.heapPeakBytes !== undefined
      ? `; isolate heap peak ${(r.heapPeakBytes / 2 ** 20).toFixed(1)} MiB (${r.heapSamples} samples, longest silence ${Math.round(r.longestSilenceMs ?? 0)} ms)`
      : "") +
    (r.errors.length ? `\n  errors: ${r.errors.join("\n  ")}` : "")
  );
}

/** The results as a Markdown table, Gitflare beside C git. */
export function loadMarkdown(results: TargetResult[], load: LoadOptions, grow: GrowOptions, repo: string): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lines = [
    `Repository: ${repo}, then ${grow.blobPushes} pushes of one ${(grow.blobBytes / 2 ** 20).toFixed(0)} MiB random blob each on its own branch; 30 s idle. ` +
      `Then a lone \`git clone --bare\`, and ${load.rounds} rounds of ${load.concurrency} concurrent clones with ${load.pushesInFlight} pushes ` +
      `(a ${(load.pushBlobBytes / 2 ** 20).toFixed(0)} MiB blob each, on new branches) in flight.`,
    "",
    "| server | lone clone | each round | slowest clone (× lone) | failures | clones/s | isolate heap + ArrayBuffers peak (sampled) |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const r of results) {
    lines.push(
      `| ${r.name} | ${s(r.loneMs)} | ${r.rounds.map((x) => s(x.ms)).join(", ")} | ${s(r.slowestMs)} (${(r.slowestMs / r.loneMs).toFixed(1)}×) | ${r.failures} of ${r.rounds.length * (load.concurrency + load.pushesInFlight)} | ${r.clonesPerSecond.toFixed(2)} | ${r.heapPeakBytes !== undefined ? `${(r.heapPeakBytes / 2 ** 20).toFixed(1)} MiB` : "–"} |`,
    );
  }
  return lines.join("\n") + "\n";
}
