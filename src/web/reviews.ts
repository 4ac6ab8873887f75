// The forms code review posts from a pull request's pages (./review-html.ts draws them):
//   POST /:o/:r/pull/:n/review-comments                 a line comment: single, or into the viewer's pending review
//   POST /:o/:r/pull/:n/review-comments/:id/replies     a reply in a thread
//   POST /:o/:r/pull/:n/review-comments/:id/delete      its author or a writer
//   POST /:o/:r/pull/:n/review-threads/:id              resolve / unresolve
//   POST /:o/:r/pull/:n/reviews                         "Review changes": submits the pending review, or a new one
//   POST /:o/:r/pull/:n/reviews/:id/dismiss             writers
//   POST /:o/:r/pull/:n/reviewers                       ask for a review (the PR's author or a writer)
// Every route passes the one access check through `openRepository`, then the rules of
// src/access/issues.ts (a signed-in participant; writers for dismissals), as the API does.
import { type Context, Hono } from "hono";
import { type Participant, assignable, participant, requireAuthorOrWriter, requireWriter, spendCreation } from "../access/issues";
import type { ReviewEvent } from "../repo/collab";
import type { Env } from "../util/env";
import { HttpError, NotFound } from "../http/responses";
import { pageError } from "./errors";
import { readForm } from "./forms";
import { openRepository } from "./routes";
import { emitReview, emitReviewComment } from "../api/v3/hook-events";

export const reviewsWeb = new Hono<{ Bindings: Env }>();
reviewsWeb.onError(pageError);
type C = Context<{ Bindings: Env }>;

const actor = (p: Participant) => ({ id: p.id, login: p.login });
// Whether the reviewer may write decides whether their approval counts for protected branches.
const reviewer = (p: Participant) => ({ ...actor(p), writer: p.triage });
const EVENTS: ReviewEvent[] = ["COMMENT", "APPROVE", "REQUEST_CHANGES"];

function param(c: C, name: string): number {
  const v = c.req.param(name) ?? "";
  if (!/^\d{1,9}$/.test(v)) throw new NotFound("No such pull request.");
  return Number(v);
}

async function posted(c: C) {
  const repo = await openRepository(c);
  const { form } = await readForm(c);
  const p = participant(repo.grant);
  const number = param(c, "number");
  const pull = await repo.stub.pull(number);
  if (!pull) throw new NotFound("No such pull request.");
  return { repo, form, p, number, pull };
}

/** The store's refusal as the page's error: 404 for what is missing, 422 for the rest. */
function refusedPage(r: { ok: false; code: string; message: string } | null): never {
  if (!r || r.code === "not-found") throw new NotFound(r?.message ?? "No such pull request.");
  throw new HttpError(422, r.message);
}

const backTo = (base: string, number: number, back: string | undefined, anchor: string) =>
  `${base}/pull/${number}${back === "conversation" ? "" : "/files"}${anchor}`;

reviewsWeb.post("/:owner/:repo/pull/:number/review-comments", async (c) => {
  const { repo, form, p, number } = await posted(c);
  const line = Number(form.line);
  if (!Number.isInteger(line) || line < 1) throw new HttpError(422, "Choose a line of the diff to comment on.");
  const side = form.side === "LEFT" ? "LEFT" : "RIGHT";
  const commitId = /^[0-9a-f]{40}$/.test(form.commit_id ?? "") ? form.commit_id : undefined;
  await spendCreation(c.env, p);
  const pending = form.action === "review";
  const r = await repo.stub.addLineComment(
    number,
    actor(p),
    { path: form.path ?? "", line, side, body: form.body ?? "", commitId },
    pending,
  );
  if (!r?.ok) refusedPage(r);
  if (!pending) await emitReviewComment(c, repo.grant, actor(p), number, r.value.id);
  return c.redirect(`${repo.base}/pull/${number}/files#discussion_r${r.value.id}`, 303);
});

reviewsWeb.post("/:owner/:repo/pull/:number/review-comments/:id/replies", async (c) => {
  const { repo, form, p, number } = await posted(c);
  await spendCreation(c.env, p);
  const r = await repo.stub.replyToReviewComment(number, actor(p), param(c, "id"), form.body ?? "");
  if (!r?.ok) refusedPage(r);
  await emitReviewComment(c, repo.grant, actor(p), number, r.value.id);
  return c.redirect(backTo(repo.base, number, form.back, `#discussion_r${r.value.id}`), 303);
});

reviewsWeb.post("/:owner/:repo/pull/:number/review-comments/:id/delete", async (c) => {
  const { repo, form, p, number } = await posted(c);
  const existing = await repo.stub.reviewComment(param(c, "id"), p.id);
  if (!existing || existing.pullNumber !== number) throw new NotFound("No such comment.");
  requireAuthorOrWriter(repo.grant, p, existing.author);
  await repo.stub.deleteReviewComment(existing.id);
  return c.redirect(backTo(repo.base, number, form.back, ""), 303);
});

reviewsWeb.post("/:owner/:repo/pull/:number/review-threads/:id", async (c) => {
  const { repo, form, p, number, pull } = await posted(c);
  const existing = await repo.stub.reviewComment(param(c, "id"), p.id);
  if (!existing || existing.pullNumber !== number) throw new NotFound("No such comment.");
  // Who may resolve: the thread's author (of its first comment), the pull request's, or a writer.
  const root = existing.inReplyTo === null ? existing : ((await repo.stub.reviewComment(existing.inReplyTo, p.id)) ?? existing);
  if (p.id !== pull.issue.author.id) requireAuthorOrWriter(repo.grant, p, root.author);
  const r = await repo.stub.resolveReviewThread(number, existing.id, actor(p), form.action !== "unresolve");
  if (!r?.ok) refusedPage(r);
  return c.redirect(backTo(repo.base, number, form.back, `#discussion_r${r.value.id}`), 303);
});

reviewsWeb.post("/:owner/:repo/pull/:number/reviews", async (c) => {
  const { repo, form, p, number } = await posted(c);
  const event = EVENTS.find((e) => e === form.event) ?? "COMMENT";
  const body = form.body ?? "";
  const pending = (await repo.stub.pullReviews(number, p.id))?.find((r) => r.state === "PENDING" && r.author.id === p.id);
  await spendCreation(c.env, p);
  const r = pending
    ? await repo.stub.submitReview(number, pending.id, reviewer(p), event, body.trim() ? body : undefined)
    : await repo.stub.createReview(number, reviewer(p), { body, event, comments: [] });
  if (!r?.ok) refusedPage(r);
  await emitReview(c, repo.grant, actor(p), number, "submitted", r.value);
  return c.redirect(`${repo.base}/pull/${number}#pullrequestreview-${r.value.id}`, 303);
});

reviewsWeb.post("/:owner/:repo/pull/:number/reviews/:id/dismiss", async (c) => {
  const { repo, form, p, number } = await posted(c);
  requireWriter(repo.grant, p);
  const r = await repo.stub.dismissReview(number, param(c, "id"), form.message ?? "");
  if (!r?.ok) refusedPage(r);
  await emitReview(c, repo.grant, actor(p), number, "dismissed", r.value);
  return c.redirect(`${repo.base}/pull/${number}#pullrequestreview-${r.value.id}`, 303);
});

reviewsWeb.post("/:owner/:repo/pull/:number/reviewers", async (c) => {
  const { repo, form, p, number, pull } = await posted(c);
  requireAuthorOrWriter(repo.grant, p, pull.issue.author);
  const login = (form.login ?? "").trim().toLowerCase();
  const who = (await assignable(c.env, repo.grant)).find((a) => a.login.toLowerCase() === login);
  if (!who) throw new HttpError(422, "Reviews may only be requested from collaborators.");
  const r = await repo.stub.requestReviews(number, [who], form.action === "remove" ? "remove" : "add");
  if (!r?.ok) refusedPage(r);
  return c.redirect(`${repo.base}/pull/${number}#reviewers`, 303);
});
