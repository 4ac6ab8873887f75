// Git data and tags in GitHub's REST shapes:
//   GET          /repos/{owner}/{repo}/git/ref/{ref}            (heads/main, tags/v1)
//   GET          /repos/{owner}/{repo}/git/matching-refs/{ref}  (a prefix)
//   POST         /repos/{owner}/{repo}/git/refs                 {ref, sha}
//   PATCH/DELETE /repos/{owner}/{repo}/git/refs/{ref}           {sha, force}: not a fast-forward without force is 422
//   GET/POST     /repos/{owner}/{repo}/git/commits[/{sha}]
//   GET/POST     /repos/{owner}/{repo}/git/trees[/{sha}]        (?recursive=1; POST: base_tree, tree)
//   GET/POST     /repos/{owner}/{repo}/git/blobs[/{sha}]        (utf-8 or base64)
//   GET          /repos/{owner}/{repo}/git/tags/{sha}
//   GET          /repos/{owner}/{repo}/tags                     (paged)
// Reading needs read access; writing objects and refs needs write. Refs move through the
// one ref transaction, with actor.via = "api" for the ref policy (protected branches).
import { type Context, Hono } from "hono";
import { type Granted, requireAccess } from "../../access/check";
import { allows } from "../../access/roles";
import { moveOrigin, pullEventsAfterMove } from "./hook-events";
import { isOid } from "../../git/object/object";
import type { NewTreeEntry } from "../../repo/git-data";
import type { Env } from "../../util/env";
import { type Json, optString, readObject } from "./body";
import { GitHubError, notFound, validationFailed } from "./errors";
import { base64Lines, gitCommitJson, nodeIdOf, refJson, treeJson } from "./git-shapes";
import { linkHeader, paging } from "./paging";
import { pathAfter } from "./path";
import { type Where, whereOf } from "./shapes";

export const git = new Hono<{ Bindings: Env }>();
type C = Context<{ Bindings: Env }>;

type Refusal = { ok: false; status: number; message: string };

function refused(r: Refusal): never {
  if (r.status === 404) throw notFound();
  if (r.status === 422) throw new GitHubError(422, r.message);
  throw new GitHubError(r.status as 403 | 409 | 507, r.message);
}

const oidParam = (c: C) => {
  const sha = (c.req.param("sha") ?? "").toLowerCase();
  if (!isOid(sha)) throw notFound();
  return sha;
};

const user = (g: Granted) => (g.caller.kind === "anonymous" ? undefined : g.caller.user.username);
/** Who moves a ref, for protected branches (whose rules may let admins bypass them). */
const mover = (g: Granted) => ({ user: user(g), admin: allows(g.role, "admin") });

// ---- refs --------------------------------------------------------------------------

async function refsJson(g: Granted, w: Where, prefix: string) {
  return ((await g.stub.apiMatchingRefs(prefix)) ?? []).map((r) => refJson(w, r));
}

git.get("/repos/:owner/:repo/git/ref/*", async (c) => {
  const g = await requireAccess(c, "read");
  const name = `refs/${pathAfter(c, 2)}`;
  const found = (await refsJson(g, whereOf(c, g), name)).find((r) => r.ref === name);
  if (!found) throw notFound();
  return c.json(found);
});

async function matching(c: C, prefix: string) {
  const g = await requireAccess(c, "read");
  const p = paging(c);
  const all = await refsJson(g, whereOf(c, g), prefix);
  linkHeader(c, p, all.length);
  return c.json(all.slice(p.offset, p.offset + p.perPage));
}

git.get("/repos/:owner/:repo/git/matching-refs", (c) => matching(c, "refs/"));
git.get("/repos/:owner/:repo/git/matching-refs/*", (c) => matching(c, `refs/${pathAfter(c, 2)}`));
// The older listing, which Octokit's `git.listRefs` and some scripts still call.
git.get("/repos/:owner/:repo/git/refs", (c) => matching(c, "refs/"));

function shaField(body: Json, resource: string): string {
  const sha = optString(body, "sha", resource)?.toLowerCase();
  if (sha === undefined) throw validationFailed(resource, "sha", "missing_field");
  if (!isOid(sha)) throw new GitHubError(422, "Object does not exist");
  return sha;
}

git.post("/repos/:owner/:repo/git/refs", async (c) => {
  const g = await requireAccess(c, "write");
  const body = await readObject(c);
  const ref = optString(body, "ref", "Reference");
  if (ref === undefined) throw validationFailed("Reference", "ref", "missing_field");
  if (!ref.startsWith("refs/") || ref.split("/").length < 3)
    throw new GitHubError(422, "Reference name must start with 'refs/' and have at least two slashes.");
  const sha = shaField(body, "Reference");
  const r = await g.stub.apiUpdateRef(ref, sha, { create: true, force: false, ...mover(g) }, moveOrigin(c, g));
  if (!r) throw notFound();
  if (!r.ok) refused(r);
  // Pull requests on a moved branch: their `pull_request` events.
  c.executionCtx.waitUntil(pullEventsAfterMove(c));
  const json = (await refsJson(g, whereOf(c, g), ref)).find((x) => x.ref === ref);
  if (json) c.header("Location", json.url);
  return c.json(json, 201);
});

git.patch("/repos/:owner/:repo/git/refs/*", async (c) => {
  const g = await requireAccess(c, "write");
  const name = `refs/${pathAfter(c, 2)}`;
  const body = await readObject(c);
  const sha = shaField(body, "Reference");
  const force = body.force === true;
  const r = await g.stub.apiUpdateRef(name, sha, { create: false, force, ...mover(g) }, moveOrigin(c, g));
  if (!r) throw notFound();
  if (!r.ok) refused(r);
  // Pull requests on a moved branch: their `pull_request` events.
  c.executionCtx.waitUntil(pullEventsAfterMove(c));
  return c.json((await refsJson(g, whereOf(c, g), name)).find((x) => x.ref === name));
});

git.delete("/repos/:owner/:repo/git/refs/*", async (c) => {
  const g = await requireAccess(c, "write");
  const name = `refs/${pathAfter(c, 2)}`;
  const r = await g.stub.apiUpdateRef(name, null, { create: false, force: true, ...mover(g) }, moveOrigin(c, g));
  if (!r) throw notFound();
  if (!r.ok) refused(r);
  // Pull requests on a moved branch: their `pull_request` events.
  c.executionCtx.waitUntil(pullEventsAfterMove(c));
  return c.body(null, 204);
});

// ---- objects -------------------------------------------------------------------------

git.get("/repos/:owner/:repo/git/commits/:sha", async (c) => {
  const g = await requireAccess(c, "read");
  const commit = await g.stub.apiCommitObject(oidParam(c));
  if (!commit) throw notFound();
  return c.json(gitCommitJson(whereOf(c, g), commit));
});

/** `author`/`committer` of a new commit; the caller, now, when not given. */
function signature(body: Json, field: string, fallback: { name: string; email: string; when: { seconds: number; timezone?: string } }) {
  const v = body[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "object" || Array.isArray(v)) throw validationFailed("Commit", field);
  const o = v as Json;
  const name = optString(o, "name", "Commit");
  const email = optString(o, "email", "Commit");
  if (!name || email === undefined) throw validationFailed("Commit", field, "missing_field", `${field} needs a name and an email`);
  const date = optString(o, "date", "Commit");
  if (date === undefined) return { name, email, when: fallback.when };
  const ms = Date.parse(date);
  if (!Number.isFinite(ms) || ms < 0) throw validationFailed("Commit", `${field}.date`);
  // Keep the offset the date was written with, as git would record it.
  const m = /([+-])(\d\d):?(\d\d)$/.exec(date);
  return { name, email, when: { seconds: Math.floor(ms / 1000), timezone: m ? `${m[1]}${m[2]}${m[3]}` : "+0000" } };
}

git.post("/repos/:owner/:repo/git/commits", async (c) => {
  const g = await requireAccess(c, "write");
  const body = await readObject(c);
  const message = optString(body, "message", "Commit");
  if (message === undefined) throw validationFailed("Commit", "message", "missing_field");
  const tree = optString(body, "tree", "Commit")?.toLowerCase();
  if (tree === undefined) throw validationFailed("Commit", "tree", "missing_field");
  const parents = body.parents ?? [];
  if (!Array.isArray(parents) || parents.some((p) => typeof p !== "string")) throw validationFailed("Commit", "parents");
  const u = g.caller.kind === "anonymous" ? null : g.caller.user;
  const me = {
    name: u?.username ?? "gitflare",
    email: u?.email ?? "noreply@gitflare.invalid",
    when: { seconds: Math.floor(Date.now() / 1000) },
  };
  const author = signature(body, "author", me);
  const committer = signature(body, "committer", body.author ? author : me);
  const r = await g.stub.apiCreateCommit({ message, tree, parents: (parents as string[]).map((p) => p.toLowerCase()), author, committer });
  if (!r) throw notFound();
  if (!r.ok) refused(r);
  const commit = await g.stub.apiCommitObject(r.sha);
  const json = gitCommitJson(whereOf(c, g), commit!);
  c.header("Location", json.url);
  return c.json(json, 201);
});

git.get("/repos/:owner/:repo/git/trees/*", async (c) => {
  const g = await requireAccess(c, "read");
  const param = pathAfter(c, 2);
  // GitHub takes a tree id, or a commit id or ref name for that commit's tree.
  let oid: string | null = isOid(param.toLowerCase()) ? param.toLowerCase() : null;
  const recursive = !!c.req.query("recursive") && c.req.query("recursive") !== "0" && c.req.query("recursive") !== "false";
  let tree = oid ? await g.stub.apiTree(oid, recursive) : null;
  if (!tree) {
    const commit = await g.stub.apiResolve(param);
    oid = commit ? ((await g.stub.apiCommitObject(commit))?.tree ?? null) : null;
    tree = oid ? await g.stub.apiTree(oid, recursive) : null;
  }
  if (!tree) throw notFound();
  return c.json(treeJson(whereOf(c, g), tree.sha, tree.entries, tree.truncated));
});

git.post("/repos/:owner/:repo/git/trees", async (c) => {
  const g = await requireAccess(c, "write");
  const body = await readObject(c);
  const base = optString(body, "base_tree", "Tree")?.toLowerCase() ?? null;
  if (!Array.isArray(body.tree)) throw validationFailed("Tree", "tree", "missing_field");
  const entries: NewTreeEntry[] = [];
  for (const raw of body.tree as unknown[]) {
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw validationFailed("Tree", "tree");
    const e = raw as Json;
    const path = optString(e, "path", "Tree");
    const mode = optString(e, "mode", "Tree");
    if (path === undefined) throw validationFailed("Tree", "tree.path", "missing_field");
    if (mode === undefined) throw validationFailed("Tree", "tree.mode", "missing_field");
    const content = optString(e, "content", "Tree");
    const sha = e.sha === null ? null : optString(e, "sha", "Tree")?.toLowerCase();
    if (content === undefined && sha === undefined) throw new GitHubError(422, "Must supply either tree.sha or tree.content");
    if (content !== undefined && sha) throw new GitHubError(422, "Must supply either tree.sha or tree.content, not both");
    entries.push({ path, mode, sha: sha ?? null, ...(content !== undefined ? { content } : {}) });
  }
  if (base === null && entries.some((e) => e.sha === null && e.content === undefined))
    throw new GitHubError(422, "A null sha removes a path of base_tree; give base_tree");
  const r = await g.stub.apiCreateTree(base, entries);
  if (!r) throw notFound();
  if (!r.ok) refused(r);
  const tree = await g.stub.apiTree(r.sha, false);
  const json = treeJson(whereOf(c, g), r.sha, tree?.entries ?? [], false);
  c.header("Location", json.url);
  return c.json(json, 201);
});

git.get("/repos/:owner/:repo/git/blobs/:sha", async (c) => {
  const g = await requireAccess(c, "read");
  const blob = await g.stub.apiBlob(oidParam(c));
  if (!blob) throw notFound();
  if (!blob.data) throw new GitHubError(403, "This blob is too large to be served through the API.");
  const w = whereOf(c, g);
  if (/application\/vnd\.github(\.v3)?\.raw/.test(c.req.header("Accept") ?? ""))
    return c.body(new Uint8Array(blob.data), 200, { "Content-Type": "application/vnd.github.raw" });
  return c.json({
    sha: blob.sha,
    node_id: `B_${btoa(`${w.repoId}:${blob.sha}`).replace(/=+$/, "")}`,
    size: blob.size,
    url: `${w.repo}/git/blobs/${blob.sha}`,
    content: base64Lines(new Uint8Array(blob.data)),
    encoding: "base64",
  });
});

git.post("/repos/:owner/:repo/git/blobs", async (c) => {
  const g = await requireAccess(c, "write");
  const body = await readObject(c);
  const content = optString(body, "content", "Blob");
  if (content === undefined) throw validationFailed("Blob", "content", "missing_field");
  const encoding = optString(body, "encoding", "Blob") ?? "utf-8";
  let data: Uint8Array;
  if (encoding === "utf-8" || encoding === "utf8") data = new TextEncoder().encode(content);
  else if (encoding === "base64") {
    const clean = content.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) throw validationFailed("Blob", "content", "invalid", "content is not valid Base64");
    try {
      data = Uint8Array.from(atob(clean), (ch) => ch.charCodeAt(0));
    } catch {
      throw validationFailed("Blob", "content", "invalid", "content is not valid Base64");
    }
  } else throw validationFailed("Blob", "encoding", "invalid", "encoding must be utf-8 or base64");
  const r = await g.stub.apiCreateBlob(data);
  if (!r) throw notFound();
  if (!r.ok) refused(r);
  const url = `${whereOf(c, g).repo}/git/blobs/${r.sha}`;
  c.header("Location", url);
  return c.json({ sha: r.sha, url }, 201);
});

git.get("/repos/:owner/:repo/git/tags/:sha", async (c) => {
  const g = await requireAccess(c, "read");
  const tag = await g.stub.apiTag(oidParam(c));
  if (!tag) throw notFound();
  const w = whereOf(c, g);
  const t = tag.tagger;
  return c.json({
    node_id: `TAG_${btoa(`${w.repoId}:${tag.sha}`).replace(/=+$/, "")}`,
    tag: tag.tag,
    sha: tag.sha,
    url: `${w.repo}/git/tags/${tag.sha}`,
    message: tag.message,
    tagger: t ? { name: t.name, email: t.email, date: new Date(t.timestamp * 1000).toISOString().replace(/\.\d{3}Z$/, "Z") } : null,
    object: { type: tag.type, sha: tag.object, url: `${w.repo}/git/${tag.type}s/${tag.object}` },
    verification: { verified: false, reason: "unsigned", signature: null, payload: null },
  });
});

git.get("/repos/:owner/:repo/tags", async (c) => {
  const g = await requireAccess(c, "read");
  const p = paging(c);
  const all = ((await g.stub.apiTags()) ?? []).filter((t) => t.commit !== null);
  // Newest names first, as GitHub lists tags.
  all.reverse();
  linkHeader(c, p, all.length);
  const w = whereOf(c, g);
  return c.json(
    all.slice(p.offset, p.offset + p.perPage).map((t) => ({
      name: t.name,
      commit: { sha: t.commit, url: `${w.repo}/commits/${t.commit}` },
      zipball_url: `${w.html}/archive/${t.name}.zip`,
      tarball_url: `${w.html}/archive/${t.name}.tar.gz`,
      node_id: nodeIdOf("REF", `${w.repoId}:refs/tags/${t.name}`),
    })),
  );
});
