// The workerd tests (vitest-pool-workers), in runs that keep abortAllDurableObjects() apart.
// That call aborts every Durable Object in the workerd process. With the pool's version
// pinned here (0.15.1; later ones need Node 22), a run in which it was called sometimes
// never ends after its last test: the pool's teardown waits on a Durable Object that was
// aborted while it logged (workers-sdk issue 14180, fixed in 0.18.6). In one run with the
// other files, the file after it then never started. So the files that call it each run
// alone, after the rest, and a run whose every test passed and whose summary is printed,
// but which has not exited a minute later, is stopped and counted as passed, saying so.
// Arguments (files, filters) go to a single plain run.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

const TEARDOWN_GRACE_MS = 60_000;
/** Terminal colour codes, around vitest's summary when it thinks it writes to a terminal. */
const COLOR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

function vitest(args) {
  return new Promise((resolve) => {
    const child = spawn("npx", ["vitest", "run", "-c", "vitest.workers.config.ts", ...args], {
      stdio: ["inherit", "pipe", "inherit"],
      detached: true,
    });
    let tail = "";
    let passedAt = null;
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
      const plain = tail.replace(COLOR, "");
      if (passedAt === null && /Test Files\s+\d+ passed/.test(plain) && !/failed/.test(plain.slice(plain.lastIndexOf("Test Files"))))
        passedAt = Date.now();
    });
    const watch = setInterval(() => {
      if (passedAt === null || Date.now() - passedAt < TEARDOWN_GRACE_MS) return;
      clearInterval(watch);
      console.log(
        `\nEvery test of [${args.join(" ")}] passed, but vitest did not exit ${TEARDOWN_GRACE_MS / 1000} s after its summary: stopped (pool teardown).`,
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
  const passed = process.argv.slice(2);
  if (passed.length) return vitest(passed);
  const files = readdirSync("test")
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => `test/${f}`);
  const evicting = files.filter((f) => readFileSync(f, "utf8").includes("abortAllDurableObjects"));
  const runs = [evicting.flatMap((f) => ["--exclude", f]), ...evicting.map((f) => [f])];
  for (const args of runs) {
    const code = await vitest(args);
    if (code !== 0) return code;
  }
  return 0;
}

process.exit(await main());
