// Reading a web form: only from a signed-in session (or, for the sign-in pages, from
// anyone), and only with a valid CSRF token from this site.
import type { Context } from "hono";
import { parseBody } from "hono/utils/body";
import { type Caller, callerOf } from "../auth/caller";
import { csrfValid } from "../auth/csrf";
import { Forbidden, HttpError } from "../http/responses";
import { BodyTooLargeError, readLimited } from "../util/streams";

export type Form = Record<string, string>;

/** Far above any form (an issue's body is at most 65,536 characters), far below what a Worker should hold. */
export const MAX_FORM_BODY = 1024 * 1024;

const tooLarge = (limit: number) => new HttpError(413, `The form is larger than ${limit} bytes.`);

/**
 * The request with its body read, up to MAX_FORM_BODY: anyone may post the sign-in forms,
 * and a form read whole could be as large as the platform lets a request be. A body
 * whose declared length is too large is not read at all.
 */
async function formBody(request: Request, limit: number): Promise<Request> {
  if (Number(request.headers.get("Content-Length") ?? 0) > limit) throw tooLarge(limit);
  let bytes: Uint8Array = new Uint8Array(0);
  try {
    if (request.body) bytes = await readLimited(request.body, limit);
  } catch (e) {
    if (e instanceof BodyTooLargeError) throw tooLarge(limit);
    throw e;
  }
  // Only the type says how to parse it; the body is no longer the one the other headers describe.
  const type = request.headers.get("Content-Type");
  return new Request(request.url, { method: "POST", headers: type ? { "Content-Type": type } : {}, body: bytes });
}

/**
 * The posted fields; throws Forbidden (a 403 page) when the post fails the CSRF check.
 * `limit`: a larger cap for a form that carries a file, posted only after the access check.
 */
export async function readForm(c: Context, limit = MAX_FORM_BODY): Promise<{ form: Form; caller: Caller }> {
  const caller = await callerOf(c);
  let body: Record<string, unknown> = {};
  try {
    body = await parseBody(await formBody(c.req.raw, limit));
  } catch (e) {
    if (e instanceof HttpError) throw e;
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
