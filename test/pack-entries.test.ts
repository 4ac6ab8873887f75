import { describe, expect, it } from "vitest";
import { IdSet, PackEntries } from "../src/git/pack/entries";
import { readIdxV2, writeIdxV2 } from "../src/git/pack/idx";
import { fromHex } from "../src/git/object/object";

/** Distinct ids that share their first bytes, so that the tables' probes collide. */
function ids(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `00000000${i.toString(16).padStart(32, "0")}`);
}

describe("compact indexer state", () => {
  it("IdSet keeps each id once across growth", () => {
    const set = new IdSet(4);
    const all = ids(5000);
    for (const id of [...all, ...all]) set.addHex(id);
    expect(set.size).toBe(5000);
    const seen: string[] = [];
    set.forEach((b, at) => {
      seen.push(Buffer.from(b.subarray(at, at + 20)).toString("hex"));
    });
    expect(seen).toEqual(all);
  });

  it("PackEntries finds the first entry of an id, by offset and by id, after growing", () => {
    const all = ids(3000);
    const e = new PackEntries(10);
    for (let i = 0; i < all.length; i++) {
      const at = e.push(12 + i * 7, 7, i, null);
      e.resolve(at, all[i], 3, i, -1, null);
    }
    const dup = e.push(12 + all.length * 7, 7, 0, null);
    e.resolve(dup, all[5], 3, 1, -1, null);
    expect(e.length).toBe(3001);
    expect(e.findHex(all[5])).toBe(5);
    expect(e.findHex(all[2999])).toBe(2999);
    expect(e.findHex("ff".repeat(20))).toBe(-1);
    expect(e.atOffset(12 + 100 * 7)).toBe(100);
    expect(e.atOffset(13)).toBe(-1);
    expect(e.get(7)).toEqual({ oid: all[7], offset: 12 + 49, length: 7, crc32: 7, type: 3, size: 7, base: null });
  });

  it("writes the same .idx from the table as from records", () => {
    const all = ids(300).reverse();
    const records = all.map((oid, i) => ({ oid, offset: 12 + i * 10, length: 10, crc32: 0xfffffff0 - i, type: 3, size: 1, base: null }));
    const fromRecords = writeIdxV2(records, fromHex("ab".repeat(20)));
    const fromTable = writeIdxV2(PackEntries.of(records), fromHex("ab".repeat(20)));
    expect(fromTable).toEqual(fromRecords);
    expect(readIdxV2(fromTable).entries.map((x) => x.oid)).toEqual([...all].sort());
  });
});
