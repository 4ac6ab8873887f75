// Long loops on a Durable Object must give the event loop a turn now and then. Reads of
// DOFS and SQLite are synchronous, so an `await` on them resolves as a microtask and a
// walk or a copy over a large repository never leaves the isolate: other requests queue
// behind it, and workerd, seeing no request get in for 10 s, evicts the object after it
// (the next step of every clone finds no job; a request queued meanwhile can be stranded
// until another one arrives). Production counts the same stretch against one
// invocation's CPU limit. A `Pacer` counts work and says when to yield.
//
// Work is counted in units (objects, or bytes / 64 KiB), because in production the clock
// does not advance during computation; locally it does, and a time bound is kept as well,
// so that a machine under load yields sooner.

/** Lets the event loop run once: queued requests, timers, the runtime's bookkeeping. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Units of work between yields by default: ~10–30 ms of the walk or the pack writer. */
export const DEFAULT_YIELD_UNITS = 2000;

export class Pacer {
  private units = 0;
  private since = performance.now();

  constructor(
    private readonly unitsPerYield = DEFAULT_YIELD_UNITS,
    private readonly msPerYield = 20,
  ) {}

  /** Counts `units` of work; true when the loop should `await pause()` now. */
  due(units = 1): boolean {
    this.units += units;
    return this.units >= this.unitsPerYield || performance.now() - this.since >= this.msPerYield;
  }

  /** Yields to the event loop and starts counting again. */
  async pause(): Promise<void> {
    await yieldToEventLoop();
    this.units = 0;
    this.since = performance.now();
  }

  /** `due` and `pause` in one, for loops that are async already. */
  async tick(units = 1): Promise<void> {
    if (this.due(units)) await this.pause();
  }
}
