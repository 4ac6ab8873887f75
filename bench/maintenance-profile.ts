// Times maintenance slice by slice after a full push of a large repository (issue 15: no
// invocation over 5 s): pushes the repository into an empty Gitflare, then runs
// `POST /api/repos/:owner/:repo/maintenance` until it rests, printing each slice's wall
// time and report, and the longest and total. The alarm runs no maintenance meanwhile
// (GITFLARE_MAINTENANCE_ALARM=off), so every slice is one of ours.
//   npx tsx bench/maintenance-profile.ts [--repo /tmp/large-src.git] [--snapshot DIR] [--runs 1]
//     [--vars GITFLARE_TIER_MIN_BYTES=1e12,...] [--max-slices N] [--profile 10,13] [--verify]
// --verify exports the repository once maintenance rests and runs C git's checks on it.
// With --snapshot, the server's state right after the push is kept in DIR (made on the
// first run, copied from on later ones), so that a change to maintenance is measured
// again without pushing again.
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { LocalServer, freePort } from "../e2e/server";
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
const source = resolve(args.get("repo") ?? "/tmp/large-src.git");
const snapshot = args.get("snapshot") ? resolve(args.get("snapshot")!) : null;
const runs = Number(args.get("runs") ?? 1);
// --var K=V (repeatable as --vars "K=V,K2=V2") sets more of the Worker's variables for the slices.
const vars: Record<string, string> = { GITFLARE_MAINTENANCE_ALARM: "off" };
for (const kv of (args.get("vars") ?? "").split(",").filter(Boolean)) {
  const [k, v] = kv.split("=");
  vars[k] = v;
}
const maxSlices = Number(args.get("max-slices") ?? 2000);
/** Slices (1-based) to take a CPU profile of: --profile 10,13 prints each one's heaviest functions. */
const profiled = new Set((args.get("profile") ?? "").split(",").filter(Boolean).map(Number));

interface Slice {
  ms: number;
  report: Record<string, number | boolean>;
}

async function pushed(): Promise<{ state: string; auth: string }> {
  const state = mkdtempSync(join(tmpdir(), "maintenance-profile-state-"));
  if (snapshot && existsSync(join(snapshot, "auth.json"))) {
    cpSync(snapshot, state, { recursive: true });
    return { state, auth: JSON.parse(readFileSync(join(state, "auth.json"), "utf8")).auth };
  }
  const server = new LocalServer(state);
  await server.start({ vars });
  try {
    const account = await server.signUpAndUse("prof");
    const env = {
      ...process.env,
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: `http.${server.url}/.extraHeader`,
      GIT_CONFIG_VALUE_0: `Authorization: ${account.auth}`,
    };
    const t = performance.now();
    await run("git", ["push", "-q", `${server.url}/prof/main.git`, "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*"], {
      cwd: source,
      env,
      maxBuffer: 1 << 26,
    });
    console.log(`push: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    writeFileSync(join(state, "auth.json"), JSON.stringify({ auth: account.auth }));
  } finally {
    await server.stop();
  }
  if (snapshot) cpSync(state, snapshot, { recursive: true });
  return { state, auth: JSON.parse(readFileSync(join(state, "auth.json"), "utf8")).auth };
}

/**
 * Waits for the code search index to catch up with the pushed branch: its slices run in
 * the same object, and a maintenance slice that waited behind one would be timed with it.
 */
async function indexed(base: string, auth: string): Promise<void> {
  const t = performance.now();
  for (let i = 0; i < 900; i++) {
    const res = await fetch(`${base}/api/v3/search/code?q=the+repo:prof/main`, { headers: { Authorization: auth } }).catch(() => null);
    if (res?.ok && !((await res.json()) as { incomplete_results: boolean }).incomplete_results) {
      console.log(`search index caught up after ${((performance.now() - t) / 1000).toFixed(1)} s`);
      return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error("the search index did not catch up");
}

async function slices(state: string, auth: string): Promise<Slice[]> {
  const server = new LocalServer(state);
  const inspectorPort = await freePort();
  await server.start({ vars, inspectorPort });
  const inspector = profiled.size ? await Inspector.connect(inspectorPort) : null;
  const out: Slice[] = [];
  // The runtime's own address: wrangler's proxy drops POSTs on connections it reused.
  const base = await server.directUrl();
  await indexed(base, auth);
  let failures = 0;
  try {
    for (let i = 0; i < maxSlices; i++) {
      const profiling = inspector && profiled.has(i + 1);
      if (profiling) await inspector.startProfile();
      const t = performance.now();
      const res = await fetch(`${base}/api/repos/prof/main/maintenance`, {
        method: "POST",
        headers: { Authorization: auth, "Content-Type": "application/json" },
        body: "{}",
      }).catch((e: Error) => e);
      const text = res instanceof Error ? String(res.cause ?? res) : await res.text();
      const ms = performance.now() - t;
      if (profiling) printProfile(i + 1, await inspector.stopProfile());
      if (res instanceof Error || !res.ok) {
        const status = res instanceof Error ? "no answer" : res.status;
        console.log(`slice ${String(i + 1).padStart(4)}: ${ms.toFixed(0).padStart(6)} ms  failed: ${status} ${text.slice(0, 200)}`);
        if (failures === 0) console.log(`the server's last words:\n${server.output().split("\n").slice(-40).join("\n")}`);
        if (++failures > 3) throw new Error("maintenance keeps failing");
        continue;
      }
      const report = JSON.parse(text) as Record<string, number | boolean>;
      out.push({ ms, report });
      const shown = Object.entries(report)
        .filter(([k, v]) => k !== "more" && v)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ");
      console.log(`slice ${String(i + 1).padStart(4)}: ${ms.toFixed(0).padStart(6)} ms  ${shown || "-"}${report.more ? "" : "  (rests)"}`);
      if (!report.more) break;
    }
    const storage = await fetch(`${base}/api/repos/prof/main/storage`, { headers: { Authorization: auth } });
    console.log(`storage: ${await storage.text()}`);
    if (args.get("verify") === "true") await verify(base, auth);
    const log = server.output();
    for (const line of log.split("\n")) if (/error|Error/.test(line)) console.log(`log: ${line.trim()}`);
  } finally {
    inspector?.close();
    await server.stop();
  }
  return out;
}

/** C git's checks of the exported repository: the commit-graph, and the bitmap against HEAD's walk. */
async function verify(base: string, auth: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "maintenance-profile-export-"));
  try {
    const tar = await fetch(`${base}/prof/main/export.tar`, { headers: { Authorization: auth } });
    if (!tar.ok) throw new Error(`export.tar: ${tar.status}`);
    writeFileSync(join(dir, "repo.tar"), Buffer.from(await tar.arrayBuffer()));
    await run("tar", ["-xf", "repo.tar"], { cwd: dir });
    const [bare] = readdirSync(dir).filter((n) => n.endsWith(".git"));
    const packs = readdirSync(join(dir, bare, "objects/pack"));
    console.log(`exported pack files: ${packs.join(" ")}`);
    for (const a of [
      ["commit-graph", "verify", "--no-progress"],
      ["rev-list", "--test-bitmap", "HEAD"],
    ]) {
      const t = performance.now();
      const r = await run("git", a, { cwd: join(dir, bare), maxBuffer: 1 << 26 }).catch(
        (e: { stdout: string; stderr: string; code: number }) => e,
      );
      console.log(
        `git ${a.join(" ")}: ${"code" in r ? `failed (${r.code})` : "ok"} in ${((performance.now() - t) / 1000).toFixed(1)} s ${(r.stderr ?? "").trim().split("\n").slice(-2).join(" | ")}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Self and inclusive time of the heaviest functions of one slice. */
function printProfile(slice: number, p: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }) {
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
  console.log(`profile of slice ${slice}:`);
  for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15))
    console.log(`  self ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  for (const [k, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 25))
    console.log(`  incl ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
}

for (let r = 0; r < runs; r++) {
  const { state, auth } = await pushed();
  try {
    const all = await slices(state, auth);
    const longest = all.reduce((a, b) => (b.ms > a.ms ? b : a), all[0]);
    const total = all.reduce((s, x) => s + x.ms, 0);
    const work = (key: string) => all.filter((s) => s.report[key]);
    const longestOf = (key: string) => Math.max(0, ...work(key).map((s) => s.ms));
    console.log(
      `run ${r + 1}: ${all.length} slices, longest ${longest.ms.toFixed(0)} ms (${JSON.stringify(longest.report)}), total ${(total / 1000).toFixed(1)} s; ` +
        `graph slices longest ${longestOf("graphed").toFixed(0)} ms, bitmap slices ${work("bitmaps").length} longest ${longestOf("bitmaps").toFixed(0)} ms`,
    );
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}
