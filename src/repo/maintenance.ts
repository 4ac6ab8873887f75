// Background maintenance of a repository, run from Durable Object alarms in slices:
// - compaction: packs accumulate one per push; the object store's repack merges them
//   geometrically, and drops objects that have been unreachable for a grace period;
// - tiering: pack files past a size or age threshold move from DOFS to R2;
// - cleanup: retired packs are deleted after the grace period, and R2 objects of
//   deleted files are removed.
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
  // About a second of copying on a quiet machine: a slice is one alarm, and clones and
  // pushes wait behind it for whatever of it does not yield.
  sliceObjects: 5_000,
  sliceBytes: 16 * 1024 * 1024,
};

export interface SliceReport {
  /** True when more work is pending: run another slice. */
  more: boolean;
  copied: number;
  tiered: number;
  pruned: number;
  merged: number;
}

export class Maintenance {
  private readonly repack: Repack;

  constructor(
    private readonly fs: Dofs,
    private readonly store: ObjectStore,
    private readonly refs: RefStore,
    sql: SqlStorage,
    private readonly config: MaintenanceConfig = DEFAULT_MAINTENANCE,
  ) {
    this.repack = new Repack(fs, store, sql);
  }

  /** Whether compaction has anything to do: a job in progress or packs to merge. */
  needsWork(): boolean {
    return this.repack.merging() !== null || this.choosePacks().length > 1 || this.tierCandidates().length > 0;
  }

  /** Runs one bounded slice of maintenance. */
  async slice(now = Date.now()): Promise<SliceReport> {
    const report: SliceReport = { more: false, copied: 0, tiered: 0, pruned: 0, merged: 0 };
    if (this.repack.merging() === null) {
      const packs = this.choosePacks();
      if (packs.length > 1) report.pruned = await this.startRepack(packs, now);
    }
    if (this.repack.merging() !== null) {
      const { copied, done } = await this.repack.copy({ objects: this.config.sliceObjects, bytes: this.config.sliceBytes });
      report.copied = copied;
      if (done) report.merged = await this.repack.finish(now, () => this.refs.digest());
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
    this.repack.deleteRetired(now, this.config.graceMs);
    await this.fs.emptyR2Trash();
    return report;
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
