// Commit statuses, as GitHub's statuses API keeps them: one row per report, never
// changed; the latest row of a context on a commit is that context's state. Keyed by
// the full commit id, so a status follows the commit whatever branch names it.
import type { Actor } from "./types";

export type StatusState = "pending" | "success" | "failure" | "error";
export const STATUS_STATES: readonly StatusState[] = ["pending", "success", "failure", "error"];

export interface CommitStatus {
  id: number;
  sha: string;
  state: StatusState;
  context: string;
  description: string | null;
  targetUrl: string | null;
  creator: Actor;
  createdAt: number;
}

export interface NewStatus {
  state: StatusState;
  context: string;
  description: string | null;
  targetUrl: string | null;
}

/** GitHub keeps at most 1000 statuses per commit and context. */
export const MAX_STATUSES_PER_CONTEXT = 1000;

type Row = {
  id: number;
  sha: string;
  state: StatusState;
  context: string;
  description: string | null;
  target_url: string | null;
  creator_id: number;
  creator_login: string;
  created_at: number;
};

const statusOf = (r: Row): CommitStatus => ({
  id: r.id,
  sha: r.sha,
  state: r.state,
  context: r.context,
  description: r.description,
  targetUrl: r.target_url,
  creator: { id: r.creator_id, login: r.creator_login },
  createdAt: r.created_at,
});

export function contextCount(sql: SqlStorage, sha: string, context: string): number {
  return sql.exec<{ n: number }>("SELECT count(*) AS n FROM collab_status WHERE sha = ? AND context = ?", sha, context).one().n;
}

export function addStatus(sql: SqlStorage, sha: string, creator: Actor, s: NewStatus, at: number): CommitStatus {
  const row = sql
    .exec<Row>(
      `INSERT INTO collab_status (sha, state, context, description, target_url, creator_id, creator_login, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      sha,
      s.state,
      s.context,
      s.description,
      s.targetUrl,
      creator.id,
      creator.login,
      at,
    )
    .one();
  return statusOf(row);
}

/** A commit's statuses, newest first. */
export function listStatuses(sql: SqlStorage, sha: string, offset: number, limit: number): { items: CommitStatus[]; total: number } {
  const total = sql.exec<{ n: number }>("SELECT count(*) AS n FROM collab_status WHERE sha = ?", sha).one().n;
  const items = sql
    .exec<Row>("SELECT * FROM collab_status WHERE sha = ? ORDER BY id DESC LIMIT ? OFFSET ?", sha, limit, offset)
    .toArray()
    .map(statusOf);
  return { items, total };
}

/** The latest status of each context on a commit, by context name. */
export function latestStatuses(sql: SqlStorage, sha: string): CommitStatus[] {
  return sql
    .exec<Row>(
      `SELECT s.* FROM collab_status s
       JOIN (SELECT context, max(id) AS id FROM collab_status WHERE sha = ? GROUP BY context) l ON l.id = s.id
       ORDER BY s.context`,
      sha,
    )
    .toArray()
    .map(statusOf);
}

/** GitHub's combined state: failure if any failed or errored, pending if any is pending or none exist, else success. */
export function combinedState(latest: { state: StatusState }[]): StatusState {
  if (latest.some((s) => s.state === "failure" || s.state === "error")) return "failure";
  if (!latest.length || latest.some((s) => s.state === "pending")) return "pending";
  return "success";
}
