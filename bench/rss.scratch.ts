import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalServer } from "../e2e/server";
import { gitAuthEnv } from "../e2e/accounts";

const repo = process.argv[2];
const server = new LocalServer(mkdtempSync(join(tmpdir(), "gitflare-rss-")));
await server.start({});
const account = await server.signUpAndUse("p");
function mem() {
  const out: Record<string, number> = {};
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) !== server.processGroup || !stat.includes("(workerd)")) continue;
      const st = readFileSync(`/proc/${pid}/status`, "utf8");
      for (const k of ["VmRSS", "RssAnon", "RssFile", "RssShmem"]) out[k] = (out[k] ?? 0) + Number(new RegExp(`${k}:\\s+(\\d+)`).exec(st)![1]) / 1024;
    } catch {}
  }
  return Object.entries(out).map(([k, v]) => `${k} ${v.toFixed(0)}`).join("  ");
}
console.log("idle", mem());
const peaks: Record<string, string> = {};
const run = async (label: string, args: string[], cwd: string) => {
  const p = spawn("git", args, { cwd, env: { ...process.env, ...gitAuthEnv(account.auth) }, stdio: "ignore" });
  let max = 0; let at = "";
  const timer = setInterval(() => { const m = mem(); const v = Number(/VmRSS (\d+)/.exec(m)![1]); if (v > max) { max = v; at = m; } }, 200);
  const t = setTimeout(() => { console.log("TIMEOUT", label); console.log(server.output().slice(-6000)); p.kill(); }, 120_000);
  await new Promise((r) => p.on("exit", r));
  clearTimeout(t);
  clearInterval(timer);
  console.log(label, "peak:", at, " after:", mem());
};
const url = `${server.url}/p/x.git`;
await run("push", ["push", "-q", url, "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*"], repo);
const dir = mkdtempSync(join(tmpdir(), "gitflare-rss-clone-"));
await run("clone", ["clone", "-q", "--bare", url, "c.git"], dir);
execFileSync("rm", ["-rf", dir]);
await server.stop();
