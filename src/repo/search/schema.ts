// The code search index lives in the repository's own SQLite, beside the objects it
// indexes, so it is deleted with the repository (`deleteAll`) and reached only through
// the stub the access check hands out. Only this folder names `search_*` tables
// (test/table-ownership.test.ts).
//
// - search_branch: each indexed branch, the commit its files are indexed at, and the
//   commit an unfinished update is heading for;
// - search_file: (branch, path) -> indexed blob;
// - search_blob: one row per distinct indexed blob (content-addressed, shared between
//   paths and branches), whose id is the rowid of its text in search_text;
// - search_text: FTS5 with the trigram tokenizer, so any substring of 3+ characters
//   is a MATCH, case-insensitively;
// - search_queue: the update in progress, as tree pairs still to compare and blobs
//   still to add or remove, so a slice resumes where the last one stopped;
// - search_orphan: blobs an update stopped using, dropped at its end unless another
//   path took them (a renamed file's text is not indexed again);
// - search_mirror: the issue mirror's cursor (./issue-mirror.ts).
const TABLES = `
CREATE TABLE IF NOT EXISTS search_branch (
  name TEXT PRIMARY KEY,
  indexed TEXT,
  indexed_tree TEXT,
  target TEXT,
  searched_at INTEGER NOT NULL,
  dropping INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS search_blob (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  oid TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS search_file (
  branch TEXT NOT NULL,
  path TEXT NOT NULL,
  blob INTEGER NOT NULL,
  PRIMARY KEY (branch, path)
);
CREATE INDEX IF NOT EXISTS search_file_blob ON search_file (blob);
CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5(body, tokenize='trigram');
CREATE TABLE IF NOT EXISTS search_queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  branch TEXT NOT NULL,
  path TEXT NOT NULL,
  old TEXT,
  new TEXT,
  tree INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS search_orphan (
  blob INTEGER PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS search_mirror (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
`;

export function ensureSearchSchema(sql: SqlStorage): void {
  sql.exec(TABLES);
}
