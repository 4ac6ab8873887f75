// EWAH-compressed bitmaps as git serializes them (ewah/ewah_io.c), and the plain bitset
// they expand to. A serialized bitmap is: bit count (u32), word count (u32), that many
// 64-bit words big-endian, then the position of the last marker word (u32). Words are
// groups: a marker word (bit 0 the run's bit, bits 1-32 the run's length in words, bits
// 33-63 how many literal words follow it), then those literal words. Bit i of the bitmap
// is bit i % 64 of word i / 64, least significant first.
//
// The bitset keeps 64-bit words as pairs of 32-bit halves (low half first), since
// JavaScript's bitwise operators are 32-bit.

export class EwahError extends Error {
  override name = "EwahError";
}

/** The longest run a marker word can count, and the most literal words it can announce. */
const MAX_RUN = 0xffffffff;
const MAX_LITERALS = 0x7fffffff;

export class Bitset {
  /** Two 32-bit halves per 64-bit word, low half first. */
  words: Uint32Array;

  constructor(bits = 0) {
    this.words = new Uint32Array(Math.max(2, ((bits + 63) >>> 6) * 2));
  }

  static fromWords(words: Uint32Array): Bitset {
    const b = new Bitset(0);
    b.words = words.length % 2 ? grow(words, words.length + 1) : words;
    return b;
  }

  private ensure(bit: number): void {
    const need = ((bit >>> 6) + 1) * 2;
    if (need > this.words.length) this.words = grow(this.words, Math.max(need, this.words.length * 2));
  }

  set(bit: number): void {
    this.ensure(bit);
    this.words[bit >>> 5] |= 1 << (bit & 31);
  }

  clear(bit: number): void {
    const w = bit >>> 5;
    if (w < this.words.length) this.words[w] &= ~(1 << (bit & 31));
  }

  get(bit: number): boolean {
    const w = bit >>> 5;
    return w < this.words.length && (this.words[w] & (1 << (bit & 31))) !== 0;
  }

  or(other: Bitset): void {
    if (other.words.length > this.words.length) this.words = grow(this.words, other.words.length);
    const o = other.words;
    for (let i = 0; i < o.length; i++) this.words[i] |= o[i];
  }

  and(other: Bitset): void {
    const o = other.words;
    for (let i = 0; i < this.words.length; i++) this.words[i] &= i < o.length ? o[i] : 0;
  }

  andNot(other: Bitset): void {
    const o = other.words;
    const n = Math.min(o.length, this.words.length);
    for (let i = 0; i < n; i++) this.words[i] &= ~o[i];
  }

  count(): number {
    let n = 0;
    for (let i = 0; i < this.words.length; i++) {
      let v = this.words[i];
      v -= (v >>> 1) & 0x55555555;
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
      n += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
    }
    return n;
  }

  /** The set bits, ascending. */
  *positions(): Generator<number> {
    for (let i = 0; i < this.words.length; i++) {
      let v = this.words[i];
      while (v) {
        const low = v & -v;
        yield i * 32 + 31 - Math.clz32(low);
        v ^= low;
      }
    }
  }

  equals(other: Bitset): boolean {
    const n = Math.max(this.words.length, other.words.length);
    for (let i = 0; i < n; i++) if ((this.words[i] ?? 0) !== (other.words[i] ?? 0)) return false;
    return true;
  }

  clone(): Bitset {
    return Bitset.fromWords(this.words.slice());
  }
}

function grow(words: Uint32Array, length: number): Uint32Array {
  const out = new Uint32Array(length + (length % 2));
  out.set(words.subarray(0, Math.min(words.length, out.length)));
  return out;
}

/**
 * The bitset's EWAH serialization. As git's `bitmap_to_ewah`, it stops at the last word
 * with a bit set, and counts bits by whole words.
 */
export function encodeEwah(bits: Bitset): Uint8Array {
  const w = bits.words;
  let words = w.length >>> 1;
  while (words > 1 && w[words * 2 - 2] === 0 && w[words * 2 - 1] === 0) words--;
  // Worst case: one marker per literal word, plus one.
  const out: number[] = [];
  let lastMarker = 0;
  let i = 0;
  const clean = (j: number): number => {
    const lo = w[j * 2];
    const hi = w[j * 2 + 1];
    if (lo === 0 && hi === 0) return 0;
    if (lo === 0xffffffff && hi === 0xffffffff) return 1;
    return -1;
  };
  do {
    const bit = i < words ? clean(i) : -1;
    let run = 0;
    if (bit >= 0) while (i < words && run < MAX_RUN && clean(i) === bit) i++, run++;
    let literals = 0;
    while (i + literals < words && literals < MAX_LITERALS && clean(i + literals) < 0) literals++;
    lastMarker = out.length / 2;
    // Marker: run bit, 32 bits of run length, 31 bits of literal count.
    out.push(((run << 1) | (bit === 1 ? 1 : 0)) >>> 0, ((run >>> 31) | (literals << 1)) >>> 0);
    for (let k = 0; k < literals; k++, i++) out.push(w[i * 2], w[i * 2 + 1]);
  } while (i < words);
  const count = out.length / 2;
  const bytes = new Uint8Array(8 + count * 8 + 4);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, words * 64);
  view.setUint32(4, count);
  for (let k = 0; k < count; k++) {
    view.setUint32(8 + k * 8, out[k * 2 + 1]);
    view.setUint32(12 + k * 8, out[k * 2]);
  }
  view.setUint32(8 + count * 8, lastMarker);
  return bytes;
}

/** Reads one serialized bitmap at `at`; returns it and the bytes it took. */
export function decodeEwah(bytes: Uint8Array, at = 0): { bits: Bitset; bitCount: number; length: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (at + 8 > bytes.byteLength) throw new EwahError("truncated bitmap header");
  const bitCount = view.getUint32(at);
  const count = view.getUint32(at + 4);
  const end = at + 8 + count * 8 + 4;
  if (end > bytes.byteLength) throw new EwahError("truncated bitmap");
  const marker = view.getUint32(end - 4);
  if (count && marker >= count) throw new EwahError("marker position out of range");
  const out = new Bitset(bitCount);
  let pos = 0;
  let k = 0;
  const put = (lo: number, hi: number) => {
    const need = (pos + 1) * 2;
    if (need > out.words.length) out.words = grow(out.words, Math.max(need, out.words.length * 2));
    out.words[pos * 2] = lo;
    out.words[pos * 2 + 1] = hi;
    pos++;
  };
  while (k < count) {
    const hi = view.getUint32(at + 8 + k * 8);
    const lo = view.getUint32(at + 12 + k * 8);
    k++;
    const bit = lo & 1;
    const run = (lo >>> 1) + (hi & 1) * 2 ** 31;
    const literals = hi >>> 1;
    if (bit) for (let r = 0; r < run; r++) put(0xffffffff, 0xffffffff);
    else pos += run;
    if (k + literals > count) throw new EwahError("literal words past the end");
    for (let r = 0; r < literals; r++, k++) put(view.getUint32(at + 12 + k * 8), view.getUint32(at + 8 + k * 8));
  }
  if (pos * 64 > bitCount + 63) throw new EwahError("more words than the bit count allows");
  if (out.words.length < pos * 2) out.words = grow(out.words, pos * 2);
  return { bits: out, bitCount, length: end - at };
}
