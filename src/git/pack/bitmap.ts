// Pack reachability bitmaps (gitformat-pack, "bitmap-format"), version 1 with SHA-1: for
// some commits of one pack, the set of the pack's objects each reaches, one bit per object
// in pack order (by offset), EWAH-compressed; and four bitmaps saying which objects are
// commits, trees, blobs and tags. With the file beside an exported pack, C git answers
// `rev-list --objects` and clones by bitmap arithmetic instead of walking.
//
// The header: "BITM", version 1 (u16), flags (u16; FULL_DAG, that every selected commit's
// bitmap holds its whole closure, which git requires), entry count (u32), the pack's
// checksum. Then the four type bitmaps, then per entry: the commit's position in the
// pack's .idx (sorted by name, u32), how many entries back its bitmap is XORed with (u8,
// 0 for none), flags (u8), the bitmap. A SHA-1 of all of it closes the file.
import { createHash } from "node:crypto";
import { Bitset, decodeEwah, encodeEwah } from "./ewah";

const SIGNATURE = [0x42, 0x49, 0x54, 0x4d]; // "BITM"
const OPT_FULL_DAG = 1;
const OPT_HASH_CACHE = 4;
const HASH = 20;
/** Entries back that an entry's bitmap may be XORed with: git reads up to 160, writes up to 10. */
export const XOR_WINDOW = 10;

export class BitmapFormatError extends Error {
  override name = "BitmapFormatError";
}

export interface BitmapEntry {
  /** The commit's position in the pack's .idx (name order). */
  idxPosition: number;
  /** The pack-order positions of every object the commit reaches. */
  bits: Bitset;
}

export interface BitmapInput {
  packChecksum: Uint8Array;
  /** Each object's type code (1 commit, 2 tree, 3 blob, 4 tag), in pack order. */
  types: Uint8Array;
  /** Read once, in order: a caller may decode each as it is asked for. */
  entries: Iterable<BitmapEntry>;
  entryCount: number;
}

/** An entry as the file stores it: XORed with the one `xorOffset` back (0: none), compressed. */
export interface StoredBitmapEntry {
  idxPosition: number;
  xorOffset: number;
  bytes: Uint8Array;
}

/**
 * How an entry is stored: XORed with whichever of the few before it (`window`, newest
 * last) makes it smallest, when that beats storing it plain: neighbouring commits reach
 * nearly the same objects.
 */
export function storedBits(bits: Bitset, window: readonly Bitset[]): { xorOffset: number; bytes: Uint8Array } {
  let best = encodeEwah(bits);
  let xorOffset = 0;
  for (let back = 1; back <= Math.min(window.length, XOR_WINDOW); back++) {
    const x = bits.clone();
    xorInto(x, window[window.length - back]);
    const bytes = encodeEwah(x);
    if (bytes.byteLength < best.byteLength) {
      best = bytes;
      xorOffset = back;
    }
  }
  return { xorOffset, bytes: best };
}

/** The file's bytes, trailer included, from entries already stored as the file holds them. */
export function assembleBitmap(
  packChecksum: Uint8Array,
  types: Uint8Array,
  entries: Iterable<StoredBitmapEntry>,
  entryCount: number,
): Uint8Array {
  const parts: Uint8Array[] = [];
  const header = new Uint8Array(12 + HASH);
  const view = new DataView(header.buffer);
  header.set(SIGNATURE, 0);
  view.setUint16(4, 1);
  view.setUint16(6, OPT_FULL_DAG);
  view.setUint32(8, entryCount);
  header.set(packChecksum, 12);
  parts.push(header);
  const byType = [new Bitset(types.length), new Bitset(types.length), new Bitset(types.length), new Bitset(types.length)];
  for (let i = 0; i < types.length; i++) {
    const t = types[i];
    if (t < 1 || t > 4) throw new BitmapFormatError(`object ${i} has type ${t}`);
    byType[t - 1].set(i);
  }
  for (const b of byType) parts.push(encodeEwah(b));
  let written = 0;
  for (const e of entries) {
    if (e.xorOffset > Math.min(written, XOR_WINDOW)) throw new BitmapFormatError(`entry ${written} XORs with one out of reach`);
    const head = new Uint8Array(6);
    new DataView(head.buffer).setUint32(0, e.idxPosition);
    head[4] = e.xorOffset;
    head[5] = 0;
    parts.push(head, e.bytes);
    written++;
  }
  if (written !== entryCount) throw new BitmapFormatError(`${written} entries for a count of ${entryCount}`);
  const size = parts.reduce((s, p) => s + p.byteLength, 0);
  const out = new Uint8Array(size + HASH);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  out.set(createHash("sha1").update(out.subarray(0, size)).digest(), size);
  return out;
}

/** The file's bytes, trailer included, from the entries' full bitmaps. */
export function writeBitmap(input: BitmapInput): Uint8Array {
  // Only the last few entries' bitmaps are held, the ones an entry may be XORed with.
  const window: Bitset[] = [];
  const stored = (function* () {
    for (const e of input.entries) {
      const { xorOffset, bytes } = storedBits(e.bits, window);
      window.push(e.bits);
      if (window.length > XOR_WINDOW) window.shift();
      yield { idxPosition: e.idxPosition, xorOffset, bytes };
    }
  })();
  return assembleBitmap(input.packChecksum, input.types, stored, input.entryCount);
}

function xorInto(target: Bitset, other: Bitset): void {
  if (other.words.length > target.words.length) {
    const grown = new Uint32Array(other.words.length);
    grown.set(target.words);
    target.words = grown;
  }
  for (let i = 0; i < other.words.length; i++) target.words[i] ^= other.words[i];
}

/**
 * A bitmap file, read: the type bitmaps decoded, the entries left compressed and decoded
 * when asked for (a few hundred full bitmaps of a large pack would not fit the memory).
 */
export class PackBitmap {
  readonly packChecksum: Uint8Array;
  readonly commits: Bitset;
  readonly trees: Bitset;
  readonly blobs: Bitset;
  readonly tags: Bitset;
  private readonly bytes: Uint8Array;
  /** Where each entry's bitmap starts, and the entry it is XORed with (-1: none), by order. */
  private readonly at: Uint32Array;
  private readonly xorWith: Int32Array;
  /** Entry order by the commit's .idx position. */
  private readonly byPosition = new Map<number, number>();

  constructor(bytes: Uint8Array) {
    if (bytes.byteLength < 12 + 2 * HASH || SIGNATURE.some((b, i) => bytes[i] !== b)) throw new BitmapFormatError("not a bitmap file");
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint16(4) !== 1) throw new BitmapFormatError(`unsupported bitmap version ${view.getUint16(4)}`);
    const flags = view.getUint16(6);
    if (!(flags & OPT_FULL_DAG)) throw new BitmapFormatError("bitmap without FULL_DAG");
    const body = bytes.byteLength - HASH;
    const sum = createHash("sha1").update(bytes.subarray(0, body)).digest();
    if (Buffer.compare(sum, bytes.subarray(body)) !== 0) throw new BitmapFormatError("bitmap checksum mismatch");
    this.bytes = bytes.subarray(0, body);
    const count = view.getUint32(8);
    this.packChecksum = bytes.slice(12, 12 + HASH);
    let at = 12 + HASH;
    const next = (): Bitset => {
      const r = decodeEwah(this.bytes, at);
      at += r.length;
      return r.bits;
    };
    this.commits = next();
    this.trees = next();
    this.blobs = next();
    this.tags = next();
    this.at = new Uint32Array(count);
    this.xorWith = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      if (at + 6 > body) throw new BitmapFormatError("truncated bitmap entry");
      const position = view.getUint32(at);
      const xor = bytes[at + 4];
      if (xor > i) throw new BitmapFormatError(`entry ${i} XORs with one before the first`);
      this.xorWith[i] = xor ? i - xor : -1;
      this.at[i] = at + 6;
      // Only the length: the words are read when the entry is asked for.
      if (at + 14 > body) throw new BitmapFormatError("truncated bitmap entry");
      at += 6 + 8 + view.getUint32(at + 10) * 8 + 4;
      if (at > body) throw new BitmapFormatError("truncated bitmap entry");
      this.byPosition.set(position, i);
    }
    if (flags & OPT_HASH_CACHE) at += 4 * this.objectCount();
    if (at !== body) throw new BitmapFormatError("bytes left after the bitmap entries");
  }

  get size(): number {
    return this.at.length;
  }

  /** The .idx positions of the commits that have bitmaps. */
  positions(): IterableIterator<number> {
    return this.byPosition.keys();
  }

  has(idxPosition: number): boolean {
    return this.byPosition.has(idxPosition);
  }

  /** The full bitmap of the commit at this .idx position (XORs undone), or null. */
  get(idxPosition: number): Bitset | null {
    const i = this.byPosition.get(idxPosition);
    return i === undefined ? null : this.entry(i);
  }

  private entry(i: number): Bitset {
    const chain: number[] = [];
    for (let k = i; k >= 0; k = this.xorWith[k]) chain.push(k);
    const bits = decodeEwah(this.bytes, this.at[chain[chain.length - 1]]).bits;
    for (let c = chain.length - 2; c >= 0; c--) xorInto(bits, decodeEwah(this.bytes, this.at[chain[c]]).bits);
    return bits;
  }

  /** Objects in the pack, as the type bitmaps count them. */
  objectCount(): number {
    return this.commits.count() + this.trees.count() + this.blobs.count() + this.tags.count();
  }
}
