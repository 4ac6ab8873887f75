// The isolate's memory during a full push of a large repository and the first full clone
// right after it, on one server: the sampled peak (garbage included) and, with --live, the
// live heap after a collection forced once a second, to tell what is held from what is not
// yet collected. The inspector is answered between invocations only.
//   npx tsx bench/first-clone-memory.ts [--repo /tmp/large-src.git] [--live]
// Without --live nothing forces a collection, as in the large-repository table.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { LocalServer, freePort } from "../e2e/server";
import { Inspector } from "./inspector";

const run = promisify(execFile);
const repoArg = process.argv.indexOf("--repo");
const source = resolve(repoArg > 0 ? process.argv[repoArg + 1] : "/tmp/large-src.git");
const MiB = 2 ** 20;

async function main() {
  const state = mkdtempSync(join(tmpdir(), "first-clone-state-"));
  const work = mkdtempSync(join(tmpdir(), "first-clone-"));
  const server = new LocalServer(state);
  const inspectorPort = await freePort();
  await server.start({ inspectorPort });
  const inspector = await Inspector.connect(inspectorPort);
  try {
    const account = await server.signUpAndUse("mem");
    const env = {
      ...process.env,
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: `http.${server.url}/.extraHeader`,
      GIT_CONFIG_VALUE_0: `Authorization: ${account.auth}`,
    };
    const git = (cwd: string, ...a: string[]) => run("git", a, { cwd, env, maxBuffer: 1 << 26 });
    const live = process.argv.includes("--live");
    /** The sampled peak (every 50 ms) and, with --live, the live peak (a forced collection a second) while `fn` runs. */
    const measure = async (label: string, fn: () => Promise<unknown>) => {
      let peak = 0;
      let livePeak = 0;
      let busy = false;
      const sampler = setInterval(() => {
        void inspector.heap().then((h) => {
          peak = Math.max(peak, h.js + h.buffers);
        });
      }, 50);
      const liveSampler = setInterval(() => {
        if (busy || !live) return;
        busy = true;
        void inspector
          .liveHeap()
          .then((h) => {
            livePeak = Math.max(livePeak, h.js + h.buffers);
          })
          .finally(() => {
            busy = false;
          });
      }, 1000);
      const t = performance.now();
      try {
        await fn();
        // Answers to samples asked while the isolate was busy come once it is idle.
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        clearInterval(sampler);
        clearInterval(liveSampler);
      }
      console.log(
        `${label} ${(performance.now() - t).toFixed(0)} ms: sampled peak ${(peak / MiB).toFixed(1)} MiB` +
          (live ? `, live peak ${(livePeak / MiB).toFixed(1)} MiB` : ""),
      );
    };
    await measure("full push", () =>
      git(source, "push", "-q", `${server.url}/mem/main.git`, "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*"),
    );
    const after = await inspector.liveHeap();
    console.log(
      `live after the push: ${((after.js + after.buffers) / MiB).toFixed(1)} MiB (js ${(after.js / MiB).toFixed(1)}, buffers ${(after.buffers / MiB).toFixed(1)})`,
    );
    await measure("first clone", () =>
      git(work, "-c", "protocol.version=2", "clone", "-q", "--bare", `${server.url}/mem/main.git`, "first.git"),
    );
  } finally {
    inspector.close();
    await server.stop();
    rmSync(work, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
}

await main();
