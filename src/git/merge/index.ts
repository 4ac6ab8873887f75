// The merge engine pull requests use: a three-way merge of trees with no working tree that
// produces what `git merge-tree --write-tree` produces (git 2.39, merge-ort), or declines.
import { Budget, type BudgetLimits, DEFAULT_LIMITS, TOO_LARGE_MESSAGE, TooLargeError, UnsupportedMergeError } from "./budget";
import type { PathInfo } from "./info";
import { CommitGraph, mergeBases } from "./merge-base";
import { type MergeObjects, displayPath } from "./objects";
import { type TreeMergeResult, mergeRecursive, mergeTreesOnce } from "./ort";
import { MergeStore } from "./store";

export type { MergeObjects, ObjectType } from "./objects";
export { hashObject } from "./objects";
export { TOO_LARGE_MESSAGE, type BudgetLimits } from "./budget";

export type MergeOutcome =
  /** The merged tree, already written through MergeObjects.write. */
  | { clean: true; tree: string }
  /**
   * The paths git lists as conflicted, sorted. `tree` is the tree git would write, with
   * conflict markers in it; it is not stored.
   */
  | { clean: false; conflicts: string[]; tree: string }
  | { tooLarge: true; message: string }
  /** A merge this engine declines to do, rather than risk a result git would not give. */
  | { unsupported: true; message: string }
  | { unrelated: true; message: string };

export interface MergeOptions {
  /** Names in conflict markers, as the branch arguments of `git merge-tree`. */
  labels?: { ours: string; theirs: string };
  limits?: BudgetLimits;
}

function conflictPaths(conflicted: Map<string, PathInfo>): string[] {
  return [...conflicted]
    .filter(([, ci]) => ci.filemask !== 0)
    .map(([p]) => p)
    .sort()
    .map(displayPath);
}

async function finish(store: MergeStore, r: TreeMergeResult): Promise<MergeOutcome> {
  if (!r.clean) return { clean: false, conflicts: conflictPaths(r.conflicted), tree: r.tree };
  await store.persist(r.tree);
  return { clean: true, tree: r.tree };
}

async function guarded(run: () => Promise<MergeOutcome>): Promise<MergeOutcome> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof TooLargeError) return { tooLarge: true, message: TOO_LARGE_MESSAGE };
    if (e instanceof UnsupportedMergeError) return { unsupported: true, message: `not mergeable automatically: ${e.message}` };
    throw e;
  }
}

/** Merges two trees given their common base tree (merge_incore_nonrecursive). */
export function mergeTrees(
  objects: MergeObjects,
  trees: { base: string; ours: string; theirs: string },
  options: MergeOptions = {},
): Promise<MergeOutcome> {
  return guarded(async () => {
    const store = new MergeStore(objects, new Budget(options.limits ?? DEFAULT_LIMITS));
    const labels = options.labels ?? { ours: "ours", theirs: "theirs" };
    return finish(store, await mergeTreesOnce(store, trees.base, trees.ours, trees.theirs, labels.ours, labels.theirs, 0));
  });
}

/** Merges two commits as `git merge-tree --write-tree ours theirs` does, merge bases and all. */
export function mergeCommits(objects: MergeObjects, ours: string, theirs: string, options: MergeOptions = {}): Promise<MergeOutcome> {
  return guarded(async () => {
    const store = new MergeStore(objects, new Budget(options.limits ?? DEFAULT_LIMITS));
    const graph = new CommitGraph(store);
    const h1 = await graph.get(ours);
    const h2 = await graph.get(theirs);
    const bases = (await mergeBases(graph, h1, h2)).reverse();
    if (bases.length === 0) return { unrelated: true, message: "refusing to merge unrelated histories" };
    const labels = options.labels ?? { ours, theirs };
    return finish(store, await mergeRecursive(store, graph, bases, h1, h2, labels.ours, labels.theirs, 0));
  });
}

/** `git merge-base --all ours theirs`: the best common ancestors, newest first. */
export async function findMergeBases(
  objects: MergeObjects,
  ours: string,
  theirs: string,
  options: Pick<MergeOptions, "limits"> = {},
): Promise<{ bases: string[] } | { tooLarge: true; message: string }> {
  try {
    const graph = new CommitGraph(new MergeStore(objects, new Budget(options.limits ?? DEFAULT_LIMITS)));
    return { bases: (await mergeBases(graph, await graph.get(ours), await graph.get(theirs))).map((n) => n.id) };
  } catch (e) {
    if (e instanceof TooLargeError) return { tooLarge: true, message: TOO_LARGE_MESSAGE };
    throw e;
  }
}
