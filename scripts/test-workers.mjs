// The workerd tests (vitest-pool-workers), in runs that keep abortAllDurableObjects() apart.
// That call aborts every Durable Object in the workerd process. With the pool's version
// pinned here (0.15.1; later ones need Node 22), a run in which it was called sometimes
// never ends after its last test: the pool's teardown waits on a Durable Object that was
// aborted while it logged (workers-sdk issue 14180, fixed in 0.18.6). In one run with the
// other files, the file after it then never started. So the files that call it each run
// alone, after the rest, and a run in which every file has reported all its tests passed,
// but which has not exited a minute later, is stopped and counted as passed, saying so.
// Arguments (files, filters) go to a single plain run.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

const TEARDOWN_GRACE_MS = 60_000;
/** Terminal colour codes, around vitest's summary when it thinks it writes to a terminal. */
const COLOR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/** Runs vitest on `args`; `files` are the test files it runs, whose results the watch waits for. */
function vitest(args, files) {
  return new Promise((resolve) => {
    const child = spawn("npx", ["vitest", "run", "-c", "vitest.workers.config.ts", ...args], {
      stdio: ["inherit", "pipe", "inherit"],
      detached: true,
    });
    const passed = new Set();
    let line = "";
    let passedAt = null;
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      const lines = (line + chunk.toString()).split("\n");
      line = lines.pop() ?? "";
      for (const l of lines) {
        // A file's line: "✓ test/x.test.ts (9 tests) …" when every test in it passed.
        const m = /^\s*✓ (test\/\S+\.test\.ts) \(/.exec(l.replace(COLOR, ""));
        if (m) passed.add(m[1]);
      }
      if (passedAt === null && files.length && files.every((f) => passed.has(f))) passedAt = Date.now();
    });
    const watch = setInterval(() => {
      if (passedAt === null || Date.now() - passedAt < TEARDOWN_GRACE_MS) return;
      clearInterval(watch);
      console.log(
        `\nEvery test in ${files.length === 1 ? files[0] : `${files.length} files`} passed, but vitest did not exit ${TEARDOWN_GRACE_MS / 1000} s later: stopped (the pool's teardown).`,
      );
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
      resolve(0);
    }, 1000);
    child.on("exit", (code) => {
      clearInterval(watch);
      resolve(code ?? 1);
    });
  });
}

async function main() {
  const asked = process.argv.slice(2);
  // Only files named as such are waited for; with filters, vitest's own exit decides.
  if (asked.length) return vitest(asked, asked.every((a) => /^test\/\S+\.test\.ts$/.test(a)) ? asked : []);
  const files = readdirSync("test")
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => `test/${f}`);
  const evicting = files.filter((f) => readFileSync(f, "utf8").includes("abortAllDurableObjects"));
  const rest = files.filter((f) => !evicting.includes(f));
  const runs = [{ args: evicting.flatMap((f) => ["--exclude", f]), files: rest }, ...evicting.map((f) => ({ args: [f], files: [f] }))];
  for (const run of runs) {
    const code = await vitest(run.args, run.files);
    if (code !== 0) return code;
  }
  return 0;
}

process.exit(await main());
