// xdl_do_diff with the histogram algorithm, then xdl_change_compact and xdl_build_script:
// the line diff merge-ort feeds to its three-way merge.
import { histogram } from "./histogram";
import { classify } from "./records";

export interface Change {
  i1: number;
  i2: number;
  chg1: number;
  chg2: number;
}

/** Changed-record marks with a zero sentinel on each side, so rchg[-1] and rchg[nrec] read 0. */
class Marks {
  readonly r: Uint8Array;
  constructor(
    raw: Uint8Array,
    readonly nrec: number,
  ) {
    this.r = new Uint8Array(nrec + 2);
    this.r.set(raw, 1);
  }
  get(i: number): number {
    return this.r[i + 1];
  }
  set(i: number, v: number): void {
    this.r[i + 1] = v;
  }
}

interface Group {
  start: number;
  end: number;
}

function groupInit(m: Marks): Group {
  const g = { start: 0, end: 0 };
  while (m.get(g.end)) g.end++;
  return g;
}

function groupNext(m: Marks, g: Group): boolean {
  if (g.end === m.nrec) return false;
  g.start = g.end + 1;
  for (g.end = g.start; m.get(g.end); g.end++);
  return true;
}

function groupPrevious(m: Marks, g: Group): boolean {
  if (g.start === 0) return false;
  g.end = g.start - 1;
  for (g.start = g.end; m.get(g.start - 1); g.start--);
  return true;
}

function groupSlideDown(m: Marks, keys: string[], g: Group): boolean {
  if (g.end < m.nrec && keys[g.start] === keys[g.end]) {
    m.set(g.start++, 0);
    m.set(g.end++, 1);
    while (m.get(g.end)) g.end++;
    return true;
  }
  return false;
}

function groupSlideUp(m: Marks, keys: string[], g: Group): boolean {
  if (g.start > 0 && keys[g.start - 1] === keys[g.end - 1]) {
    m.set(--g.start, 1);
    m.set(--g.end, 0);
    while (m.get(g.start - 1)) g.start--;
    return true;
  }
  return false;
}

function broken(what: string): never {
  throw new Error(`xdiff: ${what}`);
}

/** xdl_change_compact without the indent heuristic (merges do not ask for it). */
function changeCompact(m: Marks, keys: string[], mo: Marks): void {
  const g = groupInit(m);
  const go = groupInit(mo);
  for (;;) {
    if (g.end !== g.start) {
      let groupsize: number;
      let earliestEnd: number;
      let endMatchingOther: number;
      do {
        groupsize = g.end - g.start;
        endMatchingOther = -1;
        while (groupSlideUp(m, keys, g)) if (!groupPrevious(mo, go)) broken("group sync broken sliding up");
        earliestEnd = g.end;
        if (go.end > go.start) endMatchingOther = g.end;
        for (;;) {
          if (!groupSlideDown(m, keys, g)) break;
          if (!groupNext(mo, go)) broken("group sync broken sliding down");
          if (go.end > go.start) endMatchingOther = g.end;
        }
      } while (groupsize !== g.end - g.start);
      if (g.end === earliestEnd) {
        // no shifting was possible
      } else if (endMatchingOther !== -1) {
        while (go.end === go.start) {
          if (!groupSlideUp(m, keys, g)) broken("match disappeared");
          if (!groupPrevious(mo, go)) broken("group sync broken sliding to match");
        }
      }
    }
    if (!groupNext(m, g)) break;
    if (!groupNext(mo, go)) broken("group sync broken moving to next group");
  }
  if (groupNext(mo, go)) broken("group sync broken at end of file");
}

function buildScript(m1: Marks, m2: Marks): Change[] {
  const out: Change[] = [];
  for (let i1 = m1.nrec, i2 = m2.nrec; i1 >= 0 || i2 >= 0; i1--, i2--) {
    if (m1.get(i1 - 1) || m2.get(i2 - 1)) {
      const l1 = i1;
      const l2 = i2;
      for (; m1.get(i1 - 1); i1--);
      for (; m2.get(i2 - 1); i2--);
      out.push({ i1, i2, chg1: l1 - i1, chg2: l2 - i2 });
    }
  }
  return out.reverse();
}

/** The edit script from keys1 to keys2, as git's merge code computes it. */
export function diffScript(keys1: string[], keys2: string[]): Change[] {
  const { ha1, ha2 } = classify(keys1, keys2);
  const rchg1 = new Uint8Array(keys1.length);
  const rchg2 = new Uint8Array(keys2.length);
  histogram({ ha1, ha2, keys1, keys2, rchg1, rchg2 });
  const m1 = new Marks(rchg1, keys1.length);
  const m2 = new Marks(rchg2, keys2.length);
  changeCompact(m1, keys1, m2);
  changeCompact(m2, keys2, m1);
  return buildScript(m1, m2);
}
