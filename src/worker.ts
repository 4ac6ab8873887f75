// Gitflare's Worker: routes requests to the smart-HTTP endpoints, the API and the web UI.
// Every route that touches a repository passes the access check in src/access/check.ts.
import { forksWeb } from "./web/forks";
import { Hono } from "hono";
import type { Env } from "./util/env";
import { smartHttp } from "./http/smart-http";
import { lfs } from "./http/lfs";
import { GIT_REALM, plainText } from "./http/responses";
import { api } from "./api/routes";
import { v3 } from "./api/v3";
import { apiError } from "./api/errors";
import { pullEventsAfterMove } from "./api/v3/hook-events";
import { web } from "./web/routes";
import { account } from "./web/account";
import { settings } from "./web/settings";
import { branchSettings } from "./web/branch-settings";
import { issuesWeb } from "./web/issues";
import { labelsWeb } from "./web/labels";
import { editor } from "./web/editor";
import { pullsWeb } from "./web/pulls";
import { reviewsWeb } from "./web/reviews";
import { searchPages } from "./web/search";
import { BadCredentials, RateLimited } from "./auth/caller";

export { Repository } from "./repo/repository";

const app = new Hono<{ Bindings: Env }>();

// Pages may run only our own script; a README's HTML, even if sanitizing missed
// something, cannot load or run anything else.
app.use("*", async (c, next) => {
  await next();
  if ((c.res.headers.get("Content-Type") ?? "").startsWith("text/html")) {
    c.res.headers.set(
      "Content-Security-Policy",
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    c.res.headers.set("X-Content-Type-Options", "nosniff");
    c.res.headers.set("Referrer-Policy", "same-origin");
  }
  // Pages, raw files and archives can hold private data; shared caches must not keep them.
  if (!c.res.headers.has("Cache-Control")) {
    // A response from a Durable Object has immutable headers; copy it first.
    c.res = new Response(c.res.body, c.res);
    c.res.headers.set("Cache-Control", "private, no-cache");
  }
});

// A push that moved open pull requests' branches leaves their events for the Worker, which
// builds them in the API's shapes once git has its answer.
app.post("/:owner/:repo/git-receive-pack", async (c, next) => {
  await next();
  if (c.res.status === 200) c.executionCtx.waitUntil(pullEventsAfterMove(c));
});

app.route("/api/v3", v3);
app.route("/api", api);
app.route("/", smartHttp);
app.route("/", lfs);
app.route("/", account);
app.route("/", settings);
app.route("/", forksWeb);
app.route("/", branchSettings);
app.route("/", issuesWeb);
app.route("/", labelsWeb);
app.route("/", pullsWeb);
app.route("/", reviewsWeb);
app.route("/", searchPages);
app.route("/", web);
app.route("/", editor);
app.notFound((c) => c.text("Not found\n", 404));

/** Git's own paths, whose clients need 401 with WWW-Authenticate to ask for credentials. */
const GIT_PATH = /\/(info\/refs|git-upload-pack|git-receive-pack|export\.tar)$/;

// The last mapping: errors no surface's own mapping answered. Pages (src/web/errors.ts)
// and the API (src/api/errors.ts) answer their own refusals; what reaches here is bad or
// rate-limited credentials outside the API (git clients, pages, raw files), and bugs.
app.onError((err, c) => {
  const path = new URL(c.req.url).pathname;
  if (err instanceof RateLimited || err instanceof BadCredentials) {
    // An /api/ path that a page route matched still answers credentials in JSON.
    if (path.startsWith("/api/")) return apiError(err, c);
    if (err instanceof RateLimited) return plainText(429, err.message, { "Retry-After": String(Math.ceil(err.retryAfterMs / 1000)) });
    return plainText(401, err.message, GIT_PATH.test(path) ? { "WWW-Authenticate": GIT_REALM } : {});
  }
  console.error(err);
  return plainText(500, "Internal error");
});

export default app;
