// JSON API, authenticated by personal access token (Bearer, or Basic with username and
// token). Errors are JSON objects with an `error` message: routes throw, and `apiError`
// (./errors.ts) answers. Requests that change anything must be JSON, which a cross-site
// form cannot send, so a browser that has cached Basic credentials cannot be used against it.
import { Hono, type Context } from "hono";
import type { Env } from "../util/env";
import { requireAccess } from "../access/check";
import { RepoExists, listCollaborators, repoNameProblem, type RepoRecord } from "../access/repos";
import { allows, isCollaboratorRole } from "../access/roles";
import { addCollaborator, createRepository, destroy, dropCollaborator, rename, updateSettings } from "../access/manage";
import { callerOf } from "../auth/caller";
import { isValidOwner } from "../util/names";
import { Forbidden, HttpError, Unauthenticated } from "../http/responses";
import { apiError } from "./errors";
import { readJsonObject, typedFields } from "./json-body";

export const api = new Hono<{ Bindings: Env }>();
api.onError(apiError);
type C = Context<{ Bindings: Env }>;

/** The JSON object a change sends; 415 with `hint` when there is none. */
async function requireJson(c: C, hint: string): Promise<Record<string, unknown>> {
  const body = await readJsonObject(c.req.raw);
  if (!body) throw new HttpError(415, hint);
  return body;
}

function repoJson(c: C, r: RepoRecord) {
  return {
    owner: r.owner,
    name: r.name,
    description: r.description,
    private: r.isPrivate,
    clone_url: new URL(`/${r.owner}/${r.name}.git`, c.req.url).toString(),
    created_at: new Date(r.createdAt).toISOString(),
    pushed_at: r.pushedAt ? new Date(r.pushedAt).toISOString() : null,
  };
}

/** The token's user. */
api.get("/user", async (c) => {
  const caller = await callerOf(c);
  if (caller.kind === "anonymous") throw new Unauthenticated();
  return c.json({
    username: caller.user.username,
    email: caller.user.email,
    site_admin: caller.user.isAdmin,
    scope: caller.kind === "token" ? caller.scope : null,
  });
});

/** Creates an empty repository under the caller's own name; 409 if it exists. */
api.post("/repos/:owner/:repo", async (c) => {
  const caller = await callerOf(c);
  if (caller.kind !== "token") throw new Unauthenticated("authentication with a token is required");
  if (!allows(caller.scope, "write")) throw new Forbidden("write scope is required");
  const { owner, repo: name } = c.req.param();
  if (caller.user.username.toLowerCase() !== owner.toLowerCase() || !isValidOwner(owner))
    throw new Forbidden("you can only create repositories under your own name");
  const problem = repoNameProblem(name);
  if (problem) throw new HttpError(400, problem);
  const body = await requireJson(c, "send a JSON object with Content-Type: application/json (it may be {})");
  const fields = typedFields(body, { description: "string", private: "boolean" });
  const description = (fields.description ?? "").slice(0, 350);
  try {
    return c.json(repoJson(c, await createRepository(c.env, caller.user, name, description, fields.private !== false)), 201);
  } catch (e) {
    throw e instanceof RepoExists ? new HttpError(409, "repository already exists") : e;
  }
});

api.get("/repos/:owner/:repo", async (c) => {
  const a = await requireAccess(c, "read");
  return c.json({ ...repoJson(c, a.repo), permission: a.role, default_branch: (await a.stub.summary())?.defaultBranch ?? null });
});

/** Changes description, visibility, default branch or name. */
api.patch("/repos/:owner/:repo", async (c) => {
  const a = await requireAccess(c, "admin");
  const body = await requireJson(c, "send a JSON object with Content-Type: application/json");
  // Every field is checked before anything changes.
  const fields = typedFields(body, { description: "string", private: "boolean", default_branch: "string", name: "string" });
  await updateSettings(c.env, a, { description: fields.description, isPrivate: fields.private, defaultBranch: fields.default_branch });
  const name = fields.name !== undefined ? await rename(c.env, a, fields.name) : a.repo.name;
  return c.json({ owner: a.repo.owner, name });
});

api.delete("/repos/:owner/:repo", async (c) => {
  const a = await requireAccess(c, "admin");
  await destroy(c.env, a);
  return c.body(null, 204);
});

api.get("/repos/:owner/:repo/collaborators", async (c) => {
  const a = await requireAccess(c, "admin");
  return c.json((await listCollaborators(c.env.DB, a.repo.id)).map((u) => ({ username: u.username, role: u.role })));
});

api.put("/repos/:owner/:repo/collaborators/:user", async (c) => {
  const a = await requireAccess(c, "admin");
  const body = await readJsonObject(c.req.raw);
  const role = typeof body?.role === "string" ? body.role : "";
  if (!isCollaboratorRole(role)) throw new HttpError(400, "role must be read, write or admin");
  await addCollaborator(c.env, a, c.req.param("user"), role);
  return c.json({ username: c.req.param("user"), role });
});

api.delete("/repos/:owner/:repo/collaborators/:user", async (c) => {
  const a = await requireAccess(c, "admin");
  await dropCollaborator(c.env, a, c.req.param("user"));
  return c.body(null, 204);
});

/** The repository's push log: ref updates and push options, newest first. */
api.get("/repos/:owner/:repo/pushes", async (c) => {
  const a = await requireAccess(c, "read");
  const limit = Math.min(100, Math.max(1, Number(c.req.query("limit") ?? 20) || 20));
  return c.json(await a.stub.recentPushes(limit));
});

/** Where the repository's bytes are: SQLite, R2, live packs and retired ones (admin). */
api.get("/repos/:owner/:repo/storage", async (c) => {
  const a = await requireAccess(c, "admin");
  const s = await a.stub.storage();
  const tier = (t: { count: number; sqliteBytes: number; r2Bytes: number }) => ({
    count: t.count,
    sqlite_bytes: t.sqliteBytes,
    r2_bytes: t.r2Bytes,
  });
  return c.json({
    database_bytes: s.databaseBytes,
    files: { sqlite_bytes: s.dofsBytes, r2_bytes: s.r2Bytes, r2_shared_bytes: s.r2SharedBytes, r2_copy_bytes: s.r2CopyBytes },
    packs: tier(s.packs),
    retired_packs: tier(s.retired),
    maintenance_pending: s.pending,
  });
});

/**
 * Runs one bounded slice of maintenance now, as the alarm would (site admins: it is
 * for operators and the benchmark). `more` says whether another slice has work.
 */
api.post("/repos/:owner/:repo/maintenance", async (c) => {
  const a = await requireAccess(c, "admin");
  if (a.caller.kind === "anonymous" || !a.caller.user.isAdmin) throw new Forbidden("only a site admin may run maintenance");
  await requireJson(c, "send a JSON object with Content-Type: application/json (it may be {})");
  const r = await a.stub.maintenanceSlice();
  return c.json({
    more: r.more,
    copied: r.copied,
    merged: r.merged,
    pruned: r.pruned,
    tiered: r.tiered,
    deleted: r.deleted,
    graphed: r.graphed,
    bitmaps: r.bitmaps ?? 0,
    r2_copied: r.r2Copied ?? 0,
  });
});
