// A least-recently-used cache bounded by bytes, not entries: every cache in the
// Durable Object must fit the 128 MB isolate, whatever the repository's size.

/**
 * A byte array fit to be kept: a view that pins a much larger buffer (zlib and
 * Buffer pools hand those out) is copied, so a cache's byte count is what it holds.
 */
export function compact(bytes: Uint8Array): Uint8Array {
  return bytes.buffer.byteLength > bytes.byteLength + 1024 ? bytes.slice() : bytes;
}
export class ByteLru<K, V> {
  private readonly map = new Map<K, { value: V; bytes: number }>();
  private used = 0;

  constructor(
    readonly budget: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get(key: K): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    // Map keeps insertion order: re-inserting marks the entry as most recent.
    this.map.delete(key);
    this.map.set(key, hit);
    return hit.value;
  }

  /**
   * Where eviction stands in the map's order. Every entry before it was evicted, and what
   * `get` or `set` adds goes to the end, so the next entry it yields is the oldest. A new
   * iteration from the start each time walked again over every slot evicted since the map
   * last compacted itself: 5.5 s of a 439k-object push's 32 s went there.
   */
  private cursor: Iterator<[K, { value: V; bytes: number }]> | null = null;

  set(key: K, value: V): void {
    const bytes = this.sizeOf(value);
    this.delete(key);
    if (bytes > this.budget) return;
    this.map.set(key, { value, bytes });
    this.used += bytes;
    while (this.used > this.budget) {
      this.cursor ??= this.map.entries();
      const next = this.cursor.next();
      if (next.done) {
        // Ended before the entries added since: start again from the oldest.
        this.cursor = null;
        if (!this.map.size) break;
        continue;
      }
      const [k, v] = next.value;
      this.map.delete(k);
      this.used -= v.bytes;
    }
  }

  delete(key: K): void {
    const hit = this.map.get(key);
    if (!hit) return;
    this.map.delete(key);
    this.used -= hit.bytes;
  }

  deleteWhere(pred: (key: K) => boolean): void {
    for (const key of [...this.map.keys()]) if (pred(key)) this.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.cursor = null;
    this.used = 0;
  }

  get bytes(): number {
    return this.used;
  }
}

/**
 * A rough size in bytes of plain data (strings, numbers, arrays, objects), for caches
 * of computed answers: good enough to keep a byte budget honest.
 */
export function approxBytes(value: unknown, depth = 0): number {
  if (value === null || value === undefined) return 8;
  if (typeof value === "string") return 16 + value.length * 2;
  if (typeof value !== "object") return 16;
  if (value instanceof Uint8Array) return 64 + value.byteLength;
  if (depth > 12) return 64;
  let n = 32;
  if (value instanceof Map) {
    for (const [k, v] of value) n += approxBytes(k, depth + 1) + approxBytes(v, depth + 1);
    return n;
  }
  for (const v of Array.isArray(value) ? value : Object.values(value)) n += 8 + approxBytes(v, depth + 1);
  return n;
}
