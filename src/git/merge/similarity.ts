// diffcore-delta.c's span hashing and diffcore-rename.c's estimate_similarity: how much of
// a new file's content came from an old one, in git's units (MAX_SCORE is 100%).
import { bufferIsBinary } from "./text-merge";

export const MAX_SCORE = 60000;
export const DEFAULT_RENAME_SCORE = 30000;
const HASHBASE = 107927;

export function spanCounts(data: Uint8Array): Map<number, number> {
  const isText = !bufferIsBinary(data);
  const counts = new Map<number, number>();
  const add = (a1: number, a2: number, n: number) => {
    const h = ((a1 + Math.imul(a2, 0x61)) >>> 0) % HASHBASE;
    counts.set(h, (counts.get(h) ?? 0) + n);
  };
  let n = 0;
  let accum1 = 0;
  let accum2 = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    const old1 = accum1;
    if (isText && c === 0x0d && i + 1 < data.length && data[i + 1] === 0x0a) continue;
    accum1 = ((accum1 << 7) ^ (accum2 >>> 25)) >>> 0;
    accum2 = ((accum2 << 7) ^ (old1 >>> 25)) >>> 0;
    accum1 = (accum1 + c) >>> 0;
    if (++n < 64 && c !== 0x0a) continue;
    add(accum1, accum2, n);
    n = 0;
    accum1 = accum2 = 0;
  }
  if (n > 0) add(accum1, accum2, n);
  return counts;
}

export interface Candidate {
  mode: number;
  size: number;
  counts(): Map<number, number>;
}

/** estimate_similarity for two regular files; 0 when the sizes alone rule a match out. */
export function estimateSimilarity(src: Candidate, dst: Candidate, minimumScore: number): number {
  const maxSize = Math.max(src.size, dst.size);
  const baseSize = Math.min(src.size, dst.size);
  const deltaSize = maxSize - baseSize;
  if (maxSize * (MAX_SCORE - minimumScore) < deltaSize * MAX_SCORE) return 0;
  const s = src.counts();
  const d = dst.counts();
  let copied = 0;
  for (const [h, sc] of s) copied += Math.min(sc, d.get(h) ?? 0);
  if (!dst.size) return 0;
  return Math.floor((copied * MAX_SCORE) / maxSize);
}

export function basenameSame(src: string, dst: string): boolean {
  let s = src.length;
  let d = dst.length;
  while (s && d) {
    const c1 = src.charCodeAt(--s);
    const c2 = dst.charCodeAt(--d);
    if (c1 !== c2) return false;
    if (c1 === 0x2f) return true;
  }
  return (!s || src.charCodeAt(s - 1) === 0x2f) && (!d || dst.charCodeAt(d - 1) === 0x2f);
}
