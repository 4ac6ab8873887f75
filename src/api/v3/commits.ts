// Commits and comparisons in GitHub's REST shapes:
//   GET /repos/{owner}/{repo}/commits               (sha: a branch, tag or commit; path; paged)
//   GET /repos/{owner}/{repo}/commits/{ref}         (with stats and files)
//   GET /repos/{owner}/{repo}/compare/{base}...{head}  (status, ahead_by, behind_by, merge_base_commit, commits, files)
// All need read access; the history and diffs are computed in the repository's object,
// by the same views the web pages use.
import { Hono } from "hono";
import { requireAccess } from "../../access/check";
import type { Env } from "../../util/env";
import { GitHubError, notFound } from "./errors";
import { commitJson, compareJson } from "./git-shapes";
import { openLinkHeader, paging } from "./paging";
import { pathAfter } from "./path";
import { pullCommitJson } from "./pull-shapes";
import { whereOf } from "./shapes";

export const commits = new Hono<{ Bindings: Env }>();

commits.get("/repos/:owner/:repo/commits", async (c) => {
  const g = await requireAccess(c, "read");
  const p = paging(c);
  const path = (c.req.query("path") ?? "").replace(/^\/+|\/+$/g, "");
  const found = await g.stub.apiLog(c.req.query("sha") ?? "", path || undefined, p.offset, p.perPage + 1);
  if (!found) {
    if ((await g.stub.summary())?.empty) throw new GitHubError(409, "Git Repository is empty.");
    throw notFound();
  }
  openLinkHeader(c, p, found.length > p.perPage);
  const w = whereOf(c, g);
  return c.json(found.slice(0, p.perPage).map((cm) => pullCommitJson(w, cm)));
});

commits.get("/repos/:owner/:repo/commits/*", async (c) => {
  const g = await requireAccess(c, "read");
  const ref = pathAfter(c, 1);
  const view = ref ? await g.stub.commitView(ref) : null;
  if (!view) throw new GitHubError(422, `No commit found for SHA: ${ref}`);
  return c.json(commitJson(whereOf(c, g), view.commit, view.files));
});

commits.get("/repos/:owner/:repo/compare/*", async (c) => {
  const g = await requireAccess(c, "read");
  const spec = pathAfter(c, 1);
  const dots = spec.indexOf("...");
  if (dots < 0) throw notFound();
  const base = spec.slice(0, dots);
  const head = spec.slice(dots + 3);
  const compare = base && head ? await g.stub.apiCompare(base, head) : null;
  if (!compare) throw notFound();
  const one = async (oid: string) => (await g.stub.apiLog(oid, undefined, 0, 1))?.[0] ?? null;
  const [baseCommit, mergeBase] = await Promise.all([one(compare.base.commit), compare.mergeBase ? one(compare.mergeBase) : null]);
  return c.json(compareJson(whereOf(c, g), compare, baseCommit!, mergeBase, base, head));
});
