// Comments on an issue, and the conversation: comments and events in order. A comment
// keeps the issue's comment count and bumps its updated time, as on GitHub.
import { touch } from "./issues";
import { issueRow } from "./rows";
import { type Actor, type Comment, type EventKind, type Result, type TimelineItem, ok, refused } from "./types";
import { commentProblem } from "./validate";

type CommentRow = {
  id: number;
  number: number;
  author_id: number;
  author_login: string;
  body: string;
  created_at: number;
  updated_at: number;
};

const SELECT = `SELECT c.id, i.number, c.author_id, c.author_login, c.body, c.created_at, c.updated_at
  FROM collab_comment c JOIN collab_issue i ON i.id = c.issue_id`;

const toComment = (r: CommentRow): Comment => ({
  id: r.id,
  issueNumber: r.number,
  author: { id: r.author_id, login: r.author_login },
  body: r.body,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export function getComment(sql: SqlStorage, id: number): Comment | null {
  const row = sql.exec<CommentRow>(`${SELECT} WHERE c.id = ?`, id).toArray()[0];
  return row ? toComment(row) : null;
}

/** A page of an issue's comments, oldest first; null when there is no such issue. */
export function listComments(
  sql: SqlStorage,
  number: number,
  offset: number,
  limit: number,
  since?: number,
): { items: Comment[]; total: number } | null {
  const issue = issueRow(sql, number);
  if (!issue) return null;
  const after = since ?? 0;
  const total = sql
    .exec<{ n: number }>("SELECT count(*) AS n FROM collab_comment WHERE issue_id = ? AND updated_at >= ?", issue.id, after)
    .one().n;
  const items = sql
    .exec<CommentRow>(`${SELECT} WHERE c.issue_id = ? AND c.updated_at >= ? ORDER BY c.id LIMIT ? OFFSET ?`, issue.id, after, limit, offset)
    .toArray()
    .map(toComment);
  return { items, total };
}

export function addComment(sql: SqlStorage, number: number, author: Actor, body: string, at: number): Result<Comment> {
  const issue = issueRow(sql, number);
  if (!issue) return refused("not-found", `No issue #${number}.`);
  const problem = commentProblem(body);
  if (problem) return problem;
  const { id } = sql
    .exec<{ id: number }>(
      "INSERT INTO collab_comment (issue_id, author_id, author_login, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
      issue.id,
      author.id,
      author.login,
      body,
      at,
      at,
    )
    .one();
  sql.exec("UPDATE collab_issue SET comments = comments + 1 WHERE id = ?", issue.id);
  touch(sql, issue.id, at);
  return ok(getComment(sql, id)!);
}

export function editComment(sql: SqlStorage, id: number, body: string, at: number): Result<Comment> {
  if (!getComment(sql, id)) return refused("not-found", `No comment ${id}.`);
  const problem = commentProblem(body);
  if (problem) return problem;
  sql.exec("UPDATE collab_comment SET body = ?, updated_at = ? WHERE id = ?", body, at, id);
  return ok(getComment(sql, id)!);
}

export function deleteComment(sql: SqlStorage, id: number): Result<null> {
  const row = sql.exec<{ issue_id: number }>("SELECT issue_id FROM collab_comment WHERE id = ?", id).toArray()[0];
  if (!row) return refused("not-found", `No comment ${id}.`);
  sql.exec("DELETE FROM collab_comment WHERE id = ?", id);
  sql.exec("UPDATE collab_issue SET comments = max(0, comments - 1) WHERE id = ?", row.issue_id);
  return ok(null);
}

type TimelineRow = {
  type: "comment" | "event";
  id: number;
  actor_id: number;
  actor_login: string;
  body: string | null;
  kind: EventKind | null;
  data: string | null;
  created_at: number;
  updated_at: number;
};

/**
 * A page of the conversation, comments and events oldest first; null when there is no
 * such issue. Things done in the same moment keep their order: "close with comment"
 * shows the comment, then the close.
 */
export function timeline(sql: SqlStorage, number: number, offset: number, limit: number): { items: TimelineItem[]; total: number } | null {
  const issue = issueRow(sql, number);
  if (!issue) return null;
  const total = sql
    .exec<{ n: number }>(
      "SELECT (SELECT count(*) FROM collab_comment WHERE issue_id = ?1) + (SELECT count(*) FROM collab_event WHERE issue_id = ?1) AS n",
      issue.id,
    )
    .one().n;
  const rows = sql
    .exec<TimelineRow>(
      `SELECT 'comment' AS type, id, author_id AS actor_id, author_login AS actor_login, body, NULL AS kind, NULL AS data, created_at, updated_at, 0 AS ord
         FROM collab_comment WHERE issue_id = ?1
       UNION ALL
       SELECT 'event', id, actor_id, actor_login, NULL, kind, data, created_at, created_at, 1 FROM collab_event WHERE issue_id = ?1
       ORDER BY created_at, ord, id LIMIT ?2 OFFSET ?3`,
      issue.id,
      limit,
      offset,
    )
    .toArray();
  const items = rows.map((r): TimelineItem => {
    const actor = { id: r.actor_id, login: r.actor_login };
    if (r.type === "comment")
      return {
        type: "comment",
        id: r.id,
        issueNumber: number,
        author: actor,
        body: r.body ?? "",
        createdAt: r.created_at,
        updatedAt: r.updated_at,
      };
    return { type: "event", id: r.id, issueNumber: number, kind: r.kind!, actor, createdAt: r.created_at, ...JSON.parse(r.data ?? "{}") };
  });
  return { items, total };
}
