// When a failed delivery is tried again: GitHub-like backoff, six attempts over about two
// hours. Tests shorten it with GITFLARE_HOOK_RETRY_MS (a comma-separated list of waits).

export const DEFAULT_RETRY_MS = [60_000, 5 * 60_000, 15 * 60_000, 30 * 60_000, 60 * 60_000];
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface HookTiming {
  /** Wait before retry n (n = 1…): after `attempts` failed attempts, `retryMs[attempts - 1]`. */
  retryMs: number[];
  /** How long one attempt may take before it is abandoned. */
  timeoutMs: number;
}

export function hookTiming(env: { GITFLARE_HOOK_RETRY_MS?: string; GITFLARE_HOOK_TIMEOUT_MS?: string }): HookTiming {
  const list = (env.GITFLARE_HOOK_RETRY_MS ?? "")
    .split(",")
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isFinite(n) && n >= 0);
  const timeout = Number(env.GITFLARE_HOOK_TIMEOUT_MS);
  return {
    retryMs: list.length && env.GITFLARE_HOOK_RETRY_MS ? list : DEFAULT_RETRY_MS,
    timeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout : DEFAULT_TIMEOUT_MS,
  };
}

/** When to try again after `attempts` failed attempts, or null when they are used up. */
export function retryAt(timing: HookTiming, attempts: number, now: number): number | null {
  const wait = timing.retryMs[attempts - 1];
  return wait === undefined ? null : now + wait;
}
