// Pull requests in GitHub's REST shapes:
//   GET/POST   /repos/{owner}/{repo}/pulls                (state, head, base, sort, direction; paged)
//   GET/PATCH  /repos/{owner}/{repo}/pulls/{number}       (GET carries mergeable, mergeable_state, merged)
//   GET        /repos/{owner}/{repo}/pulls/{number}/commits
//   GET        /repos/{owner}/{repo}/pulls/{number}/files
//   GET/PUT    /repos/{owner}/{repo}/pulls/{number}/merge (merge_method, sha, commit_title, commit_message)
// Comments on a pull request go through the issue comments API, as on GitHub. Reading
// needs read access; opening a pull request from a branch of the repository and merging
// need write (the branch is the opener's to push); from a fork, read on both; editing, the author or a writer.
import { allows } from "../../access/roles";
import { type Context, Hono } from "hono";
import { type Granted, requireAccess } from "../../access/check";
import { pullHeadFork } from "../../access/forks";
import { type Participant, participant, requireAuthorOrWriter, requireWriter, spendCreation } from "../../access/issues";
import type { Actor, PullQuery } from "../../repo/collab";
import { bodyProblem, titleProblem } from "../../repo/collab/validate";
import type { PullView } from "../../repo/pull-requests";
import type { Env } from "../../util/env";
import { numberParam, optString, readObject } from "./body";
import { GitHubError, fromRefused, notFound, validationFailed } from "./errors";
import { linkHeader, paging } from "./paging";
import { type DiffCounts, type RepoInfo, pullCommitJson, pullFileJson, pullJson } from "./pull-shapes";
import { emitPull, moveOrigin, pullActions } from "./hook-events";
import { userJson, whereOf } from "./shapes";

export const pulls = new Hono<{ Bindings: Env }>();

const actor = (p: Participant): Actor => ({ id: p.id, login: p.login });
const repoInfo = (g: Granted): RepoInfo => ({
  id: g.repo.id,
  owner: { id: g.repo.ownerId, login: g.repo.owner },
  name: g.repo.name,
  isPrivate: g.repo.isPrivate,
  fork: g.repo.parent !== null,
});

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], fallback: T, field: string): T {
  if (value === undefined || value === "") return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw validationFailed("PullRequest", field);
}

/** `head` as GitHub takes it: `owner:branch` (this repository's owner; forks come later) or `branch`. */
function headBranch(g: Granted, head: string): string | null {
  const colon = head.indexOf(":");
  if (colon < 0) return head;
  return head.slice(0, colon).toLowerCase() === g.repo.owner.toLowerCase() ? head.slice(colon + 1) : null;
}

pulls.get("/repos/:owner/:repo/pulls", async (c) => {
  const g = await requireAccess(c, "read");
  const p = paging(c);
  const head = c.req.query("head");
  const branch = head ? headBranch(g, head) : undefined;
  const w = whereOf(c, g);
  const query: PullQuery = {
    state: oneOf(c.req.query("state"), ["open", "closed", "all"] as const, "open", "state"),
    base: c.req.query("base") || undefined,
    // A head in a fork is recorded as `forkowner:branch`, as it is asked for.
    head: branch ?? head,
    sort: oneOf(c.req.query("sort"), ["created", "updated"] as const, "created", "sort"),
    direction: oneOf(c.req.query("direction"), ["asc", "desc"] as const, "desc", "direction"),
    offset: p.offset,
    limit: p.perPage,
  };
  const page = await g.stub.listPulls(query);
  if (!page) throw notFound();
  linkHeader(c, p, page.total);
  return c.json(page.items.map((pr) => pullJson(w, repoInfo(g), pr as PullView)));
});

pulls.post("/repos/:owner/:repo/pulls", async (c) => {
  const g = await requireAccess(c, "read");
  // Writers open pull requests between branches here; anyone who can read opens one from their fork.
  const p = participant(g);
  const body = await readObject(c);
  if (body.issue !== undefined)
    throw validationFailed("PullRequest", "issue", "custom", "Converting an issue to a pull request is not supported.");
  const title = optString(body, "title", "PullRequest");
  if (title === undefined) throw validationFailed("PullRequest", "title", "missing_field");
  const head = optString(body, "head", "PullRequest");
  if (head === undefined) throw validationFailed("PullRequest", "head", "missing_field");
  const base = optString(body, "base", "PullRequest");
  if (base === undefined) throw validationFailed("PullRequest", "base", "missing_field");
  const text = optString(body, "body", "PullRequest") ?? "";
  const problem = titleProblem(title) ?? bodyProblem(text);
  if (problem) throw fromRefused(problem, "PullRequest");
  if (body.draft === true) throw validationFailed("PullRequest", "draft", "custom", "Draft pull requests are not supported yet.");
  const branch = headBranch(g, head);
  if (branch === null) return forkPull(c, g, p, { title, body: text, base, head });
  requireWriter(g, p);
  await spendCreation(c.env, p);
  const r = await g.stub.createPull(actor(p), { title, body: text, base, head: branch });
  if (r?.ok) await emitPull(c, g, actor(p), r.value.issue.number, [{ action: "opened" }]);
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "PullRequest");
  const json = pullJson(whereOf(c, g), repoInfo(g), r.value as PullView, await counts(g, r.value.issue.number));
  c.header("Location", json.url);
  return c.json(json, 201);
});

/**
 * A pull request from `forkowner:branch`: needs read on the base (the grant) and on the
 * fork. The base copies the head's commits from the fork (see Repository.createForkPull).
 */
async function forkPull(
  c: Context<{ Bindings: Env }>,
  g: Granted,
  p: Participant,
  input: { title: string; body: string; base: string; head: string },
) {
  const colon = input.head.indexOf(":");
  const fork = await pullHeadFork(c.env, g, input.head.slice(0, colon));
  if (!fork)
    throw validationFailed(
      "PullRequest",
      "head",
      "invalid",
      `No fork of ${g.repo.owner}/${g.repo.name} that you can read is owned by ${input.head.slice(0, colon)}.`,
    );
  await spendCreation(c.env, p);
  const r = await g.stub.createForkPull(actor(p), {
    title: input.title,
    body: input.body,
    base: input.base,
    headRepo: { ...fork, branch: input.head.slice(colon + 1) },
  });
  if (r?.ok) await emitPull(c, g, actor(p), r.value.issue.number, [{ action: "opened" }]);
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "PullRequest");
  const json = pullJson(whereOf(c, g), repoInfo(g), r.value as PullView, await counts(g, r.value.issue.number));
  c.header("Location", json.url);
  return c.json(json, 201);
}

/** Additions, deletions and files changed, from the diff the files endpoint serves. */
async function counts(g: Granted, number: number): Promise<DiffCounts> {
  const changes = await g.stub.pullChanges(number);
  const files = changes?.files ?? [];
  return {
    additions: files.reduce((n, f) => n + f.additions, 0),
    deletions: files.reduce((n, f) => n + f.deletions, 0),
    changedFiles: files.length,
  };
}

pulls.get("/repos/:owner/:repo/pulls/:number", async (c) => {
  const g = await requireAccess(c, "read");
  const number = numberParam(c);
  const pr = await g.stub.pull(number);
  if (!pr) throw notFound();
  const w = whereOf(c, g);
  const requested = (await g.stub.requestedReviewers(number)) ?? [];
  return c.json({
    ...pullJson(w, repoInfo(g), pr as PullView, await counts(g, number)),
    requested_reviewers: requested.map((a) => userJson(w, a)),
  });
});

pulls.patch("/repos/:owner/:repo/pulls/:number", async (c) => {
  const g = await requireAccess(c, "read");
  const p = participant(g);
  const number = numberParam(c);
  const pr = await g.stub.pull(number);
  if (!pr) throw notFound();
  requireAuthorOrWriter(g, p, pr.issue.author);
  const body = await readObject(c);
  const title = optString(body, "title", "PullRequest");
  const text = optString(body, "body", "PullRequest");
  const problem = (title !== undefined ? titleProblem(title) : null) ?? (text !== undefined ? bodyProblem(text) : null);
  if (problem) throw fromRefused(problem, "PullRequest");
  const state =
    body.state === undefined
      ? undefined
      : oneOf(optString(body, "state", "PullRequest"), ["open", "closed"] as const, pr.issue.state, "state");
  const base = optString(body, "base", "PullRequest");
  const r = await g.stub.updatePull(number, actor(p), { title, body: text, state, base });
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "PullRequest");
  const was = { title: pr.issue.title, body: pr.issue.body, state: pr.issue.state, base: pr.base };
  const now = { title: title ?? was.title, body: text ?? was.body, state: state ?? was.state, base: base ?? was.base };
  await emitPull(c, g, actor(p), number, pullActions(was, now));
  return c.json(pullJson(whereOf(c, g), repoInfo(g), (await g.stub.pull(number)) as PullView, await counts(g, number)));
});

pulls.get("/repos/:owner/:repo/pulls/:number/commits", async (c) => {
  const g = await requireAccess(c, "read");
  const p = paging(c);
  const changes = await g.stub.pullChanges(numberParam(c));
  if (!changes) throw notFound();
  // Oldest first, as GitHub lists them (the compare view has them newest first).
  const commits = [...changes.commits].reverse();
  linkHeader(c, p, commits.length);
  const w = whereOf(c, g);
  return c.json(commits.slice(p.offset, p.offset + p.perPage).map((cm) => pullCommitJson(w, cm)));
});

pulls.get("/repos/:owner/:repo/pulls/:number/files", async (c) => {
  const g = await requireAccess(c, "read");
  const p = paging(c);
  const changes = await g.stub.pullChanges(numberParam(c), true);
  if (!changes) throw notFound();
  linkHeader(c, p, changes.files.length);
  const w = whereOf(c, g);
  const head = changes.pull.headSha;
  return c.json(changes.files.slice(p.offset, p.offset + p.perPage).map((f) => pullFileJson(w, head, f)));
});

pulls.get("/repos/:owner/:repo/pulls/:number/merge", async (c) => {
  const g = await requireAccess(c, "read");
  const pr = await g.stub.pull(numberParam(c));
  if (!pr?.merged) throw notFound();
  return c.body(null, 204);
});

pulls.put("/repos/:owner/:repo/pulls/:number/merge", async (c) => {
  const g = await requireAccess(c, "read");
  const p = participant(g);
  requireWriter(g, p);
  const number = numberParam(c);
  const body = await readObject(c);
  const method = oneOf(optString(body, "merge_method", "PullRequest"), ["merge", "squash", "rebase"] as const, "merge", "merge_method");
  const sha = optString(body, "sha", "PullRequest");
  if (sha !== undefined && !/^[0-9a-f]{40}$/.test(sha))
    throw validationFailed("PullRequest", "sha", "invalid", "sha must be a full commit id");
  const pr = await g.stub.pull(number);
  if (!pr) throw notFound();
  const user = g.caller.kind === "anonymous" ? null : g.caller.user;
  const r = await g.stub.mergePullRequest(
    number,
    actor(p),
    {
      method,
      sha,
      commitTitle: optString(body, "commit_title", "PullRequest"),
      commitMessage: optString(body, "commit_message", "PullRequest"),
      committer: { name: user?.username ?? p.login, email: user?.email ?? `${p.login}@users.noreply.gitflare.invalid` },
      when: { seconds: Math.floor(Date.now() / 1000) },
      headLabel: pr.headRepo ? pr.head.replace(":", "/") : `${g.repo.owner}/${pr.head}`,
      admin: allows(g.role, "admin"),
    },
    moveOrigin(c, g),
  );
  if (!r) throw notFound();
  if (!r.merged) throw new GitHubError(r.status as 404 | 405 | 409 | 422, r.message);
  await emitPull(c, g, actor(p), number, [{ action: "closed" }]);
  return c.json({ sha: r.sha, merged: true, message: "Pull Request successfully merged" });
});
