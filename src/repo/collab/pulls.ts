// Pull requests: an issue row of kind "pull" (so numbers, titles, comments, labels and
// the issues list are shared with issues, as on GitHub) and a `collab_pull` row beside it
// with the branches, the head as last seen, the merge, and the cached mergeability. The
// git side (which commits exist, whether they merge) is decided by the caller, the
// repository object, before and after these calls.
import { recordEvent } from "./events";
import { createIssue, getIssue, touch, updateIssue } from "./issues";
import { ISSUE_COLUMNS, type IssueRow, issueRow, toIssues } from "./rows";
import {
  type Actor,
  type HeadRepo,
  type NewPull,
  type Pull,
  type PullChanges,
  type PullPage,
  type PullQuery,
  type Result,
  ok,
  refused,
} from "./types";

type PullRow = {
  issue_id: number;
  base_ref: string;
  head_ref: string;
  head_sha: string;
  base_sha: string;
  draft: number;
  merged: number;
  merged_at: number | null;
  merged_by_id: number | null;
  merged_by_login: string | null;
  merge_commit_sha: string | null;
  mergeable: number | null;
  mergeable_key: string | null;
  conflicts: string;
  head_repo: string | null;
};

const PULL_COLUMNS = `p.issue_id, p.base_ref, p.head_ref, p.head_sha, p.base_sha, p.draft, p.merged, p.merged_at, p.merged_by_id, p.merged_by_login, p.merge_commit_sha, p.mergeable, p.mergeable_key, p.conflicts,
  (SELECT json_object('repo', f.repo, 'id', f.repo_id, 'fullName', f.full_name, 'branch', f.branch) FROM collab_pull_fork f WHERE f.issue_id = p.issue_id) AS head_repo`;

function toPulls(sql: SqlStorage, rows: (IssueRow & PullRow)[]): Pull[] {
  const issues = toIssues(sql, rows);
  return rows.map((r, i) => ({
    issue: issues[i],
    base: r.base_ref,
    head: r.head_ref,
    headSha: r.head_sha,
    baseSha: r.base_sha,
    draft: r.draft !== 0,
    merged: r.merged !== 0,
    mergedAt: r.merged_at,
    mergedBy: r.merged_by_id === null ? null : { id: r.merged_by_id, login: r.merged_by_login ?? "" },
    mergeCommitSha: r.merge_commit_sha,
    mergeable: r.mergeable === null ? null : r.mergeable !== 0,
    mergeableKey: r.mergeable_key,
    conflicts: JSON.parse(r.conflicts) as string[],
    ...(r.head_repo ? { headRepo: JSON.parse(r.head_repo) as HeadRepo } : {}),
  }));
}

const SELECT = `SELECT ${ISSUE_COLUMNS}, ${PULL_COLUMNS} FROM collab_issue i JOIN collab_pull p ON p.issue_id = i.id`;

export function getPull(sql: SqlStorage, number: number): Pull | null {
  const rows = sql.exec<IssueRow & PullRow>(`${SELECT} WHERE i.number = ?`, number).toArray();
  return rows.length ? toPulls(sql, rows)[0] : null;
}

/** The open pull request from `head` into `base`, if there is one. */
function openFor(sql: SqlStorage, base: string, head: string, except = 0): number | null {
  return (
    sql
      .exec<{ number: number }>(
        `SELECT i.number FROM collab_issue i JOIN collab_pull p ON p.issue_id = i.id
         WHERE i.state = 'open' AND p.base_ref = ? AND p.head_ref = ? AND i.number != ?`,
        base,
        head,
        except,
      )
      .toArray()[0]?.number ?? null
  );
}

export function createPull(sql: SqlStorage, author: Actor, input: NewPull, at: number): Result<Pull> {
  if (input.base === input.head) return refused("invalid", `The head and base branches are the same: ${input.head}`, "head");
  const existing = openFor(sql, input.base, input.head);
  if (existing !== null) return refused("invalid", `A pull request already exists for ${input.head} (#${existing}).`, "base");
  const made = createIssue(sql, "pull", author, { title: input.title, body: input.body }, at);
  if (!made.ok) return made;
  sql.exec(
    "INSERT INTO collab_pull (issue_id, base_ref, head_ref, head_sha, base_sha) VALUES (?, ?, ?, ?, ?)",
    made.value.id,
    input.base,
    input.head,
    input.headSha,
    input.baseSha,
  );
  const fork = input.headRepo;
  if (fork)
    sql.exec(
      "INSERT INTO collab_pull_fork (issue_id, repo, repo_id, full_name, branch) VALUES (?, ?, ?, ?, ?)",
      made.value.id,
      fork.repo,
      fork.id,
      fork.fullName,
      fork.branch,
    );
  return ok(getPull(sql, made.value.number)!);
}

export function listPulls(sql: SqlStorage, q: PullQuery): PullPage {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (q.state !== "all") where.push("i.state = ?"), args.push(q.state);
  if (q.base !== undefined) where.push("p.base_ref = ?"), args.push(q.base);
  if (q.head !== undefined) where.push("p.head_ref = ?"), args.push(q.head);
  const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const total = sql
    .exec<{ n: number }>(`SELECT count(*) AS n FROM collab_issue i JOIN collab_pull p ON p.issue_id = i.id ${clause}`, ...args)
    .one().n;
  const dir = q.direction === "asc" ? "ASC" : "DESC";
  const order = q.sort === "updated" ? "i.updated_at" : "i.number";
  const rows = sql
    .exec<IssueRow & PullRow>(`${SELECT} ${clause} ORDER BY ${order} ${dir}, i.number ${dir} LIMIT ? OFFSET ?`, ...args, q.limit, q.offset)
    .toArray();
  return { items: toPulls(sql, rows), total };
}

export function updatePull(sql: SqlStorage, number: number, actor: Actor, changes: PullChanges, at: number): Result<Pull> {
  const pull = getPull(sql, number);
  if (!pull) return refused("not-found", `No pull request #${number}.`);
  if (pull.merged && changes.state === "open") return refused("invalid", "Cannot reopen a merged pull request.", "state");
  if (pull.merged && changes.base && changes.base.name !== pull.base)
    return refused("invalid", "Cannot change the base branch of a merged pull request.", "base");
  const base = changes.base?.name ?? pull.base;
  const reopening = changes.state === "open" && pull.issue.state === "closed";
  if ((reopening || (pull.issue.state === "open" && base !== pull.base)) && openFor(sql, base, pull.head, number) !== null)
    return refused("invalid", `A pull request already exists for ${pull.head}.`, "base");
  if (changes.base && changes.base.name === pull.head) return refused("invalid", "The base branch cannot be the head branch.", "base");
  const r = updateIssue(sql, number, actor, { title: changes.title, body: changes.body, state: changes.state }, at);
  if (!r.ok) return r;
  if (changes.base && changes.base.name !== pull.base) {
    sql.exec(
      "UPDATE collab_pull SET base_ref = ?, base_sha = ?, mergeable = NULL, mergeable_key = NULL WHERE issue_id = ?",
      changes.base.name,
      changes.base.sha,
      pull.issue.id,
    );
    recordEvent(sql, pull.issue.id, "base_ref_changed", actor, at, { base: { from: pull.base, to: changes.base.name } });
    touch(sql, pull.issue.id, at);
  }
  return ok(getPull(sql, number)!);
}

/** The pull request is merged as `sha`: it closes, with the `merged` and `closed` events GitHub records. */
export function markMerged(sql: SqlStorage, number: number, actor: Actor, sha: string, baseSha: string, at: number): Result<Pull> {
  const pull = getPull(sql, number);
  if (!pull) return refused("not-found", `No pull request #${number}.`);
  if (pull.merged) return ok(pull);
  sql.exec(
    `UPDATE collab_pull SET merged = 1, merged_at = ?, merged_by_id = ?, merged_by_login = ?, merge_commit_sha = ?,
     base_sha = ?, mergeable = NULL, mergeable_key = NULL WHERE issue_id = ?`,
    at,
    actor.id,
    actor.login,
    sha,
    baseSha,
    pull.issue.id,
  );
  recordEvent(sql, pull.issue.id, "merged", actor, at, { commitId: sha });
  if (pull.issue.state === "open") {
    sql.exec(
      "UPDATE collab_issue SET state = 'closed', state_reason = NULL, closed_at = ?, closed_by_id = ?, closed_by_login = ? WHERE id = ?",
      at,
      actor.id,
      actor.login,
      pull.issue.id,
    );
    recordEvent(sql, pull.issue.id, "closed", actor, at, { commitId: sha });
  }
  touch(sql, pull.issue.id, at);
  return ok(getPull(sql, number)!);
}

/** The head branch moved to `sha`; `forced` when the new head does not contain the old one. */
export function headMoved(sql: SqlStorage, number: number, actor: Actor, sha: string, forced: boolean, at: number): void {
  const pull = getPull(sql, number);
  if (!pull || pull.headSha === sha) return;
  sql.exec("UPDATE collab_pull SET head_sha = ?, mergeable = NULL, mergeable_key = NULL WHERE issue_id = ?", sha, pull.issue.id);
  recordEvent(sql, pull.issue.id, forced ? "head_ref_force_pushed" : "head_ref_pushed", actor, at, { before: pull.headSha, after: sha });
  touch(sql, pull.issue.id, at);
}

/** The base branch moved: what was known of mergeability is no longer. */
export function baseMoved(sql: SqlStorage, number: number, sha: string): void {
  const pull = getPull(sql, number);
  if (!pull || pull.baseSha === sha) return;
  sql.exec("UPDATE collab_pull SET base_sha = ?, mergeable = NULL, mergeable_key = NULL WHERE issue_id = ?", sha, pull.issue.id);
}

export function setMergeable(sql: SqlStorage, number: number, key: string, mergeable: boolean | null, conflicts: string[]): void {
  sql.exec(
    `UPDATE collab_pull SET mergeable = ?, mergeable_key = ?, conflicts = ?
     WHERE issue_id = (SELECT id FROM collab_issue WHERE number = ?)`,
    mergeable === null ? null : mergeable ? 1 : 0,
    mergeable === null ? null : key,
    JSON.stringify(conflicts),
    number,
  );
}

/** Open pull requests whose head is `branch` of the fork in Durable Object `repo`. */
export function openPullsFrom(sql: SqlStorage, repo: string, branch: string): Pull[] {
  const rows = sql
    .exec<IssueRow & PullRow>(
      `${SELECT} JOIN collab_pull_fork f ON f.issue_id = p.issue_id WHERE i.state = 'open' AND f.repo = ? AND f.branch = ? ORDER BY i.number`,
      repo,
      branch,
    )
    .toArray();
  return toPulls(sql, rows);
}

/** Open pull requests whose base or head is one of `branches`. */
export function openPullsOn(sql: SqlStorage, branches: string[]): Pull[] {
  if (!branches.length) return [];
  const list = JSON.stringify(branches);
  const rows = sql
    .exec<IssueRow & PullRow>(
      `${SELECT} WHERE i.state = 'open' AND (p.base_ref IN (SELECT value FROM json_each(?)) OR p.head_ref IN (SELECT value FROM json_each(?)))
       ORDER BY i.number`,
      list,
      list,
    )
    .toArray();
  return toPulls(sql, rows);
}

/**
 * Closes an issue that a merged pull request names with `Fixes #N` (completed), with a
 * `closed` event that names the pull request and the merge commit. Pull requests and
 * closed issues are left alone, as GitHub leaves them.
 */
export function closeByPull(sql: SqlStorage, number: number, actor: Actor, pull: number, sha: string, at: number): boolean {
  const row = issueRow(sql, number);
  if (row?.kind !== "issue" || row.state !== "open") return false;
  sql.exec(
    "UPDATE collab_issue SET state = 'closed', state_reason = 'completed', closed_at = ?, closed_by_id = ?, closed_by_login = ? WHERE id = ?",
    at,
    actor.id,
    actor.login,
    row.id,
  );
  recordEvent(sql, row.id, "closed", actor, at, { stateReason: "completed", commitId: sha, pull });
  touch(sql, row.id, at);
  return getIssue(sql, number) !== null;
}
