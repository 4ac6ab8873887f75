// The repository's issues and pull requests, copied into D1 (issue_search, see
// migrations/0003_search.sql) so that one query can search them across repositories,
// filtered by what the caller may read. A row names the repository by its Durable
// Object name, which a rename keeps; the query joins it with the repository record, so
// a renamed repository's issues follow it, a private one's stay private, and a deleted
// one's show nowhere even before `clear` removes them.
//
// After each change the object sends the rows changed since its cursor; copies run one
// at a time (invariant 3: D1 is I/O outside the object's storage). A failed copy leaves
// the cursor where it was, so the next change sends those rows again.
import type { IssueSearchRow } from "../collab";

const BATCH = 100;

export class IssueMirror {
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly sql: SqlStorage,
    private readonly db: D1Database,
    private readonly doName: string,
    private readonly changedSince: (at: number, number: number, limit: number) => IssueSearchRow[],
  ) {}

  /** Sends the changed rows on; never throws (a failure is retried by the next sync). */
  sync(): Promise<void> {
    this.chain = this.chain.then(() =>
      this.copy().catch((e) => {
        console.error(`issue search mirror of ${this.doName}: ${e}`);
      }),
    );
    return this.chain;
  }

  /** Removes the repository's rows (it is being deleted); no copy runs after. */
  async clear(): Promise<void> {
    this.closed = true;
    await this.chain;
    await this.db.prepare("DELETE FROM issue_search WHERE do_name = ?").bind(this.doName).run();
  }

  private cursor(): { at: number; number: number } | null {
    const rows = this.sql.exec<{ key: string; value: number }>("SELECT key, value FROM search_mirror").toArray();
    const get = (k: string) => rows.find((r) => r.key === k)?.value;
    const at = get("issues_at");
    return at === undefined ? null : { at, number: get("issues_number") ?? 0 };
  }

  private async copy(): Promise<void> {
    if (this.closed) return;
    let cursor = this.cursor();
    // A fresh object (or one erased and made again under the same name) owns no rows yet.
    if (!cursor) {
      await this.db.prepare("DELETE FROM issue_search WHERE do_name = ?").bind(this.doName).run();
      cursor = { at: -1, number: 0 };
    }
    for (;;) {
      const rows = this.changedSince(cursor.at, cursor.number, BATCH);
      if (rows.length) {
        await this.db.batch(
          rows.map((r) =>
            this.db
              .prepare(
                `INSERT INTO issue_search (do_name, number, is_pull, state, title, body, author_id, author_login, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (do_name, number) DO UPDATE SET is_pull = excluded.is_pull, state = excluded.state, title = excluded.title,
                   body = excluded.body, author_id = excluded.author_id, author_login = excluded.author_login, updated_at = excluded.updated_at`,
              )
              .bind(
                this.doName,
                r.number,
                r.kind === "pull" ? 1 : 0,
                r.state,
                r.title,
                r.body,
                r.author_id,
                r.author_login,
                r.created_at,
                r.updated_at,
              ),
          ),
        );
        const last = rows[rows.length - 1];
        cursor = { at: last.updated_at, number: last.number };
      }
      // Awaited D1 above: the repository may have been erased meanwhile.
      if (this.closed) return;
      this.sql.exec(
        "INSERT INTO search_mirror (key, value) VALUES ('issues_at', ?), ('issues_number', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        cursor.at,
        cursor.number,
      );
      if (rows.length < BATCH) return;
    }
  }
}
