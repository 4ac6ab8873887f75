-- Site-wide issue and pull request search. Issues live in each repository's Durable
-- Object; this is a copy of their titles, bodies and states that the object keeps up to
-- date after each change (src/repo/search/issue-mirror.ts). A row names its repository
-- by the Durable Object's name, which a rename keeps, and a search joins it with `repos`
-- to filter by what the caller may read, so it is as private as the repository and
-- disappears with it.
CREATE TABLE issue_search (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  do_name TEXT NOT NULL,
  number INTEGER NOT NULL,
  is_pull INTEGER NOT NULL,
  state TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  author_id INTEGER NOT NULL,
  author_login TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (do_name, number)
);
CREATE INDEX issue_search_updated ON issue_search (updated_at);

-- Substrings of 3+ characters of titles and bodies, case-insensitively.
CREATE VIRTUAL TABLE issue_search_text USING fts5(title, body, content = 'issue_search', content_rowid = 'id', tokenize = 'trigram');
CREATE TRIGGER issue_search_ai AFTER INSERT ON issue_search BEGIN
  INSERT INTO issue_search_text (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER issue_search_ad AFTER DELETE ON issue_search BEGIN
  INSERT INTO issue_search_text (issue_search_text, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
END;
CREATE TRIGGER issue_search_au AFTER UPDATE ON issue_search BEGIN
  INSERT INTO issue_search_text (issue_search_text, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
  INSERT INTO issue_search_text (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
