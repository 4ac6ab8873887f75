// The directory: one Durable Object that lists repositories (owner, name, when last
// pushed), for the home and owner pages. Each repository's own data stays in its DO.
import { DurableObject } from "cloudflare:workers";

export type RepoListing = {
  owner: string;
  name: string;
  description: string;
  updated: number;
};

export class Directory extends DurableObject {
  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS repo (
      key TEXT PRIMARY KEY,
      owner TEXT NOT NULL,
      name TEXT NOT NULL,
      description TEXT NOT NULL DEFAULT '',
      updated INTEGER NOT NULL
    )`);
    ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS repo_owner ON repo(owner, updated)");
  }

  /** Records that a repository exists and was just changed. */
  touch(owner: string, name: string): void {
    this.ctx.storage.sql.exec(
      "INSERT INTO repo (key, owner, name, updated) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET updated = excluded.updated",
      `${owner.toLowerCase()}/${name.toLowerCase()}`,
      owner,
      name,
      Date.now(),
    );
  }

  recent(limit = 50): RepoListing[] {
    return this.ctx.storage.sql
      .exec<RepoListing>("SELECT owner, name, description, updated FROM repo ORDER BY updated DESC LIMIT ?", limit)
      .toArray();
  }

  byOwner(owner: string): RepoListing[] {
    return this.ctx.storage.sql
      .exec<RepoListing>(
        "SELECT owner, name, description, updated FROM repo WHERE lower(owner) = lower(?) ORDER BY updated DESC",
        owner,
      )
      .toArray();
  }
}
