// The repository's collaboration store: issues now, pull requests next (they share the
// number sequence and the issue row; see ./schema.ts for where the data lives and why).
// Every change runs in one SQLite transaction and answers with a tagged result; a
// refused change is rolled back whole, so bad input changes nothing.
import { MAX_ASSIGNEES, changeAssignees } from "./assignees";
import { addComment, deleteComment, editComment, getComment, listComments, timeline } from "./comments";
import { eventsOf } from "./events";
import { createIssue, getIssue, listIssues, openCount, updateIssue } from "./issues";
import { changeIssueLabels, createLabel, deleteLabel, ensureLabels, findLabel, labelsOfIssue, listLabels, updateLabel } from "./labels";
import {
  baseMoved,
  closeByPull,
  createPull,
  getPull,
  headMoved,
  listPulls,
  markMerged,
  openPullsOn,
  openPullsFrom,
  setMergeable,
  updatePull,
} from "./pulls";
import {
  type LineAnchor,
  type NewReview,
  type Review,
  type ReviewComment,
  type ReviewDecision,
  type ReviewEvent,
  type ReviewActor,
  addLineComment,
  approvingReviewers,
  createReview,
  deletePendingReview,
  deleteReviewComment,
  dismissApprovals,
  dismissReview,
  editReviewComment,
  getReview,
  getReviewComment,
  listReviewComments,
  listReviews,
  lostWriteAccess,
  replyTo,
  requestReviews,
  requestedReviewers,
  resolveThread,
  reviewDecisions,
  submitReview,
} from "./reviews";
import { issueRow } from "./rows";
import {
  type CommitStatus,
  type NewStatus,
  addStatus,
  combinedState,
  contextCount,
  latestStatuses,
  listStatuses,
  MAX_STATUSES_PER_CONTEXT,
} from "./statuses";
import { deleteRule, getRule, listRules, putRule } from "./branch-rules";
import { ensureSchema, lastNumber } from "./schema";
import type {
  Actor,
  BranchRule,
  Comment,
  Issue,
  IssueChanges,
  IssueEvent,
  IssueKind,
  IssuePage,
  IssueQuery,
  Label,
  LabelFields,
  NewIssue,
  NewPull,
  Pull,
  PullChanges,
  PullPage,
  PullQuery,
  Refused,
  Result,
} from "./types";
import { ok, refused } from "./types";

export type * from "./types";
export type { CommitStatus, NewStatus, StatusState } from "./statuses";
export { STATUS_STATES, combinedState } from "./statuses";
export type { LineAnchor, NewReview, Review, ReviewActor, ReviewComment, ReviewDecision, ReviewEvent, ReviewState, Side } from "./reviews";

/** Carries a refusal out of a transaction, which rolls it back. */
class Rollback extends Error {
  constructor(readonly refusal: Refused) {
    super(refusal.message);
  }
}

/** An issue or pull request as the search mirror copies it. */
export type IssueSearchRow = {
  number: number;
  kind: IssueKind;
  title: string;
  body: string;
  state: string;
  author_id: number;
  author_login: string;
  created_at: number;
  updated_at: number;
};

export class Collab {
  private ready = false;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The tables are made on first use, so a repository nobody files issues in has none. */
  private get sql(): SqlStorage {
    if (!this.ready) {
      ensureSchema(this.storage.sql);
      this.ready = true;
    }
    return this.storage.sql;
  }

  private change<T>(fn: (sql: SqlStorage, at: number) => Result<T>): Result<T> {
    const sql = this.sql;
    const at = this.clock();
    try {
      return this.storage.transactionSync(() => {
        const r = fn(sql, at);
        if (!r.ok) throw new Rollback(r);
        return r;
      });
    } catch (e) {
      if (e instanceof Rollback) return e.refusal;
      throw e;
    }
  }

  // ---- issues ----

  createIssue(kind: IssueKind, author: Actor, input: NewIssue): Result<Issue> {
    return this.change((sql, at) => createIssue(sql, kind, author, input, at));
  }

  issue(number: number): Issue | null {
    return getIssue(this.sql, number);
  }

  updateIssue(number: number, actor: Actor, changes: IssueChanges): Result<Issue> {
    return this.change((sql, at) => updateIssue(sql, number, actor, changes, at));
  }

  listIssues(query: IssueQuery): IssuePage {
    return listIssues(this.sql, query);
  }

  /**
   * Issues and pull requests changed after the cursor (updated_at, then number), oldest
   * change first: what the site-wide search mirror (../search/issue-mirror.ts) sends on.
   */
  changedSince(at: number, number: number, limit: number): IssueSearchRow[] {
    return this.sql
      .exec<IssueSearchRow>(
        `SELECT number, kind, title, body, state, author_id, author_login, created_at, updated_at FROM collab_issue
         WHERE updated_at > ? OR (updated_at = ? AND number > ?) ORDER BY updated_at, number LIMIT ?`,
        at,
        at,
        number,
        limit,
      )
      .toArray();
  }

  openCount(kind: IssueKind): number {
    return openCount(this.sql, kind);
  }

  /** The highest number given out, which bounds the `#N` references worth linking. */
  lastNumber(): number {
    return lastNumber(this.sql);
  }

  // ---- comments and the conversation ----

  comments(number: number, offset: number, limit: number, since?: number) {
    return listComments(this.sql, number, offset, limit, since);
  }

  comment(id: number): Comment | null {
    return getComment(this.sql, id);
  }

  addComment(number: number, author: Actor, body: string): Result<Comment> {
    return this.change((sql, at) => addComment(sql, number, author, body, at));
  }

  editComment(id: number, body: string): Result<Comment> {
    return this.change((sql, at) => editComment(sql, id, body, at));
  }

  deleteComment(id: number): Result<null> {
    return this.change((sql) => deleteComment(sql, id));
  }

  timeline(number: number, offset: number, limit: number) {
    return timeline(this.sql, number, offset, limit);
  }

  events(number: number): IssueEvent[] | null {
    const row = issueRow(this.sql, number);
    return row ? eventsOf(this.sql, row.id, number) : null;
  }

  // ---- labels ----

  labels(): Label[] {
    return listLabels(this.sql);
  }

  label(name: string): Label | null {
    return findLabel(this.sql, name);
  }

  createLabel(fields: LabelFields & { name: string }): Result<Label> {
    return this.change((sql) => createLabel(sql, fields));
  }

  updateLabel(name: string, fields: LabelFields): Result<Label> {
    return this.change((sql) => updateLabel(sql, name, fields));
  }

  deleteLabel(name: string): Result<null> {
    return this.change((sql) => deleteLabel(sql, name));
  }

  /** Adds labels to an issue (creating missing ones), or takes them off; answers the issue's labels. */
  changeLabels(number: number, actor: Actor, names: string[], mode: "add" | "remove"): Result<Label[]> {
    return this.change((sql, at) => {
      const row = issueRow(sql, number);
      if (!row) return refused("not-found", `No issue #${number}.`);
      let labels: Label[];
      if (mode === "add") {
        const made = ensureLabels(sql, names);
        if (!made.ok) return made;
        labels = made.value;
      } else {
        labels = names.map((n) => findLabel(sql, n)).filter((l): l is Label => l !== null);
        if (labels.length < names.length) return refused("not-found", "Label does not exist");
      }
      if (changeIssueLabels(sql, row.id, labels, mode, actor, at))
        sql.exec("UPDATE collab_issue SET updated_at = ? WHERE id = ?", at, row.id);
      return ok(labelsOfIssue(sql, row.id));
    });
  }

  /** Adds or removes assignees (already checked to have access); answers the issue. */
  changeAssignees(number: number, actor: Actor, people: Actor[], mode: "add" | "remove"): Result<Issue> {
    return this.change((sql, at) => {
      const row = issueRow(sql, number);
      if (!row) return refused("not-found", `No issue #${number}.`);
      if (changeAssignees(sql, row.id, people, mode, actor, at))
        sql.exec("UPDATE collab_issue SET updated_at = ? WHERE id = ?", at, row.id);
      const issue = getIssue(sql, number)!;
      return issue.assignees.length > MAX_ASSIGNEES ? refused("invalid", `At most ${MAX_ASSIGNEES} assignees.`, "assignees") : ok(issue);
    });
  }

  // ---- pull requests (./pulls.ts) ----

  createPull(author: Actor, input: NewPull): Result<Pull> {
    return this.change((sql, at) => createPull(sql, author, input, at));
  }

  pull(number: number): Pull | null {
    return getPull(this.sql, number);
  }

  listPulls(query: PullQuery): PullPage {
    return listPulls(this.sql, query);
  }

  updatePull(number: number, actor: Actor, changes: PullChanges): Result<Pull> {
    return this.change((sql, at) => updatePull(sql, number, actor, changes, at));
  }

  /**
   * Marks a pull request merged as `sha` and closes the issues it names (`Fixes #N`), in
   * one transaction; answers the pull request and the issues it closed.
   */
  markMerged(number: number, actor: Actor, sha: string, closes: number[], baseSha: string): Result<{ pull: Pull; closed: number[] }> {
    return this.change((sql, at) => {
      const r = markMerged(sql, number, actor, sha, baseSha, at);
      if (!r.ok) return r;
      const closed = closes.filter((n) => n !== number && closeByPull(sql, n, actor, number, sha, at));
      return ok({ pull: r.value, closed });
    });
  }

  /** After a push: a pull request's head or base branch moved. */
  branchMoved(number: number, actor: Actor, which: "head" | "base", sha: string, forced = false): void {
    this.change((sql, at) => {
      if (which === "head") headMoved(sql, number, actor, sha, forced, at);
      else baseMoved(sql, number, sha);
      return ok(null);
    });
  }

  setMergeable(number: number, key: string, mergeable: boolean | null, conflicts: string[]): void {
    setMergeable(this.sql, number, key, mergeable, conflicts);
  }

  // ---- code review (./reviews.ts; its header names what protected branches call) ----

  createReview(number: number, author: ReviewActor, input: NewReview): Result<Review> {
    return this.change((sql, at) => createReview(sql, number, author, input, at));
  }

  review(number: number, id: number): Review | null {
    return getReview(this.sql, number, id);
  }

  reviews(number: number, viewerId: number | null): Review[] | null {
    return listReviews(this.sql, number, viewerId);
  }

  submitReview(number: number, id: number, actor: ReviewActor, event: ReviewEvent, body?: string): Result<Review> {
    return this.change((sql, at) => submitReview(sql, number, id, actor, event, body, at));
  }

  deletePendingReview(number: number, id: number, actor: Actor): Result<Review> {
    return this.change((sql) => deletePendingReview(sql, number, id, actor));
  }

  dismissReview(number: number, id: number, message: string): Result<Review> {
    return this.change((sql, at) => dismissReview(sql, number, id, message, at));
  }

  reviewComments(number: number, viewerId: number | null, reviewId?: number): ReviewComment[] | null {
    return listReviewComments(this.sql, number, viewerId, reviewId);
  }

  reviewComment(id: number): ReviewComment | null {
    return getReviewComment(this.sql, id);
  }

  addLineComment(number: number, author: Actor, comment: LineAnchor & { body: string }, pending: boolean): Result<ReviewComment> {
    return this.change((sql, at) => addLineComment(sql, number, author, comment, pending, at));
  }

  replyToReviewComment(number: number, author: Actor, inReplyTo: number, body: string, pending = false): Result<ReviewComment> {
    return this.change((sql, at) => replyTo(sql, number, author, inReplyTo, body, pending, at));
  }

  editReviewComment(id: number, body: string): Result<ReviewComment> {
    return this.change((sql, at) => editReviewComment(sql, id, body, at));
  }

  deleteReviewComment(id: number): Result<null> {
    return this.change((sql) => deleteReviewComment(sql, id));
  }

  resolveThread(number: number, id: number, actor: Actor, resolved: boolean): Result<ReviewComment> {
    return this.change((sql) => resolveThread(sql, number, id, actor, resolved));
  }

  requestedReviewers(number: number): Actor[] | null {
    return requestedReviewers(this.sql, number);
  }

  requestReviews(number: number, people: Actor[], mode: "add" | "remove"): Result<Actor[]> {
    return this.change((sql, at) => requestReviews(sql, number, people, mode, at));
  }

  reviewDecisions(numbers: number[]): Record<number, ReviewDecision> {
    return reviewDecisions(this.sql, numbers);
  }

  /** A reviewer lost write access (removed, or made a reader): their approvals stop counting. */
  lostWriteAccess(userId: number): void {
    if (this.hasPulls()) lostWriteAccess(this.sql, userId);
  }

  /** Logins whose latest verdict is a standing approval (with `headOid`: given on that commit). */
  approvingReviewers(number: number, headOid?: string): string[] {
    return approvingReviewers(this.sql, number, headOid);
  }

  /** Dismisses approvals given on other commits than `headOid`; answers the logins dismissed. */
  dismissApprovals(number: number, headOid: string, message = "A new push dismissed this approval."): string[] {
    const r = this.change((sql, at) => ok(dismissApprovals(sql, number, headOid, message, at)));
    return r.ok ? r.value : [];
  }

  /** Whether any pull request was ever opened here, without making the tables to find out. */
  hasPulls(): boolean {
    if (this.ready) return this.sql.exec("SELECT 1 FROM collab_pull LIMIT 1").toArray().length > 0;
    return (
      this.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'collab_pull'").toArray().length > 0 &&
      this.sql.exec("SELECT 1 FROM collab_pull LIMIT 1").toArray().length > 0
    );
  }

  openPullsOn(branches: string[]): Pull[] {
    return this.hasPulls() ? openPullsOn(this.sql, branches) : [];
  }

  /** Open pull requests from `branch` of the fork in Durable Object `repo`. */
  openPullsFrom(repo: string, branch: string): Pull[] {
    return this.hasPulls() ? openPullsFrom(this.sql, repo, branch) : [];
  }

  /** Whether a table exists, without making the tables to find out (pushes ask on every ref). */
  private has(table: string): boolean {
    return this.ready || this.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", table).toArray().length > 0;
  }

  // ---- commit statuses (./statuses.ts) ----

  addStatus(sha: string, creator: Actor, status: NewStatus): Result<CommitStatus> {
    return this.change((sql, at) => {
      if (contextCount(sql, sha, status.context) >= MAX_STATUSES_PER_CONTEXT)
        return refused("invalid", `This SHA and context has reached the maximum number of statuses.`, "context");
      return ok(addStatus(sql, sha, creator, status, at));
    });
  }

  statuses(sha: string, offset: number, limit: number): { items: CommitStatus[]; total: number } {
    return this.has("collab_status") ? listStatuses(this.sql, sha, offset, limit) : { items: [], total: 0 };
  }

  /** The latest status of each context on `sha`, and GitHub's combined state of them. */
  combinedStatus(sha: string): { state: CommitStatus["state"]; statuses: CommitStatus[] } {
    const latest = this.has("collab_status") ? latestStatuses(this.sql, sha) : [];
    return { state: combinedState(latest), statuses: latest };
  }

  // ---- protected-branch rules (./branch-rules.ts) ----

  branchRules(): BranchRule[] {
    return this.has("collab_branch_rule") ? listRules(this.sql) : [];
  }

  branchRule(pattern: string): BranchRule | null {
    return this.has("collab_branch_rule") ? getRule(this.sql, pattern) : null;
  }

  putBranchRule(rule: BranchRule): BranchRule {
    const r = this.change((sql, at) => ok(putRule(sql, rule, at)));
    return r.ok ? r.value : rule;
  }

  deleteBranchRule(pattern: string): boolean {
    return this.has("collab_branch_rule") && deleteRule(this.sql, pattern);
  }
}
