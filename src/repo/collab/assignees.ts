// Who is assigned to an issue. The surfaces check that each person has access to the
// repository before asking; here the set changes and each change is an event.
import { recordEvent } from "./events";
import type { Actor } from "./types";

/** GitHub's cap on assignees per issue. */
export const MAX_ASSIGNEES = 10;

export function assigneesOf(sql: SqlStorage, issueId: number): Actor[] {
  return sql
    .exec<{ user_id: number; login: string }>("SELECT user_id, login FROM collab_assignee WHERE issue_id = ? ORDER BY login", issueId)
    .toArray()
    .map((r) => ({ id: r.user_id, login: r.login }));
}

/** Makes the issue's assignees exactly `wanted` ("set"), adds them, or removes them. */
export function changeAssignees(
  sql: SqlStorage,
  issueId: number,
  wanted: Actor[],
  mode: "set" | "add" | "remove",
  actor: Actor,
  at: number,
): boolean {
  const current = assigneesOf(sql, issueId);
  const has = new Set(current.map((a) => a.id));
  const want = new Set(wanted.map((a) => a.id));
  const add = mode === "remove" ? [] : [...new Map(wanted.filter((a) => !has.has(a.id)).map((a) => [a.id, a])).values()];
  const drop = mode === "set" ? current.filter((a) => !want.has(a.id)) : mode === "remove" ? current.filter((a) => want.has(a.id)) : [];
  for (const a of add) {
    sql.exec("INSERT INTO collab_assignee (issue_id, user_id, login) VALUES (?, ?, ?)", issueId, a.id, a.login);
    recordEvent(sql, issueId, "assigned", actor, at, { assignee: a });
  }
  for (const a of drop) {
    sql.exec("DELETE FROM collab_assignee WHERE issue_id = ? AND user_id = ?", issueId, a.id);
    recordEvent(sql, issueId, "unassigned", actor, at, { assignee: a });
  }
  return add.length + drop.length > 0;
}
