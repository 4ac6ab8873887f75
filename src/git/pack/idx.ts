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

/** Entries as the indexer keeps them: ids side by side in one array, no string per entry. */
export interface IdxTable {
  readonly length: number;
  /** Entry i's id is bytes [20 i, 20 i + 20). */
  readonly ids: Uint8Array;
  offset(i: number): number;
  crc(i: number): number;
}

function tableOf(entries: IdxEntry[]): IdxTable {
  const ids = new Uint8Array(entries.length * 20);
  for (let i = 0; i < entries.length; i++) fromHexInto(entries[i].oid, ids, i * 20);
  return { length: entries.length, ids, offset: (i) => entries[i].offset, crc: (i) => entries[i].crc32 };
}

/**
 * The entries' indexes in the order of their ids: a permutation, since sorting records
 * with hex ids costs ~100 bytes an entry.
 */
export function idOrder(t: Pick<IdxTable, "ids" | "length">): Uint32Array {
  const { ids, length: n } = t;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => {
    const x = a * 20;
    const y = b * 20;
    for (let k = 0; k < 20; k++) if (ids[x + k] !== ids[y + k]) return ids[x + k] - ids[y + k];
    return a - b;
  });
  return order;
}

/** `order`: the entries' `idOrder`, when the caller has it already. */
export function writeIdxV2(entries: IdxEntry[] | IdxTable, packChecksum: Uint8Array, order?: Uint32Array): Uint8Array {
  const t = Array.isArray(entries) ? tableOf(entries) : entries;
  const ids = t.ids;
  const n = t.length;
  order ??= idOrder(t);
  let large = 0;
  for (let i = 0; i < n; i++) if (t.offset(i) >= 0x80000000) large++;
  const size = 8 + 256 * 4 + n * 20 + n * 4 + n * 4 + large * 8 + 40;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(4, 2);
  const fanout = new Uint32Array(256);
  for (let i = 0; i < n; i++) fanout[ids[i * 20]]++;
  let total = 0;
  for (let i = 0; i < 256; i++) {
    total += fanout[i];
    view.setUint32(8 + i * 4, total);
  }
  let at = 8 + 1024;
  for (const e of order) {
    out.set(ids.subarray(e * 20, e * 20 + 20), at);
    at += 20;
  }
  for (const e of order) {
    view.setUint32(at, t.crc(e) >>> 0);
    at += 4;
  }
  let largeIdx = 0;
  const largeAt = at + n * 4;
  for (const e of order) {
    const offset = t.offset(e);
    if (offset >= 0x80000000) {
      view.setUint32(at, (0x80000000 | largeIdx) >>> 0);
      view.setBigUint64(largeAt + largeIdx * 8, BigInt(offset));
      largeIdx++;
    } else {
      view.setUint32(at, offset);
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
