// Fixed-window counters of failures (bad passwords, bad tokens) in D1. A key that has
// failed `limit` times in the current window is refused until the window ends, even with
// the right secret, so guessing costs a window per `limit` guesses.

export interface Limit {
  limit: number;
  windowMs: number;
}

export const LOGIN_LIMIT: Limit = { limit: 10, windowMs: 15 * 60_000 };
export const TOKEN_LIMIT: Limit = { limit: 30, windowMs: 15 * 60_000 };
/** Issues and comments one account may create; GitHub's secondary limit is of this order. */
export const CREATE_LIMIT: Limit = { limit: 60, windowMs: 10 * 60_000 };

/** A limit written as "count/seconds" (a setting), or `fallback` when it is not one. */
export function parseLimit(text: string | undefined, fallback: Limit): Limit {
  const m = /^(\d+)\/(\d+)$/.exec(text?.trim() ?? "");
  return m && Number(m[1]) > 0 && Number(m[2]) > 0 ? { limit: Number(m[1]), windowMs: Number(m[2]) * 1000 } : fallback;
}

/** Milliseconds until `key` may try again, or 0 if it may try now. */
export async function retryAfter(db: D1Database, key: string, rule: Limit, now = Date.now()): Promise<number> {
  const row = await db
    .prepare("SELECT window_start, count FROM rate_limits WHERE key = ?")
    .bind(key)
    .first<{ window_start: number; count: number }>();
  if (!row || now - row.window_start >= rule.windowMs || row.count < rule.limit) return 0;
  return row.window_start + rule.windowMs - now;
}

export async function recordFailure(db: D1Database, key: string, rule: Limit, now = Date.now()): Promise<void> {
  await db
    .prepare(
      `INSERT INTO rate_limits (key, window_start, count) VALUES (?1, ?2, 1)
       ON CONFLICT(key) DO UPDATE SET
         count = CASE WHEN ?2 - window_start >= ?3 THEN 1 ELSE count + 1 END,
         window_start = CASE WHEN ?2 - window_start >= ?3 THEN ?2 ELSE window_start END`,
    )
    .bind(key, now, rule.windowMs)
    .run();
}

/**
 * Counts one use of `key` against `rule` (creations, not failures) and answers the
 * milliseconds to wait when this use is over the limit, which the caller then refuses,
 * or 0. One statement, so concurrent uses cannot both slip under the limit.
 */
export async function spend(db: D1Database, key: string, rule: Limit, now = Date.now()): Promise<number> {
  const row = await db
    .prepare(
      `INSERT INTO rate_limits (key, window_start, count) VALUES (?1, ?2, 1)
       ON CONFLICT(key) DO UPDATE SET
         count = CASE WHEN ?2 - window_start >= ?3 THEN 1 ELSE count + 1 END,
         window_start = CASE WHEN ?2 - window_start >= ?3 THEN ?2 ELSE window_start END
       RETURNING window_start, count`,
    )
    .bind(key, now, rule.windowMs)
    .first<{ window_start: number; count: number }>();
  return row && row.count > rule.limit ? Math.max(1, row.window_start + rule.windowMs - now) : 0;
}

/** The client's address as Cloudflare reports it; locally every client is "local". */
export function clientAddress(request: Request): string {
  return request.headers.get("CF-Connecting-IP") ?? "local";
}
