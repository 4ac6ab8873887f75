// How the JSON API refuses, in one place: `apiError`, the API app's onError, answers
// every error a route throws with `{"error": message}` and the status it carries:
// HttpError (src/http/responses.ts), the access check's AccessRefused, a settings
// change's SettingsError, and bad or rate-limited credentials from the caller lookup.
// Anything else goes on to the Worker's handler (500).
import type { Context } from "hono";
import { AccessRefused, type Refusal } from "../access/check";
import { SettingsError } from "../access/manage";
import { BadCredentials, RateLimited } from "../auth/caller";
import { HttpError } from "../http/responses";

function refusal(c: Context, a: Refusal): Response {
  switch (a.reason) {
    case "unauthenticated":
      return c.json({ error: a.visible ? "authentication required" : "repository not found" }, a.visible ? 401 : 404);
    case "not-found":
      return c.json({ error: "repository not found" }, 404);
    case "forbidden":
      return c.json({ error: `${a.need} access is required` }, 403);
    case "redirect":
      return c.redirect(a.location, c.req.method === "GET" ? 301 : 307);
  }
}

/** The JSON answer for an error an API route threw; rethrows anything unexpected. */
export function apiError(err: Error, c: Context): Response {
  if (err instanceof AccessRefused) return refusal(c, err.refusal);
  if (err instanceof HttpError || err instanceof SettingsError) return c.json({ error: err.message }, err.status);
  if (err instanceof BadCredentials) return c.json({ error: err.message }, 401);
  if (err instanceof RateLimited) return c.json({ error: err.message }, 429, { "Retry-After": String(Math.ceil(err.retryAfterMs / 1000)) });
  throw err;
}
