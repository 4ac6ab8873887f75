// Work the object holds between steps (see contract.ts): clone answers, push uploads
// and push indexing, each under a random id the Worker carries from step to step.
//
// A job lives in two places. Its record, in the `job` table, says what it is, what a
// fresh instance needs to go on with it (after an eviction, a deploy, a migration), and
// which DOFS files it owns; it survives the object restarting. What the job holds in
// memory (a generator part-way through an answer, an open writer, an indexer) is only a
// cache of that record, which ./git-http.ts rebuilds when an instance does not have it.
import type { Dofs } from "../fs/dofs";
import { concatBytes } from "../util/bytes";

/** A job nobody has continued for this long was left behind by a Worker that died. */
export const STALE_MS = 10 * 60_000;

/** A job's payload (a clone's request) is stored in parts of this size, under SQLite's row limit. */
const PART_BYTES = 1024 * 1024;

interface Held {
  value: unknown;
  /** Ends what the job is doing in memory (a generator, a writer), saying why. */
  release: (why: string) => void;
}

export class Jobs {
  private readonly held = new Map<string, Held>();
  /** Calls in progress on a job, one after another (see `exclusive`). */
  private readonly running = new Map<string, Promise<unknown>>();
  /** Set by `close`: the storage is being erased, and nothing more is written to it. */
  private closed = false;

  /**
   * @param workDirs where jobs' files live: a file there that no record owns, and that
   *   has not changed for a while, was left by an instance that died holding it.
   */
  constructor(
    private readonly sql: SqlStorage,
    private readonly fs: Dofs,
    private readonly workDirs: string[],
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS job (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      data TEXT NOT NULL,
      files TEXT NOT NULL,
      touched INTEGER NOT NULL
    )`);
    sql.exec("CREATE TABLE IF NOT EXISTS job_part (id TEXT NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (id, idx))");
  }

  /**
   * Records a new job and returns its id; stale jobs are swept first. `files` are the
   * DOFS files it owns, deleted with it; `payload`, bytes it keeps beside its record.
   */
  add(kind: string, data: unknown, files: string[], payload?: Uint8Array): string {
    if (this.closed) throw new Error("jobs: the repository is being deleted");
    this.sweep();
    const id = crypto.randomUUID();
    this.sql.exec(
      "INSERT INTO job (id, kind, data, files, touched) VALUES (?, ?, ?, ?, ?)",
      id,
      kind,
      JSON.stringify(data),
      JSON.stringify(files),
      Date.now(),
    );
    for (let at = 0, idx = 0; payload && at < payload.byteLength; at += PART_BYTES, idx++) {
      this.sql.exec("INSERT INTO job_part (id, idx, data) VALUES (?, ?, ?)", id, idx, payload.subarray(at, at + PART_BYTES));
    }
    return id;
  }

  /** The records of a kind's jobs in flight (not stale). */
  records<D>(kind: string): D[] {
    if (this.closed) return [];
    return this.sql
      .exec<{ data: string }>("SELECT data FROM job WHERE kind = ? AND touched >= ?", kind, Date.now() - STALE_MS)
      .toArray()
      .map((r) => JSON.parse(r.data) as D);
  }

  /** The payload a job was recorded with (empty if none). */
  payload(id: string): Uint8Array {
    const parts = this.sql
      .exec<{ data: ArrayBuffer }>("SELECT data FROM job_part WHERE id = ? ORDER BY idx", id)
      .toArray()
      .map((r) => new Uint8Array(r.data));
    return concatBytes(parts);
  }

  /** A job's record, marked as continued now; null if there is none (finished, swept, erased). */
  load<D>(id: string, kind: string): D | null {
    if (this.closed) return null;
    const row = this.sql.exec<{ data: string }>("SELECT data FROM job WHERE id = ? AND kind = ?", id, kind).toArray()[0];
    if (!row) return null;
    this.sql.exec("UPDATE job SET touched = ? WHERE id = ?", Date.now(), id);
    return JSON.parse(row.data) as D;
  }

  /** Replaces a job's record (and, if given, the files it owns). */
  save(id: string, data: unknown, files?: string[]): void {
    if (this.closed) return;
    if (files) {
      this.sql.exec(
        "UPDATE job SET data = ?, files = ?, touched = ? WHERE id = ?",
        JSON.stringify(data),
        JSON.stringify(files),
        Date.now(),
        id,
      );
    } else {
      this.sql.exec("UPDATE job SET data = ?, touched = ? WHERE id = ?", JSON.stringify(data), Date.now(), id);
    }
  }

  /** Marks a job as continued now. */
  touch(id: string): void {
    if (!this.closed) this.sql.exec("UPDATE job SET touched = ? WHERE id = ?", Date.now(), id);
  }

  /** Keeps what a job holds in memory while this instance lives. */
  hold<T>(id: string, value: T, release: (why: string) => void): T {
    this.held.set(id, { value, release });
    return value;
  }

  /** What a job holds in memory, if this instance has it. */
  inMemory<T>(id: string): T | undefined {
    return this.held.get(id)?.value as T | undefined;
  }

  /** Drops what a job holds in memory (without releasing it: the caller has finished with it). */
  forget(id: string): void {
    this.held.delete(id);
  }

  /** Ends a job: releases what it holds, deletes its files and its record. */
  abandon(id: string, why = "abandoned"): void {
    const held = this.held.get(id);
    this.held.delete(id);
    held?.release(why);
    if (this.closed) return;
    const row = this.sql.exec<{ files: string }>("SELECT files FROM job WHERE id = ?", id).toArray()[0];
    if (!row) return;
    for (const f of JSON.parse(row.files) as string[]) if (this.fs.exists(f)) this.fs.unlink(f);
    this.remove(id);
  }

  /** Removes a finished job's record and memory; what it held is the caller's. */
  finish(id: string): void {
    this.held.delete(id);
    if (!this.closed) this.remove(id);
  }

  private remove(id: string): void {
    this.sql.exec("DELETE FROM job WHERE id = ?", id);
    this.sql.exec("DELETE FROM job_part WHERE id = ?", id);
  }

  /**
   * Runs the calls on one job one after another: a Worker that retries a step whose
   * answer it lost may reach the object while the first call is still running.
   */
  exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const before = this.running.get(id) ?? Promise.resolve();
    const call = before.catch(() => undefined).then(fn);
    this.running.set(id, call);
    const settle = () => {
      if (this.running.get(id) === call) this.running.delete(id);
    };
    call.then(settle, settle);
    return call;
  }

  /**
   * Ends jobs nobody has continued for STALE_MS (not one with a call in progress), and
   * deletes files in the work directories that no job owns and that have not changed
   * for as long.
   */
  sweep(now = Date.now()): void {
    if (this.closed) return;
    const stale = now - STALE_MS;
    for (const { id } of this.sql.exec<{ id: string }>("SELECT id FROM job WHERE touched < ?", stale).toArray()) {
      if (!this.running.has(id)) this.abandon(id, "abandoned: nobody continued it");
    }
    this.sql.exec("DELETE FROM job_part WHERE id NOT IN (SELECT id FROM job)");
    const owned = new Set<string>();
    for (const r of this.sql.exec<{ files: string }>("SELECT files FROM job"))
      for (const f of JSON.parse(r.files) as string[]) owned.add(f);
    for (const dir of this.workDirs) {
      if (!this.fs.exists(dir)) continue;
      for (const f of this.fs.listFiles(dir)) {
        if (!owned.has(f.path) && this.fs.stat(f.path).mtimeMs < stale) this.fs.unlink(f.path);
      }
    }
  }

  /**
   * Ends every job this instance holds in memory, before the storage is erased (the
   * repository is being deleted): their records and files go with the storage.
   */
  close(why: string): void {
    this.closed = true;
    for (const held of this.held.values()) held.release(why);
    this.held.clear();
  }
}
