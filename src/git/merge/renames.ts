// diffcore_rename_extended as merge-ort runs it for one side: exact renames, then files of
// the same basename at 75% similarity, then the similarity matrix at 50%. git breaks ties by
// the order it happened to queue paths in (which its deferred tree walk shuffles); where
// such a tie could change the answer, the merge is declined instead of guessed.
import { TooLargeError, UnsupportedMergeError } from "./budget";
import { type FilePair, type Rename, type TreeMergeContext, dirnameOf } from "./info";
import { EMPTY_BLOB, isReg } from "./objects";
import { DEFAULT_RENAME_SCORE, MAX_SCORE, basenameSame, estimateSimilarity, spanCounts } from "./similarity";

const MIN_BASENAME_SCORE = DEFAULT_RENAME_SCORE + Math.floor(0.5 * (MAX_SCORE - DEFAULT_RENAME_SCORE));
const NUM_CANDIDATE_PER_DST = 4;
const MAX_MATRIX = 250_000;

interface Spec extends FilePair {
  used: boolean;
  data?: Uint8Array;
  spans?: Map<number, number>;
}

function unsupported(why: string): never {
  throw new UnsupportedMergeError(`ambiguous rename detection: ${why}`);
}

const basename = (p: string) => p.slice(p.lastIndexOf("/") + 1);

function modesCompatible(a: Spec, b: Spec): boolean {
  return (isReg(a.mode) && isReg(b.mode)) || a.mode === b.mode;
}

function exactRenames(srcs: Spec[], dsts: Spec[], found: Map<Spec, Spec>): void {
  const srcByOid = new Map<string, Spec[]>();
  const dstByOid = new Map<string, Spec[]>();
  for (const s of srcs) srcByOid.set(s.oid, [...(srcByOid.get(s.oid) ?? []), s]);
  for (const d of dsts) dstByOid.set(d.oid, [...(dstByOid.get(d.oid) ?? []), d]);
  for (const [oid, ds] of dstByOid) {
    const ss = srcByOid.get(oid);
    if (!ss) continue;
    for (const d of ds) {
      const candidates = ss.filter((s) => modesCompatible(s, d));
      if (candidates.length === 0) continue;
      if (ds.filter((o) => candidates.some((s) => modesCompatible(s, o))).length > 1)
        unsupported(`several new files identical to ${d.path}`);
      const best = candidates.filter((s) => basenameSame(s.path, d.path));
      const pick = best.length > 0 ? best : candidates;
      if (pick.length > 1 || candidates.length > 100) unsupported(`several old files identical to ${d.path}`);
      pick[0].used = true;
      found.set(d, pick[0]);
    }
  }
}

interface Score {
  score: number;
  nameScore: number;
  src: number;
  dst: number;
}

const compareScores = (a: Score, b: Score) => (a.score === b.score ? b.nameScore - a.nameScore : b.score - a.score);

export async function detectRenames(ctx: TreeMergeContext, side: 1 | 2): Promise<Rename[]> {
  const relevant = ctx.relevantSources[side];
  if (relevant.size === 0 || ctx.deletes[side].length + ctx.adds[side].length === 0) return [];
  const srcs: Spec[] = ctx.deletes[side].filter((p) => p.oid !== EMPTY_BLOB).map((p) => ({ ...p, used: false }));
  const dsts: Spec[] = ctx.adds[side].filter((p) => p.oid !== EMPTY_BLOB).map((p) => ({ ...p, used: false }));
  if (srcs.length === 0 || dsts.length === 0) return [];

  const found = new Map<Spec, Spec>(); // dst -> src
  exactRenames(srcs, dsts, found);
  const load = async (s: Spec) => {
    if (!s.data) {
      s.data = await ctx.store.blob(s.oid);
      ctx.store.budget.spend(s.data.length);
    }
    return s;
  };
  const candidate = (s: Spec) => ({
    mode: s.mode,
    size: s.data!.length,
    counts: () => (s.spans ??= spanCounts(s.data!)),
  });
  const similarity = async (s: Spec, d: Spec, min: number) =>
    isReg(s.mode) && isReg(d.mode) ? estimateSimilarity(candidate(await load(s)), candidate(await load(d)), min) : 0;

  // Basename matches, with directory guesses from the exact renames of removed directories.
  let remaining = srcs.filter((s) => !s.used);
  const open = () => dsts.filter((d) => !found.has(d));
  const counts = new Map<string, Map<string, number>>();
  for (const [d, s] of found) {
    const from = dirnameOf(s.path);
    if (!ctx.dirsRemoved[side].has(from)) continue;
    const c = counts.get(from) ?? new Map<string, number>();
    c.set(dirnameOf(d.path), (c.get(dirnameOf(d.path)) ?? 0) + 1);
    counts.set(from, c);
  }
  const srcBase = new Map<string, number>();
  for (const s of remaining) srcBase.set(basename(s.path), (srcBase.get(basename(s.path)) ?? 0) + 1);
  const dstBase = new Map<string, Spec[]>();
  for (const d of open()) dstBase.set(basename(d.path), [...(dstBase.get(basename(d.path)) ?? []), d]);
  const claimedHere = new Set<Spec>();
  for (const s of remaining) {
    if (!relevant.has(s.path)) continue;
    const base = basename(s.path);
    const ds = dstBase.get(base);
    if (!ds) continue;
    let d: Spec | undefined;
    if (srcBase.get(base) === 1 && ds.length === 1) d = ds[0];
    else {
      const c = counts.get(dirnameOf(s.path));
      if (!c) continue;
      const max = Math.max(...c.values());
      const best = [...c].filter(([, n]) => n === max);
      if (best.length > 1) unsupported(`no single directory ${dirnameOf(s.path)} was renamed to`);
      const want = `${best[0][0]}/${base}`;
      d = dsts.find((x) => x.path === want);
      if (!d) continue;
    }
    if (found.has(d)) {
      if (claimedHere.has(d) && (await similarity(s, d, MIN_BASENAME_SCORE)) >= MIN_BASENAME_SCORE)
        unsupported(`two old files could be ${d.path}`);
      continue;
    }
    if ((await similarity(s, d, MIN_BASENAME_SCORE)) < MIN_BASENAME_SCORE) continue;
    s.used = true;
    found.set(d, s);
    claimedHere.add(d);
  }

  // The similarity matrix over relevant sources and the new files still unmatched.
  remaining = srcs.filter((s) => !s.used && relevant.has(s.path));
  const left = open();
  if (remaining.length && left.length) {
    if (remaining.length * left.length > MAX_MATRIX) throw new TooLargeError();
    const all: Score[] = [];
    for (let di = 0; di < left.length; di++) {
      const m: Score[] = [];
      for (let si = 0; si < remaining.length; si++) {
        const score = await similarity(remaining[si], left[di], DEFAULT_RENAME_SCORE);
        m.push({ score, nameScore: basenameSame(remaining[si].path, left[di].path) ? 1 : 0, src: si, dst: di });
      }
      // record_if_better keeps the four best; a tie at that edge depends on queue order.
      const sorted = [...m].sort(compareScores);
      const kept = sorted.slice(0, NUM_CANDIDATE_PER_DST);
      const cut = sorted[NUM_CANDIDATE_PER_DST];
      if (cut && cut.score >= DEFAULT_RENAME_SCORE && compareScores(cut, kept[kept.length - 1]) === 0)
        unsupported(`too many equally similar sources for ${left[di].path}`);
      all.push(...kept);
    }
    const usable = all.filter((x) => x.score >= DEFAULT_RENAME_SCORE).sort(compareScores);
    // Within one (score, name score) group, order decides only if two entries share a file.
    for (let i = 0; i < usable.length; ) {
      let j = i;
      while (j < usable.length && compareScores(usable[i], usable[j]) === 0) j++;
      const group = usable.slice(i, j).filter((x) => !found.has(left[x.dst]) && !remaining[x.src].used);
      const srcSeen = new Set<number>();
      const dstSeen = new Set<number>();
      for (const x of group) {
        if (srcSeen.has(x.src) || dstSeen.has(x.dst)) unsupported(`equally similar candidates for ${left[x.dst].path}`);
        srcSeen.add(x.src);
        dstSeen.add(x.dst);
      }
      for (const x of group) {
        remaining[x.src].used = true;
        found.set(left[x.dst], remaining[x.src]);
      }
      i = j;
    }
  }
  const out: Rename[] = [];
  for (const d of dsts) {
    const s = found.get(d);
    if (s) out.push({ side, src: { path: s.path, mode: s.mode, oid: s.oid }, dst: { path: d.path, mode: d.mode, oid: d.oid } });
  }
  return out;
}
