// Admission of the jobs of one repository into memory, all of them together.
//
// Every clone, fetch and push that the object works on holds memory between its steps:
// a walk's object lists, the pack writer's plan, a step's bytes on their way out, and
// (locally, where the Worker shares the isolate) the Worker's buffers of the same steps.
// Each cache has its own budget, but sixteen clones at once had no bound together: the
// isolate went past its 128 MB and was reset, losing every job. Here each job reserves
// an estimate of what it will hold before it starts, and a job that does not fit waits,
// first come first served, until others finish; one that waits too long, or finds the
// queue full, is refused with an error that says to try again.
//
// A job that turns out smaller (a fetch, once its walk has found few objects) gives back
// the difference at once. A job's Worker may vanish without a word (its isolate reset):
// a reservation left untouched for `idleMs` stops counting, so it cannot block the
// repository until the job is swept.

export interface AdmissionConfig {
  /** Bytes all admitted jobs of the repository may hold together. */
  budgetBytes: number;
  /** How long a job waits for room before it is refused. */
  maxWaitMs: number;
  /** Jobs that may wait at once; more are refused at once. */
  maxWaiting: number;
  /** A reservation untouched this long no longer counts. */
  idleMs: number;
}

export const DEFAULT_ADMISSION: AdmissionConfig = {
  budgetBytes: 24 * 1024 * 1024,
  maxWaitMs: 120_000,
  maxWaiting: 256,
  // Long enough for a segment of a push from a slow client, which is one call.
  idleMs: 180_000,
};

/** The configuration from the Worker's variables (tests and operators lower them). */
export function admissionConfig(vars: { GITFLARE_JOBS_BUDGET_BYTES?: string; GITFLARE_JOBS_WAIT_MS?: string }): AdmissionConfig {
  return {
    ...DEFAULT_ADMISSION,
    budgetBytes: Number(vars.GITFLARE_JOBS_BUDGET_BYTES ?? "") || DEFAULT_ADMISSION.budgetBytes,
    maxWaitMs: Number(vars.GITFLARE_JOBS_WAIT_MS ?? "") || DEFAULT_ADMISSION.maxWaitMs,
  };
}

/**
 * What one object of a walk and pack plan costs in memory, measured on clones of an
 * express-sized repository (ids as strings in sets and lists, the writer's plan arrays).
 */
export const BYTES_PER_OBJECT = 240;

/** What a clone or fetch will hold: its walk and plan, and its steps in flight on both sides. */
export function uploadEstimate(objects: number, stepBytes: number): number {
  return objects * BYTES_PER_OBJECT + 4 * stepBytes + 1024 * 1024;
}

/** What a push will hold: segments and the indexer's window, then its object list. */
export function pushEstimate(objects = 0): number {
  return 8 * 1024 * 1024 + objects * 300;
}

/** The message a refused job's client sees: git shows it as `remote error: …`. */
export const BUSY_MESSAGE = "repository busy: too many clones and pushes in progress, please try again in a minute";

/** One job's reservation. */
export class Ticket {
  private touchedAt = Date.now();
  private done = false;

  constructor(
    private readonly owner: Admission,
    public bytes: number,
    readonly label: string,
  ) {}

  /** Whether the reservation still counts. */
  counts(now: number, idleMs: number): boolean {
    return !this.done && now - this.touchedAt < idleMs;
  }

  /** Marks the job as alive (each step does). */
  touch(): void {
    this.touchedAt = Date.now();
  }

  /** Sets the reservation to what the job now knows it holds. */
  resize(bytes: number): void {
    if (this.done) return;
    const smaller = bytes < this.bytes;
    this.bytes = bytes;
    this.touch();
    if (smaller) this.owner.wake();
  }

  /** The job is over: its memory is free. Releasing twice is harmless. */
  release(): void {
    if (this.done) return;
    this.done = true;
    this.owner.forget(this);
  }
}

interface Waiter {
  /** What it needs, asked again each time it may be let in: it can shrink while it waits. */
  bytes: () => number;
  label: string;
  admit: (t: Ticket) => void;
}

export class Admission {
  private readonly tickets = new Set<Ticket>();
  private readonly waiting: Waiter[] = [];
  /** Each held job's ticket, so that the code that holds jobs only says which job. */
  private readonly byJob = new WeakMap<object, Ticket>();

  constructor(readonly config: AdmissionConfig = { ...DEFAULT_ADMISSION }) {}

  /** Records that `job` holds `ticket` (a job that moves on to another object passes it on). */
  hold(job: object, ticket: Ticket): void {
    this.byJob.set(job, ticket);
  }

  /** The job was stepped: it is alive. */
  touch(job: object): void {
    this.byJob.get(job)?.touch();
  }

  /** The job now knows it holds about `bytes`. */
  resize(job: object, bytes: number): void {
    this.byJob.get(job)?.resize(bytes);
  }

  /** The job is over (finished, failed or dropped); harmless for a job that held nothing. */
  release(job: object): void {
    this.byJob.get(job)?.release();
    this.byJob.delete(job);
  }

  /** Passes `from`'s reservation on to `to` (a push's upload becomes its indexing job). */
  pass(from: object, to: object): void {
    const t = this.byJob.get(from);
    if (!t) return;
    this.byJob.delete(from);
    this.byJob.set(to, t);
  }

  /** Bytes reserved by jobs that count now. */
  held(now = Date.now()): number {
    let sum = 0;
    for (const t of this.tickets) {
      if (t.counts(now, this.config.idleMs)) sum += t.bytes;
    }
    return sum;
  }

  /** Jobs admitted and not released (counting or idle), and jobs waiting. */
  load(): { admitted: number; waiting: number; heldBytes: number } {
    return { admitted: this.tickets.size, waiting: this.waiting.length, heldBytes: this.held() };
  }

  /**
   * Reserves `bytes` for a job, waiting for room if need be; null when the repository is
   * saturated (the queue is full, or no room came within `maxWaitMs`). A job larger than
   * the whole budget is admitted alone.
   */
  async admit(needs: number | (() => number), label: string): Promise<Ticket | null> {
    const bytes = typeof needs === "number" ? () => needs : needs;
    if (!this.waiting.length && this.fits(bytes())) return this.issue(bytes(), label);
    if (this.waiting.length >= this.config.maxWaiting) return null;
    return new Promise<Ticket | null>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let poll: ReturnType<typeof setInterval> | undefined;
      const waiter: Waiter = {
        bytes,
        label,
        admit: (t) => {
          clearTimeout(timer);
          clearInterval(poll);
          resolve(t);
        },
      };
      this.waiting.push(waiter);
      timer = setTimeout(() => {
        const i = this.waiting.indexOf(waiter);
        if (i < 0) return;
        this.waiting.splice(i, 1);
        clearInterval(poll);
        resolve(null);
        // The next in line may fit where this one did not.
        this.wake();
      }, this.config.maxWaitMs);
      // Reservations fall idle without an event to say so: look again now and then.
      poll = setInterval(() => this.wake(), Math.min(5_000, this.config.idleMs / 4));
    });
  }

  private fits(bytes: number): boolean {
    const held = this.held();
    return held === 0 || held + bytes <= this.config.budgetBytes;
  }

  private issue(bytes: number, label: string): Ticket {
    const t = new Ticket(this, bytes, label);
    this.tickets.add(t);
    return t;
  }

  /** Admits waiting jobs, in order, while the first of them fits. */
  wake(): void {
    const now = Date.now();
    for (const t of this.tickets) if (!t.counts(now, this.config.idleMs)) this.tickets.delete(t);
    while (this.waiting.length) {
      const bytes = this.waiting[0].bytes();
      if (!this.fits(bytes)) break;
      const w = this.waiting.shift()!;
      w.admit(this.issue(bytes, w.label));
    }
  }

  /** @internal A ticket was released. */
  forget(t: Ticket): void {
    this.tickets.delete(t);
    this.wake();
  }
}
