// Times one full push into an empty repository against Gitflare and C git's http-backend,
// and prints what the Worker logged about it (index slices, the longest invocation):
//   npx tsx bench/push-profile.ts [--commits 6000] [--repo /path/to/bare.git] [--work DIR] [--no-cgit]
//     [--profile] [--trace]  (a CPU profile; the isolate's largest sample each second)
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { LocalServer, freePort } from "../e2e/server";
import { startCgitServer } from "./cgit-server";
import { generateRepo } from "./generate";
import { Inspector } from "./inspector";

const run = promisify(execFile);
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (!a.startsWith("--")) continue;
  const next = process.argv[i + 1];
  if (next === undefined || next.startsWith("--")) args.set(a.slice(2), "true");
  else args.set(a.slice(2), process.argv[++i]);
}
const commits = Number(args.get("commits") ?? 6000);
const work = resolve(args.get("work") ?? mkdtempSync(join(tmpdir(), "push-profile-")));

async function git(cwd: string, ...a: string[]): Promise<string> {
  return (await run("git", a, { cwd, maxBuffer: 1 << 26, env: process.env })).stdout;
}

/** CPU seconds (user + system) of the workerd processes in a process group. */
function workerdCpu(group: number): number {
  let ticks = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== group || !stat.includes("(workerd)")) continue;
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended between listing and reading.
    }
  }
  return ticks / 100;
}

/** CPU seconds of this process's finished children (git clients, C git's http-backend). */
function childrenCpu(): number {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

async function main() {
  mkdirSync(work, { recursive: true });
  let source = args.get("repo");
  if (!source) {
    source = join(work, `source-${commits}.git`);
    if (!existsSync(source)) {
      console.log(`generating ${commits} commits…`);
      await generateRepo(source, { commits, binaryEvery: 400, binaryBytes: 1 << 20, extraRefs: 0 });
    }
  }
  console.log((await git(source, "count-objects", "-v")).replace(/\n/g, " "));
  const refspecs = ["refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*"];
  const state = mkdtempSync(join(tmpdir(), "push-profile-state-"));
  const server = new LocalServer(state);
  const inspectorPort = await freePort();
  await server.start({ inspectorPort });
  const inspector = await Inspector.connect(inspectorPort);
  const profiling = args.get("profile") === "true";
  try {
    const account = await server.signUpAndUse("prof");
    const env = {
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: `http.${server.url}/.extraHeader`,
      GIT_CONFIG_VALUE_0: `Authorization: ${account.auth}`,
    };
    Object.assign(process.env, env);
    const mark = server.mark();
    if (profiling) await inspector.startProfile();
    // The isolate's JS heap and ArrayBuffers, the figure Cloudflare's 128 MB limit counts.
    let peakHeap = 0;
    const start = performance.now();
    // With --trace: the largest sample of each second, to tell which phase of the push a peak is in.
    const bySecond = new Map<number, { js: number; buffers: number }>();
    const sampler = setInterval(() => {
      void inspector.heap().then((h) => {
        peakHeap = Math.max(peakHeap, h.js + h.buffers);
        const second = Math.floor((performance.now() - start) / 1000);
        const held = bySecond.get(second);
        if (!held || held.js + held.buffers < h.js + h.buffers) bySecond.set(second, h);
      });
    }, 100);
    const cpu0 = workerdCpu(server.processGroup!);
    const client0 = childrenCpu();
    let t = performance.now();
    await git(source, "push", "-q", `${server.url}/prof/main.git`, ...refspecs);
    const ours = performance.now() - t;
    const client = childrenCpu() - client0;
    const oursCpu = workerdCpu(server.processGroup!) - cpu0;
    clearInterval(sampler);
    if (profiling) printProfile(await inspector.stopProfile());
    await new Promise((r) => setTimeout(r, 300));
    // Samples asked for during the push are answered when the inspector gets a turn:
    // each is filed under the second its answer came in.
    if (args.get("trace") === "true") {
      for (const [second, h] of [...bySecond].sort((a, b) => a[0] - b[0])) {
        console.log(`  ${second} s: js ${(h.js / 2 ** 20).toFixed(0)} MiB, buffers ${(h.buffers / 2 ** 20).toFixed(0)} MiB`);
      }
    }
    const log = server.outputSince(mark);
    for (const line of log.split("\n")) if (/receive-pack|index-prof/.test(line)) console.log(line.trim());
    console.log(
      `gitflare full push: ${(ours / 1000).toFixed(2)} s; workerd CPU ${oursCpu.toFixed(2)} s, client CPU ${client.toFixed(2)} s, peak isolate heap ${(peakHeap / 2 ** 20).toFixed(0)} MiB`,
    );
    if (args.get("no-cgit") !== "true") {
      const root = join(work, `cgit-${Date.now()}`);
      mkdirSync(root);
      await git(root, "init", "-q", "--bare", "--initial-branch=main", "main.git");
      await git(join(root, "main.git"), "config", "http.receivepack", "true");
      const port = await freePort();
      const cgit = await startCgitServer(root, port);
      try {
        const c0 = childrenCpu();
        t = performance.now();
        await git(source, "push", "-q", `http://127.0.0.1:${port}/main.git`, ...refspecs);
        const theirs = performance.now() - t;
        const serverCpu = childrenCpu() - c0 - client;
        console.log(
          `C git full push: ${(theirs / 1000).toFixed(2)} s; ratio ${(ours / theirs).toFixed(2)}x; ` +
            `server CPU about ${serverCpu.toFixed(2)} s (ratio ${(oursCpu / serverCpu).toFixed(2)}x)`,
        );
      } finally {
        cgit.close();
      }
    }
  } finally {
    inspector.close();
    await server.stop();
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/** Self time by function, and inclusive time of the functions named in --focus. */
function printProfile(p: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const name = (n: ProfileNode) =>
    `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").pop()}:${n.callFrame.lineNumber + 1}`;
  const selfBy = new Map<string, number>();
  for (const [id, us] of self) {
    const k = name(byId.get(id)!);
    selfBy.set(k, (selfBy.get(k) ?? 0) + us);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`profile: ${(total / 1000).toFixed(0)} ms sampled`);
  for (const [k, us] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, 40))
    console.log(`  self ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
  // Inclusive time per function name (counted once per stack).
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, number>();
  for (const [id, us] of self) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = name(byId.get(cur)!);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + us);
    }
  }
  for (const [k, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 40))
    console.log(`  incl ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
}

await main();
