// The repository's collaboration store: issues now, pull requests next (they share the
// number sequence and the issue row; see ./schema.ts for where the data lives and why).
// Every change runs in one SQLite transaction and answers with a tagged result; a
// refused change is rolled back whole, so bad input changes nothing.
import { MAX_ASSIGNEES, changeAssignees } from "./assignees";
import { addComment, deleteComment, editComment, getComment, listComments, timeline } from "./comments";
import { eventsOf } from "./events";
import { createIssue, getIssue, listIssues, openCount, updateIssue } from "./issues";
import { changeIssueLabels, createLabel, deleteLabel, ensureLabels, findLabel, labelsOfIssue, listLabels, updateLabel } from "./labels";
import { issueRow } from "./rows";
import { ensureSchema, lastNumber } from "./schema";
import type {
  Actor,
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
  Refused,
  Result,
} from "./types";
import { ok, refused } from "./types";

export type * from "./types";

/** Carries a refusal out of a transaction, which rolls it back. */
class Rollback extends Error {
  constructor(readonly refusal: Refused) {
    super(refusal.message);
  }
}

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
}
