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
