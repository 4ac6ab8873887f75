// Background maintenance of a repository, run from Durable Object alarms in slices:
// - compaction: packs accumulate one per push; the object store's repack merges them
//   geometrically, and drops objects that have been unreachable for a grace period;
// - tiering: pack files past a size or age threshold move from DOFS to R2;
// - commit-graph: once nothing else is left, `objects/info/commit-graph` is rewritten over
//   a few slices if the packs changed since it was written, so that an export carries it
//   for C git;
// - bitmaps: then the covering pack's `.bitmap`, computed over several slices;
// - cleanup: a repack retires the packs it merged. A clone, fetch or export that began
//   before may still read them, so they are deleted once none such is in flight (at once,
//   usually), and after the grace period in any case; while they wait they move to R2,
//   so that SQLite holds only live packs. R2 objects of deleted files are removed.
//
// This file decides what a slice does; the work and its saved progress belong to the
// store's `Repack` and to DOFS. A slice is bounded by work (objects and bytes), not by
// clock: inside workerd the clock does not advance during computation. Every slice
// persists its progress in SQLite, so an evicted object resumes where it stopped.
import type { Dofs } from "../fs/dofs";
import type { ObjectStore } from "../git/store/object-store";
import { Repack } from "../git/store/repack";
import type { RefStore } from "../git/refs";
import { enumerateObjects } from "../git/walk";

export interface MaintenanceConfig {
  /** Packs at least this large move to R2. */
  tierMinBytes: number;
  /** Packs at least this old (ms) move to R2. */
  tierAgeMs: number;
  /**
   * How long an object must stay unreachable before it is dropped; also the longest a
   * retired pack waits for fetches in flight.
   */
  graceMs: number;
  /** Retired packs at least this large wait in R2 rather than SQLite. */
  retiredTierMinBytes: number;
  /**
   * The pack that covers the refs is copied to R2 (keeping its SQLite copy) when at least
   * this large, so that Workers serve clones from it without the object (0: never).
   */
  serveCopyMinBytes: number;
  /** Work per slice. */
  sliceObjects: number;
  sliceBytes: number;
}

export const DEFAULT_MAINTENANCE: MaintenanceConfig = {
  // Size alone moves only packs that would crowd SQLite (10 GB per object): a fresh large
  // pack is the hottest one. Walks, shallow clones, fetches and the bitmaps read it object
  // by object, and from R2 each read is a block fetch: on a 439k-object repository the
  // bitmaps took 598 s of slices from R2 against 52 s from SQLite, and a `--depth 1` clone
  // right after the push waited behind those slices. Full clones are sent from the pack's
  // R2 copy either way (serveCopyMinBytes).
  tierMinBytes: 1024 * 1024 * 1024,
  tierAgeMs: 7 * 24 * 3600 * 1000,
  graceMs: 3600 * 1000,
  retiredTierMinBytes: 1024 * 1024,
  serveCopyMinBytes: 1024 * 1024,
  // About a second of copying on a quiet machine: a slice is one alarm, and clones and
  // pushes wait behind it for whatever of it does not yield.
  sliceObjects: 5_000,
  sliceBytes: 8 * 1024 * 1024,
};

export interface SliceReport {
  /** True when more work is pending: run another slice. */
  more: boolean;
  copied: number;
  tiered: number;
  pruned: number;
  merged: number;
  /** Files of retired packs deleted. */
  deleted: number;
  /** Commits in a commit-graph written by this slice (0: none written). */
  graphed: number;
  /** 1 when this slice finished copying the covering pack to R2 (see serveCopyMinBytes). */
  r2Copied?: number;
  /** Reachability bitmaps computed by this slice for the covering pack's `.bitmap`. */
  bitmaps?: number;
}

/** What a repository's storage holds, by where it lives. */
export interface StorageReport {
  /** The SQLite database: DOFS and every table. */
  databaseBytes: number;
  /** File contents in SQLite (DOFS chunks). */
  dofsBytes: number;
  /** File contents in R2. */
  r2Bytes: number;
  /** Of those, objects other repositories read too (a fork's packs, shared with its parent). */
  r2SharedBytes: number;
  /** R2 copies of files kept in SQLite too (the pack clones are sent from; see serveCopyMinBytes). */
  r2CopyBytes: number;
  /** Packs that the object index names, and their bytes in each tier. */
  packs: { count: number; sqliteBytes: number; r2Bytes: number };
  /** Packs replaced by a repack, waiting for fetches in flight. */
  retired: { count: number; sqliteBytes: number; r2Bytes: number };
  /** Whether maintenance has work to do now. */
  pending: boolean;
}

/** Commit rows the commit-graph reads per object of the slice's budget. */
const GRAPH_ROWS_PER_OBJECT = 4;

/** How often a retired pack that waits for a fetch in flight is looked at again. */
const RETIRED_RECHECK_MS = 30_000;

export class Maintenance {
  private readonly repack: Repack;

  constructor(
    private readonly fs: Dofs,
    private readonly store: ObjectStore,
    private readonly refs: RefStore,
    private readonly sql: SqlStorage,
    private readonly config: MaintenanceConfig = DEFAULT_MAINTENANCE,
    /** When the oldest clone or fetch in flight began, or null when none is. */
    private readonly oldestFetch: () => number | null = () => null,
  ) {
    this.repack = new Repack(fs, store, sql);
  }

  /** Whether maintenance has anything to do now: packs to merge, move or delete. */
  needsWork(now = Date.now()): boolean {
    return (
      this.repack.merging() !== null ||
      this.choosePacks().length > 1 ||
      this.tierCandidates(now).length > 0 ||
      this.retiredToTier().length > 0 ||
      this.uncopiedCovering() !== null ||
      this.repack.retired().some((r) => this.deletable(r.at, now)) ||
      this.graphStale() ||
      this.store.bitmaps.stale() ||
      this.store.stagedGarbage()
    );
  }

  /**
   * When to look again after a slice that left nothing to do now: the first time a
   * retired pack may be deleted, by its grace period or by a fetch ending (which nothing
   * announces, so it is looked at every little while); null when nothing waits.
   */
  nextWake(now = Date.now()): number | null {
    const retired = this.repack.retired();
    if (!retired.length) return null;
    return Math.max(now + 1000, Math.min(retired[0].at + this.config.graceMs, now + RETIRED_RECHECK_MS));
  }

  private deletable(at: number, now: number): boolean {
    const oldest = this.oldestFetch();
    return at <= now - this.config.graceMs || oldest === null || at < oldest;
  }

  /** Runs one bounded slice of maintenance. */
  async slice(now = Date.now()): Promise<SliceReport> {
    const report: SliceReport = { more: false, copied: 0, tiered: 0, pruned: 0, merged: 0, deleted: 0, graphed: 0 };
    report.deleted = this.repack.deleteRetired(now, this.config.graceMs, this.oldestFetch());
    // Retired packs that a fetch in flight may read leave SQLite first, before a merge
    // writes more into it. Reads follow a file to R2 when it switches.
    const [retired] = this.retiredToTier();
    if (retired) {
      const step = await this.fs.tierStep(retired, `packs/${crypto.randomUUID()}.pack`, this.config.sliceBytes);
      if (step === "moved") report.tiered++;
      report.more = true;
      return report;
    }
    if (this.repack.merging() === null) {
      const packs = this.choosePacks();
      if (packs.length > 1) report.pruned = await this.startRepack(packs, now);
    }
    if (this.repack.merging() !== null) {
      const { copied, done } = await this.repack.copy({ objects: this.config.sliceObjects, bytes: this.config.sliceBytes });
      report.copied = copied;
      if (done) {
        report.merged = await this.repack.finish(now, () => ({ digest: this.refs.digest(), tips: this.refs.list().values() }));
        report.deleted += this.repack.deleteRetired(now, this.config.graceMs, this.oldestFetch());
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
    const covering = this.uncopiedCovering();
    if (!report.more && covering) {
      const step = await this.fs.copyStep(covering, `packs/${crypto.randomUUID()}.pack`, this.config.sliceBytes);
      if (step === "copied") report.r2Copied = 1;
      report.more = step === "more";
    }
    await this.fs.emptyR2Trash();
    // What large pushes staged (see ObjectStore.stageRows): 50,000 rows took 0.7 s.
    this.store.sweepStaged(this.config.sliceObjects * 2);
    if (this.store.stagedGarbage()) report.more = true;
    // Last, so that a graph is written for the packs compaction leaves, not for each on the way.
    // In steps of commits read (a row costs less than an object copied), then one that writes.
    if (!report.more && this.graphStale()) {
      const step = this.store.graph.step(this.config.sliceObjects * GRAPH_ROWS_PER_OBJECT);
      report.graphed = step.written;
      report.more = !step.done;
    }
    // Then the covering pack's bitmaps, a few commits' worth per slice (see store/bitmap.ts),
    // from the slice after the graph's: each is heavy enough alone.
    if (report.graphed && this.store.bitmaps.stale()) report.more = true;
    if (!report.more && this.store.bitmaps.stale()) {
      // Trees read, not copied: each costs more than an object of compaction (it is located,
      // delta chain and all, inflated and parsed), hence a quarter of the budget: about a
      // second from SQLite on a 439k-object pack. From R2 a read costs ten times more; the
      // step also stops once its reads have waited long enough (see store/bitmap.ts).
      const step = await this.store.bitmaps.step(this.store, this.config.sliceObjects / 4);
      report.bitmaps = step.computed;
      report.more = !step.done;
    }
    return report;
  }

  /** Whether the commit-graph describes other packs than the live ones (none for an empty repository). */
  private graphStale(): boolean {
    return this.store.packs().length > 0 && !this.store.graph.isCurrent();
  }

  /**
   * The pack covering the refs, if it is large enough to be served from R2 and R2 has no
   * copy of it yet (a tiered pack is there already).
   */
  private uncopiedCovering(): string | null {
    if (!this.fs.bucket || !this.config.serveCopyMinBytes) return null;
    const covering = this.store.coveringPack();
    if (!covering || covering.size < this.config.serveCopyMinBytes) return null;
    const path = this.store.packs().find((p) => p.id === covering.pack)?.path;
    if (!path || !this.fs.exists(path) || this.fs.r2Key(path)) return null;
    return path;
  }

  /** Retired pack files large enough to move to R2 while they wait, still in SQLite. */
  private retiredToTier(): string[] {
    if (!this.fs.bucket) return [];
    return this.repack
      .retired()
      .map((r) => r.path)
      .filter(
        (path) =>
          path.endsWith(".pack") &&
          this.fs.exists(path) &&
          !this.fs.isTiered(path) &&
          this.fs.stat(path).size >= this.config.retiredTierMinBytes,
      );
  }

  /** Where the repository's bytes are: SQLite, R2, live and retired packs. */
  storage(now = Date.now()): StorageReport {
    const tally = (paths: string[]) => {
      const t = { count: 0, sqliteBytes: 0, r2Bytes: 0 };
      for (const path of paths) {
        if (!this.fs.exists(path)) continue;
        t.count++;
        if (this.fs.isTiered(path)) t.r2Bytes += this.fs.stat(path).size;
        else t.sqliteBytes += this.fs.stat(path).size;
      }
      return t;
    };
    return {
      databaseBytes: this.sql.databaseSize,
      dofsBytes: this.fs.usage().usedBytes,
      r2Bytes: this.fs.tieredBytes(),
      r2SharedBytes: this.fs.sharedBytes(),
      r2CopyBytes: this.fs.copiedBytes(),
      packs: tally(this.store.packs().map((p) => p.path)),
      retired: tally(
        this.repack
          .retired()
          .map((r) => r.path)
          .filter((p) => p.endsWith(".pack")),
      ),
      pending: this.needsWork(now),
    };
  }

  /** The packs that the next repack would merge, smallest first. */
  choosePacks(): number[] {
    return this.repack.choose();
  }

  private tierCandidates(now = Date.now()): string[] {
    if (!this.fs.bucket) return [];
    const merging = new Set(this.repack.merging() ?? []);
    return this.store
      .packs()
      .filter((p) => !merging.has(p.id) && (p.size >= this.config.tierMinBytes || now - p.created >= this.config.tierAgeMs))
      .map((p) => p.path)
      .filter((path) => this.fs.exists(path) && !this.fs.isTiered(path));
  }

  /**
   * Starts a repack of `packs`; returns how many objects it prunes. Pruning needs
   * reachability over every pack: only a full repack does it.
   */
  private async startRepack(packs: number[], now: number): Promise<number> {
    if (!this.repack.isFull(packs)) return this.repack.start(packs, now);
    const tips = [...new Set(this.refs.list().values())];
    const head = this.refs.head();
    if (head.oid) tips.push(head.oid);
    const reachable = new Set((await enumerateObjects(this.store, tips)).oids);
    return this.repack.start(packs, now, { reachable, graceMs: this.config.graceMs });
  }
}
