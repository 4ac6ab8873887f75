// Who is asking: a browser session (cookie), a personal access token (HTTP Basic with
// username and token, or Bearer), or nobody. Bad credentials are an error rather than
// anonymity, so a client with a wrong token hears 401 instead of seeing public data only.
import type { Context } from "hono";
import type { User } from "./accounts";
import { type Session, readSession } from "./sessions";
import { type Scope, verifyToken } from "./tokens";
import { TOKEN_LIMIT, clientAddress, recordFailure, retryAfter } from "./rate-limit";

export type Caller =
  | { kind: "anonymous" }
  | { kind: "session"; user: User; session: Session }
  | { kind: "token"; user: User; scope: Scope };

export class BadCredentials extends Error {
  constructor(message = "Invalid username or token.") {
    super(message);
  }
}

export class RateLimited extends Error {
  constructor(
    readonly retryAfterMs: number,
    what = "Too many failed attempts",
  ) {
    super(`${what}; try again in ${Math.ceil(retryAfterMs / 60_000)} minute(s).`);
  }
}

/** The credentials in an Authorization header: [username or null, token], or null if none. */
export function parseAuthorization(header: string | undefined): [string | null, string] | null {
  if (!header) return null;
  const [scheme, value = ""] = header.trim().split(/\s+/, 2);
  const s = scheme.toLowerCase();
  if (s === "bearer" || s === "token") return [null, value];
  if (s !== "basic") throw new BadCredentials("Unsupported Authorization scheme; use Basic with a username and token.");
  let decoded: string;
  try {
    decoded = new TextDecoder().decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0)));
  } catch {
    throw new BadCredentials("Malformed Basic credentials.");
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) throw new BadCredentials("Malformed Basic credentials.");
  return [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

async function identify(c: Context, db: D1Database): Promise<Caller> {
  const creds = parseAuthorization(c.req.header("Authorization"));
  if (creds) {
    const [username, token] = creds;
    const found = await verifyToken(db, token);
    if (!found || (username !== null && username.toLowerCase() !== found.user.username.toLowerCase())) {
      // Only failures are counted and checked: a live token costs no extra query, and a
      // token cannot be guessed (240 random bits), so the limit is against load from
      // bad credentials, not against a lucky guess.
      const key = `token:${clientAddress(c.req.raw)}`;
      const wait = await retryAfter(db, key, TOKEN_LIMIT);
      if (wait > 0) throw new RateLimited(wait);
      await recordFailure(db, key, TOKEN_LIMIT);
      throw new BadCredentials();
    }
    return { kind: "token", user: found.user, scope: found.scope };
  }
  const session = await readSession(c, db);
  return session ? { kind: "session", user: session.user, session } : { kind: "anonymous" };
}

const CALLER = "gitflare.caller";

/** The caller of this request, identified once and remembered on the context. */
export function callerOf(c: Context): Promise<Caller> {
  const memo = c.get(CALLER as never) as Promise<Caller> | undefined;
  if (memo) return memo;
  const p = identify(c, (c.env as { DB: D1Database }).DB);
  c.set(CALLER as never, p as never);
  return p;
}

export function userOf(caller: Caller): User | null {
  return caller.kind === "anonymous" ? null : caller.user;
}
