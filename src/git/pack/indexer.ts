// The pack indexer: what `git index-pack --fix-thin` does, over a pack stored in DOFS.
//
// Pass 1 walks the pack once, in order, through a window of a few MB: it finds each
// entry's end by inflating it (the only way to find it), checks sizes and the trailer
// checksum, computes CRC-32s, and hashes every whole object.
// Pass 2 resolves deltas base-first, as git does: each base is inflated once and its
// children are applied to it, so memory holds one delta chain, not the pack.
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
  treeChildren,
  typeCode,
  typeName,
} from "../object/object";
import { applyDelta } from "./delta";
import type { BaseSource } from "./source";
import { PackFormatError, encodeWholeEntry, parseEntryHeader } from "./entry";
import { inflateCounting, inflateExact } from "./zlib";
import { compact } from "../../util/lru";
import { yieldToEventLoop } from "../../util/pace";

export const MAX_OBJECT_SIZE = 256 * 1024 * 1024;
export const MAX_DELTA_DEPTH = 4095;
const WINDOW_BLOCK = 1024 * 1024;
const KEEP_DELTAS_BUDGET = 24 * 1024 * 1024;

export interface IndexedObject {
  oid: string;
  offset: number;
  /** Bytes of the whole entry: header and zlib stream. */
  length: number;
  crc32: number;
  /** Resolved object type, 1..4. */
  type: number;
  /** Resolved object size. */
  size: number;
  /** Delta base id for delta entries. */
  base: string | null;
}

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
  objects: IndexedObject[];
  commits: CommitLinks[];
  tags: TagLink[];
  /** Ids that objects in this pack refer to (trees, parents, blobs, tag targets). */
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
      const fresh = this.fs.read(this.path, have, readTo - have);
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
    try {
      const r = inflateCounting(bytes.subarray(at), expected);
      if (r.buffer.byteLength !== expected) {
        throw new PackFormatError(`object size mismatch: header says ${expected}, data inflates to ${r.buffer.byteLength}`);
      }
      return { data: r.buffer, consumed: r.consumed };
    } catch (e) {
      if (e instanceof PackFormatError) throw e;
      const msg = (e as Error).message ?? String(e);
      if (/unexpected end/i.test(msg) && !win.atEof(pos, need)) {
        need *= 2;
        continue;
      }
      if (/memory limit|maxOutputLength|buffer/i.test(msg) || e instanceof RangeError) {
        throw new PackFormatError(`object inflates past its declared size of ${expected} bytes`);
      }
      throw new PackFormatError(`corrupt zlib stream at offset ${pos}: ${msg}`);
    }
  }
}

type Frame = { data: Uint8Array; oid: string; offset: number | null; kids: Pending[]; next: number; depth: number };

/**
 * The indexer as resumable work: `step(budget)` does about `budget` objects of pass 1
 * or pass 2 and returns, keeping its place, so that a large pack can be indexed over
 * several invocations of the Durable Object (each with its own CPU budget) while the
 * instance stays in memory. `finish()` completes thin packs and returns the result.
 */
export class PackIndexer {
  private readonly maxSize: number;
  readonly packSize: number;
  private readonly hash = createHash("sha1");
  private readonly win: PackWindow;
  readonly count: number;
  private readonly objects: IndexedObject[] = [];
  private readonly commits: CommitLinks[] = [];
  private readonly tags: TagLink[] = [];
  private readonly referenced = new Set<string>();
  private readonly pending: Pending[] = [];
  private readonly byOffset = new Map<number, number>();
  private readonly kept = new Map<number, Uint8Array>();
  private keptBytes = 0;
  private pos = 12;
  private scanned = 0;
  private computed: Uint8Array | null = null;
  private readonly childrenByOffset = new Map<number, Pending[]>();
  private readonly childrenByOid = new Map<string, Pending[]>();
  private readonly oidIndex = new Map<string, number>();
  private resolved = 0;
  private rootCursor = 0;
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
  }

  /** Where the work stands, for progress messages. */
  progress(): { phase: "receiving" | "resolving"; done: number; total: number } {
    return this.phase === "scan"
      ? { phase: "receiving", done: this.scanned, total: this.count }
      : { phase: "resolving", done: this.resolved, total: this.pending.length };
  }

  /** About `budget` objects of work; true when only `finish()` is left. */
  step(budget: number): boolean {
    let left = budget;
    if (this.phase === "scan") {
      left -= this.scan(left);
      if (this.scanned < this.count) return false;
      this.endScan();
      this.phase = "resolve";
    }
    if (this.phase === "resolve") {
      while (this.rootCursor < this.objects.length) {
        if (left <= 0) return false;
        const i = this.rootCursor++;
        const o = this.objects[i];
        if (o.base !== null || !o.oid) continue;
        if (!this.childrenByOffset.has(o.offset) && !this.childrenByOid.has(o.oid)) continue;
        left -= 1 + this.resolveFrom(i, o.oid, o.type, this.readEntry(i));
      }
      this.phase = "thin";
    }
    return true;
  }

  private noteObject(oid: string, type: number, data: Uint8Array): void {
    try {
      if (type === OBJ_COMMIT) {
        const c = parseCommit(data);
        this.commits.push({ oid, tree: c.tree, parents: c.parents, time: c.committer.timestamp });
        this.referenced.add(c.tree);
        for (const p of c.parents) this.referenced.add(p);
      } else if (type === OBJ_TREE) {
        for (const child of treeChildren(data)) this.referenced.add(child.oid);
      } else if (type === OBJ_TAG) {
        const t = parseTag(data);
        this.tags.push({ oid, object: t.object, type: typeCode(t.type) });
        this.referenced.add(t.object);
      }
    } catch (e) {
      if (e instanceof ObjectFormatError) throw new PackFormatError(`malformed ${typeName(type)} ${oid}: ${e.message}`);
      throw e;
    }
  }

  /** Pass 1 over up to `budget` entries; returns how many it read. */
  private scan(budget: number): number {
    const { win, packSize, count, maxSize, options } = this;
    let n = 0;
    for (; this.scanned < count && n < budget; n++) {
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
      this.byOffset.set(pos, i);
      if (header.type === OBJ_OFS_DELTA || header.type === OBJ_REF_DELTA) {
        const baseOffset = header.baseDistance !== undefined ? pos - header.baseDistance : undefined;
        if (baseOffset !== undefined && (baseOffset < 12 || !this.byOffset.has(baseOffset))) {
          throw new PackFormatError(`delta at offset ${pos} names a base at ${baseOffset}, which is not an entry`);
        }
        this.objects.push({ oid: "", offset: pos, length: end - pos, crc32: crc, type: 0, size: 0, base: header.baseOid ?? null });
        this.pending.push({ index: i, headerLength: header.headerLength, deltaSize: header.size, baseOffset, baseOid: header.baseOid });
        if (this.keptBytes + data.byteLength <= KEEP_DELTAS_BUDGET) {
          this.kept.set(i, compact(data));
          this.keptBytes += data.byteLength;
        }
      } else {
        const oid = hashObject(typeName(header.type), data);
        this.objects.push({ oid, offset: pos, length: end - pos, crc32: crc, type: header.type, size: data.byteLength, base: null });
        this.noteObject(oid, header.type, data);
      }
      this.pos = end;
      this.scanned++;
      // Large objects cost more: a unit of work per 64 KiB beyond the first.
      n += header.size >> 16;
      if (options.onProgress && (i & 1023) === 0) options.onProgress("receiving", i, count);
    }
    return n;
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
    for (let i = 0; i < this.objects.length; i++) if (this.objects[i].oid) this.oidIndex.set(this.objects[i].oid, i);
  }

  private deltaData(p: Pending): Uint8Array {
    const k = this.kept.get(p.index);
    if (k) {
      this.kept.delete(p.index);
      return k;
    }
    const o = this.objects[p.index];
    const raw = this.fs.read(this.path, o.offset + p.headerLength, o.length - p.headerLength);
    return inflateExact(raw, p.deltaSize);
  }

  private readEntry(i: number): Uint8Array {
    const o = this.objects[i];
    const raw = this.fs.read(this.path, o.offset, o.length);
    const hdr = parseEntryHeader(raw, 0)!;
    return inflateExact(raw.subarray(hdr.headerLength), hdr.size);
  }

  private kidsOf(offset: number | null, oid: string): Pending[] {
    return [...(offset !== null ? (this.childrenByOffset.get(offset) ?? []) : []), ...(this.childrenByOid.get(oid) ?? [])];
  }

  /** Resolves every delta under one base, depth first; returns how many. */
  private resolveFrom(rootIndex: number | null, rootOid: string, rootType: number, rootData: Uint8Array): number {
    const { objects, options } = this;
    const before = this.resolved;
    // Explicit stack: chains may be thousands deep.
    const rootOffset = rootIndex !== null ? objects[rootIndex].offset : null;
    const stack: Frame[] = [
      { data: rootData, oid: rootOid, offset: rootOffset, kids: this.kidsOf(rootOffset, rootOid), next: 0, depth: 0 },
    ];
    if (rootOffset !== null) this.childrenByOffset.delete(rootOffset);
    this.childrenByOid.delete(rootOid);
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (top.next >= top.kids.length) {
        stack.pop();
        continue;
      }
      const child = top.kids[top.next++];
      if (top.depth + 1 > MAX_DELTA_DEPTH) throw new PackFormatError(`delta chain deeper than ${MAX_DELTA_DEPTH}`);
      const result = applyDelta(top.data, this.deltaData(child));
      if (result.byteLength > this.maxSize)
        throw new PackFormatError(`object of ${result.byteLength} bytes exceeds the ${this.maxSize}-byte limit`);
      const o = objects[child.index];
      o.type = rootType;
      o.size = result.byteLength;
      o.oid = hashObject(typeName(rootType), result);
      o.base = top.oid;
      this.noteObject(o.oid, rootType, result);
      if (!this.oidIndex.has(o.oid)) this.oidIndex.set(o.oid, child.index);
      this.resolved++;
      if (options.onProgress && (this.resolved & 1023) === 0) options.onProgress("resolving", this.resolved, this.pending.length);
      const kids = this.kidsOf(o.offset, o.oid);
      this.childrenByOffset.delete(o.offset);
      this.childrenByOid.delete(o.oid);
      if (kids.length) stack.push({ data: result, oid: o.oid, offset: o.offset, kids, next: 0, depth: top.depth + 1 });
    }
    return this.resolved - before;
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
      this.resolveFrom(null, oid, found.type, found.data);
    }
    if (this.childrenByOffset.size || this.resolved !== this.pending.length) {
      throw new PackFormatError("pack has deltas that cannot be resolved (a delta cycle)");
    }
    let checksum: Uint8Array = this.computed!;
    let size = this.packSize;
    if (thin.length) {
      ({ checksum, size } = appendBases(this.fs, this.path, this.packSize, this.count, thin, objects));
    }
    let closed = true;
    for (const r of this.referenced) {
      if (!this.oidIndex.has(r) && !thin.some((t) => t.oid === r)) {
        closed = false;
        break;
      }
    }
    return {
      packChecksum: checksum,
      packSize: size,
      objects,
      commits: this.commits,
      tags: this.tags,
      referenced: this.referenced,
      thinBases: thin.length,
      appended: thin.map((t) => t.oid),
      closed,
    };
  }
}

export async function indexPack(fs: Dofs, path: string, base: BaseSource, options: IndexOptions = {}): Promise<IndexResult> {
  return new PackIndexer(fs, path, base, options).finish();
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
  objects: IndexedObject[],
): { checksum: Uint8Array; size: number } {
  fs.truncate(path, packSize - 20);
  let pos = packSize - 20;
  for (const b of bases) {
    const entry = encodeWholeEntry(b.type, b.data);
    fs.writeAt(path, pos, entry);
    objects.push({
      oid: b.oid,
      offset: pos,
      length: entry.byteLength,
      crc32: crc32(entry),
      type: b.type,
      size: b.data.byteLength,
      base: null,
    });
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
