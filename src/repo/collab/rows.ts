// Rows to shapes: an issue row with its labels and assignees, read for a page of
// issues at once (one query each, whatever the page size).
import type { Actor, Issue, IssueKind, IssueState, Label, StateReason } from "./types";

export type IssueRow = {
  id: number;
  number: number;
  kind: IssueKind;
  title: string;
  body: string;
  state: IssueState;
  state_reason: StateReason | null;
  author_id: number;
  author_login: string;
  comments: number;
  created_at: number;
  updated_at: number;
  closed_at: number | null;
  closed_by_id: number | null;
  closed_by_login: string | null;
};

export const ISSUE_COLUMNS =
  "i.id, i.number, i.kind, i.title, i.body, i.state, i.state_reason, i.author_id, i.author_login, i.comments, i.created_at, i.updated_at, i.closed_at, i.closed_by_id, i.closed_by_login";

export type LabelRow = { id: number; name: string; color: string; description: string };

export const toLabel = (r: LabelRow): Label => ({ id: r.id, name: r.name, color: r.color, description: r.description });

/** The labels and assignees of each issue in `ids`. */
function attachments(sql: SqlStorage, ids: number[]) {
  const labels = new Map<number, Label[]>();
  const assignees = new Map<number, Actor[]>();
  if (!ids.length) return { labels, assignees };
  const list = JSON.stringify(ids);
  for (const r of sql.exec<LabelRow & { issue_id: number }>(
    `SELECT il.issue_id, l.id, l.name, l.color, l.description FROM collab_issue_label il
     JOIN collab_label l ON l.id = il.label_id
     WHERE il.issue_id IN (SELECT value FROM json_each(?)) ORDER BY l.name COLLATE NOCASE`,
    list,
  )) {
    const at = labels.get(r.issue_id) ?? [];
    at.push(toLabel(r));
    labels.set(r.issue_id, at);
  }
  for (const r of sql.exec<{ issue_id: number; user_id: number; login: string }>(
    `SELECT issue_id, user_id, login FROM collab_assignee
     WHERE issue_id IN (SELECT value FROM json_each(?)) ORDER BY login COLLATE NOCASE`,
    list,
  )) {
    const at = assignees.get(r.issue_id) ?? [];
    at.push({ id: r.user_id, login: r.login });
    assignees.set(r.issue_id, at);
  }
  return { labels, assignees };
}

export function toIssues(sql: SqlStorage, rows: IssueRow[]): Issue[] {
  const { labels, assignees } = attachments(
    sql,
    rows.map((r) => r.id),
  );
  return rows.map((r) => ({
    id: r.id,
    number: r.number,
    kind: r.kind,
    title: r.title,
    body: r.body,
    state: r.state,
    stateReason: r.state_reason,
    author: { id: r.author_id, login: r.author_login },
    labels: labels.get(r.id) ?? [],
    assignees: assignees.get(r.id) ?? [],
    comments: r.comments,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    closedAt: r.closed_at,
    closedBy: r.closed_by_id === null ? null : { id: r.closed_by_id, login: r.closed_by_login ?? "" },
  }));
}

export function issueRow(sql: SqlStorage, number: number): IssueRow | null {
  return sql.exec<IssueRow>(`SELECT ${ISSUE_COLUMNS} FROM collab_issue i WHERE i.number = ?`, number).toArray()[0] ?? null;
}
