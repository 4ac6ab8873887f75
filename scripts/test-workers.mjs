// The workerd tests (vitest-pool-workers), in runs that keep abortAllDurableObjects() apart.
// That call aborts every Durable Object in the workerd process; with the pool's version
// pinned here (0.15.1), the test file that ran after one which called it sometimes never
// started (no output, no CPU, for as long as CI would wait). So the files that call it
// each run alone, after the rest. Arguments (files, filters) go to a single plain run.
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

const vitest = (args) => {
  const r = spawnSync("npx", ["vitest", "run", "-c", "vitest.workers.config.ts", ...args], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

const passed = process.argv.slice(2);
if (passed.length) {
  vitest(passed);
} else {
  const files = readdirSync("test")
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => `test/${f}`);
  const evicting = files.filter((f) => readFileSync(f, "utf8").includes("abortAllDurableObjects"));
  vitest(evicting.flatMap((f) => ["--exclude", f]));
  for (const f of evicting) vitest([f]);
}
