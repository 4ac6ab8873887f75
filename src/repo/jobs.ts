// Work the object holds between steps (see contract.ts): clone answers, push uploads
// and push indexing, each under a random id the Worker carries from step to step.

/** A job nobody has continued for this long was left behind by a Worker that died. */
const STALE_MS = 10 * 60_000;

export class Jobs<T> {
  private readonly held = new Map<string, { job: T; touched: number }>();

  /** @param drop releases what a job holds (a stored pack, a generator) when it is swept. */
  constructor(private readonly drop: (job: T) => void) {}

  /** Holds a job and returns its id; stale jobs are swept first. */
  add(job: T): string {
    const stale = Date.now() - STALE_MS;
    for (const [id, j] of this.held) if (j.touched < stale) this.abandon(id);
    const id = crypto.randomUUID();
    this.held.set(id, { job, touched: Date.now() });
    return id;
  }

  /** The job, marked as continued now; undefined if there is none (lost with a restart). */
  get(id: string): T | undefined {
    const entry = this.held.get(id);
    if (entry) entry.touched = Date.now();
    return entry?.job;
  }

  /** The jobs in flight (read only): held, and not left behind as stale. */
  *jobs(): IterableIterator<T> {
    const stale = Date.now() - STALE_MS;
    for (const { job, touched } of this.held.values()) if (touched >= stale) yield job;
  }

  /** Removes a job that is finished; its resources are the caller's. */
  take(id: string): T | undefined {
    const job = this.held.get(id)?.job;
    this.held.delete(id);
    return job;
  }

  /** Removes a job that will not be finished, releasing what it holds. */
  abandon(id: string): void {
    const job = this.take(id);
    if (job !== undefined) this.drop(job);
  }
}
