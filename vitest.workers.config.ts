import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { gitCheck } from "./test/git-check.js";

// Unit and Durable Object tests, run inside workerd. The D1 migrations are read here
// (in Node) and applied inside workerd by test/apply-migrations.ts. Push bodies over
// 2 KiB go to the repository in segments, so most tests' pushes take that path. GIT_CHECK
// runs C git in Node over a repository a test exported (test/git-check.ts).
const migrations = await readD1Migrations("./migrations");

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.jsonc" },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: migrations,
          GITFLARE_SEGMENT_BYTES: "2048",
          GITFLARE_HOOKS_ALLOW_LOOPBACK: "1",
          GITFLARE_HOOK_RETRY_MS: "60000,300000,900000,1800000,3600000",
          GITFLARE_HOOK_TIMEOUT_MS: "2000",
        },
        serviceBindings: { GIT_CHECK: gitCheck },
      },
    }),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/apply-migrations.ts"],
    testTimeout: 60_000,
  },
});
