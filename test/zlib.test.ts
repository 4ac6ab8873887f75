import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { PackFormatError } from "../src/git/pack/entry";
import { inflateEntry, inflateExact } from "../src/git/pack/zlib";

const data = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) % 13);
const followed = (z: Uint8Array, extra: number) => {
  const out = new Uint8Array(z.byteLength + extra).fill(0x78);
  out.set(z);
  return out;
};

describe("inflateEntry", () => {
  it("inflates a stream followed by other data and says where it ended", () => {
    for (const n of [0, 1, 100, 70_000]) {
      const z = deflateSync(data(n));
      const r = inflateEntry(followed(z, 50), n);
      expect(r).not.toBe("short");
      if (r === "short") return;
      expect(r.consumed).toBe(z.byteLength);
      expect(r.buffer).toEqual(data(n));
      // Again on the same engine: nothing carries over.
      expect(inflateExact(z, n)).toEqual(data(n));
    }
  });

  it("says short when the input ends inside the stream", () => {
    const z = deflateSync(data(5000));
    expect(inflateEntry(z.subarray(0, z.byteLength - 3), 5000)).toBe("short");
    expect(inflateEntry(z.subarray(0, 10), 5000)).toBe("short");
  });

  it("refuses corrupt data, a wrong size, and more data than declared, then still works", () => {
    const z = deflateSync(data(300));
    const bad = followed(z, 10);
    bad[z.byteLength - 1] ^= 1;
    expect(() => inflateEntry(bad, 300)).toThrow(PackFormatError);
    expect(() => inflateEntry(followed(z, 10), 299)).toThrow(/past its declared size/);
    expect(() => inflateEntry(followed(z, 10), 301)).toThrow(/size mismatch/);
    expect(() => inflateEntry(new Uint8Array(40).fill(3), 10)).toThrow(PackFormatError);
    const r = inflateEntry(followed(z, 1), 300);
    expect(r !== "short" && r.consumed).toBe(z.byteLength);
  });
});
