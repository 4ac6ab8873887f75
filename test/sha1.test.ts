import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fromHex, toHex } from "../src/git/object/object";
import { sha1Hex } from "../src/util/sha1";

describe("sha1Hex", () => {
  it("agrees with node:crypto at every padding boundary and beyond one block", () => {
    const head = "blob 0\0";
    for (const n of [0, 1, 47, 48, 49, 55, 56, 57, 63, 64, 65, 119, 120, 121, 1000, 1024, 5000, 70_000]) {
      const body = new Uint8Array(n);
      for (let i = 0; i < n; i++) body[i] = (i * 31 + n) & 0xff;
      expect(sha1Hex(head, body)).toBe(createHash("sha1").update(head).update(body).digest("hex"));
    }
  });
});

describe("toHex", () => {
  it("writes two lower-case digits a byte, for ids, short input and long input alike", () => {
    for (const n of [0, 1, 19, 20, 21, 32, 33, 256]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 97 + n) & 0xff);
      const expected = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      expect(toHex(bytes)).toBe(expected);
    }
  });
});

describe("fromHex", () => {
  it("reads upper- and lower-case ids back into the bytes toHex wrote", () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(fromHex(toHex(bytes))).toEqual(bytes);
    expect(fromHex(toHex(bytes).toUpperCase())).toEqual(bytes);
  });
});
