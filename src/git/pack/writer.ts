// The pack writer for fetches. It reuses what is stored: whole entries are copied
// byte for byte, and deltas whose base is also sent are copied with only their header
// rewritten (OFS_DELTA to the base's new offset). Only a delta whose base is not sent
// is resolved and recompressed. Output is produced a block at a time, so memory holds
// a block and the delta-base cache, never the pack.
import { createHash } from "node:crypto";
import { MissingObjectError, OBJ_OFS_DELTA, OBJ_REF_DELTA, fromHex } from "../object/object";
import type { ObjectLocation, PackSource } from "./source";
import { encodeEntryHeader, encodeWholeEntry, parseEntryHeader } from "./entry";
import { Pacer } from "../../util/pace";

/**
 * A stored whole entry at least this large is copied a piece at a time, so that a clone
 * of a repository with large files holds a piece of each, not the file (twice).
 */
const LARGE_ENTRY = 1024 * 1024;

export interface PackWriteOptions {
  /** The client accepts OFS_DELTA (the ofs-delta capability). */
  ofsDelta: boolean;
  /** Objects the client has (a thin pack may use them as REF_DELTA bases). */
  thinBases?: Set<string>;
  /** Bytes per yielded block. */
  blockSize?: number;
  /**
   * A stored pack sent first, as stored, with the objects after it (a clone that reuses
   * the pack that covered the refs, plus what pushes added since). Its entries keep their
   * offsets, since both packs start with a 12-byte header, so a delta may build on them.
   */
  prefix?: {
    pack: number;
    size: number;
    objects: number;
    /**
     * Someone else sends the prefix, the header and the trailer (a Worker reading the
     * stored pack from R2): only the entries after it are written, at their offsets.
     */
    external?: boolean;
  };
}

export interface PackWriteStats {
  objects: number;
  deltas: number;
  reused: number;
  reusedDeltas: number;
}

export async function* writePack(
  store: PackSource,
  oids: string[],
  options: PackWriteOptions,
  stats: PackWriteStats = { objects: 0, deltas: 0, reused: 0, reusedDeltas: 0 },
): AsyncGenerator<Uint8Array> {
  const blockSize = options.blockSize ?? 256 * 1024;
  const hash = createHash("sha1");
  let block = new Uint8Array(blockSize);
  let filled = 0;
  let offset = 0;
  const blocks: Uint8Array[] = [];

  const put = (bytes: Uint8Array) => {
    hash.update(bytes);
    offset += bytes.byteLength;
    if (bytes.byteLength >= blockSize) {
      // A piece of a large entry goes out as it is, after what is gathered before it.
      if (filled) {
        blocks.push(block.subarray(0, filled));
        block = new Uint8Array(blockSize);
        filled = 0;
      }
      blocks.push(bytes);
      return;
    }
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

  // Plan: every object's stored location, fetched in batches, then the order to send
  // them in: stored-pack order. A stored OFS delta always follows its base there, so
  // bases are mostly written before their deltas, and entries are read sequentially
  // through a window instead of one lookup per object.
  const n = oids.length;
  const index = new Map<string, number>();
  for (let i = 0; i < n; i++) if (!index.has(oids[i])) index.set(oids[i], i);
  const packOf = new Int32Array(n).fill(-1);
  const offsetOf = new Float64Array(n);
  const lengthOf = new Float64Array(n);
  const typeOf = new Uint8Array(n);
  const sizeOf = new Float64Array(n);
  // Index of the delta base among the objects sent; -1 if none is stored, -2 if the base
  // is not sent (its id is then looked up again when needed).
  const baseOf = new Int32Array(n).fill(-1);
  const pacer = new Pacer();
  for (let i = 0; i < n; i += 500) {
    if (pacer.due(500)) await pacer.pause();
    const found = store.locateMany(oids.slice(i, i + 500));
    for (const [oid, loc] of found) {
      const at = index.get(oid)!;
      packOf[at] = loc.pack;
      offsetOf[at] = loc.offset;
      lengthOf[at] = loc.length;
      typeOf[at] = loc.type;
      sizeOf[at] = loc.size;
      if (loc.base !== null) baseOf[at] = index.get(loc.base) ?? -2;
    }
  }
  const order = Uint32Array.from(index.values()).sort((a, b) => packOf[a] - packOf[b] || offsetOf[a] - offsetOf[b]);
  const header = new Uint8Array(12);
  header.set([0x50, 0x41, 0x43, 0x4b]);
  new DataView(header.buffer).setUint32(4, 2);
  const prefix = options.prefix;
  new DataView(header.buffer).setUint32(8, index.size + (prefix?.objects ?? 0));
  if (prefix?.external) {
    offset = prefix.size - 20;
    stats.reused += prefix.objects;
  } else put(header);
  if (prefix && !prefix.external) {
    // 4 MiB reads, not cached, the next started before the current is sent (as a whole
    // stored pack is sent): the stored header and trailer are left out.
    const block = 4 << 20;
    const end = prefix.size - 20;
    const read = (at: number) => {
      const p = store.packSpan(prefix.pack, at, Math.min(block, end - at));
      p.catch(() => undefined);
      return p;
    };
    let next = read(12);
    for (let at = 12; at < end; at += block) {
      const bytes = await next;
      if (at + block < end) next = read(at + block);
      put(bytes);
      while (blocks.length) yield blocks.shift()!;
    }
    stats.reused += prefix.objects;
  }

  const writtenAt = new Float64Array(n).fill(-1);
  const reader = new EntryReader(store);

  const location = (at: number): ObjectLocation => {
    if (packOf[at] < 0) throw new MissingObjectError(oids[at]);
    const base = baseOf[at] === -1 ? null : baseOf[at] >= 0 ? oids[baseOf[at]] : store.locate(oids[at])!.base;
    return { oid: oids[at], pack: packOf[at], offset: offsetOf[at], length: lengthOf[at], type: typeOf[at], size: sizeOf[at], base };
  };

  // Where a base sent in the prefix is. Where the index knows a newer copy of it, the
  // delta is sent resolved instead: larger, and rare.
  const inPrefix = (base: string): number | undefined => {
    if (!prefix) return undefined;
    const loc = store.locate(base);
    return loc?.pack === prefix.pack ? loc.offset : undefined;
  };

  const writeOne = async (at: number, reuseDelta: boolean) => {
    const loc = location(at);
    const start = offset;
    stats.objects++;
    if (loc.base === null) {
      put(await reader.entry(loc));
      stats.reused++;
    } else {
      const baseAt = baseOf[at] >= 0 && writtenAt[baseOf[at]] >= 0 ? writtenAt[baseOf[at]] : inPrefix(loc.base);
      const baseOnClient = options.thinBases?.has(loc.base) ?? false;
      if (reuseDelta && (baseAt !== undefined || baseOnClient)) {
        const raw = await reader.entry(loc);
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
        const obj = (await store.readObject(loc.oid))!;
        put(encodeWholeEntry(obj.type, obj.data));
      }
    }
    writtenAt[at] = start;
  };

  for (const first of order) {
    if (writtenAt[first] >= 0) continue;
    // A stored delta can be copied only after its base: emit the chain base-first
    // (REF_DELTA bases may come later in a stored pack).
    const chain = [first];
    const inChain = new Set(chain);
    let cycle = false;
    for (;;) {
      const base = baseOf[chain[chain.length - 1]];
      if (base < 0 || writtenAt[base] >= 0) break;
      if (inChain.has(base)) {
        cycle = true;
        break;
      }
      chain.push(base);
      inChain.add(base);
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const at = chain[i];
      if (baseOf[at] === -1 && packOf[at] >= 0 && lengthOf[at] >= LARGE_ENTRY) {
        // A large whole entry (a big file): copied through in pieces.
        const start = offset;
        stats.objects++;
        stats.reused++;
        for (let done = 0; done < lengthOf[at]; done += LARGE_ENTRY) {
          const piece = await store.rawSpan(packOf[at], offsetOf[at] + done, Math.min(LARGE_ENTRY, lengthOf[at] - done));
          put(piece);
          while (blocks.length) yield blocks.shift()!;
          await pacer.pause();
        }
        writtenAt[at] = start;
        continue;
      }
      // The deepest entry of a cycle is sent whole, which breaks the cycle.
      await writeOne(at, !(cycle && i === chain.length - 1));
      while (blocks.length) yield blocks.shift()!;
      if (pacer.due()) await pacer.pause();
    }
  }
  if (filled) yield block.subarray(0, filled);
  if (!prefix?.external) yield new Uint8Array(hash.digest());
}

/**
 * Reads stored entries through a window of the pack, so that entries read in pack order
 * cost one read per window rather than one per object.
 */
class EntryReader {
  private pack = -1;
  private start = 0;
  private bytes: Uint8Array = new Uint8Array(0);
  private static readonly WINDOW = 1024 * 1024;

  constructor(private readonly store: PackSource) {}

  async entry(loc: ObjectLocation): Promise<Uint8Array> {
    const end = loc.offset + loc.length;
    if (loc.pack !== this.pack || loc.offset < this.start || end > this.start + this.bytes.byteLength) {
      if (loc.length >= EntryReader.WINDOW) return this.store.rawEntry(loc);
      const span = await this.store.rawSpan(loc.pack, loc.offset, EntryReader.WINDOW);
      this.pack = loc.pack;
      this.start = loc.offset;
      this.bytes = span;
      if (end > this.start + this.bytes.byteLength) return this.store.rawEntry(loc);
    }
    return this.bytes.subarray(loc.offset - this.start, end - this.start);
  }
}
