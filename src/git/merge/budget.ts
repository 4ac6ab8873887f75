// A merge in a Worker has 128 MB and a CPU budget; past these bounds the caller is told to
// merge locally instead of the request failing half way.
export const TOO_LARGE_MESSAGE = "too large to merge in the browser; merge locally and push";

export interface BudgetLimits {
  /** Objects read from the store (commits walked, trees and blobs). */
  objects: number;
  /** Bytes of objects read plus bytes fed to line diffs and similarity estimates. */
  bytes: number;
}

export const DEFAULT_LIMITS: BudgetLimits = { objects: 50_000, bytes: 32 * 1024 * 1024 };

export class TooLargeError extends Error {
  constructor() {
    super(TOO_LARGE_MESSAGE);
  }
}

/** A merge the engine declines rather than risk a result git would not produce. */
export class UnsupportedMergeError extends Error {}

export class Budget {
  private objects = 0;
  private bytes = 0;
  constructor(private readonly limits: BudgetLimits) {}

  object(size: number): void {
    this.objects++;
    this.spend(size);
    if (this.objects > this.limits.objects) throw new TooLargeError();
  }

  spend(bytes: number): void {
    this.bytes += bytes;
    if (this.bytes > this.limits.bytes) throw new TooLargeError();
  }
}
