// The byte-bounded LRU against a plain model of one: the same entries evicted in the same
// order, over many random gets, sets, deletes and clears.
import { describe, expect, it } from "vitest";
import { ByteLru } from "../src/util/lru";

/** The model: entries in recency order, oldest first, evicted from the front. */
class ModelLru {
  entries: { key: number; bytes: number }[] = [];
  constructor(readonly budget: number) {}
  get(key: number): boolean {
    const i = this.entries.findIndex((e) => e.key === key);
    if (i < 0) return false;
    this.entries.push(...this.entries.splice(i, 1));
    return true;
  }
  set(key: number, bytes: number): void {
    this.delete(key);
    if (bytes > this.budget) return;
    this.entries.push({ key, bytes });
    while (this.entries.reduce((n, e) => n + e.bytes, 0) > this.budget) this.entries.shift();
  }
  delete(key: number): void {
    this.entries = this.entries.filter((e) => e.key !== key);
  }
}

describe("ByteLru", () => {
  it("evicts the least recently used entries first, as a model LRU does", () => {
    let seed = 5;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    for (let round = 0; round < 20; round++) {
      const budget = 50 + rand(500);
      const lru = new ByteLru<number, Uint8Array>(budget, (v) => v.byteLength);
      const model = new ModelLru(budget);
      for (let op = 0; op < 3000; op++) {
        const key = rand(60);
        const what = rand(100);
        if (what < 45) {
          const bytes = 1 + rand(Math.floor(budget / 4) + (rand(20) === 0 ? budget : 0));
          lru.set(key, new Uint8Array(bytes));
          model.set(key, bytes);
        } else if (what < 90) {
          expect(lru.get(key) !== undefined, `round ${round} op ${op}`).toBe(model.get(key));
        } else if (what < 99) {
          lru.delete(key);
          model.delete(key);
        } else {
          lru.clear();
          model.entries = [];
        }
        expect(lru.bytes).toBe(model.entries.reduce((n, e) => n + e.bytes, 0));
      }
      for (const { key } of model.entries) expect(lru.get(key)).toBeDefined();
    }
  });
});
