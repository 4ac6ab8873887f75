// Writes `objects/pack/pack-<sha>.bitmap` for the covering pack (the one that held
// everything the refs reached when it was written: the first push's, or a full
// compaction's), so that an exported repository carries the file C git would use, and so
// that our own walks can subtract reachability by bitmap arithmetic.
//
// The work is done in steps, each bounded, with all progress in SQLite and DOFS so that
// an evicted object resumes where it stopped:
// 1. the pack's reverse index (`pack-<sha>.rev`, as git writes it): pack order sorted
//    once, and read back by every later step instead of sorting the .idx again;
// 2. the choice of commits, walked over the commit-graph's flat arrays;
// 3. the bitmaps, a selected commit at a time, oldest first, each starting from the
//    bitmaps of the selected commits below it (read when met, not all at once): a step's
//    work is bounded by the history between neighbouring selections, not by the
//    repository. Each is stored as the file will hold it (XORed with a neighbour or not);
// 4. the object types, a range of the .idx at a time;
// 5. the file, assembled from those stored parts.
// The file is derived: losing it loses nothing but speed; maintenance writes it again.
import { createHash } from "node:crypto";
import type { Dofs } from "../../fs/dofs";
import { OBJ_COMMIT, OBJ_TAG, OBJ_TREE, toHex, treeChildren } from "../object/object";
import { PackBitmap, XOR_WINDOW, assembleBitmap, storedBits } from "../pack/bitmap";
import { CommitGraph } from "../pack/commit-graph";
import { Bitset, decodeEwah, encodeEwah } from "../pack/ewah";
import { COMMIT_GRAPH_PATH } from "./commit-graph";

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

  /** From the .idx, and the pack's reverse index when there is one (else pack order is sorted here). */
  constructor(idx: Uint8Array, rev?: Uint8Array) {
    const view = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
    const n = view.getUint32(8 + 255 * 4);
    this.count = n;
    this.fanout = new Uint32Array(256);
    for (let b = 0; b < 256; b++) this.fanout[b] = view.getUint32(8 + b * 4);
    const namesAt = 8 + 1024;
    this.names = idx.subarray(namesAt, namesAt + n * HASH);
    this.checksum = idx.slice(idx.byteLength - 2 * HASH, idx.byteLength - HASH);
    this.idxPosition = rev ? readReverseIndex(rev, n, this.checksum) : packOrder(idx, n);
    this.packPosition = new Uint32Array(n);
    for (let p = 0; p < n; p++) this.packPosition[this.idxPosition[p]] = p;
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

const RIDX_SIGNATURE = 0x52494458; // "RIDX"

/**
 * The .idx positions in pack order: each object's offset and .idx position packed in one
 * float (offsets stay below 2^33, positions below 2^20 a pack here), so that the native
 * numeric sort does it rather than a comparator called millions of times.
 */
function packOrder(idx: Uint8Array, n: number): Uint32Array {
  const view = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
  const offAt = 8 + 1024 + n * (HASH + 4);
  const largeAt = offAt + n * 4;
  const order = new Uint32Array(n);
  if (n > 0x100000) {
    const offsets = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const o = view.getUint32(offAt + i * 4);
      offsets[i] = o & 0x80000000 ? Number(view.getBigUint64(largeAt + (o & 0x7fffffff) * 8)) : o;
      order[i] = i;
    }
    order.sort((a, b) => offsets[a] - offsets[b]);
    return order;
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = view.getUint32(offAt + i * 4);
    const offset = o & 0x80000000 ? Number(view.getBigUint64(largeAt + (o & 0x7fffffff) * 8)) : o;
    keys[i] = offset * 0x100000 + i;
  }
  keys.sort();
  for (let p = 0; p < n; p++) order[p] = keys[p] % 0x100000;
  return order;
}

/** A pack's reverse index file (gitformat-pack, "pack-*.rev"): version 1, SHA-1. */
export function writeReverseIndex(order: Uint32Array, packChecksum: Uint8Array): Uint8Array {
  const body = 12 + order.length * 4;
  const out = new Uint8Array(body + 2 * HASH);
  const view = new DataView(out.buffer);
  view.setUint32(0, RIDX_SIGNATURE);
  view.setUint32(4, 1);
  view.setUint32(8, 1);
  for (let p = 0; p < order.length; p++) view.setUint32(12 + p * 4, order[p]);
  out.set(packChecksum, body);
  out.set(
    createHash("sha1")
      .update(out.subarray(0, body + HASH))
      .digest(),
    body + HASH,
  );
  return out;
}

function readReverseIndex(rev: Uint8Array, n: number, packChecksum: Uint8Array): Uint32Array {
  const view = new DataView(rev.buffer, rev.byteOffset, rev.byteLength);
  const body = 12 + n * 4;
  if (rev.byteLength !== body + 2 * HASH || view.getUint32(0) !== RIDX_SIGNATURE || view.getUint32(4) !== 1)
    throw new ReverseIndexError("not a reverse index of this pack");
  if (Buffer.compare(rev.subarray(body, body + HASH), packChecksum) !== 0) throw new ReverseIndexError("reverse index of another pack");
  const order = new Uint32Array(n);
  for (let p = 0; p < n; p++) order[p] = view.getUint32(12 + p * 4);
  return order;
}

export class ReverseIndexError extends Error {
  override name = "ReverseIndexError";
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

/** Objects whose types one step reads from the object table. */
const TYPES_PER_STEP = 100_000;
/**
 * How long a step's tree reads may wait on I/O (R2, when the pack is tiered: a read there
 * costs a block fetch, a read from SQLite next to nothing) before the step stops.
 */
const WAIT_MS = 700;
/** Trees read in pack order at a time (see `ReachWalk.resume`). */
const TREE_BATCH = 512;
/** Compressed bitmaps of selected commits kept in memory while walking: they are read when met. */
const DONE_CACHE = 64;

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
    // The selected commits, oldest first: `bits`, the full bitmap (what later walks start
    // from), and `stored`, the same as the file holds it (XORed `xor` entries back or not);
    // for a walk cut short by the end of a step, `partial` bits and `pending` trees.
    this.sql.exec("DROP TABLE IF EXISTS git_bitmap_entry");
    this.sql.exec(`CREATE TABLE IF NOT EXISTS git_bitmap_selected (
      seq INTEGER PRIMARY KEY,
      oid TEXT NOT NULL,
      bits BLOB,
      xor INTEGER,
      stored BLOB,
      partial BLOB,
      pending TEXT
    )`);
    // Object types of the pack by .idx position, a range per row.
    this.sql.exec("CREATE TABLE IF NOT EXISTS git_bitmap_types (start INTEGER PRIMARY KEY, types BLOB NOT NULL)");
  }

  /** The covering pack: the one to carry bitmaps. */
  private target(): { id: number; name: string; tips: string[] } | null {
    const row = this.sql
      .exec<{ id: number; name: string; tips: string }>(
        "SELECT id, name, covers_tips AS tips FROM git_pack WHERE covers_tips IS NOT NULL ORDER BY id DESC LIMIT 1",
      )
      .toArray()[0];
    if (!row) return null;
    return { id: row.id, name: row.name, tips: row.tips ? row.tips.split(" ") : [] };
  }

  private job(): { pack: string; state: string } | null {
    return this.sql.exec<{ pack: string; state: string }>("SELECT pack, state FROM git_bitmap_job WHERE id = 1").toArray()[0] ?? null;
  }

  static pathOf(pack: string): string {
    return `${PACK_DIR}/${pack}.bitmap`;
  }

  static reversePathOf(pack: string): string {
    return `${PACK_DIR}/${pack}.rev`;
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
  /** The last pack's positions, kept between steps (an eviction loses only the time to read them). */
  private positionsOf: { name: string; positions: PackPositions } | null = null;

  private positions(name: string): PackPositions {
    if (this.positionsOf?.name !== name) {
      this.positionsOf = null;
      const rev = PackBitmaps.reversePathOf(name);
      const positions = new PackPositions(
        this.fs.readFile(`${PACK_DIR}/${name}.idx`),
        this.fs.exists(rev) ? this.fs.readFile(rev) : undefined,
      );
      this.positionsOf = { name, positions };
    }
    return this.positionsOf.positions;
  }

  /** The covering pack's bitmaps, when written: its id, positions and parsed file. */
  load(): LoadedBitmap | null {
    const target = this.target();
    if (!target) return null;
    const path = PackBitmaps.pathOf(target.name);
    if (!this.fs.exists(path)) return null;
    if (this.loaded?.name !== target.name) {
      // The old one goes first: both at once would double the memory this holds.
      this.loaded = null;
      const positions = this.positions(target.name);
      this.loaded = { name: target.name, pack: target.id, positions, bitmap: new PackBitmap(this.fs.readFile(path)) };
    }
    return this.loaded;
  }

  private forgetWork(): void {
    this.sql.exec("DELETE FROM git_bitmap_selected");
    this.sql.exec("DELETE FROM git_bitmap_types");
  }

  /**
   * One bounded step towards the covering pack's bitmap file: the reverse index, the
   * choice of commits, bitmaps until about `budget` trees have been read (stopping at the
   * end of the commit in hand), a range of object types, or the file.
   */
  async step(source: BitmapSource, budget: number): Promise<BitmapStep> {
    const target = this.target();
    if (!target) return { computed: 0, done: true };
    const path = PackBitmaps.pathOf(target.name);
    let job = this.job();
    if (job?.pack !== target.name) {
      this.forgetWork();
      this.sql.exec("INSERT OR REPLACE INTO git_bitmap_job (id, pack, state) VALUES (1, ?, 'work')", target.name);
      job = { pack: target.name, state: "work" };
    }
    if (job.state !== "work" && this.fs.exists(path)) return { computed: 0, done: true };
    if (job.state === "unclosed" || job.state === "none") return { computed: 0, done: true };
    try {
      const rev = PackBitmaps.reversePathOf(target.name);
      if (!this.fs.exists(rev)) {
        const positions = this.positions(target.name);
        this.fs.writeFile(rev, writeReverseIndex(positions.idxPosition, positions.checksum), { mode: 0o444 });
        return { computed: 0, done: false };
      }
      const selected = this.sql
        .exec<{ n: number; todo: number }>("SELECT count(*) AS n, count(*) - count(stored) AS todo FROM git_bitmap_selected")
        .one();
      if (selected.n === 0) {
        const chosen = selectByGraph(this.fs, source, target.tips) ?? selectCommits(source, target.tips);
        if (!chosen.length) {
          // No ref names a commit: nothing to give a bitmap.
          this.sql.exec("UPDATE git_bitmap_job SET state = 'none' WHERE id = 1");
          return { computed: 0, done: true };
        }
        for (const [seq, oid] of chosen.entries()) this.sql.exec("INSERT INTO git_bitmap_selected (seq, oid) VALUES (?, ?)", seq, oid);
        return { computed: 0, done: false };
      }
      const positions = this.positions(target.name);
      if (selected.todo > 0) return { computed: await this.compute(source, positions, budget), done: false };
      if (this.typesStep(positions)) return { computed: 0, done: false };
      this.writeFile(target.name, positions);
      return { computed: 0, done: true };
    } catch (e) {
      if (!(e instanceof PackNotClosedError)) throw e;
      this.forgetWork();
      this.sql.exec("UPDATE git_bitmap_job SET state = 'unclosed' WHERE id = 1");
      return { computed: 0, done: true };
    }
  }

  /**
   * Bitmaps of the next selected commits, until about `budget` trees have been read or
   * the reads have waited WAIT_MS; a commit whose walk is cut short keeps its place (bits
   * so far and trees to read) for the next step.
   */
  private async compute(source: BitmapSource, positions: PackPositions, budget: number): Promise<number> {
    const rows = this.sql
      .exec<{ seq: number; oid: string; done: number }>("SELECT seq, oid, stored IS NOT NULL AS done FROM git_bitmap_selected ORDER BY seq")
      .toArray();
    const seqOf = new Map<string, number>();
    for (const r of rows) if (r.done) seqOf.set(r.oid, r.seq);
    const done = new DoneBitmaps(this.sql, seqOf);
    const reader = new ReachWalk(source, positions, done, budget, WAIT_MS);
    let computed = 0;
    try {
      for (const { seq, oid, done: finished } of rows) {
        if (finished) continue;
        if (reader.spent()) break;
        const paused = this.sql
          .exec<{ partial: ArrayBuffer; pending: string }>(
            "SELECT partial, pending FROM git_bitmap_selected WHERE seq = ? AND partial IS NOT NULL",
            seq,
          )
          .toArray()[0];
        const walk = paused
          ? await reader.resume(decodeEwah(new Uint8Array(paused.partial)).bits, paused.pending ? paused.pending.split(" ") : [])
          : await reader.reach(oid);
        if (!walk.finished) {
          this.sql.exec(
            "UPDATE git_bitmap_selected SET partial = ?, pending = ? WHERE seq = ?",
            encodeEwah(walk.bits),
            walk.trees.join(" "),
            seq,
          );
          break;
        }
        // The file XORs an entry with one of the few before it, in this order.
        const window: Bitset[] = [];
        for (const r of rows.slice(Math.max(0, seq - XOR_WINDOW), seq)) window.push(done.bits(r.oid));
        const { xorOffset, bytes } = storedBits(walk.bits, window);
        const plain = encodeEwah(walk.bits);
        this.sql.exec(
          "UPDATE git_bitmap_selected SET bits = ?, xor = ?, stored = ?, partial = NULL, pending = NULL WHERE seq = ?",
          plain,
          xorOffset,
          bytes,
          seq,
        );
        done.add(oid, seq, plain);
        computed++;
      }
    } finally {
      source.forgetPrefetched();
    }
    return computed;
  }

  /** Reads the types of the next range of the pack's objects; false when all are read. */
  private typesStep(positions: PackPositions): boolean {
    const last = this.sql
      .exec<{ start: number; n: number }>("SELECT start, length(types) AS n FROM git_bitmap_types ORDER BY start DESC LIMIT 1")
      .toArray()[0];
    const start = last ? last.start + last.n : 0;
    if (start >= positions.count) return false;
    const end = Math.min(positions.count, start + TYPES_PER_STEP);
    const types = new Uint8Array(end - start);
    let i = start;
    let want = positions.oidAt(i);
    // The object table holds the objects of other packs too: those are skipped.
    for (const r of this.sql.exec<{ oid: string; type: number }>(
      "SELECT oid, type FROM git_object WHERE oid >= ? AND oid <= ? ORDER BY oid",
      want,
      positions.oidAt(end - 1),
    )) {
      if (r.oid < want) continue;
      if (r.oid !== want) throw new PackNotClosedError(`${want} has no row in the object table`);
      types[i - start] = r.type;
      if (++i >= end) break;
      want = positions.oidAt(i);
    }
    if (i < end) throw new PackNotClosedError(`${want} has no row in the object table`);
    this.sql.exec("INSERT INTO git_bitmap_types (start, types) VALUES (?, ?)", start, types);
    return true;
  }

  /** The file, from the stored entries and types: nothing left to compute. */
  private writeFile(pack: string, positions: PackPositions): void {
    const types = new Uint8Array(positions.count);
    for (const r of this.sql.exec<{ start: number; types: ArrayBuffer }>("SELECT start, types FROM git_bitmap_types ORDER BY start")) {
      const part = new Uint8Array(r.types);
      for (let k = 0; k < part.length; k++) types[positions.packPosition[r.start + k]] = part[k];
    }
    const count = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM git_bitmap_selected").one().n;
    const entries = (function* (sql: SqlStorage) {
      for (const r of sql.exec<{ oid: string; xor: number; stored: ArrayBuffer }>(
        "SELECT oid, xor, stored FROM git_bitmap_selected ORDER BY seq",
      ))
        yield { idxPosition: positions.find(r.oid), xorOffset: r.xor, bytes: new Uint8Array(r.stored) };
    })(this.sql);
    const bytes = assembleBitmap(positions.checksum, types, entries, count);
    this.fs.writeFile(PackBitmaps.pathOf(pack), bytes, { mode: 0o444 });
    this.forgetWork();
    this.sql.exec("UPDATE git_bitmap_job SET state = 'written' WHERE id = 1");
  }

  /** Forgets the bitmap of a pack about to go (its files are retired with the pack's). */
  drop(pack: string): void {
    if (this.job()?.pack === pack) {
      this.forgetWork();
      this.sql.exec("DELETE FROM git_bitmap_job");
    }
  }
}

/** The selected commits' bitmaps computed so far, read from SQLite when a walk meets them. */
class DoneBitmaps {
  private readonly cache = new Map<string, Uint8Array>();

  constructor(
    private readonly sql: SqlStorage,
    private readonly seqOf: Map<string, number>,
  ) {}

  has(oid: string): boolean {
    return this.seqOf.has(oid);
  }

  /** The compressed bitmap of a done commit, or undefined. */
  get(oid: string): Uint8Array | undefined {
    const seq = this.seqOf.get(oid);
    if (seq === undefined) return undefined;
    let bytes = this.cache.get(oid);
    if (bytes) {
      // Most recently used last.
      this.cache.delete(oid);
    } else {
      const row = this.sql.exec<{ bits: ArrayBuffer }>("SELECT bits FROM git_bitmap_selected WHERE seq = ?", seq).toArray()[0];
      bytes = new Uint8Array(row.bits);
    }
    this.cache.set(oid, bytes);
    if (this.cache.size > DONE_CACHE) this.cache.delete(this.cache.keys().next().value!);
    return bytes;
  }

  bits(oid: string): Bitset {
    const bytes = this.get(oid);
    if (!bytes) throw new Error(`no bitmap computed for ${oid}`);
    return decodeEwah(bytes).bits;
  }

  add(oid: string, seq: number, bytes: Uint8Array): void {
    this.seqOf.set(oid, seq);
    this.cache.set(oid, bytes);
    if (this.cache.size > DONE_CACHE) this.cache.delete(this.cache.keys().next().value!);
  }
}

/**
 * Which commits get bitmaps, as git's `bitmap_writer_select_commits` chooses: every ref
 * tip; below 100 commits every commit; else, newest first, the 100 most recent, then one
 * in up to 100 (merges preferred) to 20,000 back, then one in up to 5,000. Returned in an
 * order where each commit comes after its ancestors, so each bitmap builds on those below.
 */
export function selectCommits(source: BitmapSource, tips: string[]): string[] {
  const heads = commitHeads(source, tips);
  // Parents before children (a depth-first post-order), with an explicit stack.
  const order: string[] = [];
  const state = new Map<string, number>();
  const times: number[] = [];
  const merges: boolean[] = [];
  for (const head of heads) {
    const stack = [head];
    while (stack.length) {
      const c = stack[stack.length - 1];
      if (state.get(c) === 2) {
        stack.pop();
        continue;
      }
      const info = source.commit(c);
      if (!state.has(c)) {
        state.set(c, 1);
        for (const p of info.parents) if (!state.has(p)) stack.push(p);
        continue;
      }
      state.set(c, 2);
      order.push(c);
      times.push(info.time);
      merges.push(info.parents.length > 1);
      stack.pop();
    }
  }
  const rank = new Map(order.map((c, i) => [c, i]));
  return chooseCommits(Float64Array.from(times), merges, new Set(heads.map((h) => rank.get(h)!))).map((i) => order[i]);
}

/**
 * As `selectCommits`, walked over the commit-graph's arrays by position instead of the
 * commit table by name: for a large history, the difference between a few milliseconds
 * and seconds. Null when there is no graph or it lacks a head (it is written just before,
 * but may be stale): the caller walks the table then.
 */
export function selectByGraph(fs: Dofs, source: BitmapSource, tips: string[]): string[] | null {
  if (!fs.exists(COMMIT_GRAPH_PATH)) return null;
  const graph = new CommitGraph(fs.readFile(COMMIT_GRAPH_PATH));
  const heads: number[] = [];
  for (const head of commitHeads(source, tips)) {
    const at = graph.position(head);
    if (at < 0) return null;
    heads.push(at);
  }
  const state = new Uint8Array(graph.count);
  const order: number[] = [];
  const times: number[] = [];
  const merges: boolean[] = [];
  for (const head of heads) {
    const stack = [head];
    while (stack.length) {
      const c = stack[stack.length - 1];
      if (state[c] === 2) {
        stack.pop();
        continue;
      }
      const parents = graph.parentsAt(c);
      if (!state[c]) {
        state[c] = 1;
        for (const p of parents) if (!state[p]) stack.push(p);
        continue;
      }
      state[c] = 2;
      order.push(c);
      times.push(graph.timeAt(c));
      merges.push(parents.length > 1);
      stack.pop();
    }
  }
  const rank = new Map(order.map((c, i) => [c, i]));
  return chooseCommits(Float64Array.from(times), merges, new Set(heads.map((h) => rank.get(h)!))).map((i) => graph.oidAt(order[i]));
}

/** The commits the tips name, through tags, without repeats. */
function commitHeads(source: BitmapSource, tips: string[]): string[] {
  const heads: string[] = [];
  for (const tip of tips) {
    let cur: string | null = tip;
    for (let depth = 0; cur && depth < 64 && source.typeOf(cur) === OBJ_TAG; depth++) cur = source.tagTarget(cur);
    if (cur && source.typeOf(cur) === OBJ_COMMIT && !heads.includes(cur)) heads.push(cur);
  }
  return heads;
}

/**
 * The choice itself, over commits numbered in an order where parents come first: every
 * tip; below 100 commits every commit; else, newest first, the 100 most recent, then one
 * in up to 100 (merges preferred), and so on (see `nextCommitIndex`). In that order.
 */
function chooseCommits(times: Float64Array, merges: boolean[], tips: Set<number>): number[] {
  const count = times.length;
  const chosen = new Set(tips);
  if (count <= SELECT_ALL_BELOW) for (let i = 0; i < count; i++) chosen.add(i);
  else {
    const recent = new Uint32Array(count);
    for (let i = 0; i < count; i++) recent[i] = i;
    recent.sort((a, b) => times[b] - times[a] || b - a);
    for (let i = 0; chosen.size < MAX_ENTRIES; ) {
      const next = nextCommitIndex(i, count);
      if (i + next >= count) break;
      let pick = recent[i + next];
      for (let j = 0; next && j <= next; j++) {
        const c = recent[i + j];
        if (tips.has(c)) {
          pick = c;
          break;
        }
        if (merges[c]) pick = c;
      }
      chosen.add(pick);
      i += next + 1;
    }
  }
  return [...chosen].sort((a, b) => a - b);
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
  private readonly started = Date.now();

  constructor(
    private readonly source: BitmapSource,
    private readonly positions: PackPositions,
    private readonly done: DoneBitmaps,
    /** Trees to read before pausing (between trees) ... */
    private readonly budget: number,
    /** ...or ms of waiting on I/O (R2 reads: the clock advances only across I/O in workerd). */
    private readonly waitMs: number,
  ) {}

  /** Whether this step has done its share (never before its first tree: each step gets somewhere). */
  spent(): boolean {
    return this.treesRead > 0 && (this.treesRead >= this.budget || Date.now() - this.started >= this.waitMs);
  }

  private position(oid: string): number {
    const p = this.positions.position(oid);
    if (p < 0) throw new PackNotClosedError(`${oid} is not in the pack`);
    return p;
  }

  /**
   * The objects `commit` reaches, or, when the step's share is spent first, where the walk
   * stands: its bits so far and the trees still to read (see `resume`).
   */
  async reach(commit: string): Promise<{ bits: Bitset; trees: string[]; finished: boolean }> {
    const bits = new Bitset(this.positions.count);
    const commits = [commit];
    // Commits first, trees after: the bitmaps met on the way set most trees' bits, and a
    // tree whose bit is set is not read.
    const trees: string[] = [];
    while (commits.length) {
      const c = commits.pop()!;
      const at = this.position(c);
      if (bits.get(at)) continue;
      if (c !== commit && this.done.has(c)) {
        bits.or(decodeEwah(this.done.get(c)!).bits);
        continue;
      }
      bits.set(at);
      const info = this.source.commit(c);
      trees.push(info.tree);
      // Parents with bitmaps first: what they reach is then not walked again.
      for (const p of info.parents) {
        if (this.done.has(p) && !bits.get(this.position(p))) bits.or(decodeEwah(this.done.get(p)!).bits);
      }
      for (const p of info.parents) if (!bits.get(this.position(p))) commits.push(p);
    }
    return this.resume(bits, trees);
  }

  /** Reads trees from `stack` into `bits` until it is empty or the step's share is spent. */
  async resume(bits: Bitset, stack: string[]): Promise<{ bits: Bitset; trees: string[]; finished: boolean }> {
    while (stack.length) {
      if (this.spent()) return { bits, trees: stack, finished: false };
      // A batch of pending trees, read in pack order: from a pack in R2 each read fetches
      // a block, and neighbours in the pack then share it (the walk's own order scatters).
      const batch: { oid: string; at: number }[] = [];
      while (stack.length && batch.length < TREE_BATCH) {
        const oid = stack.pop()!;
        const at = this.position(oid);
        if (!bits.get(at)) {
          bits.set(at);
          batch.push({ oid, at });
        }
      }
      batch.sort((x, y) => x.at - y.at);
      // Located in one query rather than one each.
      this.source.prefetchLocations(batch.map((b) => b.oid));
      for (let k = 0; k < batch.length; k++) {
        if (k && this.spent()) {
          // The rest wait for the next step, unread: their bits go until then.
          for (let r = k; r < batch.length; r++) {
            bits.clear(batch[r].at);
            stack.push(batch[r].oid);
          }
          return { bits, trees: stack, finished: false };
        }
        const o = await this.source.readObject(batch[k].oid);
        if (!o || o.type !== OBJ_TREE) throw new PackNotClosedError(`tree ${batch[k].oid} is unreadable`);
        this.treesRead++;
        for (const child of treeChildren(o.data)) {
          const p = this.position(child.oid);
          if (!child.isTree) bits.set(p);
          else if (!bits.get(p)) stack.push(child.oid);
        }
      }
    }
    return { bits, trees: stack, finished: true };
  }
}
