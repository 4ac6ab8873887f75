// ll_merge with git's default "text" driver, as merge-ort calls it: binary files (a NUL in
// the first 8000 bytes) are not merged line by line; inside a virtual merge base they
// resolve to the base version, otherwise they conflict and keep "ours".
import type { Budget } from "./budget";
import { xdlMerge } from "./xdiff/merge";

export const LL_MERGE_OK = 0;
export const LL_MERGE_CONFLICT = 1;
export const LL_MERGE_BINARY_CONFLICT = 2;

export interface TextMergeInput {
  base: Uint8Array;
  ours: Uint8Array;
  theirs: Uint8Array;
  oursLabel: string;
  theirsLabel: string;
  markerSize: number;
  virtualAncestor: boolean;
}

export function bufferIsBinary(b: Uint8Array): boolean {
  return b.subarray(0, 8000).includes(0);
}

export function mergeText(input: TextMergeInput, budget: Budget): { status: number; result: Uint8Array } {
  const { base, ours, theirs } = input;
  if (bufferIsBinary(base) || bufferIsBinary(ours) || bufferIsBinary(theirs)) {
    if (input.virtualAncestor) return { status: LL_MERGE_OK, result: base };
    return { status: LL_MERGE_BINARY_CONFLICT, result: ours };
  }
  // Each side is diffed against the base, and conflicting regions against each other.
  budget.spend(2 * base.length + 2 * ours.length + 2 * theirs.length);
  const r = xdlMerge(base, ours, theirs, { markerSize: input.markerSize, name1: input.oursLabel, name2: input.theirsLabel });
  return { status: r.conflicts > 0 ? LL_MERGE_CONFLICT : LL_MERGE_OK, result: r.result };
}
