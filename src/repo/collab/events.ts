// What happened to an issue besides comments: closed, reopened, labeled, unlabeled,
// assigned, unassigned, renamed. Each is a row with its details as JSON, shown in the
// conversation between the comments and served as GitHub's issue events.
import type { Actor, EventKind, IssueEvent, StateReason } from "./types";

export type EventData = Pick<
  IssueEvent,
  "label" | "assignee" | "rename" | "stateReason" | "commitId" | "pull" | "before" | "after" | "base"
>;

export function recordEvent(sql: SqlStorage, issueId: number, kind: EventKind, actor: Actor, at: number, data: EventData = {}): void {
  sql.exec(
    "INSERT INTO collab_event (issue_id, kind, actor_id, actor_login, data, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    issueId,
    kind,
    actor.id,
    actor.login,
    JSON.stringify(data),
    at,
  );
}

type EventRow = { id: number; kind: EventKind; actor_id: number; actor_login: string; data: string; created_at: number };

export function eventsOf(sql: SqlStorage, issueId: number, issueNumber: number): IssueEvent[] {
  return sql
    .exec<EventRow>("SELECT id, kind, actor_id, actor_login, data, created_at FROM collab_event WHERE issue_id = ? ORDER BY id", issueId)
    .toArray()
    .map((r) => ({
      id: r.id,
      issueNumber,
      kind: r.kind,
      actor: { id: r.actor_id, login: r.actor_login },
      createdAt: r.created_at,
      ...(JSON.parse(r.data) as EventData),
    }));
}

export function stateEvent(closing: boolean, reason: StateReason | null): { kind: EventKind; data: EventData } {
  return closing ? { kind: "closed", data: { stateReason: reason ?? "completed" } } : { kind: "reopened", data: {} };
}
