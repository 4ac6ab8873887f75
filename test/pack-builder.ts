// Builds packs by hand for tests, including ones git would never write.
import { concatBytes } from "../src/util/bytes";
import { createHash } from "node:crypto";
import { deflateSync } from "node:zlib";
import { encodeEntryHeader } from "../src/git/pack/entry";
import { OBJ_OFS_DELTA, OBJ_REF_DELTA, fromHex, hashObject, typeName } from "../src/git/object/object";

export interface RawEntry {
  type: number;
  /** The payload before compression: object data, or delta data for deltas. */
  data: Uint8Array;
  /** OFS_DELTA: the index of the base entry in this pack. */
  base?: number;
  /** REF_DELTA: the base's id. */
  baseOid?: string;
  /** A size to write in the header instead of the real one. */
  declaredSize?: number;
  /** Compressed bytes to write instead of deflating `data`. */
  zlib?: Uint8Array;
}

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** A delta that inserts `result` whole (no copy ops), valid against any base of `baseSize`. */
export function insertDelta(baseSize: number, result: Uint8Array): Uint8Array {
  const ops: number[] = [...varint(baseSize), ...varint(result.length)];
  for (let i = 0; i < result.length; i += 127) {
    const part = result.subarray(i, i + 127);
    ops.push(part.length, ...part);
  }
  return Uint8Array.from(ops);
}

/** A delta that copies all of a base of `baseSize` and appends `extra`. */
export function appendDelta(baseSize: number, extra: Uint8Array): Uint8Array {
  const ops: number[] = [...varint(baseSize), ...varint(baseSize + extra.length)];
  let off = 0;
  while (off < baseSize) {
    const len = Math.min(0x10000, baseSize - off);
    // Copy op with 4 offset bytes and 3 size bytes present.
    ops.push(
      0x80 | 0x0f | 0x70,
      off & 0xff,
      (off >> 8) & 0xff,
      (off >> 16) & 0xff,
      (off >>> 24) & 0xff,
      len & 0xff,
      (len >> 8) & 0xff,
      (len >> 16) & 0xff,
    );
    off += len;
  }
  if (extra.length) ops.push(extra.length, ...extra);
  return Uint8Array.from(ops);
}

export function buildPack(entries: RawEntry[], count = entries.length): Uint8Array {
  const parts: Uint8Array[] = [];
  const header = new Uint8Array(12);
  header.set([0x50, 0x41, 0x43, 0x4b]);
  new DataView(header.buffer).setUint32(4, 2);
  new DataView(header.buffer).setUint32(8, count);
  parts.push(header);
  const offsets: number[] = [];
  let offset = 12;
  for (const e of entries) {
    offsets.push(offset);
    const size = e.declaredSize ?? e.data.length;
    const head =
      e.type === OBJ_OFS_DELTA
        ? encodeEntryHeader(e.type, size, { distance: offset - offsets[e.base!] })
        : e.type === OBJ_REF_DELTA
          ? encodeEntryHeader(e.type, size, { oid: fromHex(e.baseOid!) })
          : encodeEntryHeader(e.type, size);
    const body = e.zlib ?? deflateSync(e.data);
    parts.push(head, body);
    offset += head.length + body.length;
  }
  return withTrailer(concatBytes(parts));
}

/** Appends (or replaces) the SHA-1 trailer so a mutated pack passes the checksum. */
export function withTrailer(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 20);
  out.set(body);
  out.set(createHash("sha1").update(body).digest(), body.length);
  return out;
}

export function oidOf(type: number, data: Uint8Array): string {
  return hashObject(typeName(type), data);
}
