// How the GitHub-shaped API (/api/v3) refuses, as GitHub does: a JSON object with a
// `message` and a `documentation_url` (and, for 422, the `errors` at fault). A private
// repository the caller may not see is a 404 for everyone, anonymous callers included,
// so that nothing about it leaks.
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AccessRefused, type Refusal } from "../../access/check";
import { BadCredentials, RateLimited } from "../../auth/caller";
import { HttpError } from "../../http/responses";
import type { Refused } from "../../repo/collab";

export const DOCS = "https://docs.github.com/rest";

export interface FieldError {
  resource: string;
  field: string;
  code: "missing_field" | "invalid" | "already_exists" | "missing" | "custom";
  value?: unknown;
  message?: string;
}

/** A refusal with GitHub's body: a status, a message and, for 422, the errors. */
export class GitHubError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    message: string,
    readonly errors?: FieldError[],
  ) {
    super(message);
  }
}

export const notFound = () => new GitHubError(404, "Not Found");

export function validationFailed(resource: string, field: string, code: FieldError["code"] = "invalid", message?: string): GitHubError {
  return new GitHubError(422, "Validation Failed", [{ resource, field, code, ...(message ? { message } : {}) }]);
}

/** The store's refusal in GitHub's form: 404 for what is missing, 422 for the rest. */
export function fromRefused(r: Refused, resource: string): GitHubError {
  if (r.code === "not-found") return notFound();
  return validationFailed(resource, r.field ?? "base", r.code === "exists" ? "already_exists" : r.field ? "invalid" : "custom", r.message);
}

function body(c: Context, status: number, message: string, extra: Record<string, unknown> = {}) {
  return c.json({ message, ...extra, documentation_url: DOCS, status: String(status) }, status as ContentfulStatusCode);
}

function refusal(c: Context, a: Refusal): Response {
  switch (a.reason) {
    case "unauthenticated":
      return a.visible ? body(c, 401, "Requires authentication") : body(c, 404, "Not Found");
    case "not-found":
      return body(c, 404, "Not Found");
    case "forbidden":
      return body(c, 403, `Must have ${a.need} access to this repository.`);
    case "redirect": {
      const status = c.req.method === "GET" ? 301 : 307;
      return c.json({ message: "Moved Permanently", url: a.location, documentation_url: DOCS }, status, { Location: a.location });
    }
  }
}

/** The answer for an error a v3 route threw; rethrows anything unexpected (500). */
export function v3Error(err: Error, c: Context): Response {
  if (err instanceof GitHubError) return body(c, err.status, err.message, err.errors ? { errors: err.errors } : {});
  if (err instanceof AccessRefused) return refusal(c, err.refusal);
  if (err instanceof BadCredentials) return body(c, 401, "Bad credentials");
  if (err instanceof RateLimited) {
    c.header("Retry-After", String(Math.ceil(err.retryAfterMs / 1000)));
    return body(c, 429, err.message);
  }
  if (err instanceof HttpError) return body(c, err.status, err.message);
  throw err;
}
