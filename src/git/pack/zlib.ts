// zlib for pack entries. When the compressed length is known (from the index),
// `inflateSync` on exactly that stream is the fast path measured in DESIGN.md.
import { inflateSync } from "node:zlib";
import { PackFormatError } from "./entry";

/**
 * The output cap for an object declared as `expected` bytes. workerd checks the cap
 * against its growing output buffer, not the bytes produced, so an exact cap fails on
 * honest data; the next power of two above it, doubled, still stops a zlib bomb near its declared size.
 */
export function inflateCap(expected: number): number {
  let cap = 1 << 16;
  while (cap <= expected) cap *= 2;
  return cap * 2;
}

/**
 * The output chunk size for an object of `expected` bytes. zlib allocates output a
 * chunk at a time (16 KiB by default): for the many small objects of a pack, a chunk
 * fitted to the object avoids allocating (and collecting) 16 KiB per object.
 */
export function inflateChunk(expected: number): number {
  return Math.min(Math.max(64, expected + 64), 1 << 20);
}

/** Inflates one whole zlib stream that must produce exactly `expected` bytes. */
export function inflateExact(bytes: Uint8Array, expected: number): Uint8Array {
  let out: Uint8Array;
  try {
    // The cap stops a zlib bomb at its declared size instead of at the isolate's limit.
    out = inflateSync(bytes, { maxOutputLength: inflateCap(expected), chunkSize: inflateChunk(expected) });
  } catch (e) {
    throw new PackFormatError(`corrupt zlib stream: ${(e as Error).message}`);
  }
  if (out.byteLength !== expected) throw new PackFormatError(`inflated size mismatch: expected ${expected}, got ${out.byteLength}`);
  return out;
}

/**
 * Inflates one zlib stream that may be followed by other data, and says how many input
 * bytes it used. `inflateSync(…, { info: true })` would say, but in workerd every
 * engine used that way stays reachable for the isolate's life (about 16 KiB each), so
 * the end is found from the stream's own trailer instead: a zlib stream ends with the
 * Adler-32 of its output, and the first place those four bytes occur after which the
 * stream inflates completely is its end.
 */
export function inflateCounting(input: Uint8Array, expected: number): { buffer: Uint8Array; consumed: number } {
  const opts = { maxOutputLength: inflateCap(expected), chunkSize: inflateChunk(expected) };
  const buffer = inflateSync(input, opts);
  const sum = adler32(buffer);
  const b0 = sum >>> 24;
  const b1 = (sum >>> 16) & 0xff;
  const b2 = (sum >>> 8) & 0xff;
  const b3 = sum & 0xff;
  // The header takes two bytes and the shortest deflate stream one more.
  for (let p = input.indexOf(b0, 3); p >= 0 && p + 4 <= input.byteLength; p = input.indexOf(b0, p + 1)) {
    if (input[p + 1] !== b1 || input[p + 2] !== b2 || input[p + 3] !== b3) continue;
    try {
      if (inflateSync(input.subarray(0, p + 4), opts).byteLength === buffer.byteLength) return { buffer, consumed: p + 4 };
    } catch {
      // Those bytes were inside the compressed data: look further.
    }
  }
  throw new Error("unexpected end of file: no zlib trailer");
}

/** Adler-32, as zlib computes it over a stream's output. */
function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  // 5552 is the most bytes that keep both sums within 32 bits before reducing.
  for (let i = 0; i < data.byteLength; ) {
    const end = Math.min(data.byteLength, i + 5552);
    for (; i < end; i++) {
      a += data[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}
