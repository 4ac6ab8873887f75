// The pack writer for fetches. It reuses what is stored: whole entries are copied
// byte for byte, and deltas whose base is also sent are copied with only their header
// rewritten (OFS_DELTA to the base's new offset). Only a delta whose base is not sent
// is resolved and recompressed. Output is produced a block at a time, so memory holds
// a block and the delta-base cache, never the pack.
import { createHash } from "node:crypto";
import type { ObjectLocation, ObjectStore } from "../object-store";
import { OBJ_OFS_DELTA, OBJ_REF_DELTA, fromHex } from "../object";
import { encodeEntryHeader, parseEntryHeader } from "./entry";
import { encodeWholeEntry } from "./indexer";

export interface PackWriteOptions {
  /** The client accepts OFS_DELTA (the ofs-delta capability). */
  ofsDelta: boolean;
  /** Objects the client has (a thin pack may use them as REF_DELTA bases). */
  thinBases?: Set<string>;
  /** Bytes per yielded block. */
  blockSize?: number;
}

export interface PackWriteStats {
  objects: number;
  deltas: number;
  reused: number;
  reusedDeltas: number;
}

export async function* writePack(
  store: ObjectStore,
  oids: string[],
  options: PackWriteOptions,
  stats: PackWriteStats = { objects: 0, deltas: 0, reused: 0, reusedDeltas: 0 },
): AsyncGenerator<Uint8Array> {
  const blockSize = options.blockSize ?? 256 * 1024;
  const sending = new Set(oids);
  const written = new Map<string, number>();
  const hash = createHash("sha1");
  let block = new Uint8Array(blockSize);
  let filled = 0;
  let offset = 0;
  const blocks: Uint8Array[] = [];

  const put = (bytes: Uint8Array) => {
    hash.update(bytes);
    offset += bytes.byteLength;
    let at = 0;
    while (at < bytes.byteLength) {
      const n = Math.min(bytes.byteLength - at, blockSize - filled);
      block.set(bytes.subarray(at, at + n), filled);
      filled += n;
      at += n;
      if (filled === blockSize) {
        blocks.push(block);
        block = new Uint8Array(blockSize);
        filled = 0;
      }
    }
  };

  const header = new Uint8Array(12);
  header.set([0x50, 0x41, 0x43, 0x4b]);
  new DataView(header.buffer).setUint32(4, 2);
  new DataView(header.buffer).setUint32(8, oids.length);
  put(header);

  // Locations are looked up a window ahead, in batches.
  let window = new Map<string, ObjectLocation>();
  let windowEnd = 0;
  const locate = (oid: string, at: number): ObjectLocation | null => {
    if (at >= windowEnd) {
      window = store.locateMany(oids.slice(at, at + 1000));
      windowEnd = at + 1000;
    }
    return window.get(oid) ?? store.locate(oid);
  };
  let position = 0;

  const writeOne = async (oid: string, reuseDelta: boolean) => {
    const loc = locate(oid, position)!;
    const start = offset;
    stats.objects++;
    if (loc.base === null) {
      put(await store.rawEntry(loc));
      stats.reused++;
    } else {
      const baseAt = written.get(loc.base);
      const baseOnClient = options.thinBases?.has(loc.base) ?? false;
      if (reuseDelta && (baseAt !== undefined || baseOnClient)) {
        const raw = await store.rawEntry(loc);
        const hdr = parseEntryHeader(raw, 0)!;
        const useOfs = options.ofsDelta && baseAt !== undefined;
        put(
          useOfs
            ? encodeEntryHeader(OBJ_OFS_DELTA, hdr.size, { distance: start - baseAt! })
            : encodeEntryHeader(OBJ_REF_DELTA, hdr.size, { oid: fromHex(loc.base) }),
        );
        put(raw.subarray(hdr.headerLength));
        stats.deltas++;
        stats.reusedDeltas++;
        stats.reused++;
      } else {
        const obj = (await store.readObject(oid))!;
        put(encodeWholeEntry(obj.type, obj.data));
      }
    }
    written.set(oid, start);
  };

  for (; position < oids.length; position++) {
    const oid = oids[position];
    if (written.has(oid)) continue;
    // A stored delta can be copied only after its base: emit the chain base-first.
    const chain = [oid];
    const inChain = new Set(chain);
    let cycle = false;
    for (;;) {
      const loc = locate(chain[chain.length - 1], position);
      const base = loc?.base;
      if (!base || !sending.has(base) || written.has(base)) break;
      if (inChain.has(base)) {
        cycle = true;
        break;
      }
      chain.push(base);
      inChain.add(base);
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      // The deepest entry of a cycle is sent whole, which breaks the cycle.
      await writeOne(chain[i], !(cycle && i === chain.length - 1));
      while (blocks.length) yield blocks.shift()!;
    }
  }
  if (filled) yield block.subarray(0, filled);
  yield new Uint8Array(hash.digest());
}
