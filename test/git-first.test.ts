// Background work yields to git calls, but only for so long (src/repo/git-first.ts).
import { describe, expect, it } from "vitest";
import { GitFirst } from "../src/repo/git-first";

describe("background work yields to git calls", () => {
  it("runs when no git call came lately, waits after one, and runs anyway after waiting its longest", () => {
    const g = new GitFirst(2_000, 60_000);
    expect(g.mayRun("index", 1_000)).toBe(true);
    g.noteCall(10_000);
    expect(g.mayRun("index", 10_500)).toBe(false);
    expect(g.mayRun("index", 11_999)).toBe(false);
    // Quiet again: it runs.
    expect(g.mayRun("index", 12_000)).toBe(true);
    // A clone that never pauses: the work waits 60 s, runs a slice, then waits again.
    let ran = 0;
    for (let t = 20_000; t <= 200_000; t += 500) {
      g.noteCall(t);
      if (g.mayRun("maintenance", t)) ran++;
    }
    expect(ran).toBe(3);
  });

  it("counts each kind's waiting apart", () => {
    const g = new GitFirst(2_000, 10_000);
    g.noteCall(0);
    expect(g.mayRun("index", 100)).toBe(false);
    g.noteCall(5_000);
    expect(g.mayRun("maintenance", 5_100)).toBe(false);
    g.noteCall(10_100);
    expect(g.mayRun("index", 10_100)).toBe(true);
    expect(g.mayRun("maintenance", 10_100)).toBe(false);
    g.noteCall(15_100);
    expect(g.mayRun("maintenance", 15_100)).toBe(true);
  });
});
