// Users, repositories and collaborators in GitHub's REST shapes:
//   GET          /user                                   (the caller)
//   GET          /user/repos, /users/{user}/repos        (paged)
//   POST         /user/repos                             (name, description, private, auto_init)
//   GET/PATCH/DELETE /repos/{owner}/{repo}
//   GET          /repos/{owner}/{repo}/collaborators     (paged)
//   PUT/DELETE   /repos/{owner}/{repo}/collaborators/{user}   (permission: pull, push, admin, …)
//   GET          /repos/{owner}/{repo}/collaborators/{user}/permission
// Reading a repository needs read access; changing it and its collaborators, admin.
import { type Context, Hono } from "hono";
import { type Granted, requireAccess } from "../../access/check";
import { SettingsError, addCollaborator, createRepository, destroy, dropCollaborator, rename, updateSettings } from "../../access/manage";
import { RepoExists, listCollaborators, memberRepos, repoNameProblem, visibleRepos, type RepoRecord } from "../../access/repos";
import { type CollaboratorRole, type Role, allows } from "../../access/roles";
import { findUserByName } from "../../auth/accounts";
import { callerOf, userOf } from "../../auth/caller";
import type { Env } from "../../util/env";
import { type Json, optString, readObject } from "./body";
import { GitHubError, notFound, validationFailed } from "./errors";
import { fullRepoJson } from "./git-shapes";
import { linkHeader, paging } from "./paging";
import { userJson, whereOf } from "./shapes";

export const repos = new Hono<{ Bindings: Env }>();
type C = Context<{ Bindings: Env }>;

const origin = (c: C) => new URL(c.req.url).origin;

function facts(r: RepoRecord, role: Role | null, defaultBranch: string | null) {
  return {
    id: r.id,
    owner: { id: r.ownerId, login: r.owner },
    name: r.name,
    description: r.description,
    isPrivate: r.isPrivate,
    createdAt: r.createdAt,
    pushedAt: r.pushedAt,
    defaultBranch,
    role,
    parent: r.parent,
    source: r.source,
    forksCount: r.forksCount,
  };
}

async function grantedJson(c: C, g: Granted) {
  const summary = await g.stub.summary();
  return fullRepoJson(origin(c), facts(g.repo, g.caller.kind === "anonymous" ? null : g.role, summary?.defaultBranch ?? null));
}

/** A settings refusal in GitHub's form. */
function settingsError(e: unknown): never {
  if (e instanceof SettingsError) {
    if (e.status === 404) throw notFound();
    // A name taken (409 on the settings page) is a validation failure on GitHub, as the rest are.
    throw new GitHubError(422, e.message, [{ resource: "Repository", field: "name", code: "custom", message: e.message }]);
  }
  throw e;
}

function optBool(body: Json, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw validationFailed("Repository", field);
  return v;
}

async function signedIn(c: C) {
  const caller = await callerOf(c);
  const user = userOf(caller);
  if (!user) throw new GitHubError(401, "Requires authentication");
  return { caller, user };
}

repos.get("/user", async (c) => {
  const { user } = await signedIn(c);
  const w = { origin: origin(c), api: `${origin(c)}/api/v3`, repo: "", html: "", repoId: 0 };
  return c.json({ ...userJson(w, { id: user.id, login: user.username }), name: null, email: user.email, site_admin: user.isAdmin });
});

repos.get("/user/repos", async (c) => {
  const { user } = await signedIn(c);
  const p = paging(c);
  const page = await memberRepos(c.env.DB, user.id, { offset: p.offset, limit: p.perPage });
  linkHeader(c, p, page.total);
  const roleOf = (r: (typeof page.items)[number]): Role =>
    r.ownerId === user.id ? "owner" : ((r.collaborator as CollaboratorRole) ?? "read");
  return c.json(page.items.map((r) => fullRepoJson(origin(c), facts(r, roleOf(r), null))));
});

repos.get("/users/:user/repos", async (c) => {
  const caller = await callerOf(c);
  const viewer = userOf(caller);
  const owner = await findUserByName(c.env.DB, c.req.param("user"));
  if (!owner) throw notFound();
  const p = paging(c);
  // At most 1000 a user: a listing for scripts, not an archive.
  const all = await visibleRepos(c.env.DB, viewer, { ownerId: owner.id, limit: 1000 });
  linkHeader(c, p, all.length);
  return c.json(
    all
      .slice(p.offset, p.offset + p.perPage)
      .map((r) => fullRepoJson(origin(c), facts(r, viewer ? (viewer.id === r.ownerId ? "owner" : null) : null, null))),
  );
});

repos.post("/user/repos", async (c) => {
  const { caller, user } = await signedIn(c);
  if (caller.kind === "token" && !allows(caller.scope, "write"))
    throw new GitHubError(403, "Resource not accessible by personal access token");
  const body = await readObject(c);
  const name = optString(body, "name", "Repository");
  if (name === undefined) throw validationFailed("Repository", "name", "missing_field");
  const problem = repoNameProblem(name);
  if (problem) throw validationFailed("Repository", "name", "custom", problem);
  const description = optString(body, "description", "Repository") ?? "";
  if (description.length > 350)
    throw validationFailed("Repository", "description", "custom", "description is too long (maximum is 350 characters)");
  const isPrivate = optBool(body, "private") ?? body.visibility === "private";
  if (body.auto_init === true)
    throw validationFailed("Repository", "auto_init", "custom", "auto_init is not supported; create the first file with PUT contents.");
  let repo: RepoRecord;
  try {
    repo = await createRepository(c.env, user, name, description, isPrivate);
  } catch (e) {
    if (e instanceof RepoExists) throw validationFailed("Repository", "name", "custom", "name already exists on this account");
    throw e;
  }
  const json = fullRepoJson(origin(c), facts(repo, "owner", null));
  c.header("Location", json.url);
  return c.json(json, 201);
});

repos.get("/repos/:owner/:repo", async (c) => {
  const g = await requireAccess(c, "read");
  return c.json(await grantedJson(c, g));
});

repos.patch("/repos/:owner/:repo", async (c) => {
  const g = await requireAccess(c, "admin");
  const body = await readObject(c);
  const name = optString(body, "name", "Repository");
  const description = optString(body, "description", "Repository");
  const defaultBranch = optString(body, "default_branch", "Repository");
  const isPrivate = optBool(body, "private") ?? (body.visibility === "private" ? true : body.visibility === "public" ? false : undefined);
  if (name !== undefined) {
    const problem = repoNameProblem(name);
    if (problem) throw validationFailed("Repository", "name", "custom", problem);
  }
  // Checked before anything changes: a refused field must leave the others as they were.
  if (description !== undefined && description.length > 350)
    throw validationFailed("Repository", "description", "custom", "description is too long (maximum is 350 characters)");
  if (defaultBranch !== undefined && defaultBranch !== "" && !(await g.stub.summary())?.branches.includes(defaultBranch))
    throw validationFailed("Repository", "default_branch", "custom", `There is no branch '${defaultBranch}'.`);
  try {
    // The name first: the one change that can still be refused (taken by another repository).
    const newName = name !== undefined ? await rename(c.env, g, name) : g.repo.name;
    await updateSettings(c.env, g, { description, isPrivate, defaultBranch });
    const repo: RepoRecord = {
      ...g.repo,
      name: newName,
      description: description ?? g.repo.description,
      isPrivate: isPrivate ?? g.repo.isPrivate,
    };
    const summary = await g.stub.summary();
    return c.json(fullRepoJson(origin(c), facts(repo, g.role, summary?.defaultBranch ?? null)));
  } catch (e) {
    settingsError(e);
  }
});

repos.delete("/repos/:owner/:repo", async (c) => {
  const g = await requireAccess(c, "admin");
  try {
    await destroy(c.env, g);
  } catch (e) {
    settingsError(e);
  }
  return c.body(null, 204);
});

/** GitHub's permission names for a role. */
const PERMISSION: Record<Role, string> = { none: "none", read: "read", write: "write", admin: "admin", owner: "admin" };
const roleNames = (role: Role) => {
  const rank = { none: 0, read: 1, write: 2, admin: 3, owner: 3 }[role];
  return { admin: rank >= 3, maintain: rank >= 3, push: rank >= 2, triage: rank >= 2, pull: rank >= 1 };
};

repos.get("/repos/:owner/:repo/collaborators", async (c) => {
  // GitHub lets anyone with push access list them; admin here, as the settings page.
  const g = await requireAccess(c, "write");
  const p = paging(c);
  const w = whereOf(c, g);
  const owner = { userId: g.repo.ownerId, username: g.repo.owner, role: "owner" as Role };
  const all = [owner, ...(await listCollaborators(c.env.DB, g.repo.id))];
  linkHeader(c, p, all.length);
  return c.json(
    all.slice(p.offset, p.offset + p.perPage).map((u) => ({
      ...userJson(w, { id: u.userId, login: u.username }),
      permissions: roleNames(u.role),
      role_name: PERMISSION[u.role],
    })),
  );
});

/** GitHub's `permission` values and ours. */
function collaboratorRole(permission: string): CollaboratorRole {
  switch (permission) {
    case "pull":
    case "read":
    case "triage":
      return "read";
    case "push":
    case "write":
      return "write";
    case "maintain":
    case "admin":
      return "admin";
    default:
      throw validationFailed("Repository", "permission", "invalid", "permission must be pull, triage, push, maintain or admin");
  }
}

repos.put("/repos/:owner/:repo/collaborators/:user", async (c) => {
  const g = await requireAccess(c, "admin");
  const body = await readObject(c);
  const permission = optString(body, "permission", "Repository");
  const username = c.req.param("user");
  const existing = (await listCollaborators(c.env.DB, g.repo.id)).some((u) => u.username.toLowerCase() === username.toLowerCase());
  // Without a permission, an existing collaborator keeps theirs, as on GitHub; a new one gets push.
  if (existing && permission === undefined) return c.body(null, 204);
  try {
    await addCollaborator(c.env, g, username, collaboratorRole(permission ?? "push"));
  } catch (e) {
    settingsError(e);
  }
  // GitHub sends an invitation (201) or, for an existing collaborator, 204; we add at once.
  return c.body(null, existing ? 204 : 201);
});

repos.delete("/repos/:owner/:repo/collaborators/:user", async (c) => {
  const g = await requireAccess(c, "admin");
  try {
    await dropCollaborator(c.env, g, c.req.param("user"));
  } catch (e) {
    settingsError(e);
  }
  return c.body(null, 204);
});

repos.get("/repos/:owner/:repo/collaborators/:user/permission", async (c) => {
  const g = await requireAccess(c, "write");
  const user = await findUserByName(c.env.DB, c.req.param("user"));
  if (!user) throw notFound();
  let role: Role = g.repo.isPrivate ? "none" : "read";
  if (user.id === g.repo.ownerId) role = "owner";
  else {
    const found = (await listCollaborators(c.env.DB, g.repo.id)).find((u) => u.userId === user.id);
    if (found) role = found.role;
    else if (user.isAdmin) role = "admin";
  }
  const w = whereOf(c, g);
  return c.json({
    permission: PERMISSION[role],
    role_name: PERMISSION[role],
    user: { ...userJson(w, { id: user.id, login: user.username }), permissions: roleNames(role) },
  });
});
