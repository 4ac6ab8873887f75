import type { Env as WorkerEnv } from "../src/repo/repository";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
  }
}
