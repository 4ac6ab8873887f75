// The pack indexer: what `git index-pack --fix-thin` does, over a pack stored in DOFS.
//
// Pass 1 walks the pack once, in order, through a window of a few MB: it finds each
// entry's end by inflating it (the only way to find it), checks sizes and the trailer
// checksum, computes CRC-32s, hashes every whole object, and resolves every delta whose
// base it has met, from a byte-budgeted cache of recent objects.
// Pass 2 resolves the deltas left (bases later in the pack, or outside it) base-first,
// as git does: each base is inflated once and its children are applied to it, so
// memory holds one delta chain, not the pack.
// Ref-deltas whose base is not in the pack (a thin pack) are completed from the
// repository's object store and those bases are appended, so the stored pack is
// self-contained, as git requires of packs on disk.
import { createHash, type Hash } from "node:crypto";
import { crc32 } from "node:zlib";
import type { Dofs } from "../../fs/dofs";
import {
  OBJ_COMMIT,
  OBJ_OFS_DELTA,
  OBJ_REF_DELTA,
  OBJ_TAG,
  OBJ_TREE,
  ObjectFormatError,
  hashObject,
  parseCommit,
  parseTag,
  toHex,
  typeCode,
  typeName,
} from "../object/object";
import { applyDelta } from "./delta";
import type { BaseSource } from "./source";
import { PackFormatError, encodeWholeEntry, parseEntryHeader } from "./entry";
import { inflateEntry, inflateExact } from "./zlib";
import { ByteLru, compact } from "../../util/lru";
import { yieldToEventLoop } from "../../util/pace";
import { IdSet, PackEntries } from "./entries";

export const MAX_OBJECT_SIZE = 256 * 1024 * 1024;
export const MAX_DELTA_DEPTH = 4095;
const WINDOW_BLOCK = 1024 * 1024;
/** Deltas kept inflated for pass 2 (few: most resolve in pass 1). */
const KEEP_DELTAS_BUDGET = 8 * 1024 * 1024;
/** Resolved objects kept as bases for the deltas after them. */
const BASE_CACHE_BUDGET = 24 * 1024 * 1024;

export type { IndexedObject } from "./entries";

export interface CommitLinks {
  oid: string;
  tree: string;
  parents: string[];
  time: number;
}

export interface TagLink {
  oid: string;
  /** The object the tag names, and its type code. */
  object: string;
  type: number;
}

export interface IndexResult {
  packChecksum: Uint8Array;
  packSize: number;
  objects: PackEntries;
  commits: CommitLinks[];
  tags: TagLink[];
  /** Ids that objects in this pack refer to (trees, parents, blobs, tag targets) and that it lacks. */
  referenced: Set<string>;
  /** Bases appended to complete a thin pack. */
  thinBases: number;
  /** Their ids: the repository already holds them, maybe as deltas it would rather send. */
  appended?: string[];
  /** Every object that an object in the pack refers to is in the pack. */
  closed: boolean;
}

/** What the indexer needs of the repository: bases for thin packs. */
export interface IndexOptions {
  fixThin?: boolean;
  maxObjectSize?: number;
  onProgress?: (phase: "receiving" | "resolving", done: number, total: number) => void;
}

interface Pending {
  index: number;
  headerLength: number;
  deltaSize: number;
  baseOffset?: number;
  baseOid?: string;
}

class PackWindow {
  private buf = new Uint8Array(0);
  private start = 0;
  private hashedTo = 0;

  constructor(
    private readonly fs: Dofs,
    private readonly path: string,
    readonly size: number,
    private readonly hash: Hash,
  ) {}

  /** Makes [pos, pos+need) available (clipped at end of file) and returns the window. */
  view(pos: number, need: number, keep = pos): { bytes: Uint8Array; at: number } {
    const end = Math.min(this.size, pos + need);
    if (keep < this.start) throw new PackFormatError("pack window moved backwards");
    if (end > this.start + this.buf.byteLength) {
      const have = this.start + this.buf.byteLength;
      const keepFrom = Math.min(keep, have);
      const readTo = Math.min(this.size, Math.max(end, have + WINDOW_BLOCK));
      const fresh = this.fs.readThrough(this.path, have, readTo - have);
      const kept = this.buf.subarray(keepFrom - this.start);
      const merged = new Uint8Array(kept.byteLength + fresh.byteLength);
      merged.set(kept);
      merged.set(fresh, kept.byteLength);
      this.buf = merged;
      this.start = keepFrom;
      // The trailer is the hash of everything before it: feed each byte once, in order.
      const hashEnd = Math.min(readTo, this.size - 20);
      if (hashEnd > this.hashedTo) {
        this.hash.update(this.buf.subarray(this.hashedTo - this.start, hashEnd - this.start));
        this.hashedTo = hashEnd;
      }
    }
    return { bytes: this.buf, at: pos - this.start };
  }

  atEof(pos: number, need: number): boolean {
    return pos + need > this.size;
  }
}

function inflateAt(
  win: PackWindow,
  entryStart: number,
  pos: number,
  expected: number,
  maxSize: number,
): { data: Uint8Array; consumed: number } {
  if (expected > maxSize) throw new PackFormatError(`object of ${expected} bytes exceeds the ${maxSize}-byte limit`);
  let need = expected + 64 + (expected >> 6);
  for (;;) {
    const { bytes, at } = win.view(pos, need, entryStart);
    let r: ReturnType<typeof inflateEntry>;
    try {
      r = inflateEntry(bytes.subarray(at, at + need), expected);
    } catch (e) {
      if (e instanceof PackFormatError) throw new PackFormatError(`${e.message} (entry at offset ${entryStart})`);
      throw e;
    }
    if (r !== "short") return { data: r.buffer, consumed: r.consumed };
    if (win.atEof(pos, need)) throw new PackFormatError(`corrupt zlib stream at offset ${pos}: unexpected end of file`);
    need *= 2;
  }
}

type Frame = {
  index: number | null;
  data: Uint8Array;
  oid: string;
  type: number;
  offset: number | null;
  kids: Pending[];
  next: number;
  depth: number;
};

/**
 * The indexer as resumable work: `step(budget)` does about `budget` units of work (an
 * object, or 64 KiB of one) and returns, keeping its place, so that a large pack can be
 * indexed over several invocations of the Durable Object (each with its own CPU budget)
 * while the instance stays in memory. `finish()` completes thin packs and returns the result.
 *
 * Deltas are resolved as the scan reaches them, from a byte-budgeted cache of the objects
 * just resolved: git writes a delta after its base and mostly near it, so the base is
 * usually cached, and otherwise rebuilt from its entries, whose places are known by then.
 * Only deltas whose base is not yet resolved (a ref-delta to a later or missing object,
 * and deltas on those) wait for pass 2, which resolves them base first.
 */
export class PackIndexer {
  private readonly maxSize: number;
  readonly packSize: number;
  private readonly hash = createHash("sha1");
  private readonly win: PackWindow;
  readonly count: number;
  private readonly objects: PackEntries;
  private readonly commits: CommitLinks[] = [];
  private readonly tags: TagLink[] = [];
  /** Ids that objects refer to; the size of the pack's id list again, so binary. */
  private referenced: IdSet | null;
  /** Deltas left for pass 2. */
  private readonly pending: Pending[] = [];
  private readonly kept = new Map<number, Uint8Array>();
  private keptBytes = 0;
  /** Resolved objects by index, the bases of the deltas that follow them. */
  private readonly bases = new ByteLru<number, Uint8Array>(BASE_CACHE_BUDGET, (d) =>
    d.byteLength > BASE_CACHE_BUDGET / 8 ? BASE_CACHE_BUDGET + 1 : d.byteLength + 64,
  );
  private readonly depth: Uint16Array;
  /** Work done rebuilding bases, counted against the slice that needed them. */
  private rebuilt = 0;
  private pos = 12;
  private scanned = 0;
  private computed: Uint8Array | null = null;
  private readonly childrenByOffset = new Map<number, Pending[]>();
  private readonly childrenByOid = new Map<string, Pending[]>();
  private resolved = 0;
  private rootCursor = 0;
  /** Pass 2's place: the delta tree under one base, kept across steps. */
  private stack: Frame[] = [];
  private phase: "scan" | "resolve" | "thin" = "scan";

  constructor(
    private readonly fs: Dofs,
    private readonly path: string,
    private readonly base: BaseSource,
    private readonly options: IndexOptions = {},
  ) {
    this.maxSize = options.maxObjectSize ?? MAX_OBJECT_SIZE;
    this.packSize = fs.stat(path).size;
    if (this.packSize < 32) throw new PackFormatError("pack is truncated: shorter than a header and trailer");
    this.win = new PackWindow(fs, path, this.packSize, this.hash);
    const head = this.win.view(0, 12);
    const h = head.bytes.subarray(head.at, head.at + 12);
    if (h[0] !== 0x50 || h[1] !== 0x41 || h[2] !== 0x43 || h[3] !== 0x4b) throw new PackFormatError("not a pack: bad signature");
    const version = new DataView(h.buffer, h.byteOffset, 12).getUint32(4);
    if (version !== 2 && version !== 3) throw new PackFormatError(`unsupported pack version ${version}`);
    this.count = new DataView(h.buffer, h.byteOffset, 12).getUint32(8);
    // A count no pack of this size can hold is a lie: each entry takes at least two bytes.
    if (this.count > (this.packSize - 32) / 2 + 1)
      throw new PackFormatError(`pack is truncated: it claims ${this.count} objects, more than its size can hold`);
    this.objects = new PackEntries(this.count);
    this.referenced = new IdSet(this.count);
    this.depth = new Uint16Array(this.count);
  }

  /** Where the work stands, for progress messages. */
  progress(): { phase: "receiving" | "resolving"; done: number; total: number } {
    return this.phase === "scan"
      ? { phase: "receiving", done: this.scanned, total: this.count }
      : { phase: "resolving", done: this.resolved, total: this.pending.length };
  }

  /** About `budget` units of work; true when only `finish()` is left. */
  step(budget: number): boolean {
    let left = budget;
    if (this.phase === "scan") {
      left -= this.scan(left);
      if (this.scanned < this.count) return false;
      this.endScan();
      this.phase = "resolve";
    }
    if (this.phase === "resolve") {
      for (;;) {
        if (left <= 0) return false;
        if (!this.stack.length && !this.nextRoot()) break;
        left -= this.descend(left);
      }
      this.phase = "thin";
    }
    return true;
  }

  private noteObject(oid: string, type: number, data: Uint8Array): void {
    const referenced = this.referenced!;
    try {
      if (type === OBJ_COMMIT) {
        const c = parseCommit(data);
        this.commits.push({ oid, tree: c.tree, parents: c.parents, time: c.committer.timestamp });
        referenced.addHex(c.tree);
        for (const p of c.parents) referenced.addHex(p);
      } else if (type === OBJ_TREE) {
        noteTreeChildren(data, referenced);
      } else if (type === OBJ_TAG) {
        const t = parseTag(data);
        this.tags.push({ oid, object: t.object, type: typeCode(t.type) });
        referenced.addHex(t.object);
      }
    } catch (e) {
      if (e instanceof ObjectFormatError) throw new PackFormatError(`malformed ${typeName(type)} ${oid}: ${e.message}`);
      throw e;
    }
  }

  /** Records object `i` as resolved to `data` of `type`, on the base at `baseIndex` (-1: none in the pack). */
  private resolvedAs(i: number, type: number, data: Uint8Array, baseIndex: number, baseOid: string | null, depth: number): void {
    const oid = hashObject(typeName(type), data);
    this.objects.resolve(i, oid, type, data.byteLength, baseIndex, baseOid);
    this.depth[i] = depth;
    this.noteObject(oid, type, data);
  }

  /** Pass 1 over up to `budget` units; returns how many it used. */
  private scan(budget: number): number {
    const { win, packSize, count, maxSize, options, objects } = this;
    let n = 0;
    this.rebuilt = 0;
    for (; this.scanned < count && n + this.rebuilt < budget; n++) {
      const i = this.scanned;
      const pos = this.pos;
      if (pos >= packSize - 20) throw new PackFormatError(`pack is truncated: ${count - i} of ${count} objects missing`);
      const { bytes, at } = win.view(pos, 32);
      const header = parseEntryHeader(bytes.subarray(0, Math.min(bytes.byteLength, at + 32)), at);
      if (!header) throw new PackFormatError("pack is truncated inside an entry header");
      const dataStart = pos + header.headerLength;
      const { data, consumed } = inflateAt(win, pos, dataStart, header.size, maxSize);
      const end = dataStart + consumed;
      if (end > packSize - 20) throw new PackFormatError("pack is truncated inside an object");
      const raw = win.view(pos, end - pos);
      const crc = crc32(raw.bytes.subarray(raw.at, raw.at + (end - pos)));
      if (header.type === OBJ_OFS_DELTA || header.type === OBJ_REF_DELTA) {
        const baseOffset = header.baseDistance !== undefined ? pos - header.baseDistance : undefined;
        const baseIndex =
          baseOffset !== undefined ? (baseOffset < 12 ? -1 : objects.atOffset(baseOffset)) : objects.findHex(header.baseOid!);
        if (baseOffset !== undefined && baseIndex < 0) {
          throw new PackFormatError(`delta at offset ${pos} names a base at ${baseOffset}, which is not an entry`);
        }
        objects.push(pos, end - pos, crc, header.baseOid ?? null);
        if (baseIndex >= 0 && objects.isResolved(baseIndex)) {
          const depth = this.depth[baseIndex] + 1;
          if (depth > MAX_DELTA_DEPTH) throw new PackFormatError(`delta chain deeper than ${MAX_DELTA_DEPTH}`);
          const result = applyDelta(this.baseData(baseIndex), data);
          if (result.byteLength > maxSize)
            throw new PackFormatError(`object of ${result.byteLength} bytes exceeds the ${maxSize}-byte limit`);
          this.resolvedAs(i, objects.type(baseIndex), result, baseIndex, null, depth);
          this.bases.set(i, result);
          n += result.byteLength >> 16;
        } else {
          this.pending.push({ index: i, headerLength: header.headerLength, deltaSize: header.size, baseOffset, baseOid: header.baseOid });
          if (this.keptBytes + data.byteLength <= KEEP_DELTAS_BUDGET) {
            this.kept.set(i, compact(data));
            this.keptBytes += data.byteLength;
          }
        }
      } else {
        objects.push(pos, end - pos, crc, null);
        this.resolvedAs(i, header.type, data, -1, null, 0);
        this.bases.set(i, data);
      }
      this.pos = end;
      this.scanned++;
      // Large objects cost more: a unit of work per 64 KiB beyond the first.
      n += header.size >> 16;
      if (options.onProgress && (i & 1023) === 0) options.onProgress("receiving", i, count);
    }
    return n + this.rebuilt;
  }

  /**
   * A resolved object's data: from the cache, or rebuilt from its entries down from the
   * nearest cached (or whole) object of its chain.
   */
  private baseData(index: number): Uint8Array {
    const hit = this.bases.get(index);
    if (hit) return hit;
    const chain: number[] = [];
    let cur = index;
    let data: Uint8Array;
    for (;;) {
      const cached = this.bases.get(cur);
      if (cached) {
        data = cached;
        break;
      }
      const baseOf = this.objects.baseOf[cur];
      if (baseOf < 0) {
        if (this.objects.isDelta(cur))
          throw new PackFormatError(`delta ${this.objects.oid(cur)} has no base in the pack to rebuild it from`);
        data = this.readEntry(cur);
        this.bases.set(cur, data);
        break;
      }
      chain.push(cur);
      cur = baseOf;
    }
    for (let k = chain.length - 1; k >= 0; k--) {
      data = applyDelta(data, this.readEntry(chain[k]));
      this.bases.set(chain[k], data);
      this.rebuilt += 1 + (data.byteLength >> 16);
    }
    return data;
  }

  /** The trailer check, and the maps pass 2 walks. */
  private endScan(): void {
    const { win, packSize } = this;
    if (this.pos !== packSize - 20) throw new PackFormatError(`pack has ${packSize - 20 - this.pos} bytes of junk after its last object`);
    const trailer = win.view(this.pos, 20);
    const stored = trailer.bytes.subarray(trailer.at, trailer.at + 20);
    this.computed = Uint8Array.from(this.hash.digest());
    if (toHex(stored) !== toHex(this.computed)) throw new PackFormatError("pack trailer checksum mismatch: the pack is corrupt");
    for (const p of this.pending) {
      if (p.baseOffset !== undefined) push(this.childrenByOffset, p.baseOffset, p);
      else push(this.childrenByOid, p.baseOid!, p);
    }
  }

  private deltaData(p: Pending): Uint8Array {
    const k = this.kept.get(p.index);
    if (k) {
      this.kept.delete(p.index);
      return k;
    }
    const { objects } = this;
    const raw = this.fs.read(this.path, objects.offset(p.index) + p.headerLength, objects.entryLength(p.index) - p.headerLength);
    return inflateExact(raw, p.deltaSize);
  }

  /** Entry `i` inflated: the object, or for a delta entry the delta. */
  private readEntry(i: number): Uint8Array {
    const raw = this.fs.read(this.path, this.objects.offset(i), this.objects.entryLength(i));
    const hdr = parseEntryHeader(raw, 0)!;
    return inflateExact(raw.subarray(hdr.headerLength), hdr.size);
  }

  private kidsOf(offset: number | null, oid: string): Pending[] {
    const byOffset = offset !== null ? this.childrenByOffset.get(offset) : undefined;
    const byOid = this.childrenByOid.get(oid);
    if (offset !== null) this.childrenByOffset.delete(offset);
    this.childrenByOid.delete(oid);
    if (!byOid) return byOffset ?? [];
    return byOffset ? [...byOffset, ...byOid] : byOid;
  }

  /** Starts pass 2 on the next resolved object that waiting deltas name; false when none is left. */
  private nextRoot(): boolean {
    const { objects } = this;
    while (this.rootCursor < objects.length) {
      const i = this.rootCursor++;
      if (!objects.isResolved(i)) continue;
      const offset = objects.offset(i);
      if (!this.childrenByOffset.has(offset) && (!this.childrenByOid.size || !this.childrenByOid.has(objects.oid(i)))) continue;
      const oid = objects.oid(i);
      this.stack.push({
        index: i,
        data: this.baseData(i),
        oid,
        type: objects.type(i),
        offset,
        kids: this.kidsOf(offset, oid),
        next: 0,
        depth: this.depth[i],
      });
      return true;
    }
    return false;
  }

  /** Resolves deltas of the tree on the stack, depth first, for up to `budget` units; returns how many it used. */
  private descend(budget: number): number {
    const { objects, options, stack } = this;
    let used = 0;
    while (stack.length && used < budget) {
      const top = stack[stack.length - 1];
      if (top.next >= top.kids.length) {
        stack.pop();
        continue;
      }
      const child = top.kids[top.next++];
      const depth = top.depth + 1;
      if (depth > MAX_DELTA_DEPTH) throw new PackFormatError(`delta chain deeper than ${MAX_DELTA_DEPTH}`);
      const result = applyDelta(top.data, this.deltaData(child));
      if (result.byteLength > this.maxSize)
        throw new PackFormatError(`object of ${result.byteLength} bytes exceeds the ${this.maxSize}-byte limit`);
      this.resolvedAs(child.index, top.type, result, top.index ?? -1, top.index === null ? top.oid : null, depth);
      const offset = objects.offset(child.index);
      const oid = objects.oid(child.index);
      this.resolved++;
      used += 1 + (result.byteLength >> 16);
      if (options.onProgress && (this.resolved & 1023) === 0) options.onProgress("resolving", this.resolved, this.pending.length);
      const kids = this.kidsOf(offset, oid);
      if (kids.length) stack.push({ index: child.index, data: result, oid, type: top.type, offset, kids, next: 0, depth });
    }
    return used;
  }

  /** Completes the indexing (a thin pack from the repository) and returns the index. */
  async finish(): Promise<IndexResult> {
    // What is left of a pack indexed at once runs in pieces, the event loop turning between them.
    while (!this.step(500)) await yieldToEventLoop();
    const { objects } = this;
    // Whatever is left names bases outside the pack: a thin pack.
    const thin: { oid: string; type: number; data: Uint8Array }[] = [];
    for (const oid of [...this.childrenByOid.keys()]) {
      if (!this.childrenByOid.has(oid)) continue;
      const found = this.options.fixThin === false ? null : await this.base.readObject(oid);
      if (!found) throw new PackFormatError(`delta base ${oid} is missing`);
      thin.push({ oid, type: found.type, data: found.data });
      this.stack.push({
        index: null,
        data: found.data,
        oid,
        type: found.type,
        offset: null,
        kids: this.kidsOf(null, oid),
        next: 0,
        depth: 0,
      });
      this.descend(Number.POSITIVE_INFINITY);
    }
    if (this.childrenByOffset.size || this.resolved !== this.pending.length) {
      throw new PackFormatError("pack has deltas that cannot be resolved (a delta cycle)");
    }
    let checksum: Uint8Array = this.computed!;
    let size = this.packSize;
    if (thin.length) {
      ({ checksum, size } = appendBases(this.fs, this.path, this.packSize, this.count, thin, objects));
    }
    // Only what the pack lacks is worth a string each: the rest is the pack's own ids.
    const lacking = new Set<string>();
    this.referenced?.forEach((bytes, at) => {
      if (objects.find(bytes, at) < 0) lacking.add(toHex(bytes.subarray(at, at + 20)));
    });
    // The indexer outlives its result in a push job: let go of what only indexing needed.
    this.referenced = null;
    this.bases.clear();
    this.kept.clear();
    this.stack = [];
    return {
      packChecksum: checksum,
      packSize: size,
      objects,
      commits: this.commits,
      tags: this.tags,
      referenced: lacking,
      thinBases: thin.length,
      appended: thin.map((t) => t.oid),
      closed: lacking.size === 0,
    };
  }
}

export async function indexPack(fs: Dofs, path: string, base: BaseSource, options: IndexOptions = {}): Promise<IndexResult> {
  return new PackIndexer(fs, path, base, options).finish();
}

/**
 * Adds the ids a tree names to `into`, as `treeChildren` reads them (gitlinks skipped),
 * without a record or a string per entry: trees are most of a large pack's objects.
 */
function noteTreeChildren(data: Uint8Array, into: IdSet): void {
  let i = 0;
  const n = data.byteLength;
  while (i < n) {
    // Loops, not `indexOf`: a mode and a name are a few bytes, shorter than a call costs.
    let sp = i;
    while (sp < n && data[sp] !== 32) sp++;
    let nul = sp;
    while (nul < n && data[nul] !== 0) nul++;
    if (sp >= n || nul + 21 > n) throw new ObjectFormatError("truncated tree entry");
    if (!(sp - i === 6 && data[i] === 49 && data[i + 1] === 54)) into.add(data, nul + 1);
    i = nul + 21;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Appends whole objects before the trailer, then rewrites the count and trailer. */
function appendBases(
  fs: Dofs,
  path: string,
  packSize: number,
  count: number,
  bases: { oid: string; type: number; data: Uint8Array }[],
  objects: PackEntries,
): { checksum: Uint8Array; size: number } {
  fs.truncate(path, packSize - 20);
  let pos = packSize - 20;
  for (const b of bases) {
    const entry = encodeWholeEntry(b.type, b.data);
    fs.writeAt(path, pos, entry);
    const i = objects.push(pos, entry.byteLength, crc32(entry), null);
    objects.resolve(i, b.oid, b.type, b.data.byteLength, -1, null);
    pos += entry.byteLength;
  }
  const countBytes = new Uint8Array(4);
  new DataView(countBytes.buffer).setUint32(0, count + bases.length);
  fs.writeAt(path, 8, countBytes);
  const hash = createHash("sha1");
  for (let off = 0; off < pos; off += WINDOW_BLOCK) hash.update(fs.read(path, off, Math.min(WINDOW_BLOCK, pos - off)));
  const checksum = new Uint8Array(hash.digest());
  fs.writeAt(path, pos, checksum);
  return { checksum, size: pos + 20 };
}
