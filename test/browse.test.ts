// The web UI's read model over a fixture repository made by C git (12 commits with
// equal timestamps, which is what scripted history looks like).
import { describe, expect, inject, it } from "vitest";
import { Browser } from "../src/git/browse";
import { writeIdxV2 } from "../src/git/pack/idx";
import type { Repository } from "../src/repo/repository";
import { fromBase64, freshRepo, inRepo } from "./helpers";

const fixtures = inject("fixtures");

async function loaded(repo: Repository): Promise<Browser> {
  repo.init();
  repo.fs.writeFile("/objects/pack/fixture.pack", fromBase64(fixtures.ofsPack.pack));
  const r = await repo.store.index("/objects/pack/fixture.pack");
  repo.fs.transaction(() => repo.store.commitPack("/objects/pack/fixture.pack", r, writeIdxV2(r.objects, r.packChecksum)));
  repo.refs.update(
    [
      { name: "refs/heads/main", old: "0".repeat(40), new: fixtures.head },
      { name: "refs/heads/topic/old", old: "0".repeat(40), new: fixtures.base },
    ],
    false,
  );
  return new Browser(repo.store, repo.refs);
}

describe("browse", () => {
  it("counts ahead and behind without relying on commit times", () =>
    inRepo(freshRepo("browse"), async (repo) => {
      const b = await loaded(repo);
      expect(b.aheadBehind(fixtures.base, fixtures.head)).toEqual({ ahead: 3, behind: 0 });
      expect(b.aheadBehind(fixtures.head, fixtures.base)).toEqual({ ahead: 0, behind: 3 });
      expect(b.aheadBehind(fixtures.head, fixtures.head)).toEqual({ ahead: 0, behind: 0 });
      expect(b.mergeBase(fixtures.head, fixtures.base)).toBe(fixtures.base);
    }));

  it("resolves refs with slashes the way GitHub does", () =>
    inRepo(freshRepo("browse"), async (repo) => {
      const b = await loaded(repo);
      expect(b.resolve(["topic", "old", "a.txt"])).toEqual({ ref: "topic/old", commit: fixtures.base, path: "a.txt" });
      expect(b.resolve(["main"])).toEqual({ ref: "main", commit: fixtures.head, path: "" });
      expect(b.resolve([fixtures.base, "b0.txt"])?.path).toBe("b0.txt");
      expect(b.resolve(["nope", "a.txt"])).toBeNull();
      // Abbreviated ids (4 or more hex digits) and HEAD, as git's rev-parse reads them;
      // a resolved id is given in full.
      expect(b.resolve([fixtures.base.slice(0, 7), "b0.txt"])).toEqual({ ref: fixtures.base, commit: fixtures.base, path: "b0.txt" });
      expect(b.resolve([fixtures.head.slice(0, 12).toUpperCase()])?.commit).toBe(fixtures.head);
      expect(b.resolve([fixtures.head.slice(0, 3)])).toBeNull();
      expect(b.commitsNamed(fixtures.head.slice(0, 4)).map((c) => c.commit)).toContain(fixtures.head);
      repo.refs.setHead("refs/heads/main");
      expect(b.resolve(["HEAD", "a.txt"])).toEqual({ ref: "main", commit: fixtures.head, path: "a.txt" });
    }));

  it("walks history and file history, and blames lines to the commits that made them", () =>
    inRepo(freshRepo("browse"), async (repo) => {
      const b = await loaded(repo);
      expect((await b.log(fixtures.head, { limit: 100 })).length).toBe(12);
      expect(b.countCommits(fixtures.head)).toBe(12);
      // b0.txt changes in commits 0, 3, 6 and 9.
      expect((await b.log(fixtures.head, { path: "b0.txt" })).map((c) => c.subject)).toEqual([
        "commit 9",
        "commit 6",
        "commit 3",
        "commit 0",
      ]);
      const blame = await b.blame(fixtures.head, "a.txt");
      expect(blame.length).toBe(400);
      expect(blame[0].commit.subject).toBe("commit 0");
      expect(blame[37].commit.subject).toBe("commit 1");
      expect(blame[1].commit.subject).toBe("commit 0");
    }));
});
