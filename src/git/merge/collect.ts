// collect_merge_info: walks the base and both sides together, resolves what is trivially
// resolvable, and records the rest, plus each side's adds and deletes for rename detection.
// merge-ort defers walking directories that only one side touched; walking them at once
// gives the same records and the same trees, so this does.
import { UnsupportedMergeError } from "./budget";
import { type FilePair, type PathInfo, type TreeMergeContext, type Version, copyVersion } from "./info";
import { NULL_OID, type TreeEntry, isDir } from "./objects";

const NONE: Version = { mode: 0, oid: NULL_OID };

function resolved(dirName: string, v: Version, isNull: boolean): PathInfo {
  return {
    dirName,
    clean: true,
    isNull,
    result: copyVersion(v),
    pending: false,
    pathnames: ["", "", ""],
    stages: [NONE, NONE, NONE],
    filemask: 0,
    dirmask: 0,
    matchMask: 0,
    dfConflict: false,
    pathConflict: false,
  };
}

function same(a: Version, b: Version): boolean {
  return a.mode === b.mode && a.oid === b.oid;
}

async function walk(ctx: TreeMergeContext, dir: string, trees: (string | null)[]): Promise<void> {
  const lists = await Promise.all(trees.map((t) => (t ? ctx.store.tree(t) : Promise.resolve([] as TreeEntry[]))));
  const byName = new Map<string, (TreeEntry | null)[]>();
  lists.forEach((list, i) => {
    for (const e of list) {
      let row = byName.get(e.name);
      if (!row) byName.set(e.name, (row = [null, null, null]));
      row[i] = e;
    }
  });
  for (const name of [...byName.keys()].sort()) {
    const row = byName.get(name)!;
    const names: Version[] = row.map((e) => (e ? { mode: e.mode, oid: e.oid } : NONE));
    let mask = 0;
    let dirmask = 0;
    row.forEach((e, i) => {
      if (e) mask |= 1 << i;
      if (e && isDir(e.mode)) dirmask |= 1 << i;
    });
    const filemask = mask & ~dirmask;
    const fullpath = dir ? `${dir}/${name}` : name;
    const side1MatchesBase = !!row[0] && !!row[1] && same(names[0], names[1]);
    const side2MatchesBase = !!row[0] && !!row[2] && same(names[0], names[2]);
    const sidesMatch = !!row[1] && !!row[2] && same(names[1], names[2]);
    let matchMask = 0;
    if (side1MatchesBase) matchMask = side2MatchesBase ? 7 : 3;
    else if (side2MatchesBase) matchMask = 5;
    else if (sidesMatch) matchMask = 6;

    if (side1MatchesBase && side2MatchesBase) {
      ctx.paths.set(fullpath, resolved(dir, names[0], false));
      continue;
    }
    if (filemask === 7 && (sidesMatch || side2MatchesBase)) {
      ctx.paths.set(fullpath, resolved(dir, names[1], false));
      continue;
    }
    if (filemask === 7 && side1MatchesBase) {
      ctx.paths.set(fullpath, resolved(dir, names[2], false));
      continue;
    }
    collectRenameInfo(ctx, names, fullpath, filemask, dirmask, matchMask);
    ctx.paths.set(fullpath, {
      dirName: dir,
      clean: false,
      isNull: dirmask !== 0,
      result: NONE,
      pending: true,
      pathnames: [fullpath, fullpath, fullpath],
      stages: [copyVersion(names[0]), copyVersion(names[1]), copyVersion(names[2])],
      filemask,
      dirmask,
      matchMask: dirmask ? matchMask & filemask : matchMask,
      dfConflict: filemask !== 0 && dirmask !== 0,
      pathConflict: false,
    });
    if (dirmask) {
      await walk(
        ctx,
        fullpath,
        names.map((v, i) => (dirmask & (1 << i) ? v.oid : null)),
      );
    }
  }
}

function collectRenameInfo(
  ctx: TreeMergeContext,
  names: Version[],
  fullpath: string,
  filemask: number,
  dirmask: number,
  matchMask: number,
) {
  if (dirmask === 1 || dirmask === 3 || dirmask === 5) {
    const sides = (7 - dirmask) / 2;
    if (sides & 1) ctx.dirsRemoved[1].add(fullpath);
    if (sides & 2) ctx.dirsRemoved[2].add(fullpath);
  }
  if (filemask === 0 || filemask === 7) return;
  for (const side of [1, 2] as const) {
    const sideMask = 1 << side;
    if (filemask & 1 && !(filemask & sideMask)) {
      const pair: FilePair = { path: fullpath, mode: names[0].mode, oid: names[0].oid };
      ctx.deletes[side].push(pair);
      if ((matchMask & filemask) === 0) ctx.relevantSources[side].add(fullpath);
    }
    if (!(filemask & 1) && filemask & sideMask) ctx.adds[side].push({ path: fullpath, mode: names[side].mode, oid: names[side].oid });
  }
}

/**
 * merge-ort guesses directory renames when one side removed a directory the other side
 * added to. That machinery is not here; such a merge is declined, unless the removing side
 * added no files at all (then it renamed nothing, and no directory rename can be found).
 */
function refuseDirectoryRenames(ctx: TreeMergeContext): void {
  for (const s of [1, 2] as const) {
    const t = 3 - s;
    if (ctx.dirsRemoved[s].size === 0 || ctx.adds[s].length === 0) continue;
    for (const add of ctx.adds[t]) {
      for (let d = add.path.lastIndexOf("/"); d > 0; d = add.path.lastIndexOf("/", d - 1)) {
        if (ctx.dirsRemoved[s].has(add.path.slice(0, d)))
          throw new UnsupportedMergeError(`possible directory rename: ${add.path} was added in a directory the other side removed`);
      }
    }
  }
}

export async function collectMergeInfo(ctx: TreeMergeContext, base: string, side1: string, side2: string): Promise<void> {
  await walk(ctx, "", [base, side1, side2]);
  refuseDirectoryRenames(ctx);
}
