import type { D1Migration } from "cloudflare:test";
import type { Repository } from "../src/repo/repository";
import type { Env as WorkerEnv } from "../src/util/env";

declare global {
  namespace Cloudflare {
    interface Env extends Omit<WorkerEnv, "REPO"> {
      REPO: DurableObjectNamespace<Repository>;
      TEST_MIGRATIONS: D1Migration[];
      /** C git in Node over an exported repository (test/git-check.ts). */
      GIT_CHECK: Fetcher;
    }
  }
}
