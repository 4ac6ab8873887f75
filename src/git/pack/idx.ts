// Pack index version 2 (gitformat-pack): what `git index-pack` writes, byte for byte.
import { createHash } from "node:crypto";
import { fromHexInto, toHex } from "../object/object";
import { PackFormatError } from "./entry";

export interface IdxEntry {
  oid: string;
  offset: number;
  crc32: number;
}

const MAGIC = [0xff, 0x74, 0x4f, 0x63];

export function writeIdxV2(entries: IdxEntry[], packChecksum: Uint8Array): Uint8Array {
  const sorted = [...entries].sort((a, b) => (a.oid < b.oid ? -1 : a.oid > b.oid ? 1 : 0));
  const n = sorted.length;
  const large = sorted.filter((e) => e.offset >= 0x80000000).length;
  const size = 8 + 256 * 4 + n * 20 + n * 4 + n * 4 + large * 8 + 40;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(4, 2);
  const fanout = new Uint32Array(256);
  for (const e of sorted) fanout[parseInt(e.oid.slice(0, 2), 16)]++;
  let total = 0;
  for (let i = 0; i < 256; i++) {
    total += fanout[i];
    view.setUint32(8 + i * 4, total);
  }
  let at = 8 + 1024;
  for (const e of sorted) {
    fromHexInto(e.oid, out, at);
    at += 20;
  }
  for (const e of sorted) {
    view.setUint32(at, e.crc32 >>> 0);
    at += 4;
  }
  let largeIdx = 0;
  const largeAt = at + n * 4;
  for (const e of sorted) {
    if (e.offset >= 0x80000000) {
      view.setUint32(at, (0x80000000 | largeIdx) >>> 0);
      view.setBigUint64(largeAt + largeIdx * 8, BigInt(e.offset));
      largeIdx++;
    } else {
      view.setUint32(at, e.offset);
    }
    at += 4;
  }
  at = largeAt + large * 8;
  out.set(packChecksum, at);
  at += 20;
  out.set(createHash("sha1").update(out.subarray(0, at)).digest(), at);
  return out;
}

export function readIdxV2(idx: Uint8Array): { entries: IdxEntry[]; packChecksum: string } {
  if (idx.byteLength < 8 + 1024 + 40 || MAGIC.some((b, i) => idx[i] !== b)) {
    throw new PackFormatError("not a version 2 pack index");
  }
  const view = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
  if (view.getUint32(4) !== 2) throw new PackFormatError("unsupported pack index version");
  const n = view.getUint32(8 + 255 * 4);
  const oidsAt = 8 + 1024;
  const crcAt = oidsAt + n * 20;
  const offAt = crcAt + n * 4;
  const largeAt = offAt + n * 4;
  const entries: IdxEntry[] = [];
  for (let i = 0; i < n; i++) {
    let offset = view.getUint32(offAt + i * 4);
    if (offset & 0x80000000) offset = Number(view.getBigUint64(largeAt + (offset & 0x7fffffff) * 8));
    entries.push({ oid: toHex(idx.subarray(oidsAt + i * 20, oidsAt + i * 20 + 20)), offset, crc32: view.getUint32(crcAt + i * 4) });
  }
  const packChecksum = toHex(idx.subarray(idx.byteLength - 40, idx.byteLength - 20));
  return { entries, packChecksum };
}
