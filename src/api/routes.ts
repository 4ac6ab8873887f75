// JSON API, authenticated by personal access token (Bearer, or Basic with username and
// token). Errors are JSON objects with an `error` message. Requests that change
// anything must be JSON, which a cross-site form cannot send, so a browser that has
// cached Basic credentials cannot be used against it.
import { Hono, type Context } from "hono";
import type { Env } from "../util/env";
import { type Refusal, checkAccess } from "../access/check";
import { RepoExists, listCollaborators, repoNameProblem, type RepoRecord } from "../access/repos";
import { allows, isCollaboratorRole } from "../access/roles";
import { SettingsError, addCollaborator, createRepository, destroy, dropCollaborator, rename, updateSettings } from "../access/manage";
import { callerOf } from "../auth/caller";
import { isValidOwner } from "../util/names";

export const api = new Hono<{ Bindings: Env }>();
type C = Context<{ Bindings: Env }>;

function refusal(c: C, a: Refusal) {
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

/** The JSON body of a change, or null if it is not JSON. */
async function jsonBody(c: C): Promise<Record<string, unknown> | null> {
  if (!(c.req.header("Content-Type") ?? "").toLowerCase().startsWith("application/json")) return null;
  try {
    const v = await c.req.json();
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
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

function settingsError(c: C, e: unknown) {
  if (e instanceof SettingsError) return c.json({ error: e.message }, e.status);
  throw e;
}

/** The token's user. */
api.get("/user", async (c) => {
  const caller = await callerOf(c);
  if (caller.kind === "anonymous") return c.json({ error: "authentication required" }, 401);
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
  if (caller.kind !== "token") return c.json({ error: "authentication with a token is required" }, 401);
  if (!allows(caller.scope, "write")) return c.json({ error: "write scope is required" }, 403);
  const { owner, repo: name } = c.req.param();
  if (caller.user.username.toLowerCase() !== owner.toLowerCase() || !isValidOwner(owner))
    return c.json({ error: "you can only create repositories under your own name" }, 403);
  const problem = repoNameProblem(name);
  if (problem) return c.json({ error: problem }, 400);
  const body = await jsonBody(c);
  if (!body) return c.json({ error: "send a JSON object with Content-Type: application/json (it may be {})" }, 415);
  const description = typeof body.description === "string" ? body.description.slice(0, 350) : "";
  try {
    return c.json(repoJson(c, await createRepository(c.env, caller.user, name, description, body.private !== false)), 201);
  } catch (e) {
    if (e instanceof RepoExists) return c.json({ error: "repository already exists" }, 409);
    throw e;
  }
});

api.get("/repos/:owner/:repo", async (c) => {
  const a = await checkAccess(c, "read");
  if (!a.ok) return refusal(c, a);
  return c.json({ ...repoJson(c, a.repo), permission: a.role, default_branch: (await a.stub.summary())?.defaultBranch ?? null });
});

/** Changes description, visibility, default branch or name. */
api.patch("/repos/:owner/:repo", async (c) => {
  const a = await checkAccess(c, "admin");
  if (!a.ok) return refusal(c, a);
  const body = await jsonBody(c);
  if (!body) return c.json({ error: "send a JSON object with Content-Type: application/json" }, 415);
  try {
    await updateSettings(c.env, a, {
      description: typeof body.description === "string" ? body.description : undefined,
      isPrivate: typeof body.private === "boolean" ? body.private : undefined,
      defaultBranch: typeof body.default_branch === "string" ? body.default_branch : undefined,
    });
    const name = typeof body.name === "string" ? await rename(c.env, a, body.name) : a.repo.name;
    return c.json({ owner: a.repo.owner, name });
  } catch (e) {
    return settingsError(c, e);
  }
});

api.delete("/repos/:owner/:repo", async (c) => {
  const a = await checkAccess(c, "admin");
  if (!a.ok) return refusal(c, a);
  await destroy(c.env, a);
  return c.body(null, 204);
});

api.get("/repos/:owner/:repo/collaborators", async (c) => {
  const a = await checkAccess(c, "admin");
  if (!a.ok) return refusal(c, a);
  return c.json((await listCollaborators(c.env.DB, a.repo.id)).map((u) => ({ username: u.username, role: u.role })));
});

api.put("/repos/:owner/:repo/collaborators/:user", async (c) => {
  const a = await checkAccess(c, "admin");
  if (!a.ok) return refusal(c, a);
  const body = await jsonBody(c);
  const role = typeof body?.role === "string" ? body.role : "";
  if (!isCollaboratorRole(role)) return c.json({ error: "role must be read, write or admin" }, 400);
  try {
    await addCollaborator(c.env, a, c.req.param("user"), role);
    return c.json({ username: c.req.param("user"), role });
  } catch (e) {
    return settingsError(c, e);
  }
});

api.delete("/repos/:owner/:repo/collaborators/:user", async (c) => {
  const a = await checkAccess(c, "admin");
  if (!a.ok) return refusal(c, a);
  try {
    await dropCollaborator(c.env, a, c.req.param("user"));
    return c.body(null, 204);
  } catch (e) {
    return settingsError(c, e);
  }
});

/** The repository's push log: ref updates and push options, newest first. */
api.get("/repos/:owner/:repo/pushes", async (c) => {
  const a = await checkAccess(c, "read");
  if (!a.ok) return refusal(c, a);
  const limit = Math.min(100, Math.max(1, Number(c.req.query("limit") ?? 20) || 20));
  return c.json(await a.stub.recentPushes(limit));
});
