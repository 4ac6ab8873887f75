// Runs one fixture case through the engine and says how it compares with git; shared by the
// workerd test and by local debugging.
import { type MergeObjects, type ObjectType, hashObject, mergeCommits } from "../src/git/merge";
import { Budget, DEFAULT_LIMITS } from "../src/git/merge/budget";
import { CommitGraph, mergeBases } from "../src/git/merge/merge-base";
import { MergeStore } from "../src/git/merge/store";
import type { MergeCase, MergeFixture } from "./merge-fixtures";

export function memoryObjects(fixture: MergeFixture): MergeObjects & { size(): number } {
  const map = new Map<string, { type: ObjectType; data: Uint8Array }>();
  for (const o of fixture.objects)
    map.set(o.oid, { type: o.type as ObjectType, data: Uint8Array.from(atob(o.data), (c) => c.charCodeAt(0)) });
  return {
    async read(oid) {
      const o = map.get(oid);
      if (!o) throw new Error(`missing object ${oid}`);
      return o;
    },
    async write(type, data) {
      const oid = hashObject(type, data);
      map.set(oid, { type, data });
      return oid;
    },
    size: () => map.size,
  };
}

export type Verdict = "agree" | "declined" | "disagree";

export async function runCase(objects: MergeObjects, c: MergeCase): Promise<{ verdict: Verdict; detail: string; treeAgrees: boolean }> {
  const graph = new CommitGraph(new MergeStore(objects, new Budget(DEFAULT_LIMITS)));
  const bases = (await mergeBases(graph, await graph.get(c.ours), await graph.get(c.theirs))).map((n) => n.id);
  if (bases.join() !== c.expected.bases.join())
    return { verdict: "disagree", detail: `merge bases ${bases} vs ${c.expected.bases}`, treeAgrees: false };
  const got = await mergeCommits(objects, c.ours, c.theirs, { labels: c.labels });
  if ("unsupported" in got) return { verdict: "declined", detail: got.message, treeAgrees: false };
  if (!("clean" in got)) return { verdict: "disagree", detail: JSON.stringify(got), treeAgrees: false };
  const e = c.expected;
  const want = JSON.stringify({ clean: e.clean, conflicts: e.clean ? [] : e.conflicts });
  const have = JSON.stringify({ clean: got.clean, conflicts: got.clean ? [] : got.conflicts });
  const treeAgrees = got.tree === e.tree;
  if (want !== have || (e.clean && !treeAgrees))
    return { verdict: "disagree", detail: `want ${want} ${e.tree}, got ${have} ${got.tree}`, treeAgrees };
  return { verdict: "agree", detail: "", treeAgrees };
}
