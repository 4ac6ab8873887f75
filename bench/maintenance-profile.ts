// Times maintenance slice by slice after a full push of a large repository (issue 15: no
// invocation over 5 s): pushes the repository into an empty Gitflare, then runs
// `POST /api/repos/:owner/:repo/maintenance` until it rests, printing each slice's wall
// time and report, and the longest and total. The alarm runs no maintenance meanwhile
// (GITFLARE_MAINTENANCE_ALARM=off), so every slice is one of ours.
//   npx tsx bench/maintenance-profile.ts [--repo /tmp/large-src.git] [--snapshot DIR] [--runs 1]
//     [--vars GITFLARE_TIER_MIN_BYTES=1e12,...] [--max-slices N]
// With --snapshot, the server's state right after the push is kept in DIR (made on the
// first run, copied from on later ones), so that a change to maintenance is measured
// again without pushing again.
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { LocalServer } from "../e2e/server";

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

async function slices(state: string, auth: string): Promise<Slice[]> {
  const server = new LocalServer(state);
  await server.start({ vars });
  const out: Slice[] = [];
  // The runtime's own address: wrangler's proxy drops POSTs on connections it reused.
  const base = await server.directUrl();
  let failures = 0;
  try {
    for (let i = 0; i < maxSlices; i++) {
      const t = performance.now();
      const res = await fetch(`${base}/api/repos/prof/main/maintenance`, {
        method: "POST",
        headers: { Authorization: auth, "Content-Type": "application/json" },
        body: "{}",
      }).catch((e: Error) => e);
      const text = res instanceof Error ? String(res.cause ?? res) : await res.text();
      const ms = performance.now() - t;
      if (res instanceof Error || !res.ok) {
        const status = res instanceof Error ? "no answer" : res.status;
        console.log(`slice ${String(i + 1).padStart(4)}: ${ms.toFixed(0).padStart(6)} ms  failed: ${status} ${text.slice(0, 200)}`);
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
    const log = server.output();
    for (const line of log.split("\n")) if (/error|Error/.test(line)) console.log(`log: ${line.trim()}`);
  } finally {
    await server.stop();
  }
  return out;
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
