// Code review on pull requests, as GitHub keeps it. A review (`collab_review`) is one
// person's verdict on the head they saw: PENDING (a draft only its author sees, one per
// person and pull request), COMMENTED, APPROVED, CHANGES_REQUESTED, or DISMISSED (an
// approval or a request for changes set aside by a writer; the verdict it had is kept).
// It holds a summary and line comments (`collab_review_comment`), each anchored to
// (commit, path, side, line[, start_line]) with the hunk it was written on (./anchors.ts
// decides later whether it is outdated). A reply (`in_reply_to`, the thread's first
// comment) copies its thread's anchor; a thread is resolved on its first comment. Review
// requests (`collab_review_request`) name who is asked; a submitted review answers the
// request.
//
// For protected branches (called inside the repository object, through `Collab`):
// - `approvingReviewers(sql, number, headOid?)`: logins whose latest verdict (approve or
//   request changes, dismissals included; comments do not count) is an approval not
//   dismissed, given with write access (`ReviewActor.writer`); with `headOid`, only
//   approvals given on that commit.
// - `dismissApprovals(sql, number, actor, headOid, at)`: dismisses the approvals given on
//   any other commit than `headOid` ("dismiss stale approvals" when a push arrives);
//   answers the logins dismissed.
// - `reviewDecision(sql, number)`: "changes_requested", "approved", "review_required" (a
//   request unanswered) or null, what the pull request list shows.
import { touch } from "./issues";
import { issueRow } from "./rows";
import { type Actor, type Result, ok, refused } from "./types";
import { bodyProblem, commentProblem } from "./validate";

export type ReviewState = "PENDING" | "COMMENTED" | "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED";
export type ReviewEvent = "APPROVE" | "REQUEST_CHANGES" | "COMMENT";
export type ReviewDecision = "approved" | "changes_requested" | "review_required" | null;
export type Side = "LEFT" | "RIGHT";

export interface Review {
  id: number;
  pullNumber: number;
  author: Actor;
  state: ReviewState;
  body: string;
  commitId: string;
  createdAt: number;
  submittedAt: number | null;
  /** What a dismissed review had been, and why it was dismissed. */
  dismissedState: ReviewState | null;
  dismissedMessage: string | null;
}

/** Where a line comment sits: checked against the diff of `commitId` by the caller. */
export interface LineAnchor {
  commitId: string;
  path: string;
  side: Side;
  line: number;
  startLine: number | null;
  startSide: Side | null;
  position: number;
  diffHunk: string;
  lineText: string;
}

export interface ReviewComment extends LineAnchor {
  id: number;
  reviewId: number;
  pullNumber: number;
  inReplyTo: number | null;
  author: Actor;
  body: string;
  createdAt: number;
  updatedAt: number;
  /** On a thread's first comment: who resolved the thread. */
  resolvedBy: Actor | null;
  /** Part of a review not yet submitted (seen only by its author). */
  pending: boolean;
}

export interface NewReview {
  commitId: string;
  body: string;
  /** Absent: a PENDING review, to be submitted later. */
  event?: ReviewEvent;
  comments: (LineAnchor & { body: string })[];
}

const MAX_COMMENTS_PER_REVIEW = 100;
const MAX_REVIEWERS = 15;

type ReviewRow = {
  id: number;
  number: number;
  author_id: number;
  author_login: string;
  state: ReviewState;
  body: string;
  commit_id: string;
  created_at: number;
  submitted_at: number | null;
  dismissed_state: ReviewState | null;
  dismissed_message: string | null;
};

const REVIEW_SELECT = `SELECT r.id, i.number, r.author_id, r.author_login, r.state, r.body, r.commit_id, r.created_at,
  r.submitted_at, r.dismissed_state, r.dismissed_message FROM collab_review r JOIN collab_issue i ON i.id = r.issue_id`;

const toReview = (r: ReviewRow): Review => ({
  id: r.id,
  pullNumber: r.number,
  author: { id: r.author_id, login: r.author_login },
  state: r.state,
  body: r.body,
  commitId: r.commit_id,
  createdAt: r.created_at,
  submittedAt: r.submitted_at,
  dismissedState: r.dismissed_state,
  dismissedMessage: r.dismissed_message,
});

type CommentRow = {
  id: number;
  number: number;
  review_id: number;
  in_reply_to: number | null;
  author_id: number;
  author_login: string;
  body: string;
  commit_id: string;
  path: string;
  side: Side;
  line: number;
  start_line: number | null;
  start_side: Side | null;
  position: number;
  diff_hunk: string;
  line_text: string;
  resolved_by_id: number | null;
  resolved_by_login: string | null;
  created_at: number;
  updated_at: number;
  state: ReviewState;
};

const COMMENT_SELECT = `SELECT c.id, i.number, c.review_id, c.in_reply_to, c.author_id, c.author_login, c.body, c.commit_id, c.path,
  c.side, c.line, c.start_line, c.start_side, c.position, c.diff_hunk, c.line_text, c.resolved_by_id, c.resolved_by_login,
  c.created_at, c.updated_at, r.state
  FROM collab_review_comment c JOIN collab_issue i ON i.id = c.issue_id JOIN collab_review r ON r.id = c.review_id`;

const toComment = (r: CommentRow): ReviewComment => ({
  id: r.id,
  reviewId: r.review_id,
  pullNumber: r.number,
  inReplyTo: r.in_reply_to,
  author: { id: r.author_id, login: r.author_login },
  body: r.body,
  commitId: r.commit_id,
  path: r.path,
  side: r.side,
  line: r.line,
  startLine: r.start_line,
  startSide: r.start_side,
  position: r.position,
  diffHunk: r.diff_hunk,
  lineText: r.line_text,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  resolvedBy: r.resolved_by_id === null ? null : { id: r.resolved_by_id, login: r.resolved_by_login ?? "" },
  pending: r.state === "PENDING",
});

function pullRow(sql: SqlStorage, number: number) {
  const row = issueRow(sql, number);
  return row?.kind === "pull" ? row : null;
}

export function getReview(sql: SqlStorage, number: number, id: number): Review | null {
  const row = sql.exec<ReviewRow>(`${REVIEW_SELECT} WHERE r.id = ? AND i.number = ?`, id, number).toArray()[0];
  return row ? toReview(row) : null;
}

/** A pull request's reviews, oldest first; a pending one only for its author (`viewerId`). */
export function listReviews(sql: SqlStorage, number: number, viewerId: number | null): Review[] | null {
  const issue = pullRow(sql, number);
  if (!issue) return null;
  return sql
    .exec<ReviewRow>(
      `${REVIEW_SELECT} WHERE r.issue_id = ? AND (r.state != 'PENDING' OR r.author_id = ?) ORDER BY r.id`,
      issue.id,
      viewerId ?? -1,
    )
    .toArray()
    .map(toReview);
}

export function getReviewComment(sql: SqlStorage, id: number): ReviewComment | null {
  const row = sql.exec<CommentRow>(`${COMMENT_SELECT} WHERE c.id = ?`, id).toArray()[0];
  return row ? toComment(row) : null;
}

/** A pull request's line comments (or one review's), oldest first; pending ones only for their author. */
export function listReviewComments(sql: SqlStorage, number: number, viewerId: number | null, reviewId?: number): ReviewComment[] | null {
  const issue = pullRow(sql, number);
  if (!issue) return null;
  return sql
    .exec<CommentRow>(
      `${COMMENT_SELECT} WHERE c.issue_id = ? AND (r.state != 'PENDING' OR r.author_id = ?) AND (? IS NULL OR c.review_id = ?) ORDER BY c.id`,
      issue.id,
      viewerId ?? -1,
      reviewId ?? null,
      reviewId ?? null,
    )
    .toArray()
    .map(toComment);
}

function insertComment(
  sql: SqlStorage,
  issueId: number,
  reviewId: number,
  author: Actor,
  c: LineAnchor & { body: string },
  inReplyTo: number | null,
  at: number,
): number {
  return sql
    .exec<{ id: number }>(
      `INSERT INTO collab_review_comment (issue_id, review_id, in_reply_to, author_id, author_login, body, commit_id, path, side, line,
        start_line, start_side, position, diff_hunk, line_text, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      issueId,
      reviewId,
      inReplyTo,
      author.id,
      author.login,
      c.body,
      c.commitId,
      c.path,
      c.side,
      c.line,
      c.startLine,
      c.startSide,
      c.position,
      c.diffHunk,
      c.lineText,
      at,
      at,
    )
    .one().id;
}

function pendingOf(sql: SqlStorage, issueId: number, authorId: number): ReviewRow | null {
  return (
    sql
      .exec<ReviewRow>(`${REVIEW_SELECT} WHERE r.issue_id = ? AND r.author_id = ? AND r.state = 'PENDING'`, issueId, authorId)
      .toArray()[0] ?? null
  );
}

const STATE_OF: Record<ReviewEvent, ReviewState> = { APPROVE: "APPROVED", REQUEST_CHANGES: "CHANGES_REQUESTED", COMMENT: "COMMENTED" };

/** GitHub's rules for a verdict: not on one's own pull request; a body where it must have one. */
function verdictProblem(authorId: number, actor: Actor, event: ReviewEvent, body: string, comments: number) {
  if (authorId === actor.id && event === "APPROVE") return refused("invalid", "Can not approve your own pull request", "event");
  if (authorId === actor.id && event === "REQUEST_CHANGES")
    return refused("invalid", "Can not request changes on your own pull request", "event");
  if (event === "REQUEST_CHANGES" && !body.trim()) return refused("invalid", "Body is required when requesting changes", "body");
  if (event === "COMMENT" && !body.trim() && comments === 0)
    return refused("invalid", "Body or line comments are required to comment", "body");
  return bodyProblem(body);
}

function submitted(sql: SqlStorage, issueId: number, author: Actor, at: number): void {
  sql.exec("DELETE FROM collab_review_request WHERE issue_id = ? AND user_id = ?", issueId, author.id);
  touch(sql, issueId, at);
}

/** A reviewer, and whether they have write access now (only their approvals count for protection). */
export type ReviewActor = Actor & { writer?: boolean };

export function createReview(sql: SqlStorage, number: number, author: ReviewActor, input: NewReview, at: number): Result<Review> {
  const issue = pullRow(sql, number);
  if (!issue) return refused("not-found", `No pull request #${number}.`);
  if (input.comments.length > MAX_COMMENTS_PER_REVIEW)
    return refused("invalid", `At most ${MAX_COMMENTS_PER_REVIEW} comments per review.`, "comments");
  for (const c of input.comments) {
    const p = commentProblem(c.body);
    if (p) return { ...p, field: "comments" };
  }
  let reviewId: number;
  if (input.event === undefined) {
    const p = bodyProblem(input.body);
    if (p) return p;
    if (pendingOf(sql, issue.id, author.id)) return refused("invalid", "User can only have one pending review per pull request", "user_id");
    reviewId = sql
      .exec<{ id: number }>(
        `INSERT INTO collab_review (issue_id, author_id, author_login, state, body, commit_id, created_at)
         VALUES (?, ?, ?, 'PENDING', ?, ?, ?) RETURNING id`,
        issue.id,
        author.id,
        author.login,
        input.body,
        input.commitId,
        at,
      )
      .one().id;
  } else {
    const p = verdictProblem(issue.author_id, author, input.event, input.body, input.comments.length);
    if (p) return p;
    reviewId = sql
      .exec<{ id: number }>(
        `INSERT INTO collab_review (issue_id, author_id, author_login, state, body, commit_id, created_at, submitted_at, author_writer)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
        issue.id,
        author.id,
        author.login,
        STATE_OF[input.event],
        input.body,
        input.commitId,
        at,
        at,
        author.writer ? 1 : 0,
      )
      .one().id;
    submitted(sql, issue.id, author, at);
  }
  for (const c of input.comments) insertComment(sql, issue.id, reviewId, author, c, null, at);
  return ok(getReview(sql, number, reviewId)!);
}

/** Submits the author's pending review with a verdict (and a summary, if given). */
export function submitReview(
  sql: SqlStorage,
  number: number,
  id: number,
  actor: ReviewActor,
  event: ReviewEvent,
  body: string | undefined,
  at: number,
) {
  const issue = pullRow(sql, number);
  const review = issue ? getReview(sql, number, id) : null;
  if (!issue || !review || (review.state === "PENDING" && review.author.id !== actor.id)) return refused("not-found", `No review ${id}.`);
  if (review.state !== "PENDING") return refused("invalid", "Can not submit a review that was already submitted", "event");
  const text = body ?? review.body;
  const count = sql.exec<{ n: number }>("SELECT count(*) AS n FROM collab_review_comment WHERE review_id = ?", id).one().n;
  const p = verdictProblem(issue.author_id, actor, event, text, count);
  if (p) return p;
  // The comments' time is the review's: a draft's comments appear when it is submitted.
  sql.exec(
    "UPDATE collab_review SET state = ?, body = ?, submitted_at = ?, author_writer = ? WHERE id = ?",
    STATE_OF[event],
    text,
    at,
    actor.writer ? 1 : 0,
    id,
  );
  sql.exec("UPDATE collab_review_comment SET created_at = ?, updated_at = ? WHERE review_id = ?", at, at, id);
  submitted(sql, issue.id, actor, at);
  return ok(getReview(sql, number, id)!);
}

/** Deletes the author's pending review with its comments; a submitted one stays. */
export function deletePendingReview(sql: SqlStorage, number: number, id: number, actor: Actor): Result<Review> {
  const review = getReview(sql, number, id);
  if (!review || (review.state === "PENDING" && review.author.id !== actor.id)) return refused("not-found", `No review ${id}.`);
  if (review.state !== "PENDING") return refused("invalid", "Can not delete a non-pending pull request review", "id");
  sql.exec("DELETE FROM collab_review_comment WHERE review_id = ?", id);
  sql.exec("DELETE FROM collab_review WHERE id = ?", id);
  return ok(review);
}

/** Sets an approval or a request for changes aside, keeping what it was. */
export function dismissReview(sql: SqlStorage, number: number, id: number, message: string, at: number): Result<Review> {
  const review = getReview(sql, number, id);
  if (!review || review.state === "PENDING") return refused("not-found", `No review ${id}.`);
  if (review.state !== "APPROVED" && review.state !== "CHANGES_REQUESTED")
    return refused("invalid", `Can not dismiss a ${review.state === "DISMISSED" ? "dismissed" : "commented"} pull request review`, "state");
  if (!message.trim()) return refused("invalid", "A message is required to dismiss a review", "message");
  const p = bodyProblem(message);
  if (p) return { ...p, field: "message" };
  sql.exec("UPDATE collab_review SET state = 'DISMISSED', dismissed_state = state, dismissed_message = ? WHERE id = ?", message, id);
  const issue = pullRow(sql, number)!;
  touch(sql, issue.id, at);
  return ok(getReview(sql, number, id)!);
}

/**
 * A line comment: into the author's pending review when `pending` (made if there is
 * none), else in a COMMENTED review of its own, as GitHub records a single comment.
 */
export function addLineComment(
  sql: SqlStorage,
  number: number,
  author: Actor,
  c: LineAnchor & { body: string },
  pending: boolean,
  at: number,
): Result<ReviewComment> {
  const issue = pullRow(sql, number);
  if (!issue) return refused("not-found", `No pull request #${number}.`);
  const p = commentProblem(c.body);
  if (p) return p;
  let reviewId = pending ? pendingOf(sql, issue.id, author.id)?.id : undefined;
  if (reviewId === undefined) {
    reviewId = sql
      .exec<{ id: number }>(
        `INSERT INTO collab_review (issue_id, author_id, author_login, state, body, commit_id, created_at, submitted_at)
         VALUES (?, ?, ?, ?, '', ?, ?, ?) RETURNING id`,
        issue.id,
        author.id,
        author.login,
        pending ? "PENDING" : "COMMENTED",
        c.commitId,
        at,
        pending ? null : at,
      )
      .one().id;
  }
  const id = insertComment(sql, issue.id, reviewId, author, c, null, at);
  if (!pending) touch(sql, issue.id, at);
  return ok(getReviewComment(sql, id)!);
}

/** A reply in a thread: the thread's anchor, in a COMMENTED review of its own (or the author's pending one). */
export function replyTo(sql: SqlStorage, number: number, author: Actor, inReplyTo: number, body: string, pending: boolean, at: number) {
  const target = getReviewComment(sql, inReplyTo);
  if (!target || target.pullNumber !== number || (target.pending && target.author.id !== author.id))
    return refused("not-found", `No review comment ${inReplyTo}.`, "in_reply_to");
  const root = target.inReplyTo === null ? target : (getReviewComment(sql, target.inReplyTo) ?? target);
  // A published reply may not hang under a draft only its author sees.
  if ((target.pending || root.pending) && !pending) return refused("invalid", "Can not reply to a pending comment", "in_reply_to");
  const r = addLineComment(sql, number, author, { ...root, body }, pending, at);
  if (!r.ok) return r;
  sql.exec("UPDATE collab_review_comment SET in_reply_to = ? WHERE id = ?", root.id, r.value.id);
  return ok(getReviewComment(sql, r.value.id)!);
}

export function editReviewComment(sql: SqlStorage, id: number, body: string, at: number): Result<ReviewComment> {
  if (!getReviewComment(sql, id)) return refused("not-found", `No review comment ${id}.`);
  const p = commentProblem(body);
  if (p) return p;
  sql.exec("UPDATE collab_review_comment SET body = ?, updated_at = ? WHERE id = ?", body, at, id);
  return ok(getReviewComment(sql, id)!);
}

/** Deletes a line comment; its replies stay (the first of them then heads the thread). */
export function deleteReviewComment(sql: SqlStorage, id: number): Result<null> {
  const c = getReviewComment(sql, id);
  if (!c) return refused("not-found", `No review comment ${id}.`);
  sql.exec("DELETE FROM collab_review_comment WHERE id = ?", id);
  if (c.inReplyTo === null) {
    const next = sql
      .exec<{ id: number }>("SELECT id FROM collab_review_comment WHERE in_reply_to = ? ORDER BY id LIMIT 1", id)
      .toArray()[0];
    if (next) {
      sql.exec(
        "UPDATE collab_review_comment SET in_reply_to = NULL, resolved_by_id = ?, resolved_by_login = ? WHERE id = ?",
        c.resolvedBy?.id ?? null,
        c.resolvedBy?.login ?? null,
        next.id,
      );
      sql.exec("UPDATE collab_review_comment SET in_reply_to = ? WHERE in_reply_to = ?", next.id, id);
    }
  }
  return ok(null);
}

/** Resolves (or unresolves) the thread a comment is in. */
export function resolveThread(sql: SqlStorage, number: number, id: number, actor: Actor, resolved: boolean): Result<ReviewComment> {
  const c = getReviewComment(sql, id);
  if (!c || c.pullNumber !== number || c.pending) return refused("not-found", `No review comment ${id}.`);
  const root = c.inReplyTo ?? c.id;
  sql.exec(
    "UPDATE collab_review_comment SET resolved_by_id = ?, resolved_by_login = ? WHERE id = ?",
    resolved ? actor.id : null,
    resolved ? actor.login : null,
    root,
  );
  return ok(getReviewComment(sql, root)!);
}

// ---- review requests ----

export function requestedReviewers(sql: SqlStorage, number: number): Actor[] | null {
  const issue = pullRow(sql, number);
  if (!issue) return null;
  return sql
    .exec<{ user_id: number; login: string }>(
      "SELECT user_id, login FROM collab_review_request WHERE issue_id = ? ORDER BY login COLLATE NOCASE",
      issue.id,
    )
    .toArray()
    .map((r) => ({ id: r.user_id, login: r.login }));
}

/** Asks people (already checked to have read access) to review; not the pull request's author. */
export function requestReviews(sql: SqlStorage, number: number, people: Actor[], mode: "add" | "remove", at: number): Result<Actor[]> {
  const issue = pullRow(sql, number);
  if (!issue) return refused("not-found", `No pull request #${number}.`);
  for (const p of people) {
    if (mode === "remove") {
      sql.exec("DELETE FROM collab_review_request WHERE issue_id = ? AND user_id = ?", issue.id, p.id);
      continue;
    }
    if (p.id === issue.author_id) return refused("invalid", "Review cannot be requested from pull request author.", "reviewers");
    sql.exec("INSERT OR IGNORE INTO collab_review_request (issue_id, user_id, login) VALUES (?, ?, ?)", issue.id, p.id, p.login);
  }
  const now = requestedReviewers(sql, number)!;
  if (now.length > MAX_REVIEWERS) return refused("invalid", `At most ${MAX_REVIEWERS} reviewers can be requested.`, "reviewers");
  touch(sql, issue.id, at);
  return ok(now);
}

// ---- verdicts: what the list shows and what protected branches ask ----

type Verdict = { issue_id: number; author_login: string; state: ReviewState; commit_id: string; author_writer: number };

/** Each reviewer's latest approval, request for changes or dismissal, per pull request. */
function latestVerdicts(sql: SqlStorage, issueIds: number[]): Verdict[] {
  if (!issueIds.length) return [];
  return sql
    .exec<Verdict>(
      `SELECT r.issue_id, r.author_login, r.state, r.commit_id, r.author_writer FROM collab_review r
       WHERE r.issue_id IN (SELECT value FROM json_each(?1)) AND r.state IN ('APPROVED', 'CHANGES_REQUESTED', 'DISMISSED')
         AND r.id = (SELECT max(id) FROM collab_review x WHERE x.issue_id = r.issue_id AND x.author_id = r.author_id
                     AND x.state IN ('APPROVED', 'CHANGES_REQUESTED', 'DISMISSED'))`,
      JSON.stringify(issueIds),
    )
    .toArray();
}

/** A reviewer lost write access: their approvals no longer count for protected branches. */
export function lostWriteAccess(sql: SqlStorage, userId: number): void {
  sql.exec("UPDATE collab_review SET author_writer = 0 WHERE author_id = ?", userId);
}

/** Logins whose approval stands, given with write access (as GitHub counts them for protection). */
export function approvingReviewers(sql: SqlStorage, number: number, headOid?: string): string[] {
  const issue = pullRow(sql, number);
  if (!issue) return [];
  return latestVerdicts(sql, [issue.id])
    .filter((v) => v.state === "APPROVED" && v.author_writer === 1 && (headOid === undefined || v.commit_id === headOid))
    .map((v) => v.author_login)
    .sort();
}

export function dismissApprovals(sql: SqlStorage, number: number, headOid: string, message: string, at: number): string[] {
  const issue = pullRow(sql, number);
  if (!issue) return [];
  const stale = sql
    .exec<{ id: number; author_login: string }>(
      "SELECT id, author_login FROM collab_review WHERE issue_id = ? AND state = 'APPROVED' AND commit_id != ? ORDER BY id",
      issue.id,
      headOid,
    )
    .toArray();
  for (const r of stale)
    sql.exec(
      "UPDATE collab_review SET state = 'DISMISSED', dismissed_state = 'APPROVED', dismissed_message = ? WHERE id = ?",
      message,
      r.id,
    );
  if (stale.length) touch(sql, issue.id, at);
  return [...new Set(stale.map((r) => r.author_login))].sort();
}

/** The review state of each pull request in `numbers`, by number. */
export function reviewDecisions(sql: SqlStorage, numbers: number[]): Record<number, ReviewDecision> {
  const rows = sql
    .exec<{ id: number; number: number }>(
      "SELECT id, number FROM collab_issue WHERE kind = 'pull' AND number IN (SELECT value FROM json_each(?))",
      JSON.stringify(numbers),
    )
    .toArray();
  const out: Record<number, ReviewDecision> = {};
  const byId = new Map(rows.map((r) => [r.id, r.number]));
  for (const r of rows) out[r.number] = null;
  const verdicts = latestVerdicts(sql, [...byId.keys()]);
  for (const v of verdicts) {
    const n = byId.get(v.issue_id)!;
    if (v.state === "CHANGES_REQUESTED") out[n] = "changes_requested";
    else if (v.state === "APPROVED" && out[n] !== "changes_requested") out[n] = "approved";
  }
  if (rows.length) {
    for (const r of sql
      .exec<{ issue_id: number }>(
        "SELECT DISTINCT issue_id FROM collab_review_request WHERE issue_id IN (SELECT value FROM json_each(?))",
        JSON.stringify([...byId.keys()]),
      )
      .toArray()) {
      const n = byId.get(r.issue_id)!;
      if (out[n] === null) out[n] = "review_required";
    }
  }
  return out;
}
