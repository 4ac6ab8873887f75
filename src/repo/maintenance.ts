// Background maintenance of a repository, run from Durable Object alarms in slices:
// - compaction: packs accumulate one per push; they are merged geometrically (many
//   small packs into one, big packs left alone), reusing stored deltas, and objects that
//   have been unreachable for a grace period are dropped;
// - tiering: pack files past a size or age threshold move from DOFS to R2;
// - cleanup: retired packs are deleted after the grace period, and R2 objects of
//   deleted files are removed.
//
// A slice is bounded by work (objects and bytes), not by clock: inside workerd the clock
// does not advance during computation. Every slice persists its progress in SQLite, so
// an evicted object resumes where it stopped.
import { crc32 } from "node:zlib";
import { createHash } from "node:crypto";
import type { Dofs } from "../fs/dofs";
import { OBJ_OFS_DELTA } from "../git/object/object";
import { type ObjectStore, PACK_DIR } from "../git/store/object-store";
import type { RefStore } from "../git/refs";
import { encodeEntryHeader, encodeWholeEntry, parseEntryHeader } from "../git/pack/entry";
import { writeIdxV2 } from "../git/pack/idx";
import { enumerateObjects } from "../git/walk";

export interface MaintenanceConfig {
  /** Packs at least this large move to R2. */
  tierMinBytes: number;
  /** Packs at least this old (ms) move to R2. */
  tierAgeMs: number;
  /** How long an object must stay unreachable, and a retired pack unused, before deletion. */
  graceMs: number;
  /** Work per slice. */
  sliceObjects: number;
  sliceBytes: number;
}

export const DEFAULT_MAINTENANCE: MaintenanceConfig = {
  tierMinBytes: 64 * 1024 * 1024,
  tierAgeMs: 7 * 24 * 3600 * 1000,
  graceMs: 3600 * 1000,
  sliceObjects: 20_000,
  sliceBytes: 64 * 1024 * 1024,
};

const COMPACT_DIR = "/objects/compact";

interface Job {
  packs: number[];
  out: string;
  total: number;
  cursor: number;
  bytes: number;
  prune: boolean;
}

export interface SliceReport {
  /** True when more work is pending: run another slice. */
  more: boolean;
  copied: number;
  tiered: number;
  pruned: number;
  merged: number;
}

export class Maintenance {
  private readonly sql: SqlStorage;

  constructor(
    private readonly fs: Dofs,
    private readonly store: ObjectStore,
    private readonly refs: RefStore,
    sql: SqlStorage,
    private readonly config: MaintenanceConfig = DEFAULT_MAINTENANCE,
  ) {
    this.sql = sql;
    sql.exec("CREATE TABLE IF NOT EXISTS maint_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS maint_todo (seq INTEGER PRIMARY KEY, oid TEXT NOT NULL)");
    sql.exec(`CREATE TABLE IF NOT EXISTS maint_done (
      oid TEXT PRIMARY KEY, offset INTEGER NOT NULL, length INTEGER NOT NULL, crc INTEGER NOT NULL,
      type INTEGER NOT NULL, size INTEGER NOT NULL, base TEXT
    ) WITHOUT ROWID`);
    sql.exec("CREATE TABLE IF NOT EXISTS maint_unreachable (oid TEXT PRIMARY KEY, since INTEGER NOT NULL) WITHOUT ROWID");
    sql.exec("CREATE TABLE IF NOT EXISTS maint_retired (path TEXT PRIMARY KEY, at INTEGER NOT NULL)");
  }

  /** Whether compaction has anything to do: a job in progress or packs to merge. */
  needsWork(): boolean {
    return this.job() !== null || this.choosePacks().length > 1 || this.tierCandidates().length > 0;
  }

  /** Runs one bounded slice of maintenance. */
  async slice(now = Date.now()): Promise<SliceReport> {
    const report: SliceReport = { more: false, copied: 0, tiered: 0, pruned: 0, merged: 0 };
    let job = this.job();
    if (!job) {
      const packs = this.choosePacks();
      if (packs.length > 1) job = await this.plan(packs, now, report);
    }
    if (job) {
      const done = await this.copy(job, report);
      if (done) {
        await this.finish(job, now, report);
      }
      report.more = true;
      return report;
    }
    // Tiering uploads up to the slice's byte budget; a large pack takes several slices.
    const [candidate] = this.tierCandidates(now);
    if (candidate) {
      const key = `packs/${crypto.randomUUID()}.pack`;
      const step = await this.fs.tierStep(candidate, key, this.config.sliceBytes);
      if (step === "moved") report.tiered++;
      report.more = step === "more" || this.tierCandidates(now).length > 0;
    }
    await this.cleanup(now);
    return report;
  }

  // ---- choosing ---------------------------------------------------------------

  /**
   * Packs to merge, smallest first: a run of packs that are not each at least twice
   * the size of all smaller ones together (git's geometric repack, factor 2).
   */
  choosePacks(): number[] {
    const packs = this.sql.exec<{ id: number; size: number }>("SELECT id, size FROM git_pack ORDER BY size ASC, id ASC").toArray();
    if (packs.length < 2) return [];
    let split = 0;
    let sum = 0;
    for (let i = 0; i < packs.length; i++) {
      if (i > 0 && packs[i].size < 2 * sum) split = i;
      sum += packs[i].size;
    }
    const chosen = packs.slice(0, split + 1);
    return chosen.length > 1 ? chosen.map((p) => p.id) : [];
  }

  private tierCandidates(now = Date.now()): string[] {
    if (!this.fs.bucket) return [];
    const inJob = new Set(this.job()?.packs ?? []);
    return this.sql
      .exec<{ id: number; name: string; size: number; created: number }>("SELECT id, name, size, created FROM git_pack")
      .toArray()
      .filter((p) => !inJob.has(p.id) && (p.size >= this.config.tierMinBytes || now - p.created >= this.config.tierAgeMs))
      .map((p) => `${PACK_DIR}/${p.name}.pack`)
      .filter((path) => this.fs.exists(path) && !this.fs.isTiered(path));
  }

  // ---- compaction -------------------------------------------------------------

  private job(): Job | null {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM maint_state WHERE key = 'job'").toArray()[0];
    return row ? (JSON.parse(row.value) as Job) : null;
  }

  private saveJob(job: Job | null): void {
    if (job) this.sql.exec("INSERT OR REPLACE INTO maint_state (key, value) VALUES ('job', ?)", JSON.stringify(job));
    else this.sql.exec("DELETE FROM maint_state WHERE key = 'job'");
  }

  /** Lists the objects to copy and opens the output pack. */
  private async plan(packs: number[], now: number, report: SliceReport): Promise<Job> {
    const all = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM git_pack").one().n === packs.length;
    // Pruning needs reachability over every pack: only a full repack does it.
    let unreachable = new Set<string>();
    if (all) unreachable = await this.markUnreachable(now);
    const marks = packs.map(() => "?").join(",");
    const rows = this.sql
      .exec<{ oid: string }>(`SELECT oid FROM git_object WHERE pack IN (${marks}) ORDER BY pack, offset`, ...packs)
      .toArray();
    const cutoff = now - this.config.graceMs;
    const expired = new Set(
      this.sql
        .exec<{ oid: string }>("SELECT oid FROM maint_unreachable WHERE since <= ?", cutoff)
        .toArray()
        .map((r) => r.oid),
    );
    const job: Job = { packs, out: `${COMPACT_DIR}/${crypto.randomUUID()}.pack`, total: 0, cursor: 0, bytes: 12, prune: all };
    this.fs.transaction(() => {
      this.sql.exec("DELETE FROM maint_todo");
      this.sql.exec("DELETE FROM maint_done");
      let seq = 0;
      for (const r of rows) {
        if (all && unreachable.has(r.oid) && expired.has(r.oid)) continue;
        this.sql.exec("INSERT INTO maint_todo (seq, oid) VALUES (?, ?)", seq++, r.oid);
      }
      job.total = seq;
      this.fs.mkdir(COMPACT_DIR, { recursive: true });
      // The count is patched in at the end, with the trailer.
      this.fs.writeFile(job.out, Uint8Array.from([0x50, 0x41, 0x43, 0x4b, 0, 0, 0, 2, 0, 0, 0, 0]));
      this.saveJob(job);
    });
    report.pruned = rows.length - job.total;
    return job;
  }

  /**
   * Records which objects are unreachable from every ref, and since when. Only objects
   * unreachable for the whole grace period are dropped, so a fetch that started before
   * a branch was deleted still finds what it planned to send.
   */
  private async markUnreachable(now: number): Promise<Set<string>> {
    const tips = [...new Set(this.refs.list().values())];
    const head = this.refs.head();
    if (head.oid) tips.push(head.oid);
    const reachable = new Set((await enumerateObjects(this.store, tips)).oids);
    const unreachable = new Set<string>();
    for (const { oid } of this.sql.exec<{ oid: string }>("SELECT oid FROM git_object").toArray()) {
      if (!reachable.has(oid)) unreachable.add(oid);
    }
    this.fs.transaction(() => {
      for (const { oid } of this.sql.exec<{ oid: string }>("SELECT oid FROM maint_unreachable").toArray()) {
        if (!unreachable.has(oid)) this.sql.exec("DELETE FROM maint_unreachable WHERE oid = ?", oid);
      }
      for (const oid of unreachable) this.sql.exec("INSERT OR IGNORE INTO maint_unreachable (oid, since) VALUES (?, ?)", oid, now);
    });
    return unreachable;
  }

  /** Copies up to one slice of objects into the output pack; true when all are copied. */
  private async copy(job: Job, report: SliceReport): Promise<boolean> {
    const limit = this.config.sliceObjects;
    let budget = this.config.sliceBytes;
    const todo = this.sql
      .exec<{ seq: number; oid: string }>("SELECT seq, oid FROM maint_todo WHERE seq >= ? ORDER BY seq LIMIT ?", job.cursor, limit)
      .toArray();
    const inJob = new Set(job.packs);
    for (const { seq, oid } of todo) {
      if (budget <= 0) break;
      budget -= await this.copyOne(job, oid, inJob, 0);
      job.cursor = seq + 1;
      report.copied++;
    }
    this.saveJob(job);
    return job.cursor >= job.total;
  }

  private written(oid: string): number | null {
    return this.sql.exec<{ offset: number }>("SELECT offset FROM maint_done WHERE oid = ?", oid).toArray()[0]?.offset ?? null;
  }

  /**
   * Appends one object, its delta base first when the base is also being copied.
   * Returns the bytes written. Each object is recorded as it is written, in the same
   * transaction as the append, so a resumed job never writes it twice.
   */
  private async copyOne(job: Job, oid: string, inJob: Set<number>, depth: number): Promise<number> {
    if (this.written(oid) !== null) return 0;
    const loc = this.store.locate(oid);
    if (!loc) return 0;
    let bytes = 0;
    let entry: Uint8Array;
    let base: string | null = null;
    if (loc.base !== null && depth < 64) {
      const baseLoc = this.store.locate(loc.base);
      const baseQueued = baseLoc !== null && inJob.has(baseLoc.pack);
      if (baseQueued && this.written(loc.base) === null) bytes += await this.copyOne(job, loc.base, inJob, depth + 1);
      const baseAt = this.written(loc.base);
      if (baseAt !== null) {
        const raw = await this.store.rawEntry(loc);
        const hdr = parseEntryHeader(raw, 0)!;
        const head = encodeEntryHeader(OBJ_OFS_DELTA, hdr.size, { distance: job.bytes - baseAt });
        entry = new Uint8Array(head.byteLength + raw.byteLength - hdr.headerLength);
        entry.set(head);
        entry.set(raw.subarray(hdr.headerLength), head.byteLength);
        base = loc.base;
      } else {
        const obj = (await this.store.readObject(oid))!;
        entry = encodeWholeEntry(obj.type, obj.data);
      }
    } else if (loc.base === null) {
      entry = await this.store.rawEntry(loc);
    } else {
      const obj = (await this.store.readObject(oid))!;
      entry = encodeWholeEntry(obj.type, obj.data);
    }
    const offset = job.bytes;
    this.fs.transaction(() => {
      this.fs.append(job.out, entry);
      this.sql.exec(
        "INSERT INTO maint_done (oid, offset, length, crc, type, size, base) VALUES (?, ?, ?, ?, ?, ?, ?)",
        oid,
        offset,
        entry.byteLength,
        crc32(entry),
        loc.type,
        loc.size,
        base,
      );
      job.bytes += entry.byteLength;
      this.saveJob(job);
    });
    return bytes + entry.byteLength;
  }

  /** Patches the count, writes trailer and .idx, and swaps the packs in one transaction. */
  private async finish(job: Job, now: number, report: SliceReport): Promise<void> {
    const done = this.sql
      .exec<{ oid: string; offset: number; length: number; crc: number; type: number; size: number; base: string | null }>(
        "SELECT oid, offset, length, crc, type, size, base FROM maint_done",
      )
      .toArray();
    const count = new Uint8Array(4);
    new DataView(count.buffer).setUint32(0, done.length);
    this.fs.writeAt(job.out, 8, count);
    const hash = createHash("sha1");
    const size = this.fs.stat(job.out).size;
    for (let off = 0; off < size; off += 1 << 20) hash.update(this.fs.read(job.out, off, Math.min(1 << 20, size - off)));
    const checksum = new Uint8Array(hash.digest());
    this.fs.append(job.out, checksum);
    const idx = writeIdxV2(
      done.map((d) => ({ oid: d.oid, offset: d.offset, crc32: d.crc >>> 0 })),
      checksum,
    );
    const objects = done.map((d) => ({ ...d, crc32: d.crc >>> 0 }));
    this.fs.transaction(() => {
      const old = this.sql
        .exec<{ id: number; name: string }>(
          `SELECT id, name FROM git_pack WHERE id IN (${job.packs.map(() => "?").join(",")})`,
          ...job.packs,
        )
        .toArray();
      // Objects of the old packs that were not copied (pruned) leave the index.
      const dropped = this.sql
        .exec<{ oid: string }>(
          `SELECT oid FROM git_object WHERE pack IN (${job.packs.map(() => "?").join(",")}) AND oid NOT IN (SELECT oid FROM maint_done)`,
          ...job.packs,
        )
        .toArray();
      for (const { oid } of dropped) {
        this.sql.exec("DELETE FROM git_object WHERE oid = ?", oid);
        this.sql.exec("DELETE FROM git_commit WHERE oid = ?", oid);
        this.sql.exec("DELETE FROM git_tag WHERE oid = ?", oid);
        this.sql.exec("DELETE FROM maint_unreachable WHERE oid = ?", oid);
      }
      const packName = this.store.commitPack(
        job.out,
        { packChecksum: checksum, packSize: size + 20, objects, commits: [], tags: [], referenced: new Set(), thinBases: 0, closed: false },
        idx,
      );
      // A full repack that kept no unreachable object holds exactly what the refs reach
      // (and, the repository being connected, whatever a ref may move to next).
      if (job.prune && this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM maint_unreachable").one().n === 0) {
        this.store.markCovering(packName, this.refs.digest());
      }
      for (const p of old) {
        this.sql.exec("DELETE FROM git_pack WHERE id = ?", p.id);
        for (const ext of ["pack", "idx"]) {
          this.sql.exec("INSERT OR REPLACE INTO maint_retired (path, at) VALUES (?, ?)", `${PACK_DIR}/${p.name}.${ext}`, now);
        }
      }
      this.sql.exec("DELETE FROM maint_todo");
      this.sql.exec("DELETE FROM maint_done");
      this.saveJob(null);
      report.merged = old.length;
    });
  }

  /** Deletes retired packs after the grace period and empties the R2 trash. */
  private async cleanup(now: number): Promise<void> {
    const cutoff = now - this.config.graceMs;
    const retired = this.sql.exec<{ path: string }>("SELECT path FROM maint_retired WHERE at <= ?", cutoff).toArray();
    if (retired.length) {
      this.fs.transaction(() => {
        for (const { path } of retired) {
          if (this.fs.exists(path)) this.fs.unlink(path);
          this.sql.exec("DELETE FROM maint_retired WHERE path = ?", path);
        }
      });
    }
    await this.fs.emptyR2Trash();
  }
}
