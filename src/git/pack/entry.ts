// Pack entry headers (gitformat-pack): a type-and-size varint, then for deltas the
// base, as a negative offset (OFS_DELTA) or an object id (REF_DELTA).
import { deflateSync } from "node:zlib";
import { OBJ_OFS_DELTA, OBJ_REF_DELTA, toHex } from "../object/object";

export class PackFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PackFormatError";
  }
}

export interface EntryHeader {
  type: number;
  /** Inflated size: of the object, or of the delta for delta entries. */
  size: number;
  /** Bytes from the entry's start to its zlib stream. */
  headerLength: number;
  /** OFS_DELTA: distance back from this entry to its base. */
  baseDistance?: number;
  /** REF_DELTA: the base's id. */
  baseOid?: string;
}

/** Parses a header at `at`; returns null if `buf` ends before the header does. */
export function parseEntryHeader(buf: Uint8Array, at: number): EntryHeader | null {
  let i = at;
  if (i >= buf.byteLength) return null;
  let c = buf[i++];
  const type = (c >> 4) & 7;
  let size = c & 15;
  let shift = 4;
  while (c & 0x80) {
    if (i >= buf.byteLength) return null;
    if (shift > 49) throw new PackFormatError("entry size varint too long");
    c = buf[i++];
    size += (c & 0x7f) * 2 ** shift;
    shift += 7;
  }
  if (type === OBJ_OFS_DELTA) {
    if (i >= buf.byteLength) return null;
    c = buf[i++];
    let dist = c & 0x7f;
    while (c & 0x80) {
      if (i >= buf.byteLength) return null;
      if (dist > 2 ** 45) throw new PackFormatError("delta base offset too large");
      c = buf[i++];
      dist = (dist + 1) * 128 + (c & 0x7f);
    }
    return { type, size, headerLength: i - at, baseDistance: dist };
  }
  if (type === OBJ_REF_DELTA) {
    if (i + 20 > buf.byteLength) return null;
    return { type, size, headerLength: i + 20 - at, baseOid: toHex(buf.subarray(i, i + 20)) };
  }
  if (type === 0 || type === 5) throw new PackFormatError(`invalid object type ${type}`);
  return { type, size, headerLength: i - at };
}

export function encodeTypeSize(type: number, size: number): number[] {
  const out: number[] = [];
  let c = (type << 4) | (size & 15);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    out.push(c | 0x80);
    c = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  out.push(c);
  return out;
}

export function encodeOfsDistance(dist: number): number[] {
  const bytes = [dist & 0x7f];
  let n = Math.floor(dist / 128);
  while (n > 0) {
    n -= 1;
    bytes.unshift(0x80 | (n & 0x7f));
    n = Math.floor(n / 128);
  }
  return bytes;
}

export function encodeEntryHeader(type: number, size: number, base?: { distance?: number; oid?: Uint8Array }): Uint8Array {
  const bytes = encodeTypeSize(type, size);
  if (type === OBJ_OFS_DELTA) bytes.push(...encodeOfsDistance(base!.distance!));
  const out = new Uint8Array(bytes.length + (type === OBJ_REF_DELTA ? 20 : 0));
  out.set(bytes);
  if (type === OBJ_REF_DELTA) out.set(base!.oid!, bytes.length);
  return out;
}

/** Encodes a whole object as a pack entry (used for objects with no reusable form). */
export function encodeWholeEntry(type: number, data: Uint8Array): Uint8Array {
  const header = encodeEntryHeader(type, data.byteLength);
  const body = deflateSync(data);
  const out = new Uint8Array(header.byteLength + body.byteLength);
  out.set(header);
  out.set(body, header.byteLength);
  return out;
}
