// Git LFS answers: JSON in `application/vnd.git-lfs+json`, errors as the spec's
// `{message, request_id, documentation_url}`, and refusals that make git-lfs ask for
// credentials (401 with LFS-Authenticate) the way git's own refusals do.
import type { Context } from "hono";
import type { Env } from "../../util/env";
import { type Access, type Granted, type Refusal, checkAccess } from "../../access/check";
import type { Permission } from "../../access/roles";
import { BadCredentials, RateLimited } from "../../auth/caller";
import { GIT_REALM } from "../responses";
import { readLimited } from "../../util/streams";

export const LFS_TYPE = "application/vnd.git-lfs+json";
const DOCS = "https://github.com/git-lfs/git-lfs/tree/main/docs/api";

export type C = Context<{ Bindings: Env }>;

export function lfsJson(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": LFS_TYPE, "Cache-Control": "no-store", ...headers } });
}

export function lfsError(status: number, message: string, headers: Record<string, string> = {}): Response {
  return lfsJson(status, { message, request_id: crypto.randomUUID(), documentation_url: DOCS }, headers);
}

const ASK = { "LFS-Authenticate": GIT_REALM, "WWW-Authenticate": GIT_REALM };

function refusal(a: Refusal, method: string): Response {
  switch (a.reason) {
    case "unauthenticated":
      return lfsError(401, "Authentication required: use your username and a personal access token.", ASK);
    case "not-found":
      return lfsError(404, "Repository not found.");
    case "forbidden":
      return lfsError(403, `Permission denied: ${a.need} access to ${a.repo.owner}/${a.repo.name} is required.`);
    case "redirect":
      return new Response(null, { status: method === "GET" ? 301 : 307, headers: { Location: a.location } });
  }
}

/** The access check, with its refusals (and bad credentials) already in LFS's form. */
export async function lfsAccess(c: C, need: Permission): Promise<Granted | Response> {
  let access: Access;
  try {
    access = await checkAccess(c, need);
  } catch (e) {
    if (e instanceof RateLimited) return lfsError(429, e.message, { "Retry-After": String(Math.ceil(e.retryAfterMs / 1000)) });
    if (e instanceof BadCredentials) return lfsError(401, e.message, ASK);
    throw e;
  }
  return access.ok ? access : refusal(access, c.req.method);
}

/** A JSON request body, or null when it is not one (the caller answers 422). */
export async function jsonBody(c: C, limit = 1 << 20): Promise<Record<string, unknown> | null> {
  try {
    const bytes = c.req.raw.body ? await readLimited(c.req.raw.body, limit) : new Uint8Array();
    const v = JSON.parse(new TextDecoder().decode(bytes));
    return v && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

export const OID = /^[0-9a-f]{64}$/;

/** Where a repository's LFS object lives in R2: by repository id, so a rename keeps it. */
export function lfsKeyPrefix(repoId: number): string {
  return `lfs/${repoId}/`;
}
