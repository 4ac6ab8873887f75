// Webhook events for what the Worker changes (issues, comments, pull requests): the
// payloads are built here, with the same shapes the /api/v3 routes answer with, and
// handed to the Repository object's one entry point, `emitHookEvent`, which adds
// `repository` and `sender` and queues a delivery for each hook that takes the event.
// The page routes call these too. An event is never worth failing the change it reports.
import type { Context } from "hono";
import { type Granted, checkAccess } from "../../access/check";
import { hookSite } from "../../access/hook-site";
import type { Actor, Comment, Issue, Review } from "../../repo/collab";
import type { PullView } from "../../repo/pull-requests";
import type { MoveOrigin } from "../../repo/repository";
import { pullJson } from "./pull-shapes";
import { reviewCommentJson, reviewJson } from "./review-shapes";
import { commentJson, issueJson, labelJson, whereOf } from "./shapes";

async function emit(
  c: Context,
  g: Granted,
  event: string,
  sender: Actor,
  build: () => Promise<[string | null, Record<string, unknown>][]>,
) {
  try {
    if (!(await g.stub.wantsHookEvent(event))) return;
    const site = hookSite(c.req.url, g.repo);
    for (const [action, payload] of await build()) await g.stub.emitHookEvent(event, action, payload, site, sender);
  } catch (e) {
    console.error(`webhooks: ${event} event not queued: ${e}`);
  }
}

/** What an issue's change was, as `issues` events say it: one event per kind of change. */
export function issueActions(before: Issue | null, after: Issue): { action: string; extra: Record<string, unknown> }[] {
  if (!before) return [{ action: "opened", extra: {} }];
  const out: { action: string; extra: Record<string, unknown> }[] = [];
  const changes: Record<string, { from: string }> = {};
  if (before.title !== after.title) changes.title = { from: before.title };
  if (before.body !== after.body) changes.body = { from: before.body };
  if (Object.keys(changes).length) out.push({ action: "edited", extra: { changes } });
  if (before.state !== after.state) out.push({ action: after.state === "closed" ? "closed" : "reopened", extra: {} });
  const had = new Set(before.labels.map((l) => l.id));
  for (const l of after.labels.filter((l) => !had.has(l.id))) out.push({ action: "labeled", extra: { label: l } });
  const has = new Set(after.labels.map((l) => l.id));
  for (const l of before.labels.filter((l) => !has.has(l.id))) out.push({ action: "unlabeled", extra: { label: l } });
  return out;
}

/** `issues` events for an issue's change (`before` null: it was opened). Pull requests have their own. */
export function emitIssue(c: Context, g: Granted, sender: Actor, before: Issue | null, after: Issue) {
  if (after.kind !== "issue") return Promise.resolve();
  return emit(c, g, "issues", sender, async () => {
    const w = whereOf(c, g);
    return issueActions(before, after).map(({ action, extra }) => [
      action,
      { issue: issueJson(w, after), ...("label" in extra ? { label: labelJson(w, extra.label as Issue["labels"][number]) } : extra) },
    ]);
  });
}

/** `issue_comment` events: created, edited (with the old body) or deleted. */
export function emitComment(
  c: Context,
  g: Granted,
  sender: Actor,
  action: "created" | "edited" | "deleted",
  comment: Comment,
  from?: string,
) {
  return emit(c, g, "issue_comment", sender, async () => {
    const issue = await g.stub.issue(comment.issueNumber);
    if (!issue) return [];
    const w = whereOf(c, g);
    return [
      [
        action,
        { issue: issueJson(w, issue), comment: commentJson(w, comment), ...(from !== undefined ? { changes: { body: { from } } } : {}) },
      ],
    ];
  });
}

/**
 * `pull_request` events for pull request `number` as it is now: opened, edited (with
 * `changes`), closed (merged or not) or reopened.
 */
export function emitPull(
  c: Context,
  g: Granted,
  sender: Actor,
  number: number,
  actions: { action: string; extra?: Record<string, unknown> }[],
) {
  return emit(c, g, "pull_request", sender, async () => {
    const pr = await g.stub.pull(number);
    if (!pr) return [];
    const repo = { id: g.repo.id, owner: { id: g.repo.ownerId, login: g.repo.owner }, name: g.repo.name, isPrivate: g.repo.isPrivate };
    const files = (await g.stub.pullChanges(number))?.files ?? [];
    const counts = {
      additions: files.reduce((n, f) => n + f.additions, 0),
      deletions: files.reduce((n, f) => n + f.deletions, 0),
      changedFiles: files.length,
    };
    // The full object, as GET /pulls/{number} answers it: integrations read `merged`.
    const json = pullJson(whereOf(c, g), repo, pr as PullView, counts);
    return actions.map(({ action, extra }) => [action, { number, pull_request: json, ...(extra ?? {}) }]);
  });
}

/** The `pull_request` actions of a change from `before` to the pull request's new state. */
export function pullActions(
  before: { title: string; body: string; state: string; base: string },
  after: { title: string; body: string; state: string; base: string },
): { action: string; extra?: Record<string, unknown> }[] {
  const out: { action: string; extra?: Record<string, unknown> }[] = [];
  const changes: Record<string, unknown> = {};
  if (before.title !== after.title) changes.title = { from: before.title };
  if (before.body !== after.body) changes.body = { from: before.body };
  if (before.base !== after.base) changes.base = { ref: { from: before.base } };
  if (Object.keys(changes).length) out.push({ action: "edited", extra: { changes } });
  if (before.state !== after.state) out.push({ action: after.state === "closed" ? "closed" : "reopened" });
  return out;
}

/**
 * After a push, or a commit or ref move through the editor or the API: `pull_request`
 * events for what it did to open pull requests (a head that moved: `synchronize`; a pull
 * request it merged: `closed`), which the repository queued as the branches moved. Runs
 * after the client has its answer (waitUntil).
 */
export async function pullEventsAfterMove(c: Context): Promise<void> {
  try {
    const g = await checkAccess(c, "read");
    if (!g.ok) return;
    for (const e of await g.stub.takePullHookEvents()) {
      const sender = e.sender ?? { id: 0, login: "ghost" };
      const extra = e.action === "synchronize" ? { before: e.before, after: e.after } : undefined;
      await emitPull(c, g, sender, e.number, [{ action: e.action, extra }]);
    }
  } catch (err) {
    console.error(`webhooks: pull_request events after a push not sent: ${err}`);
  }
}

/** A `status` event (GitHub's shape: the status's fields at the top, with the commit and its name). */
export function emitStatus(c: Context, g: Granted, sender: Actor, status: Record<string, unknown> & { sha?: string }, sha: string) {
  return emit(c, g, "status", sender, async () => {
    const w = whereOf(c, g);
    const { url: _url, creator: _creator, ...fields } = status;
    return [
      [null, { ...fields, sha, name: `${g.repo.owner}/${g.repo.name}`, commit: { sha, url: `${w.repo}/commits/${sha}` }, branches: [] }],
    ];
  });
}

/**
 * A `pull_request_review` event: `submitted` (with a verdict or a comment) or `dismissed`,
 * with the review and the pull request as the API shows them. A pending review is no event.
 */
export function emitReview(c: Context, g: Granted, sender: Actor, number: number, action: "submitted" | "dismissed", review: Review) {
  if (review.state === "PENDING") return Promise.resolve();
  return emit(c, g, "pull_request_review", sender, async () => {
    const pr = await g.stub.pull(number);
    if (!pr) return [];
    const repo = { id: g.repo.id, owner: { id: g.repo.ownerId, login: g.repo.owner }, name: g.repo.name, isPrivate: g.repo.isPrivate };
    const w = whereOf(c, g);
    // Webhooks spell the state in lower case ("approved"), unlike the REST API ("APPROVED"),
    // and receivers (Actions' `github.event.review.state == 'approved'`) compare it so.
    const json = reviewJson(w, review);
    return [[action, { review: { ...json, state: json.state.toLowerCase() }, pull_request: pullJson(w, repo, pr as PullView) }]];
  });
}

/**
 * Who is moving refs through the editor or the API, and where: the repository then queues
 * `push`, `create` and `delete` events as for a push (GitHub sends them for web commits too).
 */
export function moveOrigin(c: Context, g: Granted): MoveOrigin | undefined {
  if (g.caller.kind === "anonymous") return undefined;
  return { sender: { id: g.caller.user.id, login: g.caller.user.username }, site: hookSite(c.req.url, g.repo) };
}

/**
 * A `pull_request_review_comment` event (`created`) for a line comment posted on its own or
 * as a reply; comments written into a pending review arrive with its `pull_request_review`.
 */
export function emitReviewComment(c: Context, g: Granted, sender: Actor, number: number, commentId: number) {
  return emit(c, g, "pull_request_review_comment", sender, async () => {
    const [pr, comment] = await Promise.all([g.stub.pull(number), g.stub.reviewComment(commentId, null)]);
    if (!pr || !comment) return [];
    const repo = { id: g.repo.id, owner: { id: g.repo.ownerId, login: g.repo.owner }, name: g.repo.name, isPrivate: g.repo.isPrivate };
    const w = whereOf(c, g);
    return [["created", { comment: reviewCommentJson(w, comment), pull_request: pullJson(w, repo, pr as PullView) }]];
  });
}
