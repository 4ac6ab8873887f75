-- A repository record is `pending` from its insertion until its Durable Object holds a
-- repository. D1 and the object cannot change in one transaction, so creation writes the
-- record first, marked pending, and clears the mark once the object exists; a crash in
-- between leaves a pending record that every surface treats as no repository at all.
ALTER TABLE repos ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
