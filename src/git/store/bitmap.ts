// Writes `objects/pack/pack-<sha>.bitmap` for the covering pack (the one that held
// everything the refs reached when it was written: the first push's, or a full
// compaction's), so that an exported repository carries the file C git would use, and so
// that our own walks can subtract reachability by bitmap arithmetic.
//
// The bitmaps are computed in steps, a selected commit at a time, oldest first, each one
// starting from the bitmaps of the selected commits below it: a step's work is bounded by
// the history between neighbouring selections, not by the repository. Finished bitmaps
// wait in `git_bitmap_entry` (compressed) until the last, then the file is written in one
// go. The file is derived: losing it loses nothing but speed; maintenance writes it again.
import type { Dofs } from "../../fs/dofs";
import { OBJ_COMMIT, OBJ_TAG, OBJ_TREE, toHex, treeChildren } from "../object/object";
import { PackBitmap, writeBitmap } from "../pack/bitmap";
import { Bitset, decodeEwah, encodeEwah } from "../pack/ewah";

const PACK_DIR = "/objects/pack";
/** Hex digit values by character code. */
const HEX = new Uint8Array(128);
for (let i = 0; i < 16; i++) {
  HEX["0123456789abcdef".charCodeAt(i)] = i;
  HEX["0123456789ABCDEF".charCodeAt(i)] = i;
}
const HASH = 20;
/** Every commit gets a bitmap below this many; above, git's spacing (see `selectCommits`). */
const SELECT_ALL_BELOW = 100;
/** At most this many bitmaps: the file and the work to write it stay small. */
const MAX_ENTRIES = 600;

/** What computing the bitmaps reads from the object store (passed in: the store imports this). */
export interface BitmapSource {
  readObject(oid: string): Promise<{ type: number; data: Uint8Array } | null>;
  commit(oid: string): { tree: string; parents: string[]; time: number };
  typeOf(oid: string): number | null;
  tagTarget(oid: string): string | null;
  prefetchLocations(oids: string[]): void;
  forgetPrefetched(): void;
}

/** The pack reaches outside itself: it cannot carry bitmaps. */
export class PackNotClosedError extends Error {
  override name = "PackNotClosedError";
}

/** A pack's .idx, held as flat arrays: names in order, and each name's place in the pack. */
export class PackPositions {
  readonly count: number;
  readonly checksum: Uint8Array;
  private readonly names: Uint8Array;
  private readonly fanout: Uint32Array;
  private readonly scratch = new Uint8Array(HASH);
  /** Pack position (rank by offset) of each .idx position. */
  readonly packPosition: Uint32Array;
  /** .idx position of each pack position. */
  readonly idxPosition: Uint32Array;

  constructor(idx: Uint8Array) {
    const view = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
    const n = view.getUint32(8 + 255 * 4);
    this.count = n;
    this.fanout = new Uint32Array(256);
    for (let b = 0; b < 256; b++) this.fanout[b] = view.getUint32(8 + b * 4);
    const namesAt = 8 + 1024;
    this.names = idx.subarray(namesAt, namesAt + n * HASH);
    const offAt = namesAt + n * (HASH + 4);
    const largeAt = offAt + n * 4;
    const offsets = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const o = view.getUint32(offAt + i * 4);
      offsets[i] = o & 0x80000000 ? Number(view.getBigUint64(largeAt + (o & 0x7fffffff) * 8)) : o;
    }
    this.idxPosition = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.idxPosition[i] = i;
    this.idxPosition.sort((a, b) => offsets[a] - offsets[b]);
    this.packPosition = new Uint32Array(n);
    for (let p = 0; p < n; p++) this.packPosition[this.idxPosition[p]] = p;
    this.checksum = idx.slice(idx.byteLength - 2 * HASH, idx.byteLength - HASH);
  }

  /**
   * The .idx position of `oid`, or -1: a binary search within the fanout's range for its
   * first byte, comparing bytes in place (this runs for every entry of every tree walked).
   */
  find(oid: string): number {
    const want = this.scratch;
    for (let i = 0; i < HASH; i++) want[i] = (HEX[oid.charCodeAt(2 * i)] << 4) | HEX[oid.charCodeAt(2 * i + 1)];
    const names = this.names;
    let lo = want[0] ? this.fanout[want[0] - 1] : 0;
    let hi = this.fanout[want[0]];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const at = mid * HASH;
      let c = 0;
      for (let i = 1; i < HASH && c === 0; i++) c = names[at + i] - want[i];
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  /** The pack position of `oid`, or -1. */
  position(oid: string): number {
    const i = this.find(oid);
    return i < 0 ? -1 : this.packPosition[i];
  }

  oidAt(idxPosition: number): string {
    return toHex(this.names.subarray(idxPosition * HASH, idxPosition * HASH + HASH));
  }
}

/** A covering pack's bitmaps, ready for walks. */
export interface LoadedBitmap {
  pack: number;
  positions: PackPositions;
  bitmap: PackBitmap;
}

export interface BitmapStep {
  /** Bitmaps computed in this step. */
  computed: number;
  /** Whether the file is written (or given up on): nothing more to do for this pack. */
  done: boolean;
}

/** Packs larger than this get no bitmaps for now (see `target`). */
export const BITMAP_MAX_OBJECTS = 120_000;

export class PackBitmaps {
  constructor(
    private readonly fs: Dofs,
    private readonly sql: SqlStorage,
  ) {
    // state: "work" while bitmaps are computed, "written", "unclosed" (the pack turned out
    // to reach outside itself, so it gets none), or "none" (no ref names a commit).
    this.sql.exec(`CREATE TABLE IF NOT EXISTS git_bitmap_job (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      pack TEXT NOT NULL,
      state TEXT NOT NULL
    )`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS git_bitmap_entry (
      seq INTEGER PRIMARY KEY,
      oid TEXT NOT NULL,
      bits BLOB
    )`);
  }

  /**
   * The covering pack: the one to carry bitmaps, if it has at most BITMAP_MAX_OBJECTS.
   * Past that, a step's fixed work (reading the .idx, the bitmaps so far) and the
   * selection over the whole history each held the object for tens of seconds on a
   * 439k-object repository, and every clone waited behind them.
   */
  private target(): { id: number; name: string; tips: string[] } | null {
    const row = this.sql
      .exec<{ id: number; name: string; tips: string; objects: number }>(
        "SELECT id, name, covers_tips AS tips, objects FROM git_pack WHERE covers_tips IS NOT NULL ORDER BY id DESC LIMIT 1",
      )
      .toArray()[0];
    if (!row || row.objects > BITMAP_MAX_OBJECTS) return null;
    return { id: row.id, name: row.name, tips: row.tips ? row.tips.split(" ") : [] };
  }

  private job(): { pack: string; state: string } | null {
    return this.sql.exec<{ pack: string; state: string }>("SELECT pack, state FROM git_bitmap_job WHERE id = 1").toArray()[0] ?? null;
  }

  static pathOf(pack: string): string {
    return `${PACK_DIR}/${pack}.bitmap`;
  }

  /** Whether the covering pack lacks its bitmap file (and could have one). */
  stale(): boolean {
    const target = this.target();
    if (!target) return false;
    const job = this.job();
    if (job?.pack === target.name && (job.state === "unclosed" || job.state === "none")) return false;
    return !this.fs.exists(PackBitmaps.pathOf(target.name));
  }

  /** The last `load`, kept while its pack is the covering one: reading it is the slow part. */
  private loaded: (LoadedBitmap & { name: string }) | null = null;

  /** The covering pack's bitmaps, when written: its id, positions and parsed file. */
  load(): LoadedBitmap | null {
    const target = this.target();
    if (!target) return null;
    const path = PackBitmaps.pathOf(target.name);
    if (!this.fs.exists(path)) return null;
    if (this.loaded?.name !== target.name) {
      // The old one goes first: both at once would double the memory this holds.
      this.loaded = null;
      const positions = new PackPositions(this.fs.readFile(`${PACK_DIR}/${target.name}.idx`));
      this.loaded = { name: target.name, pack: target.id, positions, bitmap: new PackBitmap(this.fs.readFile(path)) };
    }
    return this.loaded;
  }

  /**
   * Computes bitmaps until about `budget` trees have been read, then stops at the end of
   * the commit in hand; the last step writes the file.
   */
  async step(source: BitmapSource, budget: number): Promise<BitmapStep> {
    const target = this.target();
    if (!target) return { computed: 0, done: true };
    const path = PackBitmaps.pathOf(target.name);
    let job = this.job();
    if (job?.pack !== target.name) {
      this.sql.exec("DELETE FROM git_bitmap_entry");
      this.sql.exec("INSERT OR REPLACE INTO git_bitmap_job (id, pack, state) VALUES (1, ?, 'work')", target.name);
      job = { pack: target.name, state: "work" };
    }
    if (job.state !== "work" && this.fs.exists(path)) return { computed: 0, done: true };
    if (job.state === "unclosed" || job.state === "none") return { computed: 0, done: true };
    try {
      // Choosing the commits walks the whole history: a step of its own.
      if (this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM git_bitmap_entry").one().n === 0) {
        const chosen = selectCommits(source, target.tips);
        if (!chosen.length) {
          // No ref names a commit: nothing to give a bitmap.
          this.sql.exec("UPDATE git_bitmap_job SET state = 'none' WHERE id = 1");
          return { computed: 0, done: true };
        }
        for (const [seq, oid] of chosen.entries())
          this.sql.exec("INSERT INTO git_bitmap_entry (seq, oid, bits) VALUES (?, ?, NULL)", seq, oid);
        return { computed: 0, done: false };
      }
      const positions = new PackPositions(this.fs.readFile(`${PACK_DIR}/${target.name}.idx`));
      const done = new Map<string, Uint8Array>();
      const todo: { seq: number; oid: string }[] = [];
      for (const r of this.sql.exec<{ seq: number; oid: string; bits: ArrayBuffer | null }>(
        "SELECT seq, oid, bits FROM git_bitmap_entry ORDER BY seq",
      )) {
        if (r.bits) done.set(r.oid, new Uint8Array(r.bits));
        else todo.push({ seq: r.seq, oid: r.oid });
      }
      const reader = new ReachWalk(source, positions, done);
      let computed = 0;
      for (const { seq, oid } of todo) {
        if (reader.treesRead >= budget) {
          source.forgetPrefetched();
          return { computed, done: false };
        }
        const bits = await reader.reach(oid);
        const bytes = encodeEwah(bits);
        this.sql.exec("UPDATE git_bitmap_entry SET bits = ? WHERE seq = ?", bytes, seq);
        done.set(oid, bytes);
        computed++;
      }
      source.forgetPrefetched();
      // Writing the file reads the whole object table: a step of its own too.
      if (computed) return { computed, done: false };
      this.writeFile(target.name, positions, done);
      return { computed, done: true };
    } catch (e) {
      if (!(e instanceof PackNotClosedError)) throw e;
      this.sql.exec("DELETE FROM git_bitmap_entry");
      this.sql.exec("UPDATE git_bitmap_job SET state = 'unclosed' WHERE id = 1");
      return { computed: 0, done: true };
    }
  }

  /** Types from the object table (ordered by name, as the .idx), then the file at once. */
  private writeFile(pack: string, positions: PackPositions, done: Map<string, Uint8Array>): void {
    const types = new Uint8Array(positions.count);
    let i = 0;
    let want = positions.count ? positions.oidAt(0) : "";
    for (const r of this.sql.exec<{ oid: string; type: number }>("SELECT oid, type FROM git_object ORDER BY oid")) {
      if (i >= positions.count) break;
      if (r.oid < want) continue;
      if (r.oid !== want) throw new PackNotClosedError(`${want} has no row in the object table`);
      types[positions.packPosition[i]] = r.type;
      if (++i < positions.count) want = positions.oidAt(i);
    }
    if (i < positions.count) throw new PackNotClosedError(`${want} has no row in the object table`);
    // Decoded one at a time: a few hundred full bitmaps of a large pack would not fit.
    const entries = (function* () {
      for (const [oid, bytes] of done) yield { idxPosition: positions.find(oid), bits: decodeEwah(bytes).bits };
    })();
    const bytes = writeBitmap({ packChecksum: positions.checksum, types, entries, entryCount: done.size });
    this.fs.writeFile(PackBitmaps.pathOf(pack), bytes, { mode: 0o444 });
    this.sql.exec("DELETE FROM git_bitmap_entry");
    this.sql.exec("UPDATE git_bitmap_job SET state = 'written' WHERE id = 1");
  }

  /** Forgets the bitmap of a pack about to go (its file is retired with the pack's). */
  drop(pack: string): void {
    if (this.job()?.pack === pack) {
      this.sql.exec("DELETE FROM git_bitmap_entry");
      this.sql.exec("DELETE FROM git_bitmap_job");
    }
  }
}

/**
 * Which commits get bitmaps, as git's `bitmap_writer_select_commits` chooses: every ref
 * tip; below 100 commits every commit; else, newest first, the 100 most recent, then one
 * in up to 100 (merges preferred) to 20,000 back, then one in up to 5,000. Returned in an
 * order where each commit comes after its ancestors, so each bitmap builds on those below.
 */
export function selectCommits(source: BitmapSource, tips: string[]): string[] {
  const heads: string[] = [];
  for (const tip of tips) {
    let cur: string | null = tip;
    for (let depth = 0; cur && depth < 64 && source.typeOf(cur) === OBJ_TAG; depth++) cur = source.tagTarget(cur);
    if (cur && source.typeOf(cur) === OBJ_COMMIT && !heads.includes(cur)) heads.push(cur);
  }
  // Parents before children (a depth-first post-order), with an explicit stack.
  const order: string[] = [];
  const state = new Map<string, number>();
  const times = new Map<string, number>();
  for (const head of heads) {
    const stack = [head];
    while (stack.length) {
      const c = stack[stack.length - 1];
      if (state.get(c) === 2) {
        stack.pop();
        continue;
      }
      const info = source.commit(c);
      times.set(c, info.time);
      if (!state.has(c)) {
        state.set(c, 1);
        for (const p of info.parents) if (!state.has(p)) stack.push(p);
        continue;
      }
      state.set(c, 2);
      order.push(c);
      stack.pop();
    }
  }
  const rank = new Map(order.map((c, i) => [c, i]));
  const chosen = new Set(heads);
  if (order.length <= SELECT_ALL_BELOW) for (const c of order) chosen.add(c);
  else {
    const recent = [...order].sort((a, b) => times.get(b)! - times.get(a)! || rank.get(b)! - rank.get(a)!);
    const tipSet = new Set(heads);
    for (let i = 0; chosen.size < MAX_ENTRIES; ) {
      const next = nextCommitIndex(i, recent.length);
      if (i + next >= recent.length) break;
      let pick = recent[i + next];
      for (let j = 0; next && j <= next; j++) {
        const c = recent[i + j];
        if (tipSet.has(c)) {
          pick = c;
          break;
        }
        if (source.commit(c).parents.length > 1) pick = c;
      }
      chosen.add(pick);
      i += next + 1;
    }
  }
  return [...chosen].sort((a, b) => rank.get(a)! - rank.get(b)!);
}

/**
 * git's spacing of selected commits by how far back they are (pack-bitmap-write.c), except
 * that past 20,000 commits the gap is what spreads the rest over the entries left, not
 * git's 5,000: a bitmap is computed in one piece, and 5,000 commits of history under one
 * took 18 s on a 400k-object repository.
 */
function nextCommitIndex(i: number, total: number): number {
  if (i <= 100) return 0;
  if (i <= 20_000) return Math.min(i - 100, 100);
  const far = Math.max(100, Math.ceil((total - 20_000) / (MAX_ENTRIES - 300)));
  return Math.min(Math.max(Math.min(i - 20_000, 5_000), 100), far);
}

/**
 * Reachability in pack positions: a commit's bitmap is the bitmaps of the selected commits
 * it reaches first, plus the commits and trees walked on the way to them. A tree whose bit
 * is set is skipped whole: whatever set it set all below it too.
 */
class ReachWalk {
  treesRead = 0;

  constructor(
    private readonly source: BitmapSource,
    private readonly positions: PackPositions,
    private readonly done: Map<string, Uint8Array>,
  ) {}

  private position(oid: string): number {
    const p = this.positions.position(oid);
    if (p < 0) throw new PackNotClosedError(`${oid} is not in the pack`);
    return p;
  }

  async reach(commit: string): Promise<Bitset> {
    const bits = new Bitset(this.positions.count);
    const commits = [commit];
    // Commits first, trees after: the bitmaps met on the way set most trees' bits, and a
    // tree whose bit is set is not read.
    const trees: string[] = [];
    while (commits.length) {
      const c = commits.pop()!;
      const at = this.position(c);
      if (bits.get(at)) continue;
      const known = c === commit ? undefined : this.done.get(c);
      if (known) {
        bits.or(decodeEwah(known).bits);
        continue;
      }
      bits.set(at);
      const info = this.source.commit(c);
      trees.push(info.tree);
      // Parents with bitmaps first: what they reach is then not walked again.
      for (const p of info.parents) {
        const bm = this.done.get(p);
        const pat = this.position(p);
        if (bm && !bits.get(pat)) bits.or(decodeEwah(bm).bits);
      }
      for (const p of info.parents) if (!bits.get(this.position(p))) commits.push(p);
    }
    await this.trees(trees, bits);
    return bits;
  }

  private async trees(stack: string[], bits: Bitset): Promise<void> {
    while (stack.length) {
      const t = stack.pop()!;
      const at = this.position(t);
      if (bits.get(at)) continue;
      bits.set(at);
      const o = await this.source.readObject(t);
      if (!o || o.type !== OBJ_TREE) throw new PackNotClosedError(`tree ${t} is unreadable`);
      this.treesRead++;
      const children = treeChildren(o.data);
      const next: string[] = [];
      for (const child of children) {
        const p = this.position(child.oid);
        if (!child.isTree) bits.set(p);
        else if (!bits.get(p)) next.push(child.oid);
      }
      // The subtrees to read next, located in one query rather than one each.
      this.source.prefetchLocations(next);
      stack.push(...next);
    }
  }
}
