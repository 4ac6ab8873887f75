// How pages refuse, in one place. Page routes throw: NotFound, Forbidden, Unauthenticated
// or another HttpError (src/http/responses.ts), or the access check's AccessRefused; and
// `pageError`, each page app's onError, answers with an HTML page in the site's layout.
// A private repository the caller may not see is a 404, as if it did not exist; a page
// that needs more than the visitor has asks them to sign in (anonymous) or says 403; a
// renamed repository redirects. Any other error goes on to the Worker's handler (bad
// credentials, rate limits, 500).
import type { Context } from "hono";
import { AccessRefused, type Refusal } from "../access/check";
import { HttpError, Unauthenticated } from "../http/responses";
import { html, page } from "./layout";

const TITLES: Partial<Record<number, string>> = { 400: "Bad request", 403: "Forbidden", 404: "Not found", 409: "Conflict" };

/** The sign-in page, which comes back to `next` afterwards. */
function signIn(c: Context, next: string): Response {
  return c.redirect(`/login?next=${encodeURIComponent(next)}`, 302);
}

function refusalPage(c: Context, a: Refusal): Response | Promise<Response> {
  switch (a.reason) {
    case "redirect":
      return c.redirect(a.location, 301);
    case "forbidden":
      return c.html(
        page(c, "Forbidden", html`<h1>403</h1><p class="muted">You need ${a.need} access to ${a.repo.owner}/${a.repo.name} for this.</p>`),
        403,
      );
    case "unauthenticated":
      if (a.visible && c.req.method === "GET") {
        const url = new URL(c.req.url);
        return signIn(c, url.pathname + url.search);
      }
      return c.html(
        page(
          c,
          "Not found",
          html`<h1>404</h1><p class="muted">Repository not found. If it is private, <a href="/login?next=${encodeURIComponent(new URL(c.req.url).pathname)}">sign in</a> to see it.</p>`,
        ),
        404,
      );
    case "not-found":
      return c.html(page(c, "Not found", html`<h1>404</h1><p class="muted">Repository not found.</p>`), 404);
  }
}

/** The page for an error a page route threw; rethrows what is not the pages' to answer. */
export function pageError(err: Error, c: Context): Response | Promise<Response> {
  if (err instanceof AccessRefused) return refusalPage(c, err.refusal);
  if (err instanceof Unauthenticated) return signIn(c, new URL(c.req.url).pathname);
  if (err instanceof HttpError)
    return c.html(page(c, TITLES[err.status] ?? "Error", html`<h1>${err.status}</h1><p class="muted">${err.message}</p>`), err.status);
  throw err;
}
