// process_renames: moves what each rename knows about its old path onto its new one, so that
// process_entry later merges the file where it now lives. Renames come sorted by old path,
// side 1 first, so a file renamed differently on both sides shows up as two neighbours.
import { handleContentMerge } from "./content-merge";
import { type PathInfo, type Rename, type TreeMergeContext, copyVersion } from "./info";
import { NULL_OID, isReg } from "./objects";

function info(ctx: TreeMergeContext, path: string): PathInfo {
  const i = ctx.paths.get(path);
  if (!i) throw new Error(`rename touches unknown path ${path}`);
  return i;
}

export async function processRenames(ctx: TreeMergeContext, renames: Rename[]): Promise<boolean> {
  let cleanMerge = true;
  for (let i = 0; i < renames.length; i++) {
    const pair = renames[i];
    const oldpath = pair.src.path;
    const newpath = pair.dst.path;
    const oldinfo = ctx.paths.get(oldpath);
    if (!oldinfo || oldinfo.clean) continue;

    if (i + 1 < renames.length && renames[i + 1].src.path === oldpath) {
      const pathnames: [string, string, string] = [oldpath, newpath, renames[i + 1].dst.path];
      const base = info(ctx, pathnames[0]);
      const side1 = info(ctx, pathnames[1]);
      const side2 = info(ctx, pathnames[2]);
      if (pathnames[1] === pathnames[2]) {
        // Both sides renamed it to the same place: an ordinary three-way merge there.
        side1.stages[0] = copyVersion(base.stages[0]);
        side1.filemask |= 1;
        base.isNull = true;
        base.clean = true;
        i++;
        continue;
      }
      const merged = await handleContentMerge(ctx, base.stages[0], side1.stages[1], side2.stages[2], pathnames, 1 + 2 * ctx.callDepth);
      cleanMerge = merged.clean;
      const wasBinaryBlob = !merged.clean && merged.result.mode === side1.stages[1].mode && merged.result.oid === side1.stages[1].oid;
      side1.stages[1] = copyVersion(merged.result);
      side2.stages[2] = wasBinaryBlob ? copyVersion(side2.stages[2]) : copyVersion(merged.result);
      side1.pathConflict = true;
      side2.pathConflict = true;
      base.pathConflict = true;
      i++;
      continue;
    }

    const newinfo = info(ctx, newpath);
    const target = pair.side;
    const other = 3 - target;
    const oldSidemask = 1 << other;
    const sourceDeleted = oldinfo.filemask === 1;
    let collision = (newinfo.filemask & oldSidemask) !== 0;
    const typeChanged = !sourceDeleted && isReg(oldinfo.stages[other].mode) !== isReg(newinfo.stages[target].mode);
    if (typeChanged && collision) collision = false;

    if (collision && !sourceDeleted) {
      const pathnames: [string, string, string] = [oldpath, oldpath, oldpath];
      pathnames[target] = newpath;
      const merged = await handleContentMerge(
        ctx,
        info(ctx, pathnames[0]).stages[0],
        info(ctx, pathnames[1]).stages[1],
        info(ctx, pathnames[2]).stages[2],
        pathnames,
        1 + 2 * ctx.callDepth,
      );
      newinfo.stages[target] = copyVersion(merged.result);
    } else if (collision && sourceDeleted) {
      newinfo.pathConflict = true;
    } else {
      newinfo.stages[0] = copyVersion(oldinfo.stages[0]);
      newinfo.filemask |= 1;
      newinfo.pathnames[0] = oldpath;
      if (typeChanged) {
        oldinfo.stages[0] = { mode: 0, oid: NULL_OID };
        oldinfo.filemask &= 6;
      } else if (sourceDeleted) {
        newinfo.pathConflict = true;
      } else {
        newinfo.stages[other] = copyVersion(oldinfo.stages[other]);
        newinfo.filemask |= oldSidemask;
        newinfo.pathnames[other] = oldpath;
      }
    }
    if (!typeChanged) {
      oldinfo.isNull = true;
      oldinfo.clean = true;
    }
  }
  return cleanMerge;
}
