// The indexer's ring of delta bases: whatever it hands back is the object's bytes, whatever
// it holds a view of, and the objects just used stay, over many random reads and writes
// that wrap, grow and move objects.
import { describe, expect, it } from "vitest";
import { BaseRing } from "../src/git/pack/base-ring";

function bytesOf(i: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = (i * 131 + k * 7) & 0xff;
  return b;
}

/** Whether `got` holds object `i`'s `n` bytes (toEqual on megabytes of bytes is slow). */
function holds(got: Uint8Array | null | undefined, i: number, n: number): boolean {
  if (!got || got.byteLength !== n) return false;
  for (let k = 0; k < n; k++) if (got[k] !== ((i * 131 + k * 7) & 0xff)) return false;
  return true;
}

describe("BaseRing", () => {
  it("never hands back another object's bytes, keeps what was just written and grows to its most", () => {
    let seed = 11;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const count = 5000;
    const most = 4 << 20;
    const ring = new BaseRing(most, count);
    const sizes = new Map<number, number>();
    let hits = 0;
    for (let step = 0; step < 20_000; step++) {
      const i = rand(count);
      if (rand(3) === 0) {
        // Mostly trees' and commits' sizes, now and then a large blob.
        const n = rand(50) === 0 ? rand(1 << 20) : rand(4000);
        sizes.set(i, n);
        const copy = ring.set(i, bytesOf(i, n));
        if (n <= most / 8 && step > 1000) expect(copy).not.toBeNull();
        if (copy) expect(holds(copy, i, n)).toBe(true);
        // What was just kept is there to read, whatever it moved.
        if (copy) expect(holds(ring.get(i), i, n)).toBe(true);
      } else {
        const got = ring.get(i);
        if (got) {
          hits++;
          expect(holds(got, i, sizes.get(i)!)).toBe(true);
        }
      }
    }
    expect(hits).toBeGreaterThan(1000);
  });

  it("holds a view it handed out through one more write of up to an eighth of the ring", () => {
    const ring = new BaseRing(1 << 20, 200);
    const eighth = (1 << 20) / 8;
    for (let i = 0; i < 100; i++) {
      ring.set(i, bytesOf(i, eighth - (i % 7)));
      for (let j = Math.max(0, i - 5); j < i; j++) {
        const view = ring.get(j);
        if (!view) continue;
        ring.set(150 + (j % 3), bytesOf(150, eighth));
        expect(holds(view, j, eighth - (j % 7))).toBe(true);
      }
    }
  });

  it("keeps nothing once cleared, and objects over an eighth of the ring never", () => {
    const ring = new BaseRing(1 << 20, 4);
    expect(ring.set(0, bytesOf(0, (1 << 20) / 8 + 1))).toBeNull();
    expect(ring.get(0)).toBeUndefined();
    ring.set(1, bytesOf(1, 100));
    ring.clear();
    expect(ring.get(1)).toBeUndefined();
    expect(ring.set(2, bytesOf(2, 10))).toBeNull();
  });
});
