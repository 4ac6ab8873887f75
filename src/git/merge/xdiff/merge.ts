// xdl_merge (xmerge.c) at merge-ort's settings: level XDL_MERGE_ZEALOUS, the "merge"
// conflict style, no favouring. Hunks, refinement of conflicts, the folding of conflicts
// fewer than four lines apart, and the bytes of the conflict markers all follow git, because
// a virtual merge base stores a conflicted result and later merges diff against it.
import { type Change, diffScript } from "./diff";
import { type XdFile, splitRecords, subFile } from "./records";

interface Hunk {
  mode: number; // 0 conflict, 1 take side 1, 2 take side 2, 4 identical after refinement
  i0: number;
  chg0: number;
  i1: number;
  chg1: number;
  i2: number;
  chg2: number;
}

export interface XdlMergeOptions {
  markerSize: number;
  name1: string;
  name2: string;
}

export interface XdlMergeResult {
  conflicts: number;
  result: Uint8Array;
}

function appendMerge(list: Hunk[], mode: number, i0: number, chg0: number, i1: number, chg1: number, i2: number, chg2: number): void {
  const m = list[list.length - 1];
  if (m && (i1 <= m.i1 + m.chg1 || i2 <= m.i2 + m.chg2)) {
    if (mode !== m.mode) m.mode = 0;
    m.chg0 = i0 + chg0 - m.i0;
    m.chg1 = i1 + chg1 - m.i1;
    m.chg2 = i2 + chg2 - m.i2;
  } else list.push({ mode, i0, chg0, i1, chg1, i2, chg2 });
}

function sameLines(f1: XdFile, i1: number, f2: XdFile, i2: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (f1.keys[i1 + i] !== f2.keys[i2 + i]) return false;
  return true;
}

function refineConflicts(f1: XdFile, f2: XdFile, hunks: Hunk[]): Hunk[] {
  const out: Hunk[] = [];
  for (const m of hunks) {
    if (m.mode || m.chg1 === 0 || m.chg2 === 0) {
      out.push(m);
      continue;
    }
    const t1 = subFile(f1, m.i1, m.chg1);
    const t2 = subFile(f2, m.i2, m.chg2);
    const script = diffScript(t1.keys, t2.keys);
    if (script.length === 0) {
      m.mode = 4;
      out.push(m);
      continue;
    }
    const { i1, i2 } = m;
    script.forEach((x, k) => {
      const h = k === 0 ? m : { ...m, mode: 0 };
      h.i1 = x.i1 + i1;
      h.chg1 = x.chg1;
      h.i2 = x.i2 + i2;
      h.chg2 = x.chg2;
      out.push(h);
    });
  }
  return out;
}

function simplifyNonConflicts(hunks: Hunk[]): Hunk[] {
  if (hunks.length === 0) return hunks;
  const out: Hunk[] = [hunks[0]];
  for (let k = 1; k < hunks.length; k++) {
    const m = out[out.length - 1];
    const next = hunks[k];
    const begin = m.i1 + m.chg1;
    const end = next.i1;
    if (m.mode !== 0 || next.mode !== 0 || end - begin > 3) out.push(next);
    else {
      m.chg1 = next.i1 + next.chg1 - m.i1;
      m.chg2 = next.i2 + next.chg2 - m.i2;
    }
  }
  return out;
}

function isEolCrlf(f: XdFile, i: number): number {
  const n = f.lines.length;
  const endsCrlf = (line: Uint8Array) => line.length > 1 && line[line.length - 2] === 0x0d;
  if (i < n - 1) return endsCrlf(f.lines[i]) ? 1 : 0;
  if (!n) return -1;
  const last = f.lines[i];
  if (last.length && last[last.length - 1] === 0x0a) return endsCrlf(last) ? 1 : 0;
  if (!i) return -1;
  return endsCrlf(f.lines[i - 1]) ? 1 : 0;
}

class Output {
  parts: Uint8Array[] = [];
  size = 0;
  push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

const enc = new TextEncoder();

function copyRecs(out: Output, f: XdFile, i: number, count: number, needsCr: boolean, addNl: boolean): void {
  if (count < 1) return;
  for (let k = 0; k < count; k++) out.push(f.lines[i + k]);
  if (addNl) {
    const last = f.lines[i + count - 1];
    if (last.length === 0 || last[last.length - 1] !== 0x0a) out.push(needsCr ? enc.encode("\r\n") : enc.encode("\n"));
  }
}

function marker(out: Output, ch: string, size: number, name: string | null, needsCr: boolean): void {
  out.push(enc.encode(ch.repeat(size) + (name !== null ? ` ${name}` : "") + (needsCr ? "\r\n" : "\n")));
}

interface Sides {
  orig: XdFile;
  f1: XdFile;
  f2: XdFile;
}

function fillBuffer(s: Sides, hunks: Hunk[], opts: XdlMergeOptions): Uint8Array {
  const out = new Output();
  let i = 0;
  for (const m of hunks) {
    const needsCr = () => {
      let cr = isEolCrlf(s.f1, m.i1 ? m.i1 - 1 : 0);
      if (cr) cr = isEolCrlf(s.f2, m.i2 ? m.i2 - 1 : 0);
      if (cr) cr = isEolCrlf(s.orig, 0);
      return cr > 0;
    };
    if (m.mode === 0) {
      const cr = needsCr();
      copyRecs(out, s.f1, i, m.i1 - i, false, false);
      marker(out, "<", opts.markerSize, opts.name1, cr);
      copyRecs(out, s.f1, m.i1, m.chg1, cr, true);
      marker(out, "=", opts.markerSize, null, cr);
      copyRecs(out, s.f2, m.i2, m.chg2, cr, true);
      marker(out, ">", opts.markerSize, opts.name2, cr);
    } else if (m.mode & 3) {
      copyRecs(out, s.f1, i, m.i1 - i, false, false);
      if (m.mode & 1) copyRecs(out, s.f1, m.i1, m.chg1, needsCr(), (m.mode & 2) !== 0);
      if (m.mode & 2) copyRecs(out, s.f2, m.i2, m.chg2, false, false);
    } else continue;
    i = m.i1 + m.chg1;
  }
  copyRecs(out, s.f1, i, s.f1.lines.length - i, false, false);
  return out.bytes();
}

function doMerge(s: Sides, x1: Change[], x2: Change[], opts: XdlMergeOptions): XdlMergeResult {
  let hunks: Hunk[] = [];
  let a = 0;
  let b = 0;
  while (a < x1.length && b < x2.length) {
    const c1 = x1[a];
    const c2 = x2[b];
    if (c1.i1 + c1.chg1 < c2.i1) {
      appendMerge(hunks, 1, c1.i1, c1.chg1, c1.i2, c1.chg2, c2.i2 - c2.i1 + c1.i1, c1.chg1);
      a++;
      continue;
    }
    if (c2.i1 + c2.chg1 < c1.i1) {
      appendMerge(hunks, 2, c2.i1, c2.chg1, c1.i2 - c1.i1 + c2.i1, c2.chg1, c2.i2, c2.chg2);
      b++;
      continue;
    }
    if (c1.i1 !== c2.i1 || c1.chg1 !== c2.chg1 || c1.chg2 !== c2.chg2 || !sameLines(s.f1, c1.i2, s.f2, c2.i2, c1.chg2)) {
      const off = c1.i1 - c2.i1;
      const ffo = off + c1.chg1 - c2.chg1;
      let i0 = c1.i1;
      let i1 = c1.i2;
      let i2 = c2.i2;
      if (off > 0) {
        i0 -= off;
        i1 -= off;
      } else i2 += off;
      let chg0 = c1.i1 + c1.chg1 - i0;
      let chg1 = c1.i2 + c1.chg2 - i1;
      let chg2 = c2.i2 + c2.chg2 - i2;
      if (ffo < 0) {
        chg0 -= ffo;
        chg1 -= ffo;
      } else chg2 += ffo;
      appendMerge(hunks, 0, i0, chg0, i1, chg1, i2, chg2);
    }
    const e1 = c1.i1 + c1.chg1;
    const e2 = c2.i1 + c2.chg1;
    if (e1 >= e2) b++;
    if (e2 >= e1) a++;
  }
  const n1 = s.f1.lines.length;
  const n2 = s.f2.lines.length;
  const n0 = s.orig.lines.length;
  for (; a < x1.length; a++) {
    const c1 = x1[a];
    appendMerge(hunks, 1, c1.i1, c1.chg1, c1.i2, c1.chg2, c1.i1 + n2 - n0, c1.chg1);
  }
  for (; b < x2.length; b++) {
    const c2 = x2[b];
    appendMerge(hunks, 2, c2.i1, c2.chg1, c2.i1 + n1 - n0, c2.chg1, c2.i2, c2.chg2);
  }
  hunks = simplifyNonConflicts(refineConflicts(s.f1, s.f2, hunks));
  const result = fillBuffer(s, hunks, opts);
  return { conflicts: hunks.filter((h) => h.mode === 0).length, result };
}

export function xdlMerge(orig: Uint8Array, mf1: Uint8Array, mf2: Uint8Array, opts: XdlMergeOptions): XdlMergeResult {
  const s: Sides = { orig: splitRecords(orig), f1: splitRecords(mf1), f2: splitRecords(mf2) };
  const x1 = diffScript(s.orig.keys, s.f1.keys);
  const x2 = diffScript(s.orig.keys, s.f2.keys);
  if (x1.length === 0) return { conflicts: 0, result: mf2 };
  if (x2.length === 0) return { conflicts: 0, result: mf1 };
  return doMerge(s, x1, x2, opts);
}
