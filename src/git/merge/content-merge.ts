// handle_content_merge: one path changed on both sides. Modes merge like contents; regular
// files merge line by line; symlinks and submodules cannot be merged and conflict (a
// submodule's history is not in this repository, which is also how git sees it on a server).
import type { TreeMergeContext, Version } from "./info";
import { NULL_OID, S_IFMT, isGitlink, isLink, isReg } from "./objects";
import { LL_MERGE_OK, mergeText } from "./text-merge";

const DEFAULT_CONFLICT_MARKER_SIZE = 7;

async function blobOrEmpty(ctx: TreeMergeContext, oid: string): Promise<Uint8Array> {
  return oid === NULL_OID ? new Uint8Array(0) : ctx.store.blob(oid);
}

export async function handleContentMerge(
  ctx: TreeMergeContext,
  o: Version,
  a: Version,
  b: Version,
  pathnames: [string, string, string],
  extraMarkerSize: number,
): Promise<{ clean: boolean; result: Version }> {
  let clean = true;
  const result: Version = { mode: 0, oid: NULL_OID };
  if (a.mode === b.mode || a.mode === o.mode) result.mode = b.mode;
  else {
    result.mode = a.mode;
    clean = b.mode === o.mode;
  }
  if (a.oid === b.oid || a.oid === o.oid) result.oid = b.oid;
  else if (b.oid === o.oid) result.oid = a.oid;
  else if (isReg(a.mode)) {
    const twoWay = (o.mode & S_IFMT) !== (a.mode & S_IFMT);
    const sameNames = pathnames[0] === pathnames[1] && pathnames[1] === pathnames[2];
    const merged = mergeText(
      {
        base: await blobOrEmpty(ctx, twoWay ? NULL_OID : o.oid),
        ours: await ctx.store.blob(a.oid),
        theirs: await ctx.store.blob(b.oid),
        oursLabel: sameNames ? ctx.branch1 : `${ctx.branch1}:${pathnames[1]}`,
        theirsLabel: sameNames ? ctx.branch2 : `${ctx.branch2}:${pathnames[2]}`,
        markerSize: DEFAULT_CONFLICT_MARKER_SIZE + extraMarkerSize,
        virtualAncestor: ctx.callDepth > 0,
      },
      ctx.store.budget,
    );
    result.oid = ctx.store.writeBlob(merged.result);
    clean &&= merged.status === LL_MERGE_OK;
  } else if (isGitlink(a.mode)) {
    // merge_submodule finds no checked-out submodule and falls back to ours (or the base,
    // inside a virtual merge base).
    const twoWay = (o.mode & S_IFMT) !== (a.mode & S_IFMT);
    clean = false;
    result.oid = ctx.callDepth ? (twoWay ? NULL_OID : o.oid) : a.oid;
    if (ctx.callDepth && twoWay) {
      result.mode = o.mode;
      result.oid = o.oid;
    }
  } else if (isLink(a.mode)) {
    clean = false;
    if (ctx.callDepth) {
      result.mode = o.mode;
      result.oid = o.oid;
    } else result.oid = a.oid;
  } else throw new Error(`unsupported object type in the tree: ${a.mode.toString(8)} for ${pathnames[1]}`);
  return { clean, result };
}
