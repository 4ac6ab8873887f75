// Code review in GitHub's REST shapes:
//   GET/POST   /repos/{owner}/{repo}/pulls/{number}/reviews          (POST: commit_id, body, event, comments[])
//   GET/DELETE /repos/{owner}/{repo}/pulls/{number}/reviews/{id}      (DELETE: a pending review)
//   POST       /repos/{owner}/{repo}/pulls/{number}/reviews/{id}/events      (submit a pending review)
//   PUT        /repos/{owner}/{repo}/pulls/{number}/reviews/{id}/dismissals  (writers)
//   GET        /repos/{owner}/{repo}/pulls/{number}/reviews/{id}/comments
//   GET/POST   /repos/{owner}/{repo}/pulls/{number}/comments         (POST: commit_id, path, line, side, start_line, start_side, body; or in_reply_to)
//   POST       /repos/{owner}/{repo}/pulls/{number}/comments/{id}/replies
//   GET/PATCH/DELETE /repos/{owner}/{repo}/pulls/comments/{id}
//   GET/POST/DELETE  /repos/{owner}/{repo}/pulls/{number}/requested_reviewers
// Who may: reading needs read access (a pending review shows only to its author);
// reviewing and commenting need read access and a signed-in account (a token with the
// write scope), as on GitHub, where anyone may review a public repository; the author of
// a pull request may not approve it or request changes (422); dismissing needs write;
// editing a comment, its author or a writer; asking for reviews, the pull request's
// author or a writer, and only people with access to the repository may be asked.
import { type Context, Hono } from "hono";
import { type Granted, requireAccess } from "../../access/check";
import {
  type Participant,
  participant,
  requireAuthorOrWriter,
  requireWriter,
  resolveAssignees,
  spendCreation,
  viewer,
} from "../../access/issues";
import type { Actor, ReviewActor, ReviewEvent, Side } from "../../repo/collab";
import type { LineInput } from "../../repo/code-review";
import type { PullView } from "../../repo/pull-requests";
import type { Env } from "../../util/env";
import { type Json, numberParam, optNames, optString, readObject } from "./body";
import { GitHubError, fromRefused, notFound, validationFailed } from "./errors";
import { linkHeader, paging } from "./paging";
import { type RepoInfo, pullJson } from "./pull-shapes";
import { reviewCommentJson, reviewJson } from "./review-shapes";
import { emitReview, emitReviewComment } from "./hook-events";
import { userJson, whereOf } from "./shapes";

export const reviews = new Hono<{ Bindings: Env }>();
type C = Context<{ Bindings: Env }>;

// Whether the reviewer may write decides whether their approval counts for protected branches.
const reviewer = (p: Participant): ReviewActor => ({ id: p.id, login: p.login, writer: p.triage });
const actor = (p: Participant): Actor => ({ id: p.id, login: p.login });
const EVENTS = ["APPROVE", "REQUEST_CHANGES", "COMMENT"] as const;

function eventOf(body: Json, required: boolean): ReviewEvent | undefined {
  const v = optString(body, "event", "PullRequestReview");
  if (v === undefined || v === "") {
    if (required) throw validationFailed("PullRequestReview", "event", "missing_field");
    return undefined;
  }
  if (v === "PENDING") {
    // A pending review is made by leaving the event out; submitting one needs a verdict.
    if (required) throw validationFailed("PullRequestReview", "event", "invalid", "event must be APPROVE, REQUEST_CHANGES or COMMENT");
    return undefined;
  }
  if (!(EVENTS as readonly string[]).includes(v)) throw validationFailed("PullRequestReview", "event", "invalid", `Unknown event: ${v}`);
  return v as ReviewEvent;
}

function optInt(o: Json, field: string, resource: string): number | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number" && Number.isInteger(v) && v > 0 && v < 1e9) return v;
  if (typeof v === "string" && /^\d{1,9}$/.test(v) && Number(v) > 0) return Number(v);
  throw validationFailed(resource, field);
}

function optSide(o: Json, field: string, resource: string): Side | undefined {
  const v = optString(o, field, resource);
  if (v === undefined) return undefined;
  if (v !== "LEFT" && v !== "RIGHT") throw validationFailed(resource, field, "invalid", `${field} must be LEFT or RIGHT`);
  return v;
}

function optSha(o: Json, resource: string): string | undefined {
  const v = optString(o, "commit_id", resource);
  if (v !== undefined && !/^[0-9a-f]{40}$/.test(v))
    throw validationFailed(resource, "commit_id", "invalid", "commit_id must be a full commit id");
  return v;
}

/** A line comment's place and text, as POST .../comments and a review's `comments[]` give it. */
function lineInput(o: Json, resource: string): LineInput {
  const path = optString(o, "path", resource);
  if (path === undefined) throw validationFailed(resource, "path", "missing_field");
  const body = optString(o, "body", resource);
  if (body === undefined) throw validationFailed(resource, "body", "missing_field");
  const line = optInt(o, "line", resource);
  if (line === undefined) {
    if (o.position !== undefined) throw validationFailed(resource, "position", "custom", "position is not supported; give line and side");
    throw validationFailed(resource, "line", "missing_field");
  }
  return {
    path,
    body,
    line,
    side: optSide(o, "side", resource),
    startLine: optInt(o, "start_line", resource),
    startSide: optSide(o, "start_side", resource),
  };
}

const repoInfo = (g: Granted): RepoInfo => ({
  id: g.repo.id,
  owner: { id: g.repo.ownerId, login: g.repo.owner },
  name: g.repo.name,
  isPrivate: g.repo.isPrivate,
  fork: g.repo.parent !== null,
});

const viewerId = (g: Granted) => viewer(g)?.id ?? null;

async function placedComment(g: Granted, id: number) {
  const c = await g.stub.reviewComment(id, viewerId(g));
  if (!c) throw notFound();
  return c;
}

// ---- reviews ----

reviews.get("/repos/:owner/:repo/pulls/:number/reviews", async (c) => {
  const g = await requireAccess(c, "read");
  const p = paging(c);
  const list = await g.stub.pullReviews(numberParam(c), viewerId(g));
  if (!list) throw notFound();
  linkHeader(c, p, list.length);
  const w = whereOf(c, g);
  return c.json(list.slice(p.offset, p.offset + p.perPage).map((r) => reviewJson(w, r)));
});

reviews.post("/repos/:owner/:repo/pulls/:number/reviews", async (c) => {
  const g = await requireAccess(c, "read");
  const p = participant(g);
  const number = numberParam(c);
  const body = await readObject(c);
  const event = eventOf(body, false);
  const text = optString(body, "body", "PullRequestReview") ?? "";
  const raw = body.comments ?? [];
  if (!Array.isArray(raw)) throw validationFailed("PullRequestReview", "comments");
  const comments = raw.map((x) => {
    if (!x || typeof x !== "object" || Array.isArray(x)) throw validationFailed("PullRequestReview", "comments");
    return lineInput(x as Json, "PullRequestReviewComment");
  });
  await spendCreation(c.env, p);
  const r = await g.stub.createReview(number, reviewer(p), { commitId: optSha(body, "PullRequestReview"), body: text, event, comments });
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "PullRequestReview");
  await emitReview(c, g, actor(p), number, "submitted", r.value);
  return c.json(reviewJson(whereOf(c, g), r.value));
});

reviews.get("/repos/:owner/:repo/pulls/:number/reviews/:id", async (c) => {
  const g = await requireAccess(c, "read");
  const r = await g.stub.pullReview(numberParam(c), numberParam(c, "id"), viewerId(g));
  if (!r) throw notFound();
  return c.json(reviewJson(whereOf(c, g), r));
});

reviews.delete("/repos/:owner/:repo/pulls/:number/reviews/:id", async (c) => {
  const g = await requireAccess(c, "read");
  const p = participant(g);
  const r = await g.stub.deletePendingReview(numberParam(c), numberParam(c, "id"), actor(p));
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "PullRequestReview");
  return c.json(reviewJson(whereOf(c, g), r.value));
});

reviews.post("/repos/:owner/:repo/pulls/:number/reviews/:id/events", async (c) => {
  const g = await requireAccess(c, "read");
  const p = participant(g);
  const body = await readObject(c);
  const event = eventOf(body, true)!;
  const r = await g.stub.submitReview(
    numberParam(c),
    numberParam(c, "id"),
    reviewer(p),
    event,
    optString(body, "body", "PullRequestReview"),
  );
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "PullRequestReview");
  await emitReview(c, g, actor(p), numberParam(c), "submitted", r.value);
  return c.json(reviewJson(whereOf(c, g), r.value));
});

reviews.put("/repos/:owner/:repo/pulls/:number/reviews/:id/dismissals", async (c) => {
  const g = await requireAccess(c, "read");
  const p = participant(g);
  requireWriter(g, p);
  const body = await readObject(c);
  const message = optString(body, "message", "PullRequestReview");
  if (message === undefined) throw validationFailed("PullRequestReview", "message", "missing_field");
  const event = optString(body, "event", "PullRequestReview");
  if (event !== undefined && event !== "DISMISS") throw validationFailed("PullRequestReview", "event");
  const r = await g.stub.dismissReview(numberParam(c), numberParam(c, "id"), message);
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "PullRequestReview");
  await emitReview(c, g, actor(p), numberParam(c), "dismissed", r.value);
  return c.json(reviewJson(whereOf(c, g), r.value));
});

reviews.get("/repos/:owner/:repo/pulls/:number/reviews/:id/comments", async (c) => {
  const g = await requireAccess(c, "read");
  const number = numberParam(c);
  const id = numberParam(c, "id");
  if (!(await g.stub.pullReview(number, id, viewerId(g)))) throw notFound();
  const list = await g.stub.reviewComments(number, viewerId(g), id);
  if (!list) throw notFound();
  const p = paging(c);
  linkHeader(c, p, list.length);
  const w = whereOf(c, g);
  return c.json(list.slice(p.offset, p.offset + p.perPage).map((x) => reviewCommentJson(w, x)));
});

// ---- line comments ----

reviews.get("/repos/:owner/:repo/pulls/:number/comments", async (c) => {
  const g = await requireAccess(c, "read");
  const list = await g.stub.reviewComments(numberParam(c), viewerId(g));
  if (!list) throw notFound();
  // Only submitted comments are listed here, as on GitHub; a draft's show with its review.
  const shown = list.filter((x) => !x.pending);
  const p = paging(c);
  linkHeader(c, p, shown.length);
  const w = whereOf(c, g);
  return c.json(shown.slice(p.offset, p.offset + p.perPage).map((x) => reviewCommentJson(w, x)));
});

async function reply(c: C, g: Granted, p: Participant, number: number, inReplyTo: number, body: string) {
  const r = await g.stub.replyToReviewComment(number, actor(p), inReplyTo, body);
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "PullRequestReviewComment");
  await emitReviewComment(c, g, actor(p), number, r.value.id);
  return c.json(reviewCommentJson(whereOf(c, g), r.value), 201, { Location: `${whereOf(c, g).repo}/pulls/comments/${r.value.id}` });
}

reviews.post("/repos/:owner/:repo/pulls/:number/comments", async (c) => {
  const g = await requireAccess(c, "read");
  const p = participant(g);
  const number = numberParam(c);
  const body = await readObject(c);
  const inReplyTo = optInt(body, "in_reply_to", "PullRequestReviewComment");
  if (inReplyTo !== undefined) {
    const text = optString(body, "body", "PullRequestReviewComment");
    if (text === undefined) throw validationFailed("PullRequestReviewComment", "body", "missing_field");
    await spendCreation(c.env, p);
    return reply(c, g, p, number, inReplyTo, text);
  }
  const input = lineInput(body, "PullRequestReviewComment");
  const commitId = optSha(body, "PullRequestReviewComment");
  if (commitId === undefined) throw validationFailed("PullRequestReviewComment", "commit_id", "missing_field");
  await spendCreation(c.env, p);
  const r = await g.stub.addLineComment(number, actor(p), { ...input, commitId });
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "PullRequestReviewComment");
  await emitReviewComment(c, g, actor(p), number, r.value.id);
  const placed = await placedComment(g, r.value.id);
  return c.json(reviewCommentJson(whereOf(c, g), placed), 201, { Location: `${whereOf(c, g).repo}/pulls/comments/${placed.id}` });
});

reviews.post("/repos/:owner/:repo/pulls/:number/comments/:id/replies", async (c) => {
  const g = await requireAccess(c, "read");
  const p = participant(g);
  const body = await readObject(c);
  const text = optString(body, "body", "PullRequestReviewComment");
  if (text === undefined) throw validationFailed("PullRequestReviewComment", "body", "missing_field");
  await spendCreation(c.env, p);
  return reply(c, g, p, numberParam(c), numberParam(c, "id"), text);
});

reviews.get("/repos/:owner/:repo/pulls/comments/:id", async (c) => {
  const g = await requireAccess(c, "read");
  return c.json(reviewCommentJson(whereOf(c, g), await placedComment(g, numberParam(c, "id"))));
});

reviews.patch("/repos/:owner/:repo/pulls/comments/:id", async (c) => {
  const g = await requireAccess(c, "read");
  const p = participant(g);
  const existing = await placedComment(g, numberParam(c, "id"));
  requireAuthorOrWriter(g, p, existing.author);
  const body = await readObject(c);
  const text = optString(body, "body", "PullRequestReviewComment");
  if (text === undefined) throw validationFailed("PullRequestReviewComment", "body", "missing_field");
  const r = await g.stub.editReviewComment(existing.id, text);
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "PullRequestReviewComment");
  return c.json(reviewCommentJson(whereOf(c, g), r.value));
});

reviews.delete("/repos/:owner/:repo/pulls/comments/:id", async (c) => {
  const g = await requireAccess(c, "read");
  const p = participant(g);
  const existing = await placedComment(g, numberParam(c, "id"));
  requireAuthorOrWriter(g, p, existing.author);
  const r = await g.stub.deleteReviewComment(existing.id);
  if (!r?.ok) throw notFound();
  return c.body(null, 204);
});

// ---- review requests ----

reviews.get("/repos/:owner/:repo/pulls/:number/requested_reviewers", async (c) => {
  const g = await requireAccess(c, "read");
  const list = await g.stub.requestedReviewers(numberParam(c));
  if (!list) throw notFound();
  const w = whereOf(c, g);
  return c.json({ users: list.map((a) => userJson(w, a)), teams: [] });
});

async function changeRequests(c: C, mode: "add" | "remove") {
  const g = await requireAccess(c, "read");
  const p = participant(g);
  const number = numberParam(c);
  const pr = await g.stub.pull(number);
  if (!pr) throw notFound();
  requireAuthorOrWriter(g, p, pr.issue.author);
  const body = await readObject(c);
  const logins = optNames(body, "reviewers", "PullRequest") ?? [];
  if ((optNames(body, "team_reviewers", "PullRequest") ?? []).length)
    throw validationFailed("PullRequest", "team_reviewers", "custom", "Teams are not supported.");
  const { people, invalid } = await resolveAssignees(c.env, g, logins);
  if (invalid.length && mode === "add")
    throw new GitHubError(
      422,
      `Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the ${g.repo.owner}/${g.repo.name} repository.`,
    );
  const r = await g.stub.requestReviews(number, people, mode);
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "PullRequest");
  const w = whereOf(c, g);
  const json = {
    ...pullJson(w, repoInfo(g), (await g.stub.pull(number)) as PullView),
    requested_reviewers: r.value.map((a) => userJson(w, a)),
  };
  return c.json(json, mode === "add" ? 201 : 200);
}

reviews.post("/repos/:owner/:repo/pulls/:number/requested_reviewers", (c) => changeRequests(c, "add"));
reviews.delete("/repos/:owner/:repo/pulls/:number/requested_reviewers", (c) => changeRequests(c, "remove"));
