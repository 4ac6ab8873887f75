// Repository contents in GitHub's REST shapes:
//   GET     /repos/{owner}/{repo}/contents/{path}?ref=   a file (base64 `content`) or a directory (a list)
//   GET     /repos/{owner}/{repo}/readme?ref=
//   PUT     /repos/{owner}/{repo}/contents/{path}        create or update a file: message, content (base64),
//                                                        sha (of the file replaced: required to update, 409 when stale),
//                                                        branch, committer, author
//   DELETE  /repos/{owner}/{repo}/contents/{path}        message, sha, branch
// Reading needs read access; writing needs write, and commits through the browser
// editor's service (src/repo/editor.ts) with actor "api": one commit on the branch's tip,
// by compare-and-swap, through the ref policy.
import { type Context, Hono } from "hono";
import { type Granted, requireAccess } from "../../access/check";
import { allows } from "../../access/roles";
import { moveOrigin, pullEventsAfterMove } from "./hook-events";
import type { FileChange } from "../../repo/editor";
import type { Env } from "../../util/env";
import { type Json, optString, readObject } from "./body";
import { GitHubError, notFound, validationFailed } from "./errors";
import { base64Lines, contentEntryJson, gitCommitJson } from "./git-shapes";
import { pathAfter } from "./path";
import { type Where, whereOf } from "./shapes";

export const contents = new Hono<{ Bindings: Env }>();
type C = Context<{ Bindings: Env }>;

/** Files larger than this are listed without content, as GitHub does past 1 MB. */
const CONTENT_MAX = 1024 * 1024;

type Found = NonNullable<Awaited<ReturnType<Granted["stub"]["apiContents"]>>>;

function fileJson(w: Where, ref: string, f: Extract<Found, { path: string }>) {
  const name = f.path.slice(f.path.lastIndexOf("/") + 1);
  const mode = f.kind === "symlink" ? "120000" : f.kind === "submodule" ? "160000" : "100644";
  const entry = contentEntryJson(w, ref, { name, path: f.path, sha: f.sha, mode, size: f.size });
  const data = f.data && f.size <= CONTENT_MAX ? new Uint8Array(f.data) : null;
  if (f.kind === "symlink") return { ...entry, target: data ? new TextDecoder().decode(data) : "" };
  if (f.kind === "submodule") return { ...entry, submodule_git_url: null };
  return { ...entry, content: data ? base64Lines(data) : "", encoding: data ? "base64" : "none" };
}

async function read(c: C, path: string) {
  const g = await requireAccess(c, "read");
  const ref = c.req.query("ref") ?? "";
  const found = await g.stub.apiContents(ref, path);
  if (!found) throw notFound();
  const w = whereOf(c, g);
  const shown = ref || (await g.stub.summary())?.defaultBranch || found.commit;
  if (found.kind === "dir") return c.json(found.entries.map((e) => contentEntryJson(w, shown, e)));
  const accept = c.req.header("Accept") ?? "";
  if (found.kind === "file" && /application\/vnd\.github(\.v3)?\.raw/.test(accept)) {
    if (!found.data) throw new GitHubError(403, "This file is too large to be served through the API.");
    return c.body(new Uint8Array(found.data), 200, {
      "Content-Type": "application/vnd.github.raw",
      "X-GitHub-Media-Type": "github.v3; param=raw",
    });
  }
  return c.json(fileJson(w, shown, found));
}

contents.get("/repos/:owner/:repo/contents", (c) => read(c, ""));
contents.get("/repos/:owner/:repo/contents/*", (c) => read(c, pathAfter(c, 1)));

contents.get("/repos/:owner/:repo/readme", async (c) => {
  const g = await requireAccess(c, "read");
  const ref = c.req.query("ref") ?? "";
  const found = await g.stub.apiReadme(ref, "");
  if (!found || found.kind === "dir") throw notFound();
  return c.json(fileJson(whereOf(c, g), ref || (await g.stub.summary())?.defaultBranch || found.commit, found));
});

function base64Bytes(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1)
    throw validationFailed("Contents", "content", "invalid", "content is not valid Base64");
  try {
    return Uint8Array.from(atob(clean), (ch) => ch.charCodeAt(0));
  } catch {
    throw validationFailed("Contents", "content", "invalid", "content is not valid Base64");
  }
}

/** `author`/`committer` as GitHub takes them: name and email, and an optional ISO date. */
function identity(body: Json, field: string, fallback: { name: string; email: string; seconds: number }) {
  const v = body[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "object" || Array.isArray(v)) throw validationFailed("Contents", field);
  const o = v as Json;
  const name = optString(o, "name", "Contents");
  const email = optString(o, "email", "Contents");
  if (!name || email === undefined) throw validationFailed("Contents", `${field}`, "missing_field", `${field} needs a name and an email`);
  const date = optString(o, "date", "Contents");
  const ms = date === undefined ? fallback.seconds * 1000 : Date.parse(date);
  if (!Number.isFinite(ms) || ms < 0) throw validationFailed("Contents", `${field}.date`);
  return { name, email, seconds: Math.floor(ms / 1000) };
}

/** The branch to commit to (the default branch when not given) and its tip; null tip in an empty repository. */
async function branchTip(g: Granted, body: Json): Promise<{ branch: string; tip: string | null }> {
  const summary = await g.stub.summary();
  const branch = optString(body, "branch", "Contents") ?? summary?.defaultBranch ?? "main";
  const found = (await g.stub.apiMatchingRefs(`refs/heads/${branch}`))?.find((r) => r.ref === `refs/heads/${branch}`);
  if (found) return { branch, tip: found.sha };
  // The first commit of an empty repository makes its default branch, as on GitHub.
  if (summary?.empty && branch === summary.defaultBranch) return { branch, tip: null };
  throw new GitHubError(404, `Branch ${branch} not found`);
}

async function write(c: C, kind: "put" | "delete") {
  const g = await requireAccess(c, "write");
  const path = pathAfter(c, 1);
  if (!path) throw notFound();
  const body = await readObject(c);
  const message = optString(body, "message", "Contents");
  if (!message) throw validationFailed("Contents", "message", "missing_field");
  const sha = optString(body, "sha", "Contents");
  const user = g.caller.kind === "anonymous" ? null : g.caller.user;
  const now = Math.floor(Date.now() / 1000);
  const committer = identity(body, "committer", {
    name: user?.username ?? "gitflare",
    email: user?.email ?? "noreply@gitflare.invalid",
    seconds: now,
  });
  const author = identity(body, "author", committer);
  const { branch, tip } = await branchTip(g, body);
  const existing = tip ? await g.stub.apiContents(tip, path) : null;
  if (existing?.kind === "dir") throw validationFailed("Contents", "path", "custom", `${path} is a directory`);
  let change: FileChange;
  if (kind === "delete") {
    if (!existing) throw notFound();
    if (sha === undefined) throw validationFailed("Contents", "sha", "missing_field", '"sha" wasn\'t supplied.');
    change = { kind: "delete" as const, path, sha };
  } else {
    const content = optString(body, "content", "Contents");
    if (content === undefined) throw validationFailed("Contents", "content", "missing_field");
    const data = base64Bytes(content);
    if (existing && sha === undefined) throw validationFailed("Contents", "sha", "missing_field", '"sha" wasn\'t supplied.');
    change = existing ? { kind: "update" as const, path, content: data, sha } : { kind: "create" as const, path, content: data };
  }
  const r = await g.stub.commitFiles(
    {
      parent: tip,
      branch,
      createBranch: tip === null,
      changes: [change],
      message,
      author: { name: author.name, email: author.email },
      committer: { name: committer.name, email: committer.email },
      when: { seconds: committer.seconds },
      authorWhen: { seconds: author.seconds },
      user: user?.username,
      actor: "api",
      admin: allows(g.role, "admin"),
      maxBytes: CONTENT_MAX,
    },
    moveOrigin(c, g),
  );
  if (!r.ok) {
    if (r.reason === "stale")
      throw new GitHubError(409, sha !== undefined && existing && existing.sha !== sha ? `${path} does not match ${sha}` : r.message);
    if (r.reason === "not-found") throw notFound();
    if (r.reason === "policy") throw new GitHubError(409, r.message);
    if (r.reason === "too-large") throw new GitHubError(413, r.message);
    throw validationFailed("Contents", r.reason === "invalid" ? "path" : "content", "custom", r.message);
  }
  c.executionCtx.waitUntil(pullEventsAfterMove(c));
  const w = whereOf(c, g);
  const commit = await g.stub.apiCommitObject(r.commit);
  const commitJson = commit ? gitCommitJson(w, commit) : null;
  if (kind === "delete") return c.json({ content: null, commit: commitJson });
  const blob = r.blobs[path];
  const name = path.slice(path.lastIndexOf("/") + 1);
  const size = change.kind === "delete" ? 0 : change.content.length;
  return c.json(
    { content: contentEntryJson(w, branch, { name, path, sha: blob, mode: "100644", size }), commit: commitJson },
    existing ? 200 : 201,
  );
}

contents.put("/repos/:owner/:repo/contents/*", (c) => write(c, "put"));
contents.delete("/repos/:owner/:repo/contents/*", (c) => write(c, "delete"));
