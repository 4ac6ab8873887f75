-- Forks. A fork is an ordinary repository record whose parent_id names the repository it
-- was forked from (GitHub's `parent`); source_id names the root of the fork network
-- (GitHub's `source`), null when the parent is the root. Deleting a repository clears
-- these in its forks, which then stand alone, as on GitHub.
ALTER TABLE repos ADD COLUMN parent_id INTEGER;
ALTER TABLE repos ADD COLUMN source_id INTEGER;
CREATE INDEX repos_parent ON repos(parent_id);

-- R2 objects that several repositories read (a parent's packs that its forks point at):
-- one row per repository (its Durable Object id) that holds the key. A repository that
-- drops such a key deletes its row, and deletes the R2 object only when no row is left.
CREATE TABLE r2_holders (
  key TEXT NOT NULL,
  holder TEXT NOT NULL,
  PRIMARY KEY (key, holder)
) WITHOUT ROWID;
