// merge_ort_nonrecursive_internal and merge_ort_internal: one tree merge, and the recursive
// merge that first folds several merge bases into a virtual one, oldest first, each inner
// merge labelled "Temporary merge branch 1/2" and keeping its conflict markers.
import { collectMergeInfo } from "./collect";
import type { PathInfo, Rename, TreeMergeContext } from "./info";
import { type CommitGraph, type CommitNode, mergeBases } from "./merge-base";
import { EMPTY_TREE } from "./objects";
import { processEntries } from "./process-entries";
import { processRenames } from "./process-renames";
import { detectRenames } from "./renames";
import type { MergeStore } from "./store";

export interface TreeMergeResult {
  clean: boolean;
  tree: string;
  conflicted: Map<string, PathInfo>;
}

export async function mergeTreesOnce(
  store: MergeStore,
  base: string,
  side1: string,
  side2: string,
  branch1: string,
  branch2: string,
  callDepth: number,
): Promise<TreeMergeResult> {
  const ctx: TreeMergeContext = {
    store,
    callDepth,
    branch1,
    branch2,
    paths: new Map(),
    conflicted: new Map(),
    deletes: [[], [], []],
    adds: [[], [], []],
    relevantSources: [new Set(), new Set(), new Set()],
    dirsRemoved: [new Set(), new Set(), new Set()],
  };
  await collectMergeInfo(ctx, base, side1, side2);
  const renames: Rename[] = [...(await detectRenames(ctx, 1)), ...(await detectRenames(ctx, 2))];
  // STABLE_QSORT by old path: a file renamed on both sides gives two neighbours, side 1 first.
  renames.sort((a, b) => (a.src.path < b.src.path ? -1 : a.src.path > b.src.path ? 1 : 0));
  let clean = await processRenames(ctx, renames);
  const tree = await processEntries(ctx);
  clean &&= ctx.conflicted.size === 0;
  return { clean, tree, conflicted: ctx.conflicted };
}

let virtualCounter = 0;

export async function mergeRecursive(
  store: MergeStore,
  graph: CommitGraph,
  bases: CommitNode[] | null,
  h1: CommitNode,
  h2: CommitNode,
  branch1: string,
  branch2: string,
  callDepth: number,
): Promise<TreeMergeResult> {
  const list = bases ?? (await mergeBases(graph, h1, h2)).reverse();
  let merged: CommitNode = list.shift() ?? { id: `virtual:${++virtualCounter}`, tree: EMPTY_TREE, date: 0, parents: [] };
  for (const next of list) {
    const prev = merged;
    const inner = await mergeRecursive(
      store,
      graph,
      null,
      prev,
      next,
      "Temporary merge branch 1",
      "Temporary merge branch 2",
      callDepth + 1,
    );
    merged = { id: `virtual:${++virtualCounter}`, tree: inner.tree, date: 0, parents: [prev, next] };
  }
  return mergeTreesOnce(store, merged.tree, h1.tree, h2.tree, branch1, branch2, callDepth);
}
