// The merge engine against C git: every generated case (see merge-fixtures.ts) must come out
// as `git merge-tree --write-tree` made it, the same tree for a clean merge and the same
// conflicted paths (and conflicted tree) otherwise. A case may be declined, never guessed.
import { describe, expect, inject, it } from "vitest";
import { TOO_LARGE_MESSAGE, mergeCommits, mergeTrees } from "../src/git/merge";
import { type Verdict, memoryObjects, runCase } from "./merge-run";

const fixture = inject("mergeFixture");

describe("merge engine agrees with git merge-tree --write-tree", () => {
  it("on every generated merge", async () => {
    const objects = memoryObjects(fixture);
    const tally: Record<string, Record<Verdict, number>> = {};
    const disagreements: string[] = [];
    const declined: string[] = [];
    let conflictedTrees = 0;
    let conflicted = 0;
    for (const c of fixture.cases) {
      const r = await runCase(objects, c);
      tally[c.category] ??= { agree: 0, declined: 0, disagree: 0 };
      tally[c.category][r.verdict]++;
      if (r.verdict === "disagree") disagreements.push(`${c.name} (${c.category}): ${r.detail}`);
      if (r.verdict === "declined") declined.push(`${c.name} (${c.category}): ${r.detail}`);
      if (r.verdict === "agree" && !c.expected.clean) conflicted++;
      if (r.verdict === "agree" && !c.expected.clean && r.treeAgrees) conflictedTrees++;
    }
    console.log("merge agreement by category", JSON.stringify(tally));
    console.log(`conflicted merges whose whole tree (conflict markers included) matches git: ${conflictedTrees} of ${conflicted}`);
    if (declined.length) console.log(`declined:\n${declined.join("\n")}`);
    expect(disagreements).toEqual([]);
    expect(fixture.cases.length).toBeGreaterThanOrEqual(200);
    const agreed = Object.values(tally).reduce((n, t) => n + t.agree, 0);
    expect(agreed).toBeGreaterThanOrEqual(200);
    expect(declined.length).toBeLessThanOrEqual(fixture.cases.length / 20);
    expect(tally["criss-cross"].agree).toBeGreaterThanOrEqual(20);
    expect(fixture.cases.filter((c) => c.expected.bases.length > 1).length).toBeGreaterThanOrEqual(20);
    expect(conflictedTrees).toBe(conflicted);
  });

  it("writes the clean merge's new objects through MergeObjects.write", async () => {
    const objects = memoryObjects(fixture);
    const before = objects.size();
    const c = fixture.cases.find((x) => x.expected.clean && x.category === "same file, apart")!;
    const got = await mergeCommits(objects, c.ours, c.theirs, { labels: c.labels });
    expect(got).toEqual({ clean: true, tree: c.expected.tree });
    expect(objects.size()).toBeGreaterThan(before);
    expect((await objects.read(c.expected.tree)).type).toBe("tree");
  });

  it("stops at the work budget", async () => {
    const objects = memoryObjects(fixture);
    const c = fixture.cases.find((x) => x.category === "criss-cross")!;
    const got = await mergeCommits(objects, c.ours, c.theirs, { limits: { objects: 5, bytes: 1 << 20 } });
    expect(got).toEqual({ tooLarge: true, message: TOO_LARGE_MESSAGE });
    const small = await mergeCommits(objects, c.ours, c.theirs, { limits: { objects: 10_000, bytes: 100 } });
    expect(small).toEqual({ tooLarge: true, message: TOO_LARGE_MESSAGE });
  });

  it("merges trees given a base tree", async () => {
    const objects = memoryObjects(fixture);
    const c = fixture.cases.find((x) => x.expected.clean && x.category === "different files")!;
    const treeOf = async (oid: string) => new TextDecoder().decode((await objects.read(oid)).data).slice(5, 45);
    const ours = await objects.read(c.ours);
    const parent = new TextDecoder().decode(ours.data).match(/^parent (\w{40})/m)![1];
    const got = await mergeTrees(objects, { base: await treeOf(parent), ours: await treeOf(c.ours), theirs: await treeOf(c.theirs) });
    expect(got).toEqual({ clean: true, tree: c.expected.tree });
  });
});
