// process_entries and process_entry: settles every unresolved path, deepest first, and
// writes each directory's tree as soon as all of its entries are settled. A file that a
// directory is in the way of, or that changed type on both sides, moves to "path~branch".
import { handleContentMerge } from "./content-merge";
import type { PathInfo, TreeMergeContext, Version } from "./info";
import { EMPTY_TREE, NULL_OID, S_IFDIR, S_IFMT, type TreeEntry, isReg } from "./objects";

const NONE = (): Version => ({ mode: 0, oid: NULL_OID });

/** sort_dirs_next_to_their_children: "a-b" < "a" < "a/x", so a directory follows its entries when walked backwards. */
function sortDirsNextToChildren(one: string, two: string): number {
  let i = 0;
  while (i < one.length && i < two.length && one.charCodeAt(i) === two.charCodeAt(i)) i++;
  const c1 = i < one.length ? one.charCodeAt(i) : 0x2f;
  const c2 = i < two.length ? two.charCodeAt(i) : 0x2f;
  if (c1 === c2) return i < one.length ? 1 : -1;
  return c1 - c2;
}

function uniquePath(ctx: TreeMergeContext, path: string, branch: string): string {
  const base = `${path}~${branch.replaceAll("/", "_")}`;
  let candidate = base;
  for (let suffix = 0; ctx.paths.has(candidate); suffix++) candidate = `${base}_${suffix}`;
  return candidate;
}

const basename = (p: string) => p.slice(p.lastIndexOf("/") + 1);

class DirectoryVersions {
  versions: TreeEntry[] = [];
  offsets: { dir: string; offset: number }[] = [];
  last: string | null = null;

  constructor(private readonly ctx: TreeMergeContext) {}

  record(path: string, mi: PathInfo): void {
    if (!mi.isNull) this.versions.push({ name: basename(path), mode: mi.result.mode, oid: mi.result.oid });
  }

  /** write_completed_directory */
  complete(newDir: string): void {
    if (newDir === this.last) return;
    if (this.last === null || newDir.startsWith(this.last)) {
      this.offsets.push({ dir: newDir, offset: this.versions.length });
      this.last = newDir;
      return;
    }
    const dirInfo = this.ctx.paths.get(this.last)!;
    const offset = this.offsets[this.offsets.length - 1].offset;
    if (offset === this.versions.length) dirInfo.isNull = true;
    else {
      dirInfo.isNull = false;
      dirInfo.result = { mode: S_IFDIR, oid: this.ctx.store.writeTree(this.versions.slice(offset)) };
    }
    this.offsets.pop();
    this.versions.length = offset;
    const prev = this.offsets.length ? this.offsets[this.offsets.length - 1].dir : null;
    if (newDir !== prev) this.offsets.push({ dir: newDir, offset: this.versions.length });
    this.last = newDir;
  }
}

async function processEntry(ctx: TreeMergeContext, path: string, ci: PathInfo, dirs: DirectoryVersions): Promise<void> {
  let dfFileIndex = 0;
  if (ci.dirmask) {
    dirs.record(path, ci);
    if (ci.filemask === 0) return;
  }
  if (ci.dfConflict && ci.result.mode === 0) {
    // The directory went away, so the file can have the path after all.
    ci.dfConflict = false;
    ci.clean = false;
    ci.isNull = false;
    ci.matchMask &= ~ci.dirmask;
    ci.dirmask = 0;
    for (let i = 0; i < 3; i++) if (!(ci.filemask & (1 << i))) ci.stages[i] = NONE();
  } else if (ci.dfConflict && ci.result.mode !== 0) {
    if (ci.filemask === 1) {
      ci.filemask = 0;
      return;
    }
    const moved: PathInfo = { ...ci, pathnames: [...ci.pathnames], stages: [...ci.stages], result: { ...ci.result } };
    moved.matchMask &= ~moved.dirmask;
    moved.dirmask = 0;
    for (let i = 0; i < 3; i++) if (!(moved.filemask & (1 << i))) moved.stages[i] = NONE();
    dfFileIndex = ci.dirmask & (1 << 1) ? 2 : 1;
    path = uniquePath(ctx, path, dfFileIndex === 1 ? ctx.branch1 : ctx.branch2);
    ctx.paths.set(path, moved);
    ci.filemask = 0;
    ci = moved;
  }

  if (ci.matchMask) {
    ci.clean = !ci.dfConflict && !ci.pathConflict;
    if (ci.matchMask === 6) ci.result = { ...ci.stages[1] };
    else {
      const othermask = 7 & ~ci.matchMask;
      const side = othermask === 4 ? 2 : 1;
      ci.result = { ...ci.stages[side] };
      ci.isNull = !ci.result.mode;
      if (ci.isNull) ci.clean = true;
    }
  } else if (ci.filemask >= 6 && (ci.stages[1].mode & S_IFMT) !== (ci.stages[2].mode & S_IFMT)) {
    if (ctx.callDepth) {
      ci.clean = false;
      ci.result = { ...ci.stages[0] };
      ci.isNull = ci.result.mode === 0;
    } else {
      const [o, a, b] = ci.stages.map((s) => s.mode);
      const renameA = isReg(a) || !isReg(b);
      const renameB = !isReg(a);
      const aPath = renameA ? uniquePath(ctx, path, ctx.branch1) : null;
      const bPath = renameB ? uniquePath(ctx, path, ctx.branch2) : path;
      ci.clean = false;
      const other: PathInfo = { ...ci, pathnames: [...ci.pathnames], stages: [...ci.stages] };
      other.result = { ...ci.stages[2] };
      other.stages[1] = NONE();
      other.filemask = 5;
      if ((b & S_IFMT) !== (o & S_IFMT)) {
        other.stages[0] = NONE();
        other.filemask = 4;
      }
      ci.result = { ...ci.stages[1] };
      ci.stages[2] = NONE();
      ci.filemask = 3;
      if ((a & S_IFMT) !== (o & S_IFMT)) {
        ci.stages[0] = NONE();
        ci.filemask = 2;
      }
      if (aPath) ctx.paths.set(aPath, ci);
      ctx.paths.set(bPath, other);
      if (aPath && renameB) ctx.paths.delete(path);
      ctx.conflicted.set(bPath, other);
      dirs.record(bPath, other);
      if (aPath) path = aPath;
    }
  } else if (ci.filemask >= 6) {
    const merged = await handleContentMerge(ctx, ci.stages[0], ci.stages[1], ci.stages[2], ci.pathnames, ctx.callDepth * 2);
    ci.clean = merged.clean && !ci.dfConflict && !ci.pathConflict;
    ci.result = merged.result;
    ci.isNull = merged.result.mode === 0;
    if (merged.clean && ci.dfConflict) {
      ci.filemask = 1 << dfFileIndex;
      ci.stages[dfFileIndex] = { ...merged.result };
    }
  } else if (ci.filemask === 3 || ci.filemask === 5) {
    // modify/delete: the modified version stays, as a conflict.
    const side = ci.filemask === 5 ? 2 : 1;
    ci.result = { ...ci.stages[ctx.callDepth ? 0 : side] };
    ci.clean = false;
  } else if (ci.filemask === 2 || ci.filemask === 4) {
    const side = ci.filemask === 4 ? 2 : 1;
    ci.result = { ...ci.stages[side] };
    ci.clean = !ci.dfConflict && !ci.pathConflict;
  } else if (ci.filemask === 1) {
    ci.isNull = true;
    ci.result = NONE();
    ci.clean = !ci.pathConflict;
  }
  if (!ci.clean) ctx.conflicted.set(path, ci);
  dirs.record(path, ci);
}

/** Returns the merged tree's oid. */
export async function processEntries(ctx: TreeMergeContext): Promise<string> {
  if (ctx.paths.size === 0) return EMPTY_TREE;
  const plist = [...ctx.paths].sort((x, y) => sortDirsNextToChildren(x[0], y[0]));
  const dirs = new DirectoryVersions(ctx);
  for (let k = plist.length - 1; k >= 0; k--) {
    const [path, mi] = plist[k];
    dirs.complete(mi.dirName);
    if (mi.clean) dirs.record(path, mi);
    else await processEntry(ctx, path, mi, dirs);
  }
  if (dirs.offsets.length !== 1 || dirs.offsets[0].offset !== 0) throw new Error("merge: directory accounting is off");
  return ctx.store.writeTree(dirs.versions);
}
