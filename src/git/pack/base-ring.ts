// The indexer's cache of resolved objects, the bases of the deltas after them: copies in
// one ring of bytes, not an array each. Kept in a cache of arrays, each object of a pack
// lived long enough for V8 to move it to the old generation, where it waited for a full
// collection after eviction: hundreds of megabytes of a large push went through the cache,
// and the isolate's sampled memory rose with that garbage (up to 180 MiB for a
// 439k-object push, whose live memory was far less). Here the cache's bytes are reused,
// and what dies is young.
//
// An object is copied in at the ring's head, which moves forward (in logical positions,
// never wrapping inside an object). It stays readable until the head has gone a whole ring
// past its start; one read in the oldest quarter is copied to the head again, so objects
// used often stay, as a least-recently-used cache would keep them.

/** The ring's first size: a small push needs no more. */
const FIRST_RING_BYTES = 1 << 20;

export class BaseRing {
  private ring: Uint8Array;
  /** Logical position of the next byte; the ring offset is this modulo the ring's size. */
  private head = 0;
  /** Where the head stood when this ring was made: once it has gone a ring past, the ring is full. */
  private since = 0;
  /** Each object's logical start, plus one; 0 where nothing is kept. */
  private readonly starts: Float64Array;
  private readonly lengths: Uint32Array;

  constructor(
    /** The most the ring grows to. */
    private most: number,
    count: number,
  ) {
    this.ring = new Uint8Array(Math.min(most, FIRST_RING_BYTES));
    this.starts = new Float64Array(count);
    this.lengths = new Uint32Array(count);
  }

  /**
   * Object `i`, if still kept: a view of the ring, valid until the next `set` (or `get`
   * that moves an object) writes over it. Callers that hold it longer copy it.
   */
  get(i: number): Uint8Array | undefined {
    const s = this.starts[i];
    if (s === 0) return undefined;
    const start = s - 1;
    const size = this.ring.byteLength;
    if (this.head > start + size) {
      this.starts[i] = 0;
      return undefined;
    }
    const at = start % size;
    const view = this.ring.subarray(at, at + this.lengths[i]);
    // Out of the oldest quarter before the next writes reach it. Through a copy: the
    // head's next bytes may be the object's own.
    if (start < this.head - (size * 3) / 4) return this.set(i, view.slice()) ?? undefined;
    return view;
  }

  /** Keeps a copy of `data` as object `i`, unless it is over an eighth of the ring; returns the copy. */
  set(i: number, data: Uint8Array): Uint8Array | null {
    const n = data.byteLength;
    let size = this.ring.byteLength;
    if (size < this.most && (n > size / 8 || this.head - this.since + n > size)) size = this.grow(n);
    if (size === 0 || n > size / 8) {
      this.starts[i] = 0;
      return null;
    }
    if ((this.head % size) + n > size) this.head = Math.ceil(this.head / size) * size;
    const at = this.head % size;
    this.ring.set(data, at);
    this.starts[i] = this.head + 1;
    this.lengths[i] = n;
    this.head += n;
    return this.ring.subarray(at, at + n);
  }

  /**
   * A ring twice as large (or large enough for an object of `n` bytes), up to the most.
   * What the old ring held is dropped: moving the head a whole new ring past every kept
   * start makes each of them read as overwritten.
   */
  private grow(n: number): number {
    let size = this.ring.byteLength * 2;
    while (size < n * 8 && size < this.most) size *= 2;
    size = Math.min(size, this.most);
    this.ring = new Uint8Array(size);
    this.head = Math.ceil(this.head / size) * size + size;
    this.since = this.head;
    return size;
  }

  /** Lets go of the ring's bytes; nothing is kept after. */
  clear(): void {
    this.ring = new Uint8Array(0);
    this.most = 0;
    this.starts.fill(0);
  }
}
