// Issue 15: a repository shaped like a large real one (the `large` preset of
// bench/generate.ts: about 440k objects, most of them trees), and what users do to it,
// against C git's `git http-backend` on the same machine in one run: a full push into an
// empty repository, a clone right after it, a CI-style shallow clone, a clone and a fetch
// after many one-commit pushes, and concurrent full clones. `npm run bench -- --only large`
// writes large.json and large.md.
//
// Gitflare runs on its own server with its inspector open, for the isolate's memory (JS
// heap plus ArrayBuffers, what the 128 MB limit counts), and git talks to the runtime
// directly, past wrangler's dev proxy (see LocalServer.directUrl), through a counting proxy.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { LocalServer, freePort } from "../e2e/server";
import { startCgitServer } from "./cgit-server";
import { run } from "./exec";
import { Inspector } from "./inspector";
import { type GitRunner, HeapSampler, cloneOnce, gitRunner } from "./load";
import { CountingProxy, type RequestRecord } from "./proxy";
import { type Invocations, invocations, stepLines } from "./worker-log";

export interface LargeOptions {
  work: string;
  /** The bare repository pushed to both servers. */
  source: string;
  /** How the table names it. */
  label: string;
  afterPushes: number;
  /** How many full clones run at once, each its own measurement. */
  concurrency: number[];
  /** Take a heap snapshot during one more full clone, once the isolate holds this many bytes (0: none). */
  snapshotOverBytes: number;
}

type Target = "gitflare" | "cgit";

export interface LargeMeasure extends Invocations {
  ms: number;
  bytes: number;
  longestRequestMs: number;
  /** Gitflare only: the isolate's JS heap plus ArrayBuffers, sampled every 50 ms. */
  peakHeap?: number;
  /** Gitflare only: the workerd processes' resident memory. */
  peakRss?: number;
  /** Gitflare only: the longest the inspector went unanswered (the isolate busy, its memory unsampled). */
  silentMs?: number;
  steps?: string[];
}

export interface LargeRow {
  op: string;
  /** Clones or fetches this operation made (the busy time is per one of them). */
  uploads: number;
  gitflare: LargeMeasure;
  cgit: LargeMeasure;
}

export interface ConcurrentRow {
  clones: number;
  gitflare: { ms: number; failures: number; clonesPerSecond: number; peakHeap: number; slowestMs: number } & Invocations;
  cgit: { ms: number; failures: number; clonesPerSecond: number; slowestMs: number };
  errors: string[];
}

export interface LargeResult {
  label: string;
  repository: { objects: number; byType: Record<string, number>; packMiB: number; refs: number; files: number; directories: number };
  machine: Record<string, unknown>;
  idleRss: number;
  rows: LargeRow[];
  concurrent: ConcurrentRow[];
  snapshot?: { file: string; heapBytes: number };
}

/** Resident memory of the workerd processes in a process group, in bytes. */
function workerdRss(group: number): number {
  let total = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== group || !stat.includes("(workerd)")) continue;
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (rss) total += Number(rss[1]) * 1024;
    } catch {
      // The process ended between listing and reading.
    }
  }
  return total;
}

/** The shape of the repository: what its objects are, and its tip. */
async function describe(source: string, env: NodeJS.ProcessEnv): Promise<LargeResult["repository"]> {
  const byType: Record<string, number> = {};
  const types = await run("git", ["cat-file", "--batch-all-objects", "--batch-check=%(objecttype)"], source, env);
  for (const t of types.split("\n").filter(Boolean)) byType[t] = (byType[t] ?? 0) + 1;
  const count = await run("git", ["count-objects", "-v"], source, env);
  const lines = (s: string) => s.split("\n").filter(Boolean).length;
  return {
    objects: Object.values(byType).reduce((a, b) => a + b, 0),
    byType,
    packMiB: Number(/size-pack: (\d+)/.exec(count)?.[1] ?? 0) / 1024,
    refs: lines(await run("git", ["for-each-ref"], source, env)),
    files: lines(await run("git", ["ls-tree", "-r", "--name-only", "HEAD"], source, env)),
    directories: lines(await run("git", ["ls-tree", "-r", "-d", "--name-only", "HEAD"], source, env)),
  };
}

export async function largeBench(options: LargeOptions, log: (line: string) => void = console.log): Promise<LargeResult> {
  const { work, source } = options;
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", HOME: work };
  const repository = await describe(source, env);
  log(
    `repository: ${repository.objects} objects (${Object.entries(repository.byType)
      .map(([t, n]) => `${n} ${t}s`)
      .join(
        ", ",
      )}), ${repository.packMiB.toFixed(1)} MiB pack, ${repository.refs} refs, ${repository.files} files in ${repository.directories} directories`,
  );

  const server = new LocalServer(join(work, "large-state"));
  const inspectorPort = await freePort();
  await server.start({ inspectorPort });
  const cgitRoot = join(work, "large-cgit");
  mkdirSync(cgitRoot, { recursive: true });
  const cgitPort = await freePort();
  const cgit = await startCgitServer(cgitRoot, cgitPort);
  const proxies: Record<Target, CountingProxy> = {
    gitflare: new CountingProxy(Number(new URL(await server.directUrl()).port), { fresh: true }),
    cgit: new CountingProxy(cgitPort),
  };
  const ports: Record<Target, number> = { gitflare: await freePort(), cgit: await freePort() };
  await proxies.gitflare.start(ports.gitflare);
  await proxies.cgit.start(ports.cgit);
  try {
    const inspector = await Inspector.connect(inspectorPort);
    const account = await server.signUpAndUse("large");
    Object.assign(env, {
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: `http.http://127.0.0.1:${ports.gitflare}/.extraHeader`,
      GIT_CONFIG_VALUE_0: `Authorization: ${account.auth}`,
    });
    const git = (cwd: string, ...a: string[]) => run("git", a, cwd, env);
    const runner: GitRunner = gitRunner(env);
    const url = (t: Target) =>
      t === "gitflare" ? `http://127.0.0.1:${ports.gitflare}/large/large.git` : `http://127.0.0.1:${ports.cgit}/large.git`;
    await git(cgitRoot, "init", "-q", "--bare", "--initial-branch=main", "large.git");
    await git(join(cgitRoot, "large.git"), "config", "http.receivepack", "true");
    await new Promise((r) => setTimeout(r, 1000));
    const idleRss = workerdRss(server.processGroup!);

    /** Samples Gitflare's isolate and process while `fn` runs. */
    async function sampled<T>(fn: () => Promise<T>): Promise<{ value: T; peakHeap: number; peakRss: number; silentMs: number }> {
      const heap = new HeapSampler(() => inspector.heap(), 50);
      let peakRss = 0;
      const rss = setInterval(() => {
        peakRss = Math.max(peakRss, workerdRss(server.processGroup!));
      }, 100);
      heap.start();
      try {
        const value = await fn();
        return {
          value,
          peakHeap: heap.peakBytes,
          peakRss: Math.max(peakRss, workerdRss(server.processGroup!)),
          silentMs: Math.round(heap.longestSilenceMs),
        };
      } finally {
        heap.stop();
        clearInterval(rss);
      }
    }

    const rows: LargeRow[] = [];
    async function measure(op: string, uploads: number, fn: (t: Target) => Promise<unknown>, bytesOf: (recs: RequestRecord[]) => number) {
      const row = { op, uploads } as LargeRow;
      for (const t of ["gitflare", "cgit"] as const) {
        proxies[t].take();
        const mark = server.mark();
        const started = performance.now();
        const s = t === "gitflare" ? await sampled(() => fn(t)) : { value: await fn(t), peakHeap: 0, peakRss: 0, silentMs: 0 };
        const ms = performance.now() - started;
        // Let the proxy see the end of the last response before reading its records.
        await new Promise((r) => setTimeout(r, 50));
        const recs = proxies[t].take();
        const logText = t === "gitflare" ? server.outputSince(mark) : null;
        row[t] = {
          ms,
          bytes: bytesOf(recs),
          longestRequestMs: Math.max(0, ...recs.map((r) => r.ms)),
          ...invocations(recs, logText),
          ...(t === "gitflare" ? { peakHeap: s.peakHeap, peakRss: s.peakRss, silentMs: s.silentMs, steps: stepLines(logText ?? "") } : {}),
        };
      }
      rows.push(row);
      const g = row.gitflare;
      log(
        `${op.padEnd(34)} gitflare ${g.ms.toFixed(0).padStart(7)} ms  cgit ${row.cgit.ms.toFixed(0).padStart(7)} ms  ratio ${(g.ms / row.cgit.ms).toFixed(2)}  ` +
          `bytes ${g.bytes} (${(g.bytes / Math.max(1, row.cgit.bytes)).toFixed(3)}×)  isolate peak ${(g.peakHeap! / 2 ** 20).toFixed(1)} MiB (unsampled for ${g.silentMs} ms at most)  ` +
          `longest invocation ${g.longestInvocationMs} ms${g.steppedInvocations ? ` of ${g.steppedInvocations} in steps` : ""}` +
          (g.uploadBusyMs !== null ? `  object busy ${g.uploadBusyMs} ms` : ""),
      );
      for (const line of g.steps ?? []) log(`    ${line}`);
    }
    const uploadBytes = (recs: RequestRecord[]) =>
      recs.filter((r) => r.path.endsWith("git-upload-pack")).reduce((s, r) => s + r.responseBytes, 0);
    const receiveBytes = (recs: RequestRecord[]) =>
      recs.filter((r) => r.path.endsWith("git-receive-pack")).reduce((s, r) => s + r.requestBytes, 0);
    const clone =
      (name: string, ...flags: string[]) =>
      async (t: Target) => {
        await git(work, "-c", "protocol.version=2", "clone", "-q", ...flags, url(t), `${t}-${name}`);
      };

    await measure(
      "push (full, into empty)",
      0,
      (t) => git(source, "push", "-q", url(t), "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*"),
      receiveBytes,
    );
    await measure("clone (right after the push)", 1, clone("first.git", "--bare"), uploadBytes);
    await measure("clone --depth 1 --single-branch", 1, clone("ci", "--depth", "1", "--single-branch"), uploadBytes);

    // A busy repository: one-commit pushes in a row, each to both servers, and no
    // maintenance in between (Gitflare runs none for 10 s after a push).
    const wt = join(work, "large-worktree");
    await git(work, "clone", "-q", "--no-local", "--single-branch", "--branch", "main", source, wt);
    const file = (await git(wt, "ls-files")).split("\n").find((f) => f.endsWith(".md") || f.endsWith(".c")) ?? "README";
    const pushesStarted = performance.now();
    for (let i = 0; i < options.afterPushes; i++) {
      writeFileSync(join(wt, file), `${readFileSync(join(wt, file), "utf8")}push ${i}\n`);
      await git(wt, "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "commit", "-qam", `push ${i}`);
      for (const t of ["gitflare", "cgit"] as const) await git(wt, "push", "-q", url(t), "HEAD:refs/heads/main");
    }
    log(`${options.afterPushes} one-commit pushes to each server in ${((performance.now() - pushesStarted) / 1000).toFixed(1)} s`);
    await measure(`clone (after ${options.afterPushes} pushes)`, 1, clone("after.git", "--bare"), uploadBytes);
    await measure(
      `fetch (after ${options.afterPushes} pushes)`,
      1,
      (t) => git(join(work, `${t}-first.git`), "fetch", "-q", "origin", "+refs/heads/*:refs/heads/*"),
      uploadBytes,
    );

    // The clone after the pushes holds what C git's does, and is sound.
    await git(join(work, "gitflare-after.git"), "fsck", "--connectivity-only");
    const inPack = async (dir: string) => /in-pack: (\d+)/.exec(await git(join(work, dir), "count-objects", "-v"))?.[1];
    const [ours, theirs] = [await inPack("gitflare-after.git"), await inPack("cgit-after.git")];
    if (ours !== theirs) throw new Error(`the clone after the pushes holds ${ours} objects, C git's ${theirs}`);
    for (const t of ["gitflare", "cgit"] as const) {
      for (const d of ["first.git", "ci", "after.git"]) rmSync(join(work, `${t}-${d}`), { recursive: true, force: true });
    }

    // Concurrent full clones: clones completed per second of wall time.
    const concurrent: ConcurrentRow[] = [];
    for (const n of options.concurrency) {
      const row = { clones: n, errors: [] as string[] } as unknown as ConcurrentRow;
      for (const t of ["gitflare", "cgit"] as const) {
        const mark = server.mark();
        proxies[t].take();
        const started = performance.now();
        const go = () => Promise.all(Array.from({ length: n }, (_, i) => cloneOnce(runner, work, url(t), `${t}-c${n}-${i}.git`)));
        const s = t === "gitflare" ? await sampled(go) : { value: await go(), peakHeap: 0, peakRss: 0, silentMs: 0 };
        const ms = performance.now() - started;
        await new Promise((r) => setTimeout(r, 50));
        const recs = proxies[t].take();
        const ok = s.value.filter((o) => o.ok).length;
        const figures = { ms, failures: n - ok, clonesPerSecond: ok / (ms / 1000), slowestMs: Math.max(...s.value.map((o) => o.ms)) };
        row.errors.push(...s.value.filter((o) => !o.ok).map((o) => `${t}: ${o.error}`));
        // A 502 is the proxy's: what it met upstream.
        row.errors.push(...recs.filter((r) => r.error).map((r) => `${t} proxy: ${r.method} ${r.path}: ${r.error}`));
        if (t === "gitflare") row.gitflare = { ...figures, peakHeap: s.peakHeap, ...invocations(recs, server.outputSince(mark)) };
        else row.cgit = figures;
      }
      concurrent.push(row);
      const g = row.gitflare;
      log(
        `${String(n).padStart(2)} concurrent clones: gitflare ${g.clonesPerSecond.toFixed(3)}/s (${(g.ms / 1000).toFixed(1)} s, ${g.failures} failed)  ` +
          `cgit ${row.cgit.clonesPerSecond.toFixed(3)}/s (${(row.cgit.ms / 1000).toFixed(1)} s, ${row.cgit.failures} failed)  ` +
          `isolate peak ${(g.peakHeap / 2 ** 20).toFixed(1)} MiB  longest invocation ${g.longestInvocationMs} ms` +
          (g.uploadBusyMs !== null ? `  object busy ${Math.round(g.uploadBusyMs / n)} ms per clone` : "") +
          (row.errors.length ? `\n  errors: ${[...new Set(row.errors)].join("\n  ")}` : ""),
      );
    }

    // Diagnosis, untimed: one more full clone with a heap snapshot taken once the isolate
    // holds `snapshotOverBytes`, to see what holds the memory.
    let snapshot: LargeResult["snapshot"];
    if (options.snapshotOverBytes > 0) {
      let taking: Promise<void> | null = null;
      const file = join(work, "large-clone.heapsnapshot");
      const watch = setInterval(() => {
        if (taking) return;
        void inspector.heap().then((h) => {
          if (taking || h.js + h.buffers < options.snapshotOverBytes) return;
          log(
            `heap snapshot at ${((h.js + h.buffers) / 2 ** 20).toFixed(1)} MiB (js ${(h.js / 2 ** 20).toFixed(1)}, buffers ${(h.buffers / 2 ** 20).toFixed(1)})…`,
          );
          snapshot = { file, heapBytes: h.js + h.buffers };
          taking = inspector.heapSnapshot(file);
        });
      }, 50);
      const out = await cloneOnce(runner, work, url("gitflare"), "gitflare-snapshot.git");
      clearInterval(watch);
      await taking;
      log(
        `snapshot clone ${out.ok ? "ok" : `failed: ${out.error}`}; ${snapshot ? `snapshot in ${file}` : "the isolate never reached the threshold"}`,
      );
    }

    writeFileSync(join(work, "large-gitflare.log"), server.output());
    return {
      label: options.label,
      repository,
      machine: machine(),
      idleRss,
      rows,
      concurrent,
      ...(snapshot ? { snapshot } : {}),
    };
  } finally {
    await server.stop();
    await proxies.gitflare.stop();
    await proxies.cgit.stop();
    cgit.close();
  }
}

/** What issue 15 asks of the large repository, each as measured. */
function targets(r: LargeResult): [string, string, boolean][] {
  const row = (prefix: string) => r.rows.find((x) => x.op.startsWith(prefix))!;
  const ratio = (x: LargeRow) => x.gitflare.ms / x.cgit.ms;
  const push = row("push");
  const first = row("clone (right");
  const ci = row("clone --depth");
  const after = row("clone (after");
  const fetch = row("fetch");
  const peak = Math.max(...r.rows.map((x) => x.gitflare.peakHeap ?? 0), ...r.concurrent.map((c) => c.gitflare.peakHeap));
  const longest = Math.max(
    ...r.rows.map((x) => x.gitflare.longestInvocationMs),
    ...r.concurrent.map((c) => c.gitflare.longestInvocationMs),
  );
  const at32 = r.concurrent.find((c) => c.clones === 32) ?? r.concurrent[r.concurrent.length - 1];
  const x = (v: number) => `${v.toFixed(2)}×`;
  const out: [string, string, boolean][] = [
    ["full push ≤ 2× C git", x(ratio(push)), ratio(push) <= 2],
    [
      "clone after the pushes ≤ 1.2× the first clone",
      x(after.gitflare.ms / first.gitflare.ms),
      after.gitflare.ms / first.gitflare.ms <= 1.2,
    ],
    ["clone after the pushes ≤ 1.5× C git", x(ratio(after)), ratio(after) <= 1.5],
    ["--depth 1 --single-branch ≤ 1.5× C git", x(ratio(ci)), ratio(ci) <= 1.5],
    ["fetch after the pushes ≤ 1.5× C git", x(ratio(fetch)), ratio(fetch) <= 1.5],
    ["… with a pack of kilobytes", `${(fetch.gitflare.bytes / 1024).toFixed(1)} KiB`, fetch.gitflare.bytes < 1 << 20],
    ["isolate peak < 128 MiB in every operation", `${(peak / 2 ** 20).toFixed(1)} MiB`, peak < 128 * 2 ** 20],
    ["no invocation longer than 5 s", `${longest} ms`, longest <= 5000],
  ];
  if (at32)
    out.push([
      `clones/s at ${at32.clones} concurrent ≥ C git's`,
      `${at32.gitflare.clonesPerSecond.toFixed(3)} vs ${at32.cgit.clonesPerSecond.toFixed(3)}${at32.gitflare.failures ? ` (${at32.gitflare.failures} of ${at32.clones} failed)` : ""}`,
      at32.gitflare.clonesPerSecond >= at32.cgit.clonesPerSecond && at32.gitflare.failures === 0,
    ]);
  return out;
}

export function largeMarkdown(r: LargeResult): string {
  const mb = (b: number) => (b / 2 ** 20).toFixed(1);
  const types = Object.entries(r.repository.byType)
    .sort((a, b) => b[1] - a[1])
    .map(([t, n]) => `${n.toLocaleString("en-US")} ${t}s`)
    .join(", ");
  const busy = (m: Invocations, uploads: number) =>
    m.uploadBusyMs === null || !uploads ? "–" : `${Math.round(m.uploadBusyMs / uploads)} ms`;
  const lines = [
    `Repository (${r.label}): ${r.repository.objects.toLocaleString("en-US")} objects (${types}), ${r.repository.packMiB.toFixed(1)} MiB pack after \`git gc\`, ${r.repository.refs} refs; ${r.repository.files.toLocaleString("en-US")} files in ${r.repository.directories} directories at the tip.`,
    `Machine: ${r.machine.cpu}, ${r.machine.cores} cores (shared with other work while it ran: expect noise), ${r.machine.memoryGiB} GiB, ${r.machine.node}, ${r.machine.git}, ${String(r.machine.date).slice(0, 10)}. workerd resident memory when idle: ${mb(r.idleRss)} MiB.`,
    "",
    '"Isolate peak" is the V8 isolate\'s JS heap plus ArrayBuffers, sampled every 50 ms (garbage not yet collected included): what the 128 MB limit counts. "Longest invocation" is the longest Durable Object invocation as the Worker timed it; "steps" counts the invocations stepped work took; "object busy" is the sum of the object\'s invocations for one clone, as the Worker logs it ("–" where it does not). The inspector that samples the isolate is answered only between invocations: the longest it went unanswered is in brackets, and memory inside that time is not seen.',
    "",
    "| operation | Gitflare | C git | time ratio | bytes (Gitflare) | bytes ratio | longest invocation (steps) | object busy (per clone or fetch) | isolate peak (longest unsampled) | workerd peak RSS |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const row of r.rows) {
    const g = row.gitflare;
    const c = row.cgit;
    lines.push(
      `| ${row.op} | ${g.ms.toFixed(0)} ms | ${c.ms.toFixed(0)} ms | ${(g.ms / c.ms).toFixed(2)}× | ${g.bytes.toLocaleString("en-US")} | ${c.bytes ? `${(g.bytes / c.bytes).toFixed(3)}×` : "–"} | ${g.longestInvocationMs} ms${g.steppedInvocations ? ` (${g.steppedInvocations})` : ""} | ${busy(g, row.uploads)} | ${mb(g.peakHeap ?? 0)} MiB (${g.silentMs} ms) | ${mb(g.peakRss ?? 0)} MiB |`,
    );
  }
  lines.push(
    "",
    "Concurrent full clones (`git clone --bare`, all started at once): clones completed per second of wall time.",
    "",
    "| clones at once | Gitflare clones/s | C git clones/s | ratio | Gitflare wall (slowest clone) | C git wall (slowest clone) | failures (Gitflare, C git) | longest invocation | object busy per clone | isolate peak |",
    "|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const c of r.concurrent) {
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    lines.push(
      `| ${c.clones} | ${c.gitflare.clonesPerSecond.toFixed(3)} | ${c.cgit.clonesPerSecond.toFixed(3)} | ${(c.gitflare.clonesPerSecond / c.cgit.clonesPerSecond).toFixed(2)}× | ${s(c.gitflare.ms)} (${s(c.gitflare.slowestMs)}) | ${s(c.cgit.ms)} (${s(c.cgit.slowestMs)}) | ${c.gitflare.failures}, ${c.cgit.failures} | ${c.gitflare.longestInvocationMs} ms | ${busy(c.gitflare, c.clones)} | ${mb(c.gitflare.peakHeap)} MiB |`,
    );
  }
  lines.push("", "| target (issue 15) | measured | met |", "|---|---|---|");
  for (const [what, value, met] of targets(r)) lines.push(`| ${what} | ${value} | ${met ? "yes" : "**no**"} |`);
  return `${lines.join("\n")}\n`;
}

/** The machine, as the other tables name it. */
function machine(): Record<string, unknown> {
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    git: execFileSync("git", ["--version"]).toString().trim(),
    date: new Date().toISOString(),
  };
}
