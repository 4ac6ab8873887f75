// xdiff's classic Myers diff (xprepare.c's pre-pass and xdiffi.c's xdl_split), which the
// histogram diff falls back to. Ported step for step, heuristics included: a different
// but equally short diff would make merges disagree with git's.
import { classify } from "./records";

const MAX_EQLIMIT = 1024;
const SIMSCAN_WINDOW = 100;
const KPDIS_RUN = 4;
const MAX_COST_MIN = 256;
const HEUR_MIN_COST = 256;
const SNAKE_CNT = 20;
const K_HEUR = 4;
const LINE_MAX = 0x7fffffff;

export function bogosqrt(n: number): number {
  let i = 1;
  for (; n > 0; n = Math.floor(n / 4)) i *= 2;
  return i;
}

function cleanMatch(dis: Uint8Array, i: number, s: number, e: number): boolean {
  if (i - s > SIMSCAN_WINDOW) s = i - SIMSCAN_WINDOW;
  if (e - i > SIMSCAN_WINDOW) e = i + SIMSCAN_WINDOW;
  let r: number;
  let rdis0 = 0;
  let rpdis0 = 1;
  for (r = 1; i - r >= s; r++) {
    if (!dis[i - r]) rdis0++;
    else if (dis[i - r] === 2) rpdis0++;
    else break;
  }
  if (rdis0 === 0) return false;
  let rdis1 = 0;
  let rpdis1 = 1;
  for (r = 1; i + r <= e; r++) {
    if (!dis[i + r]) rdis1++;
    else if (dis[i + r] === 2) rpdis1++;
    else break;
  }
  if (rdis1 === 0) return false;
  rdis1 += rdis0;
  rpdis1 += rpdis0;
  return rpdis1 * KPDIS_RUN < rpdis1 + rdis1;
}

interface Reduced {
  ha: Int32Array;
  rindex: Int32Array;
  n: number;
}

function reduce(ha: Int32Array, otherCount: Int32Array, dstart: number, dend: number, rchg: Uint8Array, nrec: number): Reduced {
  const dis = new Uint8Array(nrec + 1);
  const mlim = Math.min(bogosqrt(nrec), MAX_EQLIMIT);
  for (let i = dstart; i <= dend; i++) {
    const nm = otherCount[ha[i]];
    dis[i] = nm === 0 ? 0 : nm >= mlim ? 2 : 1;
  }
  const out: Reduced = { ha: new Int32Array(nrec), rindex: new Int32Array(nrec), n: 0 };
  for (let i = dstart; i <= dend; i++) {
    if (dis[i] === 1 || (dis[i] === 2 && !cleanMatch(dis, i, dstart, dend))) {
      out.rindex[out.n] = i;
      out.ha[out.n] = ha[i];
      out.n++;
    } else rchg[i] = 1;
  }
  return out;
}

interface Env {
  kvdf: Int32Array;
  kvdb: Int32Array;
  base: number;
  mxcost: number;
}

interface Split {
  i1: number;
  i2: number;
  minLo: boolean;
  minHi: boolean;
}

function split(
  ha1: Int32Array,
  off1: number,
  lim1: number,
  ha2: Int32Array,
  off2: number,
  lim2: number,
  needMin: boolean,
  env: Env,
): Split {
  const { kvdf, kvdb, base } = env;
  const dmin = off1 - lim2;
  const dmax = lim1 - off2;
  const fmid = off1 - off2;
  const bmid = lim1 - lim2;
  const odd = (fmid - bmid) & 1;
  let fmin = fmid;
  let fmax = fmid;
  let bmin = bmid;
  let bmax = bmid;
  kvdf[base + fmid] = off1;
  kvdb[base + bmid] = lim1;
  for (let ec = 1; ; ec++) {
    let gotSnake = false;
    if (fmin > dmin) kvdf[base + --fmin - 1] = -1;
    else ++fmin;
    if (fmax < dmax) kvdf[base + ++fmax + 1] = -1;
    else --fmax;
    for (let d = fmax; d >= fmin; d -= 2) {
      let i1 = kvdf[base + d - 1] >= kvdf[base + d + 1] ? kvdf[base + d - 1] + 1 : kvdf[base + d + 1];
      const prev1 = i1;
      let i2 = i1 - d;
      for (; i1 < lim1 && i2 < lim2 && ha1[i1] === ha2[i2]; i1++, i2++);
      if (i1 - prev1 > SNAKE_CNT) gotSnake = true;
      kvdf[base + d] = i1;
      if (odd && bmin <= d && d <= bmax && kvdb[base + d] <= i1) return { i1, i2, minLo: true, minHi: true };
    }
    if (bmin > dmin) kvdb[base + --bmin - 1] = LINE_MAX;
    else ++bmin;
    if (bmax < dmax) kvdb[base + ++bmax + 1] = LINE_MAX;
    else --bmax;
    for (let d = bmax; d >= bmin; d -= 2) {
      let i1 = kvdb[base + d - 1] < kvdb[base + d + 1] ? kvdb[base + d - 1] : kvdb[base + d + 1] - 1;
      const prev1 = i1;
      let i2 = i1 - d;
      for (; i1 > off1 && i2 > off2 && ha1[i1 - 1] === ha2[i2 - 1]; i1--, i2--);
      if (prev1 - i1 > SNAKE_CNT) gotSnake = true;
      kvdb[base + d] = i1;
      if (!odd && fmin <= d && d <= fmax && i1 <= kvdf[base + d]) return { i1, i2, minLo: true, minHi: true };
    }
    if (needMin) continue;
    if (gotSnake && ec > HEUR_MIN_COST) {
      let best = 0;
      const spl: Split = { i1: 0, i2: 0, minLo: true, minHi: false };
      for (let d = fmax; d >= fmin; d -= 2) {
        const dd = d > fmid ? d - fmid : fmid - d;
        const i1 = kvdf[base + d];
        const i2 = i1 - d;
        const v = i1 - off1 + (i2 - off2) - dd;
        if (v > K_HEUR * ec && v > best && off1 + SNAKE_CNT <= i1 && i1 < lim1 && off2 + SNAKE_CNT <= i2 && i2 < lim2) {
          for (let k = 1; ha1[i1 - k] === ha2[i2 - k]; k++)
            if (k === SNAKE_CNT) {
              best = v;
              spl.i1 = i1;
              spl.i2 = i2;
              break;
            }
        }
      }
      if (best > 0) return spl;
      best = 0;
      const splB: Split = { i1: 0, i2: 0, minLo: false, minHi: true };
      for (let d = bmax; d >= bmin; d -= 2) {
        const dd = d > bmid ? d - bmid : bmid - d;
        const i1 = kvdb[base + d];
        const i2 = i1 - d;
        const v = lim1 - i1 + (lim2 - i2) - dd;
        if (v > K_HEUR * ec && v > best && off1 < i1 && i1 <= lim1 - SNAKE_CNT && off2 < i2 && i2 <= lim2 - SNAKE_CNT) {
          for (let k = 0; ha1[i1 + k] === ha2[i2 + k]; k++)
            if (k === SNAKE_CNT - 1) {
              best = v;
              splB.i1 = i1;
              splB.i2 = i2;
              break;
            }
        }
      }
      if (best > 0) return splB;
    }
    if (ec >= env.mxcost) {
      let fbest = -1;
      let fbest1 = -1;
      for (let d = fmax; d >= fmin; d -= 2) {
        let i1 = Math.min(kvdf[base + d], lim1);
        let i2 = i1 - d;
        if (lim2 < i2) (i1 = lim2 + d), (i2 = lim2);
        if (fbest < i1 + i2) {
          fbest = i1 + i2;
          fbest1 = i1;
        }
      }
      let bbest = LINE_MAX;
      let bbest1 = LINE_MAX;
      for (let d = bmax; d >= bmin; d -= 2) {
        let i1 = Math.max(off1, kvdb[base + d]);
        let i2 = i1 - d;
        if (i2 < off2) (i1 = off2 + d), (i2 = off2);
        if (i1 + i2 < bbest) {
          bbest = i1 + i2;
          bbest1 = i1;
        }
      }
      if (lim1 + lim2 - bbest < fbest - (off1 + off2)) return { i1: fbest1, i2: fbest - fbest1, minLo: true, minHi: false };
      return { i1: bbest1, i2: bbest - bbest1, minLo: false, minHi: true };
    }
  }
}

function recsCmp(
  d1: Reduced,
  rchg1: Uint8Array,
  off1: number,
  lim1: number,
  d2: Reduced,
  rchg2: Uint8Array,
  off2: number,
  lim2: number,
  needMin: boolean,
  env: Env,
): void {
  const ha1 = d1.ha;
  const ha2 = d2.ha;
  for (; off1 < lim1 && off2 < lim2 && ha1[off1] === ha2[off2]; off1++, off2++);
  for (; off1 < lim1 && off2 < lim2 && ha1[lim1 - 1] === ha2[lim2 - 1]; lim1--, lim2--);
  if (off1 === lim1) {
    for (; off2 < lim2; off2++) rchg2[d2.rindex[off2]] = 1;
  } else if (off2 === lim2) {
    for (; off1 < lim1; off1++) rchg1[d1.rindex[off1]] = 1;
  } else {
    const spl = split(ha1, off1, lim1, ha2, off2, lim2, needMin, env);
    recsCmp(d1, rchg1, off1, spl.i1, d2, rchg2, off2, spl.i2, spl.minLo, env);
    recsCmp(d1, rchg1, spl.i1, lim1, d2, rchg2, spl.i2, lim2, spl.minHi, env);
  }
}

/** xdl_do_diff without an algorithm flag: marks changed records of each file. */
export function classicDiff(keys1: string[], keys2: string[]): { rchg1: Uint8Array; rchg2: Uint8Array } {
  const n1 = keys1.length;
  const n2 = keys2.length;
  const { ha1, ha2, count1, count2 } = classify(keys1, keys2);
  const rchg1 = new Uint8Array(n1);
  const rchg2 = new Uint8Array(n2);
  // xdl_trim_ends
  const lim = Math.min(n1, n2);
  let i = 0;
  for (; i < lim; i++) if (ha1[i] !== ha2[i]) break;
  const dstart = i;
  let j = 0;
  for (const rest = lim - i; j < rest; j++) if (ha1[n1 - 1 - j] !== ha2[n2 - 1 - j]) break;
  const d1 = reduce(ha1, count2, dstart, n1 - j - 1, rchg1, n1);
  const d2 = reduce(ha2, count1, dstart, n2 - j - 1, rchg2, n2);
  const ndiags = d1.n + d2.n + 3;
  const env: Env = {
    kvdf: new Int32Array(2 * ndiags + 2),
    kvdb: new Int32Array(2 * ndiags + 2),
    base: d2.n + 1,
    mxcost: Math.max(bogosqrt(ndiags), MAX_COST_MIN),
  };
  recsCmp(d1, rchg1, 0, d1.n, d2, rchg2, 0, d2.n, false, env);
  return { rchg1, rchg2 };
}
