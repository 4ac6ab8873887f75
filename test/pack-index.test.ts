import { describe, expect, inject, it } from "vitest";
import * as git from "isomorphic-git";
import { createIsoGitFs } from "./isogit-fs";
import { writeIdxV2, readIdxV2 } from "../src/git/pack/idx";
import { PackFormatError } from "../src/git/pack/entry";
import type { Repository } from "../src/repo/repository";
import { fromBase64, freshRepo, hex, inRepo } from "./helpers";

const fixtures = inject("fixtures");

/** Stores a pack in the repository the way receive-pack does, and indexes it. */
async function indexInto(repo: Repository, packB64: string) {
  repo.fs.mkdir("/objects/incoming", { recursive: true });
  const path = `/objects/incoming/${crypto.randomUUID()}.pack`;
  repo.fs.writeFile(path, fromBase64(packB64));
  const result = await repo.store.index(path);
  const idx = writeIdxV2(result.objects, result.packChecksum);
  return { path, result, idx };
}

describe("pack indexing", () => {
  for (const kind of ["ofsPack", "refPack"] as const) {
    it(`writes the same .idx as git index-pack (${kind})`, () =>
      inRepo(freshRepo("idx"), async (repo) => {
        const { result, idx } = await indexInto(repo, fixtures[kind].pack);
        expect(result.objects.length).toBeGreaterThan(30);
        expect(result.objects.some((o) => o.base !== null)).toBe(true);
        expect(hex(idx)).toBe(hex(fromBase64(fixtures[kind].idx)));
      }));
  }

  it("completes a thin pack from stored objects and stays readable", () =>
    inRepo(freshRepo("thin"), async (repo) => {
      repo.init();
      const base = await indexInto(repo, fixtures.basePack.pack);
      repo.fs.transaction(() => repo.store.commitPack(base.path, base.result, base.idx));
      const thin = await indexInto(repo, fixtures.thinPack.pack);
      expect(thin.result.thinBases).toBeGreaterThan(0);
      // The completed pack parses again on its own, with no outside bases.
      const again = await repo.store.index(thin.path);
      expect(again.thinBases).toBe(0);
      expect(again.objects.length).toBe(thin.result.objects.length);
      repo.fs.transaction(() => repo.store.commitPack(thin.path, thin.result, thin.idx));
      expect((await repo.store.read(fixtures.head)).type).toBe("commit");
    }));

  it("reads back every object, and rebuilds its SQL index from the .idx files", () =>
    inRepo(freshRepo("rebuild"), async (repo) => {
      repo.init();
      const { path, result, idx } = await indexInto(repo, fixtures.ofsPack.pack);
      repo.fs.transaction(() => repo.store.commitPack(path, result, idx));
      const before = result.objects.map((o) => [o.oid, repo.store.info(o.oid)]);
      await repo.store.rebuildIndex();
      expect(result.objects.map((o) => [o.oid, repo.store.info(o.oid)])).toEqual(before);
      expect(readIdxV2(idx).entries.length).toBe(result.objects.length);
    }));

  it("is readable by isomorphic-git through IsoGitFs", () =>
    inRepo(freshRepo("isogit"), async (repo) => {
      repo.init();
      const { path, result, idx } = await indexInto(repo, fixtures.ofsPack.pack);
      repo.fs.transaction(() => repo.store.commitPack(path, result, idx));
      repo.refs.update([{ name: "refs/heads/main", old: "0".repeat(40), new: fixtures.head }], false);
      const fs = createIsoGitFs(repo.fs);
      const log = await git.log({ fs, gitdir: "/", ref: "main" });
      expect(log.length).toBe(12);
      expect(log[0].oid).toBe(fixtures.head);
      const { blob } = await git.readBlob({ fs, gitdir: "/", oid: fixtures.head, filepath: "a.txt" });
      expect(new TextDecoder().decode(blob)).toContain("edited in commit 11");
    }));

  describe("refuses bad packs", () => {
    const corrupt = (mutate: (p: Uint8Array) => Uint8Array) => (repo: Repository) => {
      const good = fromBase64(fixtures.ofsPack.pack);
      repo.fs.mkdir("/objects/incoming", { recursive: true });
      repo.fs.writeFile("/objects/incoming/bad.pack", mutate(good.slice()));
      return () => repo.store.index("/objects/incoming/bad.pack");
    };

    it("with a wrong trailer checksum", () =>
      inRepo(freshRepo("bad"), async (repo) => {
        const run = corrupt((p) => {
          p[p.length - 1] ^= 1;
          return p;
        })(repo);
        await expect(run()).rejects.toThrow(/checksum/);
      }));

    it("when truncated", () =>
      inRepo(freshRepo("bad"), async (repo) => {
        await expect(corrupt((p) => p.subarray(0, p.length - 100))(repo)()).rejects.toThrow(PackFormatError);
      }));

    it("with a bad signature or version", () =>
      inRepo(freshRepo("bad"), async (repo) => {
        await expect(corrupt((p) => ((p[0] = 0x51), p))(repo)()).rejects.toThrow(/signature/);
        await expect(corrupt((p) => ((p[7] = 9), p))(repo)()).rejects.toThrow(/version/);
      }));

    it("with a corrupt zlib stream", () =>
      inRepo(freshRepo("bad"), async (repo) => {
        await expect(corrupt((p) => ((p[40] ^= 0xff), (p[41] ^= 0xff), p))(repo)()).rejects.toThrow(PackFormatError);
      }));
  });
});
