// Reading a web form: only from a signed-in session (or, for the sign-in pages, from
// anyone), and only with a valid CSRF token from this site.
import type { Context } from "hono";
import { type Caller, callerOf } from "../auth/caller";
import { csrfValid } from "../auth/csrf";
import { Forbidden } from "../http/responses";

export type Form = Record<string, string>;

/** The posted fields; throws Forbidden (a 403 page) when the post fails the CSRF check. */
export async function readForm(c: Context): Promise<{ form: Form; caller: Caller }> {
  const caller = await callerOf(c);
  let body: Record<string, unknown> = {};
  try {
    body = await c.req.parseBody();
  } catch {
    // An unreadable body is an empty form, which then fails the CSRF check below (403).
    body = {};
  }
  // Tokens are for git and the API; forms belong to browser sessions.
  if (caller.kind === "token" || !csrfValid(c, caller, body))
    throw new Forbidden("This form expired or did not come from this site. Go back, reload the page and try again.");
  const form: Form = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === "string") form[k] = v;
  return { form, caller };
}

/**
 * A path on this site only: one `/` and then a path character (RFC 3986 pchar), taken
 * as given. Anything else (`//host`, `/\host`, a tab or newline that a browser strips
 * to make `//host`, a backslash it reads as `/`, any control or non-ASCII character)
 * would let the address leave the site, so it goes home instead.
 */
const SAFE_PATH = /^\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@%][A-Za-z0-9\-._~!$&'()*+,;=:@%/?#]*)?$/;

/** A safe place to go after signing in: a path on this site, never another origin. */
export function safeNext(next: string | undefined): string {
  return next !== undefined && SAFE_PATH.test(next) ? next : "/";
}
