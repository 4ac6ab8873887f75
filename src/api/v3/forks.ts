// Forks in GitHub's REST shapes:
//   GET  /repos/{owner}/{repo}/forks   (the forks the caller may see, oldest first; paged)
//   POST /repos/{owner}/{repo}/forks   (name; 202 with the new repository, as GitHub answers)
// Forking needs read access to the repository and a signed-in caller (a token with write scope).
import { type Context, Hono } from "hono";
import { requireAccess } from "../../access/check";
import { ForkError, forkRepository } from "../../access/forks";
import type { RepoRecord } from "../../access/repos";
import { listForks } from "../../access/repos";
import { userOf } from "../../auth/caller";
import type { Env } from "../../util/env";
import { optString, readObject } from "./body";
import { GitHubError, validationFailed } from "./errors";
import { fullRepoJson } from "./git-shapes";
import { paging } from "./paging";

export const forks = new Hono<{ Bindings: Env }>();
type C = Context<{ Bindings: Env }>;

function forkJson(c: C, r: RepoRecord, owner: boolean) {
  return fullRepoJson(new URL(c.req.url).origin, {
    id: r.id,
    owner: { id: r.ownerId, login: r.owner },
    name: r.name,
    description: r.description,
    isPrivate: r.isPrivate,
    createdAt: r.createdAt,
    pushedAt: r.pushedAt,
    defaultBranch: null,
    role: owner ? "owner" : null,
    parent: r.parent,
    source: r.source,
    forksCount: r.forksCount,
  });
}

forks.get("/repos/:owner/:repo/forks", async (c) => {
  const g = await requireAccess(c, "read");
  const p = paging(c);
  const viewer = userOf(g.caller);
  const list = await listForks(c.env.DB, g.repo.id, viewer, { offset: p.offset, limit: p.perPage });
  return c.json(list.map((r) => forkJson(c, r, viewer?.id === r.ownerId)));
});

forks.post("/repos/:owner/:repo/forks", async (c) => {
  const g = await requireAccess(c, "read");
  const body = await readObject(c);
  if (body.organization !== undefined && body.organization !== null)
    throw validationFailed("Fork", "organization", "invalid", "Organizations are not supported: forks go to your own account.");
  const name = optString(body, "name", "Fork");
  try {
    const { fork } = await forkRepository(c.env, g, name);
    return c.json(forkJson(c, fork, true), 202);
  } catch (e) {
    if (!(e instanceof ForkError)) throw e;
    if (e.status === 401) throw new GitHubError(401, "Requires authentication");
    if (e.status === 403) throw new GitHubError(403, e.message);
    throw validationFailed("Fork", "name", e.status === 409 ? "already_exists" : "custom", e.message);
  }
});
