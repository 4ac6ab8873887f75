// Issues: numbered from the repository's one sequence, created, changed (each change
// of title, state, labels or assignees leaves an event), read and listed with GitHub's
// filters.
import { MAX_ASSIGNEES, changeAssignees } from "./assignees";
import { recordEvent, stateEvent } from "./events";
import { changeIssueLabels, ensureLabels } from "./labels";
import { ISSUE_COLUMNS, type IssueRow, issueRow, toIssues } from "./rows";
import { nextNumber } from "./schema";
import {
  type Actor,
  type Issue,
  type IssueChanges,
  type IssueKind,
  type IssuePage,
  type IssueQuery,
  type NewIssue,
  type Result,
  ok,
  refused,
} from "./types";
import { bodyProblem, titleProblem } from "./validate";

export function getIssue(sql: SqlStorage, number: number): Issue | null {
  const row = issueRow(sql, number);
  return row ? toIssues(sql, [row])[0] : null;
}

export function createIssue(sql: SqlStorage, kind: IssueKind, author: Actor, input: NewIssue, at: number): Result<Issue> {
  const problem = titleProblem(input.title) ?? bodyProblem(input.body);
  if (problem) return problem;
  if ((input.assignees?.length ?? 0) > MAX_ASSIGNEES) return refused("invalid", `At most ${MAX_ASSIGNEES} assignees.`, "assignees");
  const labels = ensureLabels(sql, input.labels ?? []);
  if (!labels.ok) return labels;
  const number = nextNumber(sql);
  const { id } = sql
    .exec<{ id: number }>(
      `INSERT INTO collab_issue (number, kind, title, body, author_id, author_login, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      number,
      kind,
      input.title.trim(),
      input.body,
      author.id,
      author.login,
      at,
      at,
    )
    .one();
  // Labels and assignees given at creation are part of it, as on GitHub: events too.
  changeIssueLabels(sql, id, labels.value, "set", author, at);
  changeAssignees(sql, id, input.assignees ?? [], "set", author, at);
  return ok(getIssue(sql, number)!);
}

export function updateIssue(sql: SqlStorage, number: number, actor: Actor, changes: IssueChanges, at: number): Result<Issue> {
  const row = issueRow(sql, number);
  if (!row) return refused("not-found", `No issue #${number}.`);
  const problem =
    (changes.title !== undefined ? titleProblem(changes.title) : null) ?? (changes.body !== undefined ? bodyProblem(changes.body) : null);
  if (problem) return problem;
  if ((changes.assignees?.length ?? 0) > MAX_ASSIGNEES) return refused("invalid", `At most ${MAX_ASSIGNEES} assignees.`, "assignees");
  const labels = changes.labels ? ensureLabels(sql, changes.labels) : null;
  if (labels && !labels.ok) return labels;

  let changed = false;
  const title = changes.title?.trim();
  if (title !== undefined && title !== row.title) {
    sql.exec("UPDATE collab_issue SET title = ? WHERE id = ?", title, row.id);
    recordEvent(sql, row.id, "renamed", actor, at, { rename: { from: row.title, to: title } });
    changed = true;
  }
  if (changes.body !== undefined && changes.body !== row.body) {
    sql.exec("UPDATE collab_issue SET body = ? WHERE id = ?", changes.body, row.id);
    changed = true;
  }
  if (changes.state !== undefined && changes.state !== row.state) {
    const closing = changes.state === "closed";
    const reason = closing ? (changes.stateReason === "not_planned" ? "not_planned" : "completed") : "reopened";
    sql.exec(
      "UPDATE collab_issue SET state = ?, state_reason = ?, closed_at = ?, closed_by_id = ?, closed_by_login = ? WHERE id = ?",
      changes.state,
      reason,
      closing ? at : null,
      closing ? actor.id : null,
      closing ? actor.login : null,
      row.id,
    );
    const ev = stateEvent(closing, reason);
    recordEvent(sql, row.id, ev.kind, actor, at, ev.data);
    changed = true;
  } else if (
    changes.stateReason &&
    row.state === "closed" &&
    changes.stateReason !== "reopened" &&
    changes.stateReason !== row.state_reason
  ) {
    // A closed issue's reason may change (completed <-> not planned) without reopening.
    sql.exec("UPDATE collab_issue SET state_reason = ? WHERE id = ?", changes.stateReason, row.id);
    changed = true;
  }
  if (labels?.ok) changed = changeIssueLabels(sql, row.id, labels.value, "set", actor, at) || changed;
  if (changes.assignees) changed = changeAssignees(sql, row.id, changes.assignees, "set", actor, at) || changed;
  if (changed) touch(sql, row.id, at);
  return ok(getIssue(sql, number)!);
}

export function touch(sql: SqlStorage, issueId: number, at: number): void {
  sql.exec("UPDATE collab_issue SET updated_at = max(updated_at, ?) WHERE id = ?", at, issueId);
}

/** The longest LIKE pattern, in bytes, that SQLite in a Durable Object accepts. */
const LIKE_PATTERN_MAX = 50;
const utf8 = new TextEncoder();

/**
 * `LIKE` pattern for a word anywhere, with the pattern's own characters escaped. A word
 * too long for a pattern is cut to its start, which still finds it (and what else begins so).
 */
function contains(word: string): string {
  let pattern = "%";
  let bytes = 2;
  for (const ch of word) {
    const escaped = ch === "\\" || ch === "%" || ch === "_" ? `\\${ch}` : ch;
    const size = utf8.encode(escaped).byteLength;
    if (bytes + size > LIKE_PATTERN_MAX) break;
    pattern += escaped;
    bytes += size;
  }
  return `${pattern}%`;
}

/** The WHERE clause of a query, without its state condition, and its bindings. */
function conditions(q: IssueQuery): { where: string[]; args: (string | number)[] } {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (q.kind) where.push("i.kind = ?"), args.push(q.kind);
  for (const name of q.labels) {
    where.push(
      "EXISTS (SELECT 1 FROM collab_issue_label il JOIN collab_label l ON l.id = il.label_id WHERE il.issue_id = i.id AND l.name = ? COLLATE NOCASE)",
    );
    args.push(name);
  }
  if (q.noLabel) where.push("NOT EXISTS (SELECT 1 FROM collab_issue_label il WHERE il.issue_id = i.id)");
  if (q.author !== undefined) where.push("i.author_login = ? COLLATE NOCASE"), args.push(q.author);
  if (q.assignee === "*") where.push("EXISTS (SELECT 1 FROM collab_assignee a WHERE a.issue_id = i.id)");
  else if (q.assignee === "none") where.push("NOT EXISTS (SELECT 1 FROM collab_assignee a WHERE a.issue_id = i.id)");
  else if (q.assignee !== undefined) {
    where.push("EXISTS (SELECT 1 FROM collab_assignee a WHERE a.issue_id = i.id AND a.login = ? COLLATE NOCASE)");
    args.push(q.assignee);
  }
  for (const word of q.text) {
    where.push("(i.title LIKE ? ESCAPE '\\' OR i.body LIKE ? ESCAPE '\\')");
    args.push(contains(word), contains(word));
  }
  if (q.since !== undefined) where.push("i.updated_at >= ?"), args.push(q.since);
  return { where, args };
}

const ORDER: Record<IssueQuery["sort"], string> = { created: "i.number", updated: "i.updated_at", comments: "i.comments" };

export function listIssues(sql: SqlStorage, q: IssueQuery): IssuePage {
  const { where, args } = conditions(q);
  const clause = (extra: string[]) => (where.length + extra.length ? `WHERE ${[...where, ...extra].join(" AND ")}` : "");
  const counts = { open: 0, closed: 0 };
  for (const r of sql.exec<{ state: "open" | "closed"; n: number }>(
    `SELECT i.state, count(*) AS n FROM collab_issue i ${clause([])} GROUP BY i.state`,
    ...args,
  ))
    counts[r.state] = r.n;
  const state = q.state === "all" ? [] : ["i.state = ?"];
  const stateArgs = q.state === "all" ? [] : [q.state];
  const dir = q.direction === "asc" ? "ASC" : "DESC";
  const rows = sql
    .exec<IssueRow>(
      `SELECT ${ISSUE_COLUMNS} FROM collab_issue i ${clause(state)} ORDER BY ${ORDER[q.sort]} ${dir}, i.number ${dir} LIMIT ? OFFSET ?`,
      ...args,
      ...stateArgs,
      q.limit,
      q.offset,
    )
    .toArray();
  const total = q.state === "all" ? counts.open + counts.closed : counts[q.state];
  return { items: toIssues(sql, rows), total, ...counts };
}

export function openCount(sql: SqlStorage, kind: IssueKind): number {
  return sql.exec<{ n: number }>("SELECT count(*) AS n FROM collab_issue WHERE kind = ? AND state = 'open'", kind).one().n;
}
