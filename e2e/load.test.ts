// The load test of issue 12, small enough for CI: a generated history, then 20 pushes
// that each add a random blob on their own branch, a pause in which maintenance starts,
// then 4 rounds of 16 concurrent `git clone --bare` with 2 pushes in flight. Every clone
// and push must succeed, and the isolate's heap + ArrayBuffers, sampled through workerd's
// inspector, must stay under the platform's 128 MB. `npm run bench` runs the same test
// at full size beside C git's server (bench/load.ts).
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRepo } from "../bench/generate";
import { Inspector } from "../bench/inspector";
import { HeapSampler, type LoadOptions, cloneLoad, gitRunner, growRepository, summary } from "../bench/load";
import { gitAuthEnv } from "./accounts";
import { gitEnv, tempDir } from "./git";
import { LocalServer, freePort } from "./server";

const server = new LocalServer();
let inspector: Inspector;
let auth = "";

beforeAll(async () => {
  const port = await freePort();
  await server.start({ inspectorPort: port });
  inspector = await Inspector.connect(port);
  auth = (await server.signUpAndUse("loader")).auth;
});
afterAll(async () => {
  inspector?.close();
  await server.stop();
});

describe("concurrent clones of a busy repository", () => {
  it("serves 16 clones at once, 4 rounds, with pushes in flight: no failure, memory within the limit", { timeout: 300_000 }, async () => {
    const work = tempDir("gitflare-load-");
    const source = join(work, "source.git");
    await generateRepo(source, { commits: 300 });
    const run = gitRunner({ ...gitEnv, ...gitAuthEnv(auth) });
    // Past wrangler's dev proxy, which loses POSTs on a connection race (see directUrl).
    const url = `${await server.directUrl()}/loader/busy.git`;
    await growRepository(run, source, [url], { blobPushes: 20, blobBytes: 256 * 1024 });
    // Maintenance starts 10 s after a push: the clones meet it at work.
    await new Promise((r) => setTimeout(r, 11_000));
    const mark = server.mark();
    const sampler = new HeapSampler(() => inspector.heap());
    sampler.start();
    const load: LoadOptions = { concurrency: 16, rounds: 4, pushesInFlight: 2, pushBlobBytes: 256 * 1024 };
    const result = await cloneLoad(run, work, url, source, "e2e", load);
    sampler.stop();
    console.log(
      summary({
        name: "Gitflare",
        ...result,
        heapPeakBytes: sampler.peakBytes,
        heapSamples: sampler.samples,
        longestSilenceMs: sampler.longestSilenceMs,
      }),
    );
    expect(result.errors).toEqual([]);
    expect(result.failures).toBe(0);
    expect(result.rounds.flatMap((r) => r.clones).length).toBe(64);
    expect(sampler.samples).toBeGreaterThan(0);
    expect(sampler.peakBytes).toBeLessThan(128 * 2 ** 20);
    // Nothing was lost to a restart of the repository's object.
    expect(server.outputSince(mark)).not.toMatch(/interrupted|Uncaught|restarted/);
    // Every push of the rounds landed.
    const refs = execFileSync("git", ["ls-remote", url], { env: { ...gitEnv, ...gitAuthEnv(auth) } }).toString();
    for (let r = 0; r < load.rounds; r++)
      for (let k = 0; k < load.pushesInFlight; k++) expect(refs).toContain(`refs/heads/load/e2e-${r}-${k}`);
  });
});
