// Response shapes and boundary errors shared by the git, web and API surfaces.
//
// Inside a surface, code that must refuse a request throws one of the errors below (or
// the access check's `AccessRefused`); each surface turns them into its own form in one
// place: pages in src/web/errors.ts, the JSON API in src/api/errors.ts. Git's wire
// answers are written by src/http/smart-http.ts.
import type { ContentfulStatusCode } from "hono/utils/http-status";

export const GIT_REALM = 'Basic realm="Gitflare", charset="UTF-8"';

/** git's own advice to caches (http-backend sends the same). */
export const GIT_NO_CACHE = {
  "Cache-Control": "no-cache, max-age=0, must-revalidate",
  Pragma: "no-cache",
  Expires: "Fri, 01 Jan 1980 00:00:00 GMT",
};

/** A refusal at the HTTP boundary: a status and a message meant for the person asking. */
export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    message: string,
  ) {
    super(message);
  }
}

export class NotFound extends HttpError {
  constructor(message = "This page does not exist.") {
    super(404, message);
  }
}

export class Forbidden extends HttpError {
  constructor(message: string) {
    super(403, message);
  }
}

/** Signing in would help: pages send the browser to the sign-in page; the API answers 401. */
export class Unauthenticated extends HttpError {
  constructor(message = "authentication required") {
    super(401, message);
  }
}

/** A `text/plain` response whose body is `message`, ending with one newline. */
export function plainText(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(message.endsWith("\n") ? message : message + "\n", {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", ...headers },
  });
}
