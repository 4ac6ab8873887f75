// Writing one pack from the entries of others (git repack): which packs to merge, and
// copying entries so that stored deltas are reused. Where the new pack's progress is
// recorded belongs to the caller (the object store), behind `RepackTarget`, so that a
// repack can run in slices and resume after an eviction.
import { createHash } from "node:crypto";
import type { Dofs } from "../../fs/dofs";
import { OBJ_OFS_DELTA } from "../object/object";
import { encodeEntryHeader, encodeWholeEntry, parseEntryHeader } from "./entry";
import type { PackSource } from "./source";
import { yieldToEventLoop } from "../../util/pace";

/**
 * Packs to merge, smallest first: a run of packs that are not each at least twice
 * the size of all smaller ones together (git's geometric repack, factor 2).
 */
export function geometricRun(packs: readonly { id: number; size: number }[]): number[] {
  const sorted = [...packs].sort((a, b) => a.size - b.size || a.id - b.id);
  if (sorted.length < 2) return [];
  let split = 0;
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && sorted[i].size < 2 * sum) split = i;
    sum += sorted[i].size;
  }
  const chosen = sorted.slice(0, split + 1);
  return chosen.length > 1 ? chosen.map((p) => p.id) : [];
}

/** The header of a pack being written; `sealPack` patches its object count in at the end. */
export function packHeader(): Uint8Array {
  return Uint8Array.from([0x50, 0x41, 0x43, 0x4b, 0, 0, 0, 2, 0, 0, 0, 0]);
}

/** An entry copied into the new pack. */
export interface CopiedEntry {
  oid: string;
  bytes: Uint8Array;
  type: number;
  size: number;
  /** The delta base, when the entry is a delta against an object in the new pack. */
  base: string | null;
}

/** The pack being written, as `copyEntry` sees it. */
export interface RepackTarget {
  /** Where an object already copied starts in the new pack, or null. */
  offsetOf(oid: string): number | null;
  /** Bytes written so far: where the next entry starts. */
  readonly end: number;
  /**
   * Appends an entry and records it, in one transaction, so that a resumed repack
   * never writes it twice.
   */
  append(entry: CopiedEntry): void;
}

/**
 * Appends one object, its delta base first when the base is also being copied (its
 * pack is one of those merged). Returns the bytes written.
 */
export async function copyEntry(
  source: PackSource,
  target: RepackTarget,
  oid: string,
  merging: (pack: number) => boolean,
  depth = 0,
): Promise<number> {
  if (target.offsetOf(oid) !== null) return 0;
  const loc = source.locate(oid);
  if (!loc) return 0;
  let bytes = 0;
  let entry: Uint8Array;
  let base: string | null = null;
  if (loc.base !== null && depth < 64) {
    const baseLoc = source.locate(loc.base);
    const baseQueued = baseLoc !== null && merging(baseLoc.pack);
    if (baseQueued && target.offsetOf(loc.base) === null) bytes += await copyEntry(source, target, loc.base, merging, depth + 1);
    const baseAt = target.offsetOf(loc.base);
    if (baseAt !== null) {
      const raw = await source.rawEntry(loc);
      const hdr = parseEntryHeader(raw, 0)!;
      const head = encodeEntryHeader(OBJ_OFS_DELTA, hdr.size, { distance: target.end - baseAt });
      entry = new Uint8Array(head.byteLength + raw.byteLength - hdr.headerLength);
      entry.set(head);
      entry.set(raw.subarray(hdr.headerLength), head.byteLength);
      base = loc.base;
    } else {
      entry = await wholeEntry(source, oid);
    }
  } else if (loc.base === null) {
    entry = await source.rawEntry(loc);
  } else {
    entry = await wholeEntry(source, oid);
  }
  target.append({ oid, bytes: entry, type: loc.type, size: loc.size, base });
  return bytes + entry.byteLength;
}

async function wholeEntry(source: PackSource, oid: string): Promise<Uint8Array> {
  const obj = (await source.readObject(oid))!;
  return encodeWholeEntry(obj.type, obj.data);
}

/**
 * Patches the object count into a pack written in DOFS and appends its trailer. The pack
 * is read through to hash it, the event loop turning every few MiB.
 */
export async function sealPack(fs: Dofs, path: string, count: number): Promise<{ checksum: Uint8Array; packSize: number }> {
  const field = new Uint8Array(4);
  new DataView(field.buffer).setUint32(0, count);
  fs.writeAt(path, 8, field);
  const hash = createHash("sha1");
  const size = fs.stat(path).size;
  for (let off = 0; off < size; off += 1 << 20) {
    hash.update(fs.read(path, off, Math.min(1 << 20, size - off)));
    if ((off >> 20) % 4 === 3) await yieldToEventLoop();
  }
  const checksum = new Uint8Array(hash.digest());
  fs.append(path, checksum);
  return { checksum, packSize: size + 20 };
}
