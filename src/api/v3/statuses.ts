// Commit statuses in GitHub's REST shapes:
//   POST  /repos/{owner}/{repo}/statuses/{sha}          (write)
//   GET   /repos/{owner}/{repo}/commits/{ref}/statuses  (read; newest first, paginated)
//   GET   /repos/{owner}/{repo}/statuses/{ref}          (the same, GitHub's older path)
//   GET   /repos/{owner}/{repo}/commits/{ref}/status    (read; the combined status)
// `ref` is a commit id, a branch or a tag, and may hold slashes.
import { Hono, type Context } from "hono";
import type { Env } from "../../util/env";
import { type Granted, requireAccess } from "../../access/check";
import type { CommitStatus, StatusState } from "../../repo/collab";
import { readObject, optString } from "./body";
import { GitHubError, notFound, validationFailed } from "./errors";
import { emitStatus } from "./hook-events";
import { linkHeader, paging } from "./paging";
import { repoJson } from "./pull-shapes";
import { type Where, userJson, whereOf } from "./shapes";

export const statuses = new Hono<{ Bindings: Env }>();
type C = Context<{ Bindings: Env }>;

const STATES: StatusState[] = ["pending", "success", "failure", "error"];
const time = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

export function statusJson(w: Where, s: CommitStatus) {
  return {
    url: `${w.repo}/statuses/${s.sha}`,
    avatar_url: "",
    id: s.id,
    node_id: `SC_${btoa(`${w.repoId}:${s.id}`).replace(/=+$/, "")}`,
    state: s.state,
    description: s.description,
    target_url: s.targetUrl,
    context: s.context,
    created_at: time(s.createdAt),
    updated_at: time(s.createdAt),
    creator: userJson(w, s.creator),
  };
}

const repoInfo = (g: Granted) => ({
  id: g.repo.id,
  owner: { id: g.repo.ownerId, login: g.repo.owner },
  name: g.repo.name,
  isPrivate: g.repo.isPrivate,
});

/** A field that must be a string of at most `max` characters, or absent. */
function text(body: Record<string, unknown>, field: string, max: number): string | null {
  const v = optString(body, field, "Status");
  if (v === undefined) return null;
  if (v.length > max) throw validationFailed("Status", field, "custom", `${field} is too long (maximum is ${max} characters)`);
  return v;
}

statuses.post("/repos/:owner/:repo/statuses/:sha", async (c) => {
  const g = await requireAccess(c, "write");
  if (g.caller.kind === "anonymous") throw notFound();
  const sha = (c.req.param("sha") ?? "").toLowerCase();
  const body = await readObject(c);
  const state = body.state;
  if (typeof state !== "string" || !STATES.includes(state as StatusState))
    throw validationFailed("Status", "state", state === undefined ? "missing_field" : "invalid");
  const status = {
    state: state as StatusState,
    context: text(body, "context", 255) || "default",
    description: text(body, "description", 1024),
    targetUrl: text(body, "target_url", 2048),
  };
  const actor = { id: g.caller.user.id, login: g.caller.user.username };
  const r = await g.stub.createStatus(sha, actor, status);
  if (!r) throw new GitHubError(422, `No commit found for SHA: ${sha}`);
  if (!r.ok) throw validationFailed("Status", r.field ?? "context", "custom", r.message);
  const json = statusJson(whereOf(c, g), r.value);
  await emitStatus(c, g, actor, json, sha);
  c.header("Location", json.url);
  return c.json(json, 201);
});

async function list(c: C) {
  const g = await requireAccess(c, "read");
  const p = paging(c);
  const r = await g.stub.statusesOf(c.req.param("ref") ?? "", p.offset, p.perPage);
  if (!r) throw notFound();
  linkHeader(c, p, r.total);
  const w = whereOf(c, g);
  return c.json(r.items.map((s) => statusJson(w, s)));
}

statuses.get("/repos/:owner/:repo/commits/:ref{.+}/statuses", list);
statuses.get("/repos/:owner/:repo/statuses/:ref{.+}", list);

statuses.get("/repos/:owner/:repo/commits/:ref{.+}/status", async (c) => {
  const g = await requireAccess(c, "read");
  const ref = c.req.param("ref") ?? "";
  const r = await g.stub.combinedStatusOf(ref);
  if (!r) throw notFound();
  const p = paging(c);
  const w = whereOf(c, g);
  return c.json({
    state: r.state,
    statuses: r.statuses.slice(p.offset, p.offset + p.perPage).map((s) => statusJson(w, s)),
    sha: r.sha,
    total_count: r.statuses.length,
    repository: repoJson(w, repoInfo(g)),
    commit_url: `${w.repo}/commits/${r.sha}`,
    url: `${w.repo}/commits/${encodeURIComponent(ref)}/status`,
  });
});
