// A repository's Git LFS records, in its own SQLite: the objects it holds (for the quota
// and for deleting them with the repository), the uploads a batch request announced, and
// file locks. The object bytes live in R2 under keys the Worker chooses (by repository
// id, stable across renames); they never pass through this object. Only this folder
// names `lfs_*` tables (test/table-ownership).

const TABLES = `
CREATE TABLE IF NOT EXISTS lfs_object (
  oid TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  r2_key TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS lfs_upload (
  oid TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  r2_key TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS lfs_lock (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  path TEXT NOT NULL UNIQUE,
  ref TEXT,
  owner_id INTEGER NOT NULL,
  owner_login TEXT NOT NULL,
  locked_at INTEGER NOT NULL
);
`;

/** How long an upload a batch request announced holds its place in the quota. */
export const UPLOAD_WINDOW_MS = 60 * 60 * 1000;

export interface LfsObjectRef {
  oid: string;
  size: number;
}

/** Per object of an upload batch: already stored, or to be uploaded. */
export type UploadPlan = { ok: true; present: boolean[] } | { ok: false; used: number; quota: number; wanted: number };

export interface LfsLock {
  id: string;
  path: string;
  locked_at: string;
  owner: { name: string };
  ownerId: number;
}

type LockRow = { id: number; path: string; owner_id: number; owner_login: string; locked_at: number };

function toLock(r: LockRow): LfsLock {
  return {
    id: String(r.id),
    path: r.path,
    locked_at: new Date(r.locked_at).toISOString(),
    owner: { name: r.owner_login },
    ownerId: r.owner_id,
  };
}

export class LfsStore {
  private ready = false;

  constructor(private readonly sql: SqlStorage) {}

  private db(): SqlStorage {
    if (!this.ready) {
      this.sql.exec(TABLES);
      this.ready = true;
    }
    return this.sql;
  }

  /** The stored objects among `oids`, with their sizes. */
  present(oids: string[]): Record<string, number> {
    const found: Record<string, number> = {};
    for (const oid of new Set(oids)) {
      const row = this.db().exec<{ size: number }>("SELECT size FROM lfs_object WHERE oid = ?", oid).toArray()[0];
      if (row) found[oid] = row.size;
    }
    return found;
  }

  /**
   * Plans an upload batch against the quota: objects already stored need nothing; the
   * others are recorded as announced (holding their size in the quota for a while), unless
   * together they would pass the quota, in which case nothing is recorded.
   */
  planUpload(objects: LfsObjectRef[], quota: number, keyOf: (oid: string) => string, now = Date.now()): UploadPlan {
    const sql = this.db();
    const stored = this.present(objects.map((o) => o.oid));
    const wanted = new Map<string, number>();
    for (const o of objects) if (!(o.oid in stored)) wanted.set(o.oid, o.size);
    const [{ objects: held }] = sql.exec<{ objects: number }>("SELECT coalesce(sum(size), 0) AS objects FROM lfs_object").toArray();
    let announced = 0;
    for (const r of sql.exec<{ oid: string; size: number }>("SELECT oid, size FROM lfs_upload WHERE expires_at > ?", now))
      if (!wanted.has(r.oid)) announced += r.size;
    const adding = [...wanted.values()].reduce((a, b) => a + b, 0);
    if (adding > 0 && held + announced + adding > quota) return { ok: false, used: held + announced, quota, wanted: adding };
    // One synchronous call: the rows commit together.
    for (const [oid, size] of wanted)
      sql.exec(
        "INSERT INTO lfs_upload (oid, size, r2_key, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (oid) DO UPDATE SET size = excluded.size, expires_at = excluded.expires_at",
        oid,
        size,
        keyOf(oid),
        now + UPLOAD_WINDOW_MS,
      );
    return { ok: true, present: objects.map((o) => o.oid in stored) };
  }

  /**
   * Forgets announcements long past their window: an upload can no longer start under
   * them (one that started in time has recorded its object by now). Answers the R2 keys
   * they leave unrecorded, for the caller to delete: bytes a presigned upload put there
   * without the verify that records them, which no quota would count again.
   */
  forgetExpired(now = Date.now()): string[] {
    const sql = this.db();
    const gone = sql
      .exec<{ k: string }>("DELETE FROM lfs_upload WHERE expires_at < ? RETURNING r2_key AS k", now - UPLOAD_WINDOW_MS)
      .toArray()
      .map((r) => r.k);
    return gone.filter((k) => !sql.exec("SELECT 1 FROM lfs_object WHERE r2_key = ?", k).toArray().length);
  }

  /** The size an upload of `oid` was announced with, or null if none is (or it expired). */
  announced(oid: string, now = Date.now()): number | null {
    const row = this.db().exec<{ size: number }>("SELECT size FROM lfs_upload WHERE oid = ? AND expires_at > ?", oid, now).toArray()[0];
    return row ? row.size : null;
  }

  /**
   * Records an object whose bytes R2 now holds, checked against its oid and size. False
   * (recording nothing) when its announcement expired while the bytes arrived and the
   * quota has no room for them any more: the space it held was free to announce again.
   */
  stored(oid: string, size: number, key: string, quota = Number.POSITIVE_INFINITY, now = Date.now()): boolean {
    const sql = this.db();
    const counted = this.announced(oid, now) !== null || oid in this.present([oid]);
    if (!counted) {
      const [{ held }] = sql.exec<{ held: number }>("SELECT coalesce(sum(size), 0) AS held FROM lfs_object").toArray();
      const [{ live }] = sql
        .exec<{ live: number }>("SELECT coalesce(sum(size), 0) AS live FROM lfs_upload WHERE expires_at > ? AND oid != ?", now, oid)
        .toArray();
      if (held + live + size > quota) {
        sql.exec("DELETE FROM lfs_upload WHERE oid = ?", oid);
        return false;
      }
    }
    sql.exec(
      "INSERT INTO lfs_object (oid, size, r2_key, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (oid) DO NOTHING",
      oid,
      size,
      key,
      now,
    );
    sql.exec("DELETE FROM lfs_upload WHERE oid = ?", oid);
    return true;
  }

  usage(): { objects: number; bytes: number } {
    const [r] = this.db()
      .exec<{ n: number; bytes: number }>("SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM lfs_object")
      .toArray();
    return { objects: r.n, bytes: r.bytes };
  }

  /** Every R2 key this repository may have written: its objects and announced uploads. */
  keys(): string[] {
    const sql = this.db();
    return [
      ...sql.exec<{ k: string }>("SELECT r2_key AS k FROM lfs_object"),
      ...sql.exec<{ k: string }>("SELECT r2_key AS k FROM lfs_upload"),
    ].map((r) => r.k);
  }

  // ---- locks (docs/api/locking.md) -------------------------------------------------

  /** Locks `path`, or answers the lock that already holds it. */
  lock(
    path: string,
    ref: string | null,
    owner: { id: number; login: string },
    now = Date.now(),
  ): { ok: true; lock: LfsLock } | { ok: false; lock: LfsLock } {
    const sql = this.db();
    const held = sql.exec<LockRow>("SELECT * FROM lfs_lock WHERE path = ?", path).toArray()[0];
    if (held) return { ok: false, lock: toLock(held) };
    const [row] = sql
      .exec<LockRow>(
        "INSERT INTO lfs_lock (path, ref, owner_id, owner_login, locked_at) VALUES (?, ?, ?, ?, ?) RETURNING *",
        path,
        ref,
        owner.id,
        owner.login,
        now,
      )
      .toArray();
    return { ok: true, lock: toLock(row) };
  }

  /** Locks in id order, after `cursor`, at most `limit`, optionally of one path or id. */
  locks(filter: { path?: string; id?: string; cursor?: string; limit: number }): { locks: LfsLock[]; next_cursor?: string } {
    const after = Number(filter.cursor ?? 0) || 0;
    const rows = this.db()
      .exec<LockRow>(
        "SELECT * FROM lfs_lock WHERE id > ? AND (? IS NULL OR path = ?) AND (? IS NULL OR id = ?) ORDER BY id LIMIT ?",
        after,
        filter.path ?? null,
        filter.path ?? null,
        filter.id ?? null,
        filter.id === undefined ? null : Number(filter.id),
        filter.limit + 1,
      )
      .toArray();
    const more = rows.length > filter.limit;
    const page = rows.slice(0, filter.limit).map(toLock);
    return more ? { locks: page, next_cursor: page[page.length - 1].id } : { locks: page };
  }

  /** Removes a lock: its owner may, others only with `force`. */
  unlock(id: string, userId: number, force: boolean): { ok: true; lock: LfsLock } | { ok: false; status: 403 | 404; message: string } {
    const sql = this.db();
    const row = sql.exec<LockRow>("SELECT * FROM lfs_lock WHERE id = ?", Number(id)).toArray()[0];
    if (!row) return { ok: false, status: 404, message: "No such lock." };
    if (row.owner_id !== userId && !force)
      return { ok: false, status: 403, message: `The lock on ${row.path} belongs to ${row.owner_login}; an admin may force-unlock it.` };
    sql.exec("DELETE FROM lfs_lock WHERE id = ?", row.id);
    return { ok: true, lock: toLock(row) };
  }
}
