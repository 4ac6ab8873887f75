// xdiff's histogram diff (xhistogram.c), the algorithm merge-ort hard-codes. Lines are
// numbered from 1 as in the C code; ha holds each record's class. Where the C code keeps
// hash chains of records, one record per class does the same: only the record whose class
// matches ever takes part in choosing the longest common run.
import { classicDiff } from "./myers";

const MAX_CHAIN_LENGTH = 64;

interface Rec {
  ptr: number;
  cnt: number;
}

interface Region {
  begin1: number;
  end1: number;
  begin2: number;
  end2: number;
}

export interface HistogramInput {
  ha1: Int32Array;
  ha2: Int32Array;
  keys1: string[];
  keys2: string[];
  rchg1: Uint8Array;
  rchg2: Uint8Array;
}

function findLcs(env: HistogramInput, lcs: Region, line1: number, count1: number, line2: number, count2: number): number {
  const { ha1, ha2 } = env;
  const end1 = line1 + count1 - 1;
  const end2 = line2 + count2 - 1;
  const records = new Map<number, Rec>();
  const lineMap: Rec[] = new Array(count1);
  const nextPtrs = new Int32Array(count1);
  const shift = line1;
  // scanA
  for (let ptr = end1; line1 <= ptr; ptr--) {
    const h = ha1[ptr - 1];
    const rec = records.get(h);
    if (rec) {
      nextPtrs[ptr - shift] = rec.ptr;
      rec.ptr = ptr;
      rec.cnt = rec.cnt + 1;
      lineMap[ptr - shift] = rec;
    } else {
      const created = { ptr, cnt: 1 };
      records.set(h, created);
      lineMap[ptr - shift] = created;
    }
  }
  let cnt = MAX_CHAIN_LENGTH + 1;
  let hasCommon = false;
  for (let bPtr = line2; bPtr <= end2; ) {
    // try_lcs
    let bNext = bPtr + 1;
    const rec = records.get(ha2[bPtr - 1]);
    if (rec) {
      if (rec.cnt > cnt) {
        hasCommon = true;
      } else {
        let as = rec.ptr;
        hasCommon = true;
        for (;;) {
          let np = nextPtrs[as - shift];
          let bs = bPtr;
          let ae = as;
          let be = bs;
          let rc = rec.cnt;
          while (line1 < as && line2 < bs && ha1[as - 2] === ha2[bs - 2]) {
            as--;
            bs--;
            if (1 < rc) rc = Math.min(rc, lineMap[as - shift].cnt);
          }
          while (ae < end1 && be < end2 && ha1[ae] === ha2[be]) {
            ae++;
            be++;
            if (1 < rc) rc = Math.min(rc, lineMap[ae - shift].cnt);
          }
          if (bNext <= be) bNext = be + 1;
          if (lcs.end1 - lcs.begin1 < ae - as || rc < cnt) {
            lcs.begin1 = as;
            lcs.begin2 = bs;
            lcs.end1 = ae;
            lcs.end2 = be;
            cnt = rc;
          }
          if (np === 0) break;
          let stop = false;
          while (np <= ae) {
            np = nextPtrs[np - shift];
            if (np === 0) {
              stop = true;
              break;
            }
          }
          if (stop) break;
          as = np;
        }
      }
    }
    bPtr = bNext;
  }
  return hasCommon && MAX_CHAIN_LENGTH < cnt ? 1 : 0;
}

function fallBack(env: HistogramInput, line1: number, count1: number, line2: number, count2: number): void {
  const { rchg1, rchg2 } = classicDiff(env.keys1.slice(line1 - 1, line1 - 1 + count1), env.keys2.slice(line2 - 1, line2 - 1 + count2));
  env.rchg1.set(rchg1, line1 - 1);
  env.rchg2.set(rchg2, line2 - 1);
}

function histogramDiff(env: HistogramInput, line1: number, count1: number, line2: number, count2: number): void {
  for (;;) {
    if (count1 <= 0 && count2 <= 0) return;
    if (!count1) {
      while (count2--) env.rchg2[line2++ - 1] = 1;
      return;
    }
    if (!count2) {
      while (count1--) env.rchg1[line1++ - 1] = 1;
      return;
    }
    const lcs: Region = { begin1: 0, end1: 0, begin2: 0, end2: 0 };
    if (findLcs(env, lcs, line1, count1, line2, count2)) {
      fallBack(env, line1, count1, line2, count2);
      return;
    }
    if (lcs.begin1 === 0 && lcs.begin2 === 0) {
      while (count1--) env.rchg1[line1++ - 1] = 1;
      while (count2--) env.rchg2[line2++ - 1] = 1;
      return;
    }
    histogramDiff(env, line1, lcs.begin1 - line1, line2, lcs.begin2 - line2);
    const end1 = line1 + count1 - 1;
    const end2 = line2 + count2 - 1;
    count1 = end1 - lcs.end1;
    line1 = lcs.end1 + 1;
    count2 = end2 - lcs.end2;
    line2 = lcs.end2 + 1;
  }
}

export function histogram(env: HistogramInput): void {
  histogramDiff(env, 1, env.keys1.length, 1, env.keys2.length);
}
