// Background work of a repository (the search index, compaction and the rest of
// maintenance) yields to git traffic: the object is one thread, and a slice of background
// work holds it for up to a second, which a clone's next step waits out. Measured on a
// 439k-object repository: a `--depth 1` clone right after a push took 8.7 s while the
// search index followed the push, against 1.4 s alone. So while git calls arrive, the
// work waits, but never longer than `maxWaitMs` in a row: a repository cloned without a
// pause still gets indexed and compacted.

/** How long after a git call background work still waits. */
export const QUIET_MS = 2_000;
/** The longest background work waits in a row. */
export const MAX_WAIT_MS = 60_000;

export class GitFirst {
  private lastCall = Number.NEGATIVE_INFINITY;
  /** When each kind of work began waiting, while it waits. */
  private readonly waiting = new Map<string, number>();

  constructor(
    private readonly quietMs = QUIET_MS,
    private readonly maxWaitMs = MAX_WAIT_MS,
  ) {}

  /** Calls still answering: a clone's first call may await for seconds, and work between its awaits would lengthen it. */
  private inFlight = 0;

  /** A clone, fetch or push called the object. */
  noteCall(now = Date.now()): void {
    this.lastCall = now;
  }

  /** A call that answers asynchronously: background work waits until it ends, and a while after. */
  track<T>(call: Promise<T>): Promise<T> {
    this.inFlight++;
    this.noteCall();
    return call.finally(() => {
      this.inFlight--;
      this.noteCall();
    });
  }

  /** Whether work of this kind may run now; false means look again a little later. */
  mayRun(kind: string, now = Date.now()): boolean {
    if (this.inFlight === 0 && now - this.lastCall >= this.quietMs) {
      this.waiting.delete(kind);
      return true;
    }
    const since = this.waiting.get(kind);
    if (since === undefined) {
      this.waiting.set(kind, now);
      return false;
    }
    if (now - since < this.maxWaitMs) return false;
    // Waited long enough: run one slice, then yield again as from now.
    this.waiting.set(kind, now);
    return true;
  }
}
