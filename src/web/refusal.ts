// How the web UI refuses: a private repository the caller may not see is a 404, as if
// it did not exist; a page that needs more than the visitor has asks them to sign in
// (anonymous) or says 403; a renamed repository redirects.
import type { Context } from "hono";
import type { Refusal } from "../access/check";
import { html, page } from "./layout";

export function webRefusal(c: Context, a: Refusal): Response | Promise<Response> {
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
        return c.redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, 302);
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
