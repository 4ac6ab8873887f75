-- Accounts, sessions, tokens and repository metadata. Repository contents live in each
-- repository's Durable Object; this database says who owns what and who may see it.

CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL UNIQUE COLLATE NOCASE,
  email TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  is_admin INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);

-- The cookie holds a random session id; only its SHA-256 is stored.
CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Personal access tokens: shown once, stored as SHA-256.
CREATE TABLE tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  scopes TEXT NOT NULL,
  expires_at INTEGER,
  last_used_at INTEGER,
  revoked_at INTEGER,
  created_at INTEGER NOT NULL
);
CREATE INDEX tokens_user ON tokens(user_id);

-- do_name is the Durable Object's name, fixed at creation so that a rename keeps the data.
CREATE TABLE repos (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL COLLATE NOCASE,
  description TEXT NOT NULL DEFAULT '',
  is_private INTEGER NOT NULL DEFAULT 1,
  do_name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  pushed_at INTEGER,
  UNIQUE (owner_id, name)
);
CREATE INDEX repos_pushed ON repos(pushed_at);

CREATE TABLE collaborators (
  repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
  PRIMARY KEY (repo_id, user_id)
);
CREATE INDEX collaborators_user ON collaborators(user_id);

-- Old names of renamed repositories, so that their web and git URLs keep working.
CREATE TABLE repo_redirects (
  owner_id INTEGER NOT NULL,
  name TEXT NOT NULL COLLATE NOCASE,
  repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
  PRIMARY KEY (owner_id, name)
);

-- Fixed-window counters of failed login and token attempts.
CREATE TABLE rate_limits (
  key TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  count INTEGER NOT NULL
);
