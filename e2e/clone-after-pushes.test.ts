// A clone after many small pushes, before any compaction: the first push's pack is sent
// as stored and only the objects the pushes added are appended (git's pack reuse). The
// received pack must be what C git would send for the same refs: no object twice, none
// missing, none that no ref reaches. A ref moved away (force push, deleted branch) makes
// the clone walk instead, so that what was pushed away is not served from the old pack.
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalServer } from "./server";
import { commitFile, git, gitRun, makeDatedRepo, tempDir } from "./git";

const server = new LocalServer();
let seq = 0;
const newUrl = (label: string) => `${server.url}/reuse/${label}-${Date.now().toString(36)}-${seq++}`;

beforeAll(async () => {
  await server.start();
  await server.signUpAndUse("reuse");
});
afterAll(() => server.stop());

/** Objects reachable from every ref, as C git lists them. */
async function reachable(dir: string): Promise<string[]> {
  const out = await git(dir, "rev-list", "--objects", "--all");
  return out
    .split("\n")
    .filter(Boolean)
    .map((l) => l.slice(0, 40))
    .sort();
}

/** Clones with progress; returns the clone's directory and what the server said. */
async function cloneOf(url: string, version: 0 | 2): Promise<{ dir: string; stderr: string }> {
  const root = tempDir("reuse-clone-");
  const r = await gitRun(root, ["-c", `protocol.version=${version}`, "clone", "--bare", "--progress", url, "c.git"]);
  expect(r.code, r.stderr).toBe(0);
  return { dir: join(root, "c.git"), stderr: r.stderr };
}

/** The received pack's entries, as `verify-pack` lists them: an object sent twice shows twice. */
async function packEntries(bare: string): Promise<string[]> {
  const [idx] = readdirSync(join(bare, "objects", "pack")).filter((f) => f.endsWith(".idx"));
  const out = await git(bare, "verify-pack", "-v", join("objects", "pack", idx));
  return out
    .split("\n")
    .filter((l) => /^[0-9a-f]{40} /.test(l))
    .map((l) => l.slice(0, 40))
    .sort();
}

describe("a clone after many small pushes", () => {
  for (const version of [2, 0] as const) {
    it(`reuses the first push's pack and appends only what the pushes added (v${version})`, async () => {
      const src = await makeDatedRepo(30);
      const url = newUrl(`v${version}`);
      await git(src, "push", url, "main", "--tags");
      const first = (await git(src, "rev-parse", "HEAD:")).trim();
      // Small pushes of every kind: edits (thin packs whose deltas build on the first
      // pack), a file changed back to an older version, a new branch, an annotated tag.
      for (let i = 0; i < 12; i++) {
        await commitFile(src, `f${i % 4}.txt`, `change ${i}\n`.repeat(50 + i));
        await git(src, "push", url, "main");
      }
      // log.txt as it was ten commits before the first push: a blob the first pack holds
      // but no tree at the old tips names, so the walk finds it and must not send it again.
      await git(src, "checkout", "-q", "HEAD~22", "--", "log.txt");
      await git(src, "commit", "-q", "-m", "log.txt as it was");
      await git(src, "push", url, "main");
      await git(src, "checkout", "-q", "-b", "side");
      await git(src, "checkout", "-q", first, "--", ".");
      await git(src, "commit", "-q", "-m", "back to the first tree");
      await git(src, "tag", "-a", "-m", "a tag", "v-side");
      await git(src, "push", url, "side", "v-side");
      await git(src, "checkout", "-q", "main");

      const { dir, stderr } = await cloneOf(url, version);
      // The first pack went out as stored; the walk added what came after.
      expect(stderr).toMatch(/pack-reused [1-9]/);
      const fsck = await gitRun(dir, ["fsck", "--strict", "--no-progress"]);
      expect(fsck.code, fsck.stderr).toBe(0);
      expect(fsck.stdout + fsck.stderr).not.toMatch(/dangling|missing|broken/);
      // Exactly C git's set: what the refs reach, each object once in the pack.
      const expected = await reachable(src);
      expect(await packEntries(dir)).toEqual(expected);
      expect(await reachable(dir)).toEqual(expected);
    });
  }

  it("a fetch after many small pushes sends deltas, not each version whole", async () => {
    const src = await makeDatedRepo(20);
    const url = newUrl("fetch");
    await git(src, "push", url, "main");
    const ours = await cloneOf(url, 2);
    const theirs = tempDir("reuse-cgit-");
    await git(theirs, "clone", "-q", "--bare", "--no-local", src, "c.git");
    // Each push is a thin pack: the new version of log.txt as a delta on the one before,
    // which the server completes by appending that base whole.
    for (let i = 0; i < 20; i++) {
      await commitFile(src, "log.txt", `${readFileSync(join(src, "log.txt"), "utf8")}push ${i}: ${"more text ".repeat(6)}\n`);
      await git(src, "push", url, "main");
    }
    const fetched = async (bare: string, from: string) => {
      const before = new Set(readdirSync(join(bare, "objects", "pack")));
      await git(bare, "-c", "fetch.unpackLimit=1", "fetch", "-q", from, "+refs/heads/main:refs/heads/main");
      const [pack] = readdirSync(join(bare, "objects", "pack")).filter((f) => f.endsWith(".pack") && !before.has(f));
      return statSync(join(bare, "objects", "pack", pack)).size;
    };
    const mine = await fetched(ours.dir, url);
    const cgit = await fetched(join(theirs, "c.git"), src);
    expect(mine).toBeLessThanOrEqual(cgit * 1.5);
  });

  it("walks instead when a ref moved away from what the first pack covered", async () => {
    const src = await makeDatedRepo(20);
    const url = newUrl("moved");
    await git(src, "checkout", "-q", "-b", "secret");
    await commitFile(src, "secret.txt", "a password pushed by mistake\n");
    const secret = (await git(src, "rev-parse", "HEAD")).trim();
    await git(src, "checkout", "-q", "main");
    await git(src, "push", url, "main", "secret", "--tags");
    await commitFile(src, "after.txt", "more\n");
    await git(src, "push", url, "main", ":secret");
    await git(src, "branch", "-D", "secret");

    const { dir, stderr } = await cloneOf(url, 2);
    expect(stderr).not.toMatch(/pack-reused [1-9]/);
    const has = await gitRun(dir, ["cat-file", "-e", secret]);
    expect(has.code).not.toBe(0);
    expect(await reachable(dir)).toEqual(await reachable(src));

    // Force-pushing main back past its first value: the old pack is not reused either.
    await git(src, "reset", "-q", "--hard", "HEAD~3");
    writeFileSync(join(src, "x.txt"), "rewritten\n");
    await git(src, "add", "x.txt");
    await git(src, "commit", "-q", "-m", "rewritten");
    await git(src, "push", "-f", url, "main");
    const again = await cloneOf(url, 2);
    expect(again.stderr).not.toMatch(/pack-reused [1-9]/);
    expect(await reachable(again.dir)).toEqual(await reachable(src));
  });
});
