// Repacking the object store in slices: packs accumulate one per push and are merged
// geometrically (many small packs into one, big packs left alone), reusing stored deltas;
// a repack of every pack also drops objects that have been unreachable for a grace
// period; retired packs are deleted once no clone or fetch that began before their
// retirement is in flight, and after that period in any case.
//
// A repack's progress lives in SQLite, each copied entry recorded in the transaction
// that appends it, so a repack resumes where it stopped after an eviction.
import { crc32 } from "node:zlib";
import type { Dofs } from "../../fs/dofs";
import { PackEntries } from "../pack/entries";
import { writeIdxV2 } from "../pack/idx";
import { copyEntry, geometricRun, packHeader, type RepackTarget, sealPack } from "../pack/repack";
import { type ObjectStore, PACK_DIR } from "./object-store";
import { Pacer, yieldToEventLoop } from "../../util/pace";

/** Rows written per transaction when a repack lists its objects. */
const LIST_PART = 5000;

/** Where repacks write their output; not part of the repository until it is done. */
export const COMPACT_DIR = "/objects/compact";

interface Job {
  packs: number[];
  out: string;
  total: number;
  cursor: number;
  bytes: number;
  prune: boolean;
}

type DoneRow = { oid: string; offset: number; length: number; crc: number; type: number; size: number; base: string | null };

/** Maintenance kept these tables before repacking moved into the store. */
const RENAMED: [string, string][] = [
  ["maint_state", "git_repack_state"],
  ["maint_todo", "git_repack_todo"],
  ["maint_done", "git_repack_done"],
  ["maint_unreachable", "git_unreachable"],
  ["maint_retired", "git_retired"],
];

export class Repack {
  constructor(
    private readonly fs: Dofs,
    private readonly store: ObjectStore,
    private readonly sql: SqlStorage,
  ) {
    // A repack in progress under the old names carries on under the new ones.
    const tables = new Set(
      sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
        .toArray()
        .map((r) => r.name),
    );
    for (const [from, to] of RENAMED) {
      if (tables.has(from) && !tables.has(to)) sql.exec(`ALTER TABLE ${from} RENAME TO ${to}`);
    }
    sql.exec("CREATE TABLE IF NOT EXISTS git_repack_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS git_repack_todo (seq INTEGER PRIMARY KEY, oid TEXT NOT NULL)");
    sql.exec(`CREATE TABLE IF NOT EXISTS git_repack_done (
      oid TEXT PRIMARY KEY, offset INTEGER NOT NULL, length INTEGER NOT NULL, crc INTEGER NOT NULL,
      type INTEGER NOT NULL, size INTEGER NOT NULL, base TEXT
    ) WITHOUT ROWID`);
    sql.exec("CREATE TABLE IF NOT EXISTS git_unreachable (oid TEXT PRIMARY KEY, since INTEGER NOT NULL) WITHOUT ROWID");
    sql.exec("CREATE TABLE IF NOT EXISTS git_retired (path TEXT PRIMARY KEY, at INTEGER NOT NULL)");
  }

  /** The packs that a repack would merge now. */
  choose(): number[] {
    return geometricRun(this.store.packs());
  }

  /** Whether merging these packs is a repack of every pack, which alone may prune. */
  isFull(packs: number[]): boolean {
    return this.store.packs().length === packs.length;
  }

  /** The packs that the repack in progress merges, or null when none is in progress. */
  merging(): number[] | null {
    return this.job()?.packs ?? null;
  }

  private job(): Job | null {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM git_repack_state WHERE key = 'job'").toArray()[0];
    return row ? (JSON.parse(row.value) as Job) : null;
  }

  private saveJob(job: Job | null): void {
    if (job) this.sql.exec("INSERT OR REPLACE INTO git_repack_state (key, value) VALUES ('job', ?)", JSON.stringify(job));
    else this.sql.exec("DELETE FROM git_repack_state WHERE key = 'job'");
  }

  /**
   * Starts merging `packs`: lists the objects to copy and opens the output pack. To prune,
   * a repack of every pack is given the objects that the refs reach, and leaves out those
   * unreachable for the whole grace period. Returns how many objects it leaves out.
   */
  async start(packs: number[], now: number, prune?: { reachable: Set<string>; graceMs: number }): Promise<number> {
    const unreachable = prune ? await this.markUnreachable(prune.reachable, now) : new Set<string>();
    const oids = this.store.objectsIn(packs);
    const expired = new Set(
      prune
        ? this.sql
            .exec<{ oid: string }>("SELECT oid FROM git_unreachable WHERE since <= ?", now - prune.graceMs)
            .toArray()
            .map((r) => r.oid)
        : [],
    );
    const header = packHeader();
    const job: Job = {
      packs,
      out: `${COMPACT_DIR}/${crypto.randomUUID()}.pack`,
      total: 0,
      cursor: 0,
      bytes: header.byteLength,
      prune: prune !== undefined,
    };
    // The list is written in parts, the event loop turning between them; it counts only
    // once the job is saved, and a start cut short by an eviction begins again.
    const todo = oids.filter((oid) => !(unreachable.has(oid) && expired.has(oid)));
    this.sql.exec("DELETE FROM git_repack_todo");
    this.sql.exec("DELETE FROM git_repack_done");
    for (let from = 0; from < todo.length; from += LIST_PART) {
      if (from) await yieldToEventLoop();
      this.fs.transaction(() => {
        for (let seq = from; seq < Math.min(todo.length, from + LIST_PART); seq++) {
          this.sql.exec("INSERT INTO git_repack_todo (seq, oid) VALUES (?, ?)", seq, todo[seq]);
        }
      });
    }
    this.fs.transaction(() => {
      job.total = todo.length;
      this.fs.mkdir(COMPACT_DIR, { recursive: true });
      this.fs.writeFile(job.out, header);
      this.saveJob(job);
    });
    return oids.length - job.total;
  }

  /**
   * Records which objects are unreachable from every ref, and since when. Only objects
   * unreachable for the whole grace period are dropped, so a fetch that started before
   * a branch was deleted still finds what it planned to send.
   */
  private async markUnreachable(reachable: Set<string>, now: number): Promise<Set<string>> {
    const unreachable = new Set<string>();
    for (const oid of this.store.oids()) {
      if (!reachable.has(oid)) unreachable.add(oid);
    }
    // Each part stands on its own (a row is true or stale either way), so parts may be
    // separate transactions with the event loop turning between them.
    const known = this.sql
      .exec<{ oid: string }>("SELECT oid FROM git_unreachable")
      .toArray()
      .map((r) => r.oid);
    const gone = known.filter((oid) => !unreachable.has(oid));
    const fresh = [...unreachable];
    for (let from = 0; from < Math.max(gone.length, fresh.length); from += LIST_PART) {
      if (from) await yieldToEventLoop();
      this.fs.transaction(() => {
        for (const oid of gone.slice(from, from + LIST_PART)) this.sql.exec("DELETE FROM git_unreachable WHERE oid = ?", oid);
        for (const oid of fresh.slice(from, from + LIST_PART)) {
          this.sql.exec("INSERT OR IGNORE INTO git_unreachable (oid, since) VALUES (?, ?)", oid, now);
        }
      });
    }
    return unreachable;
  }

  /** Copies up to a slice of objects into the output pack; `done` when all are copied. */
  async copy(limits: { objects: number; bytes: number }): Promise<{ copied: number; done: boolean }> {
    const job = this.job();
    if (!job) return { copied: 0, done: true };
    let budget = limits.bytes;
    let copied = 0;
    const todo = this.sql
      .exec<{ seq: number; oid: string }>(
        "SELECT seq, oid FROM git_repack_todo WHERE seq >= ? ORDER BY seq LIMIT ?",
        job.cursor,
        limits.objects,
      )
      .toArray();
    const merged = new Set(job.packs);
    const target = this.target(job);
    // Each entry is its own transaction, so the event loop may turn between any two.
    const pacer = new Pacer(200);
    for (const { seq, oid } of todo) {
      if (budget <= 0) break;
      if (pacer.due()) await pacer.pause();
      budget -= await copyEntry(this.store, target, oid, (pack) => merged.has(pack));
      job.cursor = seq + 1;
      copied++;
    }
    this.saveJob(job);
    return { copied, done: job.cursor >= job.total };
  }

  private target(job: Job): RepackTarget {
    const written = (oid: string) =>
      this.sql.exec<{ offset: number }>("SELECT offset FROM git_repack_done WHERE oid = ?", oid).toArray()[0]?.offset ?? null;
    return {
      offsetOf: written,
      get end() {
        return job.bytes;
      },
      append: (e) => {
        const offset = job.bytes;
        this.fs.transaction(() => {
          this.fs.append(job.out, e.bytes);
          this.sql.exec(
            "INSERT INTO git_repack_done (oid, offset, length, crc, type, size, base) VALUES (?, ?, ?, ?, ?, ?, ?)",
            e.oid,
            offset,
            e.bytes.byteLength,
            crc32(e.bytes),
            e.type,
            e.size,
            e.base,
          );
          job.bytes += e.bytes.byteLength;
          this.saveJob(job);
        });
      },
    };
  }

  /**
   * Seals the output pack, writes its .idx, and swaps it for the merged packs in one
   * transaction; the merged packs are retired, to be deleted after the grace period.
   * `refs` (their digest and values) is asked only when the new pack turns out to hold
   * exactly what the refs reach. Returns how many packs were merged.
   */
  async finish(now: number, refs: () => { digest: string; tips: Iterable<string> }): Promise<number> {
    const job = this.job();
    if (!job) return 0;
    const done = this.sql.exec<DoneRow>("SELECT oid, offset, length, crc, type, size, base FROM git_repack_done").toArray();
    const { checksum, packSize } = await sealPack(this.fs, job.out, done.length);
    const idx = writeIdxV2(
      done.map((d) => ({ oid: d.oid, offset: d.offset, crc32: d.crc >>> 0 })),
      checksum,
    );
    const objects = PackEntries.of(done.map((d) => ({ ...d, crc32: d.crc >>> 0 })));
    return this.fs.transaction(() => {
      const { name, dropped, retired } = this.store.replacePacks(
        job.packs,
        job.out,
        { packChecksum: checksum, packSize, objects, commits: [], tags: [], referenced: new Set(), thinBases: 0, closed: false },
        idx,
      );
      for (const oid of dropped) this.sql.exec("DELETE FROM git_unreachable WHERE oid = ?", oid);
      // A full repack that kept no unreachable object holds exactly what the refs reach
      // (and, the repository being connected, whatever a ref may move to next).
      if (job.prune && this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM git_unreachable").one().n === 0) {
        const { digest, tips } = refs();
        this.store.markCovering(name, digest, tips);
      }
      // When they were retired by the clock that fetches take their start from (the slice's
      // `now` may be older, or a test's later one): a fetch that began before this locates
      // objects in them, and one that began after does not.
      const at = Math.max(now, Date.now());
      for (const p of retired) {
        for (const ext of ["pack", "idx"]) {
          this.sql.exec("INSERT OR REPLACE INTO git_retired (path, at) VALUES (?, ?)", `${PACK_DIR}/${p.name}.${ext}`, at);
        }
        // The bitmap and reverse index, if the pack has them, describe it alone and go with it.
        for (const ext of ["bitmap", "rev"]) {
          const path = `${PACK_DIR}/${p.name}.${ext}`;
          if (this.fs.exists(path)) this.sql.exec("INSERT OR REPLACE INTO git_retired (path, at) VALUES (?, ?)", path, at);
        }
      }
      this.sql.exec("DELETE FROM git_repack_todo");
      this.sql.exec("DELETE FROM git_repack_done");
      this.saveJob(null);
      return retired.length;
    });
  }

  /** The files of retired packs not deleted yet, oldest first, and when each was retired. */
  retired(): { path: string; at: number }[] {
    return this.sql.exec<{ path: string; at: number }>("SELECT path, at FROM git_retired ORDER BY at, path").toArray();
  }

  /**
   * Deletes the files of retired packs that no reader can need any more: those retired
   * before the oldest clone or fetch in flight began (all of them when none is), and
   * those retired at least `graceMs` ago whatever is in flight. Returns how many files.
   */
  deleteRetired(now: number, graceMs: number, oldestFetch: number | null): number {
    const retired = this.sql
      .exec<{ path: string }>("SELECT path FROM git_retired WHERE at <= ? OR at < ?", now - graceMs, oldestFetch ?? Number.MAX_SAFE_INTEGER)
      .toArray();
    if (!retired.length) return 0;
    this.fs.transaction(() => {
      for (const { path } of retired) {
        if (this.fs.exists(path)) this.fs.unlink(path);
        this.sql.exec("DELETE FROM git_retired WHERE path = ?", path);
      }
    });
    return retired.length;
  }
}
