// Times one kind of clone of a large repository against C git's http-backend, with the
// Worker's log of it and optionally a CPU profile of the isolate (issue 15: the CI-style
// `--depth 1 --single-branch` clone). The repository is pushed once into a snapshot of
// the server's state, with maintenance off, so each run starts from the same state:
//   npx tsx bench/clone-profile.ts [--repo /tmp/large-src.git] [--snapshot DIR]
//     [--maintenance none|rest] [--runs 3] [--profile] [--flags "--depth 1 --single-branch"]
// --maintenance rest runs maintenance slices until it rests (commit-graph, bitmaps, the
// pack copied and tiered to R2) before the clones; none clones the pushed state as is.
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { LocalServer, freePort } from "../e2e/server";
import { startCgitServer } from "./cgit-server";
import { Inspector } from "./inspector";

const run = promisify(execFile);
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (!a.startsWith("--")) continue;
  const next = process.argv[i + 1];
  if (next === undefined || (next.startsWith("--") && !a.startsWith("--flags"))) args.set(a.slice(2), "true");
  else args.set(a.slice(2), process.argv[++i]);
}
const source = resolve(args.get("repo") ?? "/tmp/large-src.git");
const snapshot = resolve(args.get("snapshot") ?? "/tmp/clone-profile-snapshot");
const runs = Number(args.get("runs") ?? 3);
const flags = (args.get("flags") ?? "--depth 1 --single-branch").split(" ").filter(Boolean);
const maintenance = args.get("maintenance") ?? "rest";
const vars = { GITFLARE_MAINTENANCE_ALARM: "off" };

async function git(cwd: string, ...a: string[]): Promise<string> {
  return (await run("git", a, { cwd, maxBuffer: 1 << 26, env: process.env })).stdout;
}

/** The server's state right after a full push, made once and copied from on later runs. */
async function pushedState(): Promise<{ state: string; auth: string }> {
  if (!existsSync(join(snapshot, "auth.json"))) {
    mkdirSync(snapshot, { recursive: true });
    const server = new LocalServer(snapshot);
    await server.start({ vars });
    try {
      const account = await server.signUpAndUse("prof");
      const t = performance.now();
      await run("git", ["push", "-q", `${server.url}/prof/main.git`, "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*"], {
        cwd: source,
        maxBuffer: 1 << 26,
        env: {
          ...process.env,
          GIT_CONFIG_COUNT: "1",
          GIT_CONFIG_KEY_0: `http.${server.url}/.extraHeader`,
          GIT_CONFIG_VALUE_0: `Authorization: ${account.auth}`,
        },
      });
      console.log(`push into the snapshot: ${((performance.now() - t) / 1000).toFixed(1)} s`);
      writeFileSync(join(snapshot, "auth.json"), JSON.stringify({ auth: account.auth }));
    } finally {
      await server.stop();
    }
  }
  const state = mkdtempSync(join(tmpdir(), "clone-profile-state-"));
  // workerd may still be closing the snapshot's SQLite files (-shm, -wal) for a moment.
  for (let attempt = 0; ; attempt++) {
    try {
      cpSync(snapshot, state, { recursive: true });
      break;
    } catch (e) {
      if (attempt >= 10) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return { state, auth: JSON.parse(readFileSync(join(state, "auth.json"), "utf8")).auth };
}

async function rest(base: string, auth: string): Promise<void> {
  const t = performance.now();
  let longest = 0;
  for (let i = 0; i < 5000; i++) {
    const s = performance.now();
    const res = await fetch(`${base}/api/repos/prof/main/maintenance`, {
      method: "POST",
      headers: { Authorization: auth, "Content-Type": "application/json" },
      body: "{}",
    });
    const report = (await res.json()) as { more?: boolean };
    longest = Math.max(longest, performance.now() - s);
    if (!res.ok) throw new Error(`maintenance: ${res.status} ${JSON.stringify(report)}`);
    if (!report.more) {
      console.log(
        `maintenance rests after ${i + 1} slices, ${((performance.now() - t) / 1000).toFixed(1)} s (longest ${longest.toFixed(0)} ms)`,
      );
      return;
    }
  }
}

async function main() {
  const { state, auth } = await pushedState();
  const server = new LocalServer(state);
  const inspectorPort = await freePort();
  await server.start({ vars, inspectorPort });
  const inspector = await Inspector.connect(inspectorPort);
  const work = mkdtempSync(join(tmpdir(), "clone-profile-"));
  try {
    const base = await server.directUrl();
    if (maintenance === "rest") await rest(base, auth);
    Object.assign(process.env, {
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: `http.${server.url}/.extraHeader`,
      GIT_CONFIG_VALUE_0: `Authorization: ${auth}`,
    });
    for (let i = 0; i < runs; i++) {
      const profiling = args.get("profile") === "true" && i === runs - 1;
      if (profiling) await inspector.startProfile();
      const mark = server.mark();
      const t = performance.now();
      await git(work, "-c", "protocol.version=2", "clone", "-q", ...flags, `${server.url}/prof/main.git`, `g${i}`);
      console.log(`gitflare clone ${flags.join(" ")}: ${(performance.now() - t).toFixed(0)} ms`);
      if (profiling) printProfile(await inspector.stopProfile());
      await new Promise((r) => setTimeout(r, 200));
      for (const line of server.outputSince(mark).split("\n")) if (/upload|busy|step/.test(line)) console.log(`  ${line.trim()}`);
      rmSync(join(work, `g${i}`), { recursive: true, force: true });
    }
    const port = await freePort();
    const root = mkdtempSync(join(tmpdir(), "clone-profile-cgit-"));
    cpSync(source, join(root, "main.git"), { recursive: true });
    const cgit = await startCgitServer(root, port);
    try {
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        await git(work, "-c", "protocol.version=2", "clone", "-q", ...flags, `http://127.0.0.1:${port}/main.git`, `c${i}`);
        console.log(`C git clone ${flags.join(" ")}: ${(performance.now() - t).toFixed(0)} ms`);
        rmSync(join(work, `c${i}`), { recursive: true, force: true });
      }
    } finally {
      cgit.close();
      rmSync(root, { recursive: true, force: true });
    }
  } finally {
    inspector.close();
    await server.stop();
    rmSync(work, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Self and inclusive time of the heaviest functions. */
function printProfile(p: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n: ProfileNode) =>
    `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").pop()}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const us = p.timeDeltas[i] ?? 0;
    const k = name(byId.get(p.samples[i])!);
    self.set(k, (self.get(k) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = p.samples[i]; cur !== undefined; cur = parent.get(cur)) {
      const key = name(byId.get(cur)!);
      if (seen.has(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + us);
    }
  }
  const top = (m: Map<string, number>, label: string) => {
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, 30))
      console.log(`  ${label} ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  };
  top(self, "self");
  top(incl, "incl");
}

await main();
