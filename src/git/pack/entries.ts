// The indexer's per-object state in typed arrays. A pack of 420k objects held as one JS
// object and two hex strings per entry, with Maps by offset and by id, takes well over
// 100 MiB of an isolate's 128; here an entry costs about 50 bytes.
import { fromHexInto, toHex } from "../object/object";
import type { IdxTable } from "./idx";

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

/** First four bytes of a 20-byte id as a number: ids are uniform, so this is a fine hash. */
function hash4(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

function same(a: Uint8Array, at: number, b: Uint8Array, bt: number): boolean {
  for (let k = 0; k < 20; k++) if (a[at + k] !== b[bt + k]) return false;
  return true;
}

function tableSize(n: number): number {
  let size = 1024;
  while (size < n * 2) size *= 2;
  return size;
}

/** A set of 20-byte ids: open addressing over one byte array, no string per id. */
export class IdSet {
  private keys: Uint8Array;
  private table: Int32Array;
  size = 0;

  constructor(expected = 1024) {
    this.table = new Int32Array(tableSize(expected));
    this.keys = new Uint8Array(Math.max(64, expected) * 20);
  }

  /** Adds the id at `at` in `bytes`; false if it was there. */
  add(bytes: Uint8Array, at: number): boolean {
    const mask = this.table.length - 1;
    for (let slot = hash4(bytes, at) & mask; ; slot = (slot + 1) & mask) {
      const held = this.table[slot];
      if (held === 0) break;
      if (same(this.keys, (held - 1) * 20, bytes, at)) return false;
    }
    if ((this.size + 1) * 20 > this.keys.byteLength) {
      const keys = new Uint8Array(this.keys.byteLength * 2);
      keys.set(this.keys);
      this.keys = keys;
    }
    this.keys.set(bytes.subarray(at, at + 20), this.size * 20);
    this.size++;
    if (this.size * 2 > this.table.length) this.rehash();
    else this.place(this.size - 1);
    return true;
  }

  addHex(hex: string): void {
    fromHexInto(hex, SCRATCH, 0);
    this.add(SCRATCH, 0);
  }

  /** Calls `f` with the bytes and position of each id. */
  forEach(f: (bytes: Uint8Array, at: number) => void): void {
    for (let i = 0; i < this.size; i++) f(this.keys, i * 20);
  }

  private place(i: number): void {
    const mask = this.table.length - 1;
    let slot = hash4(this.keys, i * 20) & mask;
    while (this.table[slot] !== 0) slot = (slot + 1) & mask;
    this.table[slot] = i + 1;
  }

  private rehash(): void {
    this.table = new Int32Array(this.table.length * 2);
    for (let i = 0; i < this.size; i++) this.place(i);
  }
}

const SCRATCH = new Uint8Array(20);

/**
 * The entries of a pack in pack order: where each lies, its CRC-32, and once resolved its
 * id, type, size and base. An entry's index is its place in the pack.
 */
export class PackEntries implements IdxTable, Iterable<IndexedObject> {
  ids: Uint8Array;
  private offsets: Float64Array;
  private lengths: Float64Array;
  private crcs: Uint32Array;
  /** 0 until resolved. */
  private types: Uint8Array;
  private sizes: Float64Array;
  /** The index of a delta's base in the pack; -1 for whole objects and bases outside it. */
  baseOf: Int32Array;
  /** Delta entries whose base is outside the pack (thin), or not yet known, by index. */
  private readonly outside = new Map<number, string>();
  /** Resolved ids to the first entry holding them, index + 1; 0 is an empty slot. */
  private table: Int32Array;
  length = 0;

  constructor(capacity: number) {
    this.ids = new Uint8Array(capacity * 20);
    this.offsets = new Float64Array(capacity);
    this.lengths = new Float64Array(capacity);
    this.crcs = new Uint32Array(capacity);
    this.types = new Uint8Array(capacity);
    this.sizes = new Float64Array(capacity);
    this.baseOf = new Int32Array(capacity).fill(-1);
    this.table = new Int32Array(tableSize(capacity));
  }

  /** Entries from records, as a repack knows them from its own table. */
  static of(records: IndexedObject[]): PackEntries {
    const out = new PackEntries(records.length);
    const at = new Map(records.map((r, i) => [r.oid, i]));
    for (const r of records) {
      const i = out.push(r.offset, r.length, r.crc32, null);
      const baseIndex = r.base === null ? -1 : (at.get(r.base) ?? -1);
      out.resolve(i, r.oid, r.type, r.size, baseIndex, r.base);
    }
    return out;
  }

  /** Appends an entry (not yet resolved when `type` is 0); returns its index. */
  push(offset: number, length: number, crc: number, baseOid: string | null): number {
    if (this.length === this.offsets.length) this.grow(this.length + 16);
    const i = this.length++;
    this.offsets[i] = offset;
    this.lengths[i] = length;
    this.crcs[i] = crc;
    if (baseOid !== null) this.outside.set(i, baseOid);
    return i;
  }

  /** Records entry `i` as the object `oid` (hex), on the base at `baseIndex` or outside the pack. */
  resolve(i: number, oid: string, type: number, size: number, baseIndex: number, baseOid: string | null): void {
    fromHexInto(oid, this.ids, i * 20);
    this.types[i] = type;
    this.sizes[i] = size;
    this.baseOf[i] = baseIndex;
    if (baseIndex >= 0 || baseOid === null) this.outside.delete(i);
    else this.outside.set(i, baseOid);
    if (this.find(this.ids, i * 20) < 0) this.place(i);
  }

  isResolved(i: number): boolean {
    return this.types[i] !== 0;
  }

  /** Whether entry `i` is a delta (resolved on a base, in the pack or not). */
  isDelta(i: number): boolean {
    return this.baseOf[i] >= 0 || this.outside.has(i);
  }

  offset(i: number): number {
    return this.offsets[i];
  }

  entryLength(i: number): number {
    return this.lengths[i];
  }

  crc(i: number): number {
    return this.crcs[i];
  }

  type(i: number): number {
    return this.types[i];
  }

  oid(i: number): string {
    return this.types[i] ? toHex(this.ids.subarray(i * 20, i * 20 + 20)) : "";
  }

  base(i: number): string | null {
    const b = this.baseOf[i];
    return b >= 0 ? this.oid(b) : (this.outside.get(i) ?? null);
  }

  /** The entry at `offset`, or -1: offsets grow in pack order, so a binary search. */
  atOffset(offset: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const o = this.offsets[mid];
      if (o === offset) return mid;
      if (o < offset) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  /** The first resolved entry with this id (20 bytes at `at`), or -1. */
  find(bytes: Uint8Array, at: number): number {
    const mask = this.table.length - 1;
    for (let slot = hash4(bytes, at) & mask; ; slot = (slot + 1) & mask) {
      const held = this.table[slot];
      if (held === 0) return -1;
      if (same(this.ids, (held - 1) * 20, bytes, at)) return held - 1;
    }
  }

  findHex(oid: string): number {
    fromHexInto(oid, SCRATCH, 0);
    return this.find(SCRATCH, 0);
  }

  get(i: number): IndexedObject {
    return {
      oid: this.oid(i),
      offset: this.offsets[i],
      length: this.lengths[i],
      crc32: this.crcs[i],
      type: this.types[i],
      size: this.sizes[i],
      base: this.base(i),
    };
  }

  *[Symbol.iterator](): Iterator<IndexedObject> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }

  map<T>(f: (o: IndexedObject, i: number) => T): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.length; i++) out.push(f(this.get(i), i));
    return out;
  }

  some(f: (o: IndexedObject) => boolean): boolean {
    for (let i = 0; i < this.length; i++) if (f(this.get(i))) return true;
    return false;
  }

  private place(i: number): void {
    const mask = this.table.length - 1;
    let slot = hash4(this.ids, i * 20) & mask;
    while (this.table[slot] !== 0) slot = (slot + 1) & mask;
    this.table[slot] = i + 1;
  }

  private grow(capacity: number): void {
    const copy = <T extends Uint8Array | Uint32Array | Int32Array | Float64Array>(a: T, make: (n: number) => T, per = 1): T => {
      const b = make(capacity * per);
      b.set(a as never);
      return b;
    };
    this.ids = copy(this.ids, (n) => new Uint8Array(n), 20);
    this.offsets = copy(this.offsets, (n) => new Float64Array(n));
    this.lengths = copy(this.lengths, (n) => new Float64Array(n));
    this.crcs = copy(this.crcs, (n) => new Uint32Array(n));
    this.types = copy(this.types, (n) => new Uint8Array(n));
    this.sizes = copy(this.sizes, (n) => new Float64Array(n));
    const baseOf = new Int32Array(capacity).fill(-1);
    baseOf.set(this.baseOf);
    this.baseOf = baseOf;
    if (capacity * 2 > this.table.length) {
      this.table = new Int32Array(tableSize(capacity));
      for (let i = 0; i < this.length; i++) if (this.types[i] && this.find(this.ids, i * 20) < 0) this.place(i);
    }
  }
}
