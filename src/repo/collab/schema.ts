// Where issues live, and why. A repository's collaboration data (issues, comments,
// labels, assignees, events; pull requests next) is kept in the repository's own
// Durable Object SQLite, beside its git data, not in D1:
// - it grows with the repository, inside the object's 10 GB, instead of in the one
//   database every request of the site shares;
// - it follows the repository (DESIGN invariant 8): `destroy()` erases it with the rest
//   of the object's storage (`deleteAll`), and a rename changes only the D1 record, so
//   the numbers stay and the old URLs redirect through the access check's redirect;
// - it is exactly as private as the code, since the only way to the object is the stub
//   the one access check hands out;
// - it is serialized with pushes, so a pull request's merge and a push cannot race.
// A cross-repository view ("my open issues") would need a small index in D1; nothing
// asks for one yet. Only this folder names `collab_*` tables (test/table-ownership).

const TABLES = `
CREATE TABLE IF NOT EXISTS collab_counter (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS collab_issue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  number INTEGER NOT NULL UNIQUE,
  kind TEXT NOT NULL DEFAULT 'issue' CHECK (kind IN ('issue', 'pull')),
  title TEXT NOT NULL,
  body TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
  state_reason TEXT,
  author_id INTEGER NOT NULL,
  author_login TEXT NOT NULL,
  comments INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  closed_at INTEGER,
  closed_by_id INTEGER,
  closed_by_login TEXT
);
CREATE INDEX IF NOT EXISTS collab_issue_list ON collab_issue (kind, state, number);
CREATE INDEX IF NOT EXISTS collab_issue_author ON collab_issue (author_login COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS collab_comment (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  issue_id INTEGER NOT NULL,
  author_id INTEGER NOT NULL,
  author_login TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS collab_comment_issue ON collab_comment (issue_id, id);
CREATE TABLE IF NOT EXISTS collab_label (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  color TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS collab_issue_label (
  issue_id INTEGER NOT NULL,
  label_id INTEGER NOT NULL,
  PRIMARY KEY (issue_id, label_id)
);
CREATE INDEX IF NOT EXISTS collab_issue_label_label ON collab_issue_label (label_id);
CREATE TABLE IF NOT EXISTS collab_assignee (
  issue_id INTEGER NOT NULL,
  user_id INTEGER NOT NULL,
  login TEXT NOT NULL,
  PRIMARY KEY (issue_id, user_id)
);
CREATE INDEX IF NOT EXISTS collab_assignee_login ON collab_assignee (login COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS collab_event (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  issue_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  actor_id INTEGER NOT NULL,
  actor_login TEXT NOT NULL,
  data TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS collab_event_issue ON collab_event (issue_id, id);
CREATE TABLE IF NOT EXISTS collab_pull (
  issue_id INTEGER PRIMARY KEY,
  base_ref TEXT NOT NULL,
  head_ref TEXT NOT NULL,
  head_sha TEXT NOT NULL,
  base_sha TEXT NOT NULL,
  draft INTEGER NOT NULL DEFAULT 0,
  merged INTEGER NOT NULL DEFAULT 0,
  merged_at INTEGER,
  merged_by_id INTEGER,
  merged_by_login TEXT,
  merge_commit_sha TEXT,
  mergeable INTEGER,
  mergeable_key TEXT,
  conflicts TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS collab_pull_head ON collab_pull (head_ref);
CREATE INDEX IF NOT EXISTS collab_pull_base ON collab_pull (base_ref);
-- A pull request whose head is a branch of a fork (head_ref is then 'forkowner:branch',
-- which no branch name can be): the fork's Durable Object, its name when the pull request
-- was opened, and the branch. The base keeps the head commit under refs/pull/N/head.
CREATE TABLE IF NOT EXISTS collab_pull_fork (
  issue_id INTEGER PRIMARY KEY,
  repo TEXT NOT NULL,
  repo_id INTEGER NOT NULL,
  full_name TEXT NOT NULL,
  branch TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS collab_pull_fork_repo ON collab_pull_fork (repo, branch);
CREATE TABLE IF NOT EXISTS collab_status (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sha TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'success', 'failure', 'error')),
  context TEXT NOT NULL,
  description TEXT,
  target_url TEXT,
  creator_id INTEGER NOT NULL,
  creator_login TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS collab_status_sha ON collab_status (sha, context, id);
CREATE TABLE IF NOT EXISTS collab_branch_rule (
  pattern TEXT PRIMARY KEY,
  rule TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS collab_review (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  issue_id INTEGER NOT NULL,
  author_id INTEGER NOT NULL,
  author_login TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('PENDING', 'COMMENTED', 'APPROVED', 'CHANGES_REQUESTED', 'DISMISSED')),
  body TEXT NOT NULL DEFAULT '',
  commit_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  submitted_at INTEGER,
  dismissed_state TEXT,
  dismissed_message TEXT,
  -- Whether its author had write access when they gave their verdict: only those approvals count.
  author_writer INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS collab_review_issue ON collab_review (issue_id, id);
CREATE TABLE IF NOT EXISTS collab_review_comment (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  issue_id INTEGER NOT NULL,
  review_id INTEGER NOT NULL,
  in_reply_to INTEGER,
  author_id INTEGER NOT NULL,
  author_login TEXT NOT NULL,
  body TEXT NOT NULL,
  commit_id TEXT NOT NULL,
  path TEXT NOT NULL,
  side TEXT NOT NULL CHECK (side IN ('LEFT', 'RIGHT')),
  line INTEGER NOT NULL,
  start_line INTEGER,
  start_side TEXT,
  position INTEGER NOT NULL,
  diff_hunk TEXT NOT NULL,
  line_text TEXT NOT NULL,
  resolved_by_id INTEGER,
  resolved_by_login TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS collab_review_comment_issue ON collab_review_comment (issue_id, id);
CREATE INDEX IF NOT EXISTS collab_review_comment_review ON collab_review_comment (review_id);
CREATE TABLE IF NOT EXISTS collab_review_request (
  issue_id INTEGER NOT NULL,
  user_id INTEGER NOT NULL,
  login TEXT NOT NULL,
  PRIMARY KEY (issue_id, user_id)
);
`;

export function ensureSchema(sql: SqlStorage): void {
  sql.exec(TABLES);
}

/**
 * The next number of the repository's one sequence, shared by issues and pull
 * requests: never reused, even if an issue were deleted.
 */
export function nextNumber(sql: SqlStorage): number {
  return sql
    .exec<{ value: number }>(
      `INSERT INTO collab_counter (name, value) VALUES ('number', 1)
       ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`,
    )
    .one().value;
}

/** The highest number given out so far (0 before the first). */
export function lastNumber(sql: SqlStorage): number {
  return sql.exec<{ value: number }>("SELECT value FROM collab_counter WHERE name = 'number'").toArray()[0]?.value ?? 0;
}
