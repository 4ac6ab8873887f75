// CSRF protection for every form. Two checks, both required for a POST:
// - the Origin header, when the browser sends one, must be this site's;
// - the form's `_csrf` field must match the session's token (signed in) or, before
//   signing in, a random value in an HttpOnly cookie (double submit).
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { Caller } from "./caller";
import { randomToken, timingSafeEqual } from "./crypto";

const CSRF_COOKIE = "gf_csrf";
const FIELD = "_csrf";

/** The token to put in this page's forms. */
export function csrfToken(c: Context, caller: Caller): string {
  if (caller.kind === "session") return caller.session.csrf;
  let token = getCookie(c, CSRF_COOKIE);
  if (!token || token.length > 100) {
    token = randomToken();
    setCookie(c, CSRF_COOKIE, token, { path: "/", httpOnly: true, sameSite: "Lax", secure: new URL(c.req.url).protocol === "https:" });
  }
  return token;
}

function sameOrigin(c: Context): boolean {
  const origin = c.req.header("Origin");
  if (!origin || origin === "null") return origin !== "null";
  return origin === new URL(c.req.url).origin;
}

/** Whether this form post carries the right token from this site. */
export function csrfValid(c: Context, caller: Caller, form: Record<string, unknown>): boolean {
  if (!sameOrigin(c)) return false;
  const sent = typeof form[FIELD] === "string" ? (form[FIELD] as string) : "";
  if (!sent) return false;
  const expected = caller.kind === "session" ? caller.session.csrf : (getCookie(c, CSRF_COOKIE) ?? "");
  return expected.length > 0 && timingSafeEqual(sent, expected);
}
