// Pull-request merges on a repository pushed over HTTP, against C git's answers for the same
// commits (test/pull-fixtures.ts): mergeability, the three merge methods, the sha guard, a
// push racing a merge, and C git's fsck --strict over the repository afterwards.
import { env } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { Dofs } from "../src/fs/dofs";
import { hashObject, parseCommit } from "../src/git/object/object";
import { PktReader, pktLine } from "../src/git/protocol/pkt-line";
import { beginPush } from "../src/git/protocol/receive-pack";
import { INCOMING_DIR, commitObjects } from "../src/git/ref-transaction";
import { RefStore } from "../src/git/refs";
import { ObjectStore } from "../src/git/store/object-store";
import { type Mergeability, PullMerges, type PullMergeRequest, closesIssues } from "../src/repo/pulls";
import type { Repository } from "../src/repo/repository";
import { concatBytes } from "../src/util/bytes";
import { fromBase64, inRepo, ownerFetch, exportAndRun } from "./helpers";

const fx = inject("pullFixture");
const ZERO = "0".repeat(40);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
let n = 0;

interface Pushed {
  url: string;
  stub: DurableObjectStub<Repository>;
}

async function receive(url: string, commands: string[], pack: Uint8Array): Promise<string> {
  const lines = commands.map((c, i) => pktLine(i === 0 ? `${c}\0report-status atomic\n` : `${c}\n`));
  const res = await ownerFetch(`${url}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body: concatBytes([...lines, enc("0000"), pack]),
  });
  return dec(new Uint8Array(await res.arrayBuffer()));
}

/** A repository holding the fixture's branches, pushed through the Worker as git would. */
async function pushed(): Promise<Pushed> {
  const name = `pulls/r${Date.now().toString(36)}${n++}`;
  const url = `http://gitflare.test/${name}`;
  const report = await receive(
    url,
    Object.entries(fx.refs).map(([ref, oid]) => `${ZERO} ${oid} ${ref}`),
    fromBase64(fx.pack),
  );
  expect(report).toContain("unpack ok");
  for (const ref of Object.keys(fx.refs)) expect(report).toContain(`ok ${ref}`);
  return { url, stub: env.REPO.getByName(name) };
}

const merger = { name: "Mona Merger", email: "mona@example.com" };
const when = { seconds: 1_750_000_000, timezone: "+0200" };

function request(branch: string, method: PullMergeRequest["method"], extra: Partial<PullMergeRequest> = {}): PullMergeRequest {
  return {
    base: "main",
    head: fx.branches[branch].oid,
    headRef: branch,
    method,
    number: 7,
    title: `The ${branch} change`,
    headLabel: `alice/${branch}`,
    committer: merger,
    when,
    ...extra,
  };
}

/** A commit's stored bytes, and its parsed header. */
async function readCommit(stub: DurableObjectStub<Repository>, oid: string) {
  return inRepo(stub, async (repo) => {
    const o = await repo.store.read(oid);
    expect(o.type).toBe("commit");
    return { raw: o.data, ...parseCommit(o.data) };
  });
}

function refsOf(stub: DurableObjectStub<Repository>): Promise<Record<string, string>> {
  return inRepo(stub, (repo) => Object.fromEntries(repo.refs.list()));
}

describe("pull request mergeability", () => {
  it("is clean, with merge bases, ahead/behind and the merged tree git writes", async () => {
    const { stub } = await pushed();
    const m = (await stub.pullMergeability("main", "clean", { rebase: true })) as Mergeability;
    const b = fx.branches.clean;
    expect(b.merge.clean).toBe(true);
    expect(m.check).toEqual({ kind: "clean", tree: b.merge.tree });
    expect(m.mergeBases).toEqual(b.mergeBases);
    expect(m.ahead).toBe(b.commits.length);
    expect(m.behind).toBe(b.behind);
    expect(m.commits).toEqual(b.commits);
    expect(m.merged).toBe(false);
    expect(m.rebase).toEqual({ kind: "clean" });
    // Computing it stores nothing.
    expect(await inRepo(stub, (repo) => repo.store.has(b.merge.tree))).toBe(false);
  });

  it("lists the conflicting paths as git merge-tree does", async () => {
    const { stub } = await pushed();
    const m = (await stub.pullMergeability("refs/heads/main", fx.branches.conflict.oid, { rebase: true })) as Mergeability;
    expect(fx.branches.conflict.merge.clean).toBe(false);
    expect(m.check).toEqual({ kind: "conflicts", paths: fx.branches.conflict.merge.conflicts });
    expect(m.check.kind === "conflicts" && m.check.paths).toEqual(["a.txt", "dir/c.txt"]);
    expect(m.rebase?.kind).toBe("unsupported");
  });

  it("tells a clean merge from a rebase that would conflict or has merge commits", async () => {
    const { stub } = await pushed();
    const replay = (await stub.pullMergeability("main", "replay-conflict", { rebase: true })) as Mergeability;
    expect(replay.check).toEqual({ kind: "clean", tree: fx.branches["replay-conflict"].merge.tree });
    expect(fx.branches["replay-conflict"].rebaseTrees).toEqual([null]);
    expect(replay.rebase).toEqual({ kind: "conflicts", commit: fx.branches["replay-conflict"].commits[0], paths: ["a.txt"] });
    const merges = (await stub.pullMergeability("main", "merges", { rebase: true })) as Mergeability;
    expect(merges.check).toEqual({ kind: "clean", tree: fx.branches.merges.merge.tree });
    expect(merges.rebase?.kind).toBe("unsupported");
  });

  it("answers for missing branches without guessing", async () => {
    const { stub } = await pushed();
    expect(await stub.pullMergeability("nope", "clean")).toEqual({ missing: "base", message: "No commit found for the base nope" });
    expect(await stub.pullMergeability("main", "f".repeat(40))).toMatchObject({ missing: "head" });
  });
});

describe("pull request merges agree with C git", () => {
  it("merge commit: merge-tree's tree, parents base then head, GitHub's message, byte-exact", async () => {
    const { stub } = await pushed();
    const b = fx.branches.clean;
    const r = await stub.mergePull(request("clean", "merge"));
    expect(r).toMatchObject({ merged: true, method: "merge" });
    if (!r.merged) return;
    const c = await readCommit(stub, r.sha);
    expect(c.tree).toBe(b.merge.tree);
    expect(c.parents).toEqual([fx.main, b.oid]);
    const expected =
      `tree ${b.merge.tree}\nparent ${fx.main}\nparent ${b.oid}\n` +
      "author Mona Merger <mona@example.com> 1750000000 +0200\n" +
      "committer Mona Merger <mona@example.com> 1750000000 +0200\n\n" +
      "Merge pull request #7 from alice/clean\n\nThe clean change\n";
    expect(dec(c.raw)).toBe(expected);
    expect((await refsOf(stub))["refs/heads/main"]).toBe(r.sha);
    expect(await stub.pullMergedByPush("main", b.oid)).toBe(true);
  });

  it("squash: one parent, the same tree, the commits listed", async () => {
    const { stub } = await pushed();
    const b = fx.branches.clean;
    const r = await stub.mergePull(request("clean", "squash"));
    expect(r).toMatchObject({ merged: true, method: "squash" });
    if (!r.merged) return;
    const c = await readCommit(stub, r.sha);
    expect(c.tree).toBe(b.merge.tree);
    expect(c.parents).toEqual([fx.main]);
    expect(c.message).toBe(
      "The clean change (#7)\n\n" +
        "* Change the end of a\n\nWith a body that says why.\n\n" +
        "* Add the feature\n\n" +
        "* Touch b, run.sh not executable\n\n" +
        "Co-authored-by: Fixture <fixture@example.com>\n" +
        "Co-authored-by: Other Author <other@example.com>\n",
    );
    expect(await stub.pullMergedByPush("main", b.oid)).toBe(false);
  });

  it("squash of a branch with a merge commit, and a title and message given", async () => {
    const { stub } = await pushed();
    const b = fx.branches.merges;
    const r = await stub.mergePull(request("merges", "squash", { commitTitle: "Squashed", commitMessage: "Body\r\nline\r\n\r\n\r\n" }));
    if (!r.merged) throw new Error(r.message);
    const c = await readCommit(stub, r.sha);
    expect(c.tree).toBe(b.merge.tree);
    expect(c.parents).toEqual([fx.main]);
    expect(c.message).toBe("Squashed\n\nBody\nline\n");
  });

  it("rebase: each commit replayed as git cherry-pick would, authors and messages kept", async () => {
    for (const branch of ["clean", "unicode"]) {
      const { stub } = await pushed();
      const b = fx.branches[branch];
      expect(b.rebaseTrees.length).toBe(b.commits.length);
      const r = await stub.mergePull(request(branch, "rebase", { head: b.oid }));
      if (!r.merged) throw new Error(r.message);
      expect(r.commits.length).toBe(b.commits.length);
      let parent = fx.main;
      for (const [i, oid] of r.commits.entries()) {
        const got = await readCommit(stub, oid);
        const original = await readCommit(stub, b.commits[i]);
        expect(got.tree).toBe(b.rebaseTrees[i]);
        expect(got.parents).toEqual([parent]);
        expect(got.author).toEqual(original.author);
        expect(got.committer).toEqual({ name: "Mona Merger", email: "mona@example.com", timestamp: 1_750_000_000, timezone: "+0200" });
        expect(got.message).toBe(original.message);
        // Byte for byte, the author line and the message are the original's.
        const authorLine = (raw: Uint8Array) =>
          dec(raw)
            .split("\n")
            .find((l) => l.startsWith("author "));
        expect(authorLine(got.raw)).toBe(authorLine(original.raw));
        const body = (raw: Uint8Array) => dec(raw).slice(dec(raw).indexOf("\n\n"));
        expect(body(got.raw)).toBe(body(original.raw));
        parent = oid;
      }
      expect(r.sha).toBe(r.commits[r.commits.length - 1]);
      expect((await refsOf(stub))["refs/heads/main"]).toBe(r.sha);
      // Rebased, the PR's own commits are not in the base: it is not "merged by push".
      expect(await stub.pullMergedByPush("main", b.oid)).toBe(false);
    }
  });

  it("refuses a rebase whose replay conflicts, and one with merge commits, storing nothing", async () => {
    const { stub } = await pushed();
    const refs = await refsOf(stub);
    const stats = await inRepo(stub, (repo) => repo.store.stats());
    const replay = await stub.mergePull(request("replay-conflict", "rebase"));
    expect(replay).toMatchObject({
      merged: false,
      reason: "conflict",
      status: 405,
      commit: fx.branches["replay-conflict"].commits[0],
      conflicts: ["a.txt"],
    });
    const merges = await stub.mergePull(request("merges", "rebase"));
    expect(merges).toMatchObject({ merged: false, reason: "unsupported", status: 405 });
    const conflict = await stub.mergePull(request("conflict", "merge"));
    expect(conflict).toMatchObject({ merged: false, reason: "conflict", conflicts: ["a.txt", "dir/c.txt"] });
    expect(await refsOf(stub)).toEqual(refs);
    expect(await inRepo(stub, (repo) => repo.store.stats())).toEqual(stats);
  });
});

describe("pull request merge guards", () => {
  it("refuses a stale head sha (409) and changes nothing", async () => {
    const { stub } = await pushed();
    const refs = await refsOf(stub);
    const r = await stub.mergePull(request("clean", "merge", { head: fx.main }));
    expect(r).toMatchObject({ merged: false, reason: "stale-head", status: 409, retryable: false });
    expect(await refsOf(stub)).toEqual(refs);
    const missing = await stub.mergePull(request("clean", "merge", { headRef: undefined, head: "e".repeat(40) }));
    expect(missing).toMatchObject({ merged: false, reason: "not-found" });
    const nothing = await stub.mergePull(request("clean", "merge", { headRef: undefined, head: fx.main }));
    expect(nothing).toMatchObject({ merged: false, reason: "already-merged" });
    const bad = await stub.mergePull(request("clean", "merge", { committer: { name: "<>", email: "x" } }));
    expect(bad).toMatchObject({ merged: false, reason: "invalid", status: 422 });
  });

  it("loses a race with a push cleanly: the CAS fails, no pack is kept, refs are the push's", async () => {
    const { stub } = await pushed();
    await inRepo(stub, async (repo) => {
      const packs = repo.store.packs().length;
      const stats = repo.store.stats();
      const merges = new PullMerges({ fs: repo.fs, store: repo.store, refs: repo.refs });
      // The merge reads the base, then waits on the object store; the push lands meanwhile.
      const merging = merges.merge(request("clean", "merge"));
      const pushedMain = fx.branches.unicode.oid;
      expect(repo.refs.update([{ name: "refs/heads/main", old: fx.main, new: pushedMain }], true)[0].ok).toBe(true);
      const r = await merging;
      expect(r).toMatchObject({ merged: false, reason: "base-moved", status: 409, retryable: true });
      expect(repo.refs.resolve("refs/heads/main")).toBe(pushedMain);
      expect(repo.store.packs().length).toBe(packs);
      expect(repo.store.stats()).toEqual(stats);
      expect(repo.fs.exists(INCOMING_DIR) ? repo.fs.readdir(INCOMING_DIR) : []).toEqual([]);
      // Tried again, it merges onto the pushed base.
      const again = await merges.merge(request("clean", "merge"));
      expect(again).toMatchObject({ merged: true });
      if (again.merged) expect(repo.store.commit(again.sha).parents).toEqual([pushedMain, fx.branches.clean.oid]);
    });
  });

  it("refuses when the head branch moves before the transaction (verify), and when a policy says no", async () => {
    const { stub } = await pushed();
    await inRepo(stub, async (repo) => {
      const merges = new PullMerges({ fs: repo.fs, store: repo.store, refs: repo.refs });
      const merging = merges.merge(request("clean", "squash"));
      repo.refs.update([{ name: "refs/heads/clean", old: fx.branches.clean.oid, new: fx.main }], true);
      expect(await merging).toMatchObject({ merged: false, reason: "stale-head", status: 409 });
      expect(repo.refs.resolve("refs/heads/main")).toBe(fx.main);

      const seen: string[] = [];
      const guarded = new PullMerges({
        fs: repo.fs,
        store: repo.store,
        refs: repo.refs,
        policy: {
          refuse(update, actor) {
            seen.push(`${actor.via} ${actor.user} ${update.name}`);
            return "protected branch: changes must be approved";
          },
        },
      });
      const packs = repo.store.packs().length;
      const r = await guarded.merge(request("unicode", "merge", { user: "mona" }));
      expect(r).toMatchObject({ merged: false, reason: "policy", message: "protected branch: changes must be approved" });
      expect(seen).toEqual(["merge mona refs/heads/main"]);
      expect(repo.store.packs().length).toBe(packs);
      expect(repo.refs.resolve("refs/heads/main")).toBe(fx.main);
    });
  });

  it("answers a full repository with the quota error and keeps nothing", async () => {
    const { stub } = await pushed();
    await inRepo(stub, async (repo, state) => {
      const fs = new Dofs(state.storage, { quotaBytes: repo.fs.usage().usedBytes + 64 });
      const store = new ObjectStore(fs, state.storage.sql);
      const refs = new RefStore(fs);
      const r = await new PullMerges({ fs, store, refs }).merge(request("clean", "merge"));
      expect(r).toMatchObject({ merged: false, reason: "quota", message: "repository quota exceeded" });
      expect(refs.resolve("refs/heads/main")).toBe(fx.main);
      expect(fs.exists(INCOMING_DIR) ? fs.readdir(INCOMING_DIR) : []).toEqual([]);
    });
  });
});

describe("ref transaction", () => {
  it("stores new objects and moves refs together, or neither", async () => {
    const { stub } = await pushed();
    await inRepo(stub, async (repo) => {
      const ctx = { fs: repo.fs, store: repo.store, refs: repo.refs };
      const tree = repo.store.commit(fx.main).tree;
      const commit = enc(
        `tree ${tree}\nparent ${fx.main}\nauthor A <a@example.com> 1 +0000\ncommitter A <a@example.com> 1 +0000\n\nDirect\n`,
      );
      const packs = repo.store.packs().length;
      const lost = await commitObjects(ctx, [{ type: "commit", data: commit }], {
        updates: [{ name: "refs/heads/main", old: fx.branches.clean.oid, new: ZERO }],
        atomic: true,
        actor: { via: "api" },
      });
      expect(lost.kind).toBe("refused");
      expect(repo.store.packs().length).toBe(packs);
      const won = await commitObjects(ctx, [{ type: "commit", data: commit }], {
        updates: [{ name: "refs/heads/direct", old: ZERO, new: hashObject("commit", commit) }],
        atomic: true,
        actor: { via: "api" },
      });
      expect(won.kind).toBe("applied");
      expect(repo.store.packs().length).toBe(packs + 1);
      expect(repo.refs.resolve("refs/heads/direct")).toBe(hashObject("commit", commit));
      expect(repo.store.commit(hashObject("commit", commit)).parents).toEqual([fx.main]);
    });
  });
});

describe("pushes move refs through the same transaction", () => {
  it("ask the ref policy about each ref: git gets ng for the refused ones, the rest apply", async () => {
    const name = `pulls/r${Date.now().toString(36)}${n++}`;
    const stub = env.REPO.getByName(name);
    await stub.init();
    await inRepo(stub, async (repo) => {
      const seen: string[] = [];
      const ctx = {
        fs: repo.fs,
        store: repo.store,
        refs: repo.refs,
        user: "alice",
        policy: {
          refuse(update: { name: string }, actor: { via: string; user?: string }) {
            seen.push(`${actor.via} ${actor.user} ${update.name}`);
            return update.name === "refs/heads/main" ? "protected branch: changes must be made through a pull request" : null;
          },
        },
      };
      const commands = [`${ZERO} ${fx.main} refs/heads/main`, `${ZERO} ${fx.branches.clean.oid} refs/heads/clean`];
      const lines = commands.map((c, i) => pktLine(i === 0 ? `${c}\0report-status\n` : `${c}\n`));
      const body = new Blob([concatBytes([...lines, enc("0000"), fromBase64(fx.pack)])]).stream();
      const reader = new PktReader(body);
      const started = await beginPush(ctx, reader);
      if (!("upload" in started)) throw new Error("expected a pack to upload");
      await started.upload.receive(reader.rest());
      const done = started.upload.complete(started.push);
      if (!("job" in done)) throw new Error("expected an indexing job");
      const report = dec(await done.job.finish());
      expect(report).toContain("ng refs/heads/main protected branch: changes must be made through a pull request");
      expect(report).toContain("ok refs/heads/clean");
      expect(seen).toEqual(["push alice refs/heads/main", "push alice refs/heads/clean"]);
      expect(Object.fromEntries(repo.refs.list())).toEqual({ "refs/heads/clean": fx.branches.clean.oid });
    });
  });
});

describe("a repository after merges", () => {
  it("passes git fsck --strict, and C git sees the merges as we made them", async () => {
    const { url, stub } = await pushed();
    const merged: Record<string, string> = {};
    for (const [branch, method] of [
      ["clean", "merge"],
      ["merges", "squash"],
      ["unicode", "rebase"],
    ] as const) {
      const r = await stub.mergePull(request(branch, method));
      if (!r.merged) throw new Error(`${branch}: ${r.message}`);
      merged[branch] = r.sha;
    }
    const [fsck, verify, mergeTree, log] = await exportAndRun(url, [
      ["fsck", "--strict", "--full", "--no-dangling"],
      ["rev-parse", "refs/heads/main"],
      ["merge-tree", "--write-tree", fx.main, fx.branches.clean.oid],
      ["log", "--format=%H %P%n%an <%ae>|%cn <%ce>|%s", "-n", "4", "refs/heads/main"],
    ]);
    expect(fsck.code, fsck.stderr + fsck.stdout).toBe(0);
    expect(verify.stdout.trim()).toBe(merged.unicode);
    expect(mergeTree.stdout.trim()).toBe(fx.branches.clean.merge.tree);
    const lines = log.stdout.trim().split("\n");
    expect(lines[1]).toBe("Zoë Ünïcode <zoe@example.com>|Mona Merger <mona@example.com>|Mehr");
    expect(lines[5]).toBe("Mona Merger <mona@example.com>|Mona Merger <mona@example.com>|The merges change (#7)");
    expect(lines[7]).toBe("Mona Merger <mona@example.com>|Mona Merger <mona@example.com>|Merge pull request #7 from alice/clean");
    expect(lines[6].split(" ")).toEqual([merged.clean, fx.main, fx.branches.clean.oid]);
  });
});

describe("closing keywords", () => {
  it("finds the issues GitHub would close", () => {
    expect(closesIssues("Fixes #1")).toEqual([1]);
    expect(closesIssues("fix #2, FIXED #3; Closes: #4\nresolves #5 and Resolved #6 close #7 closed #8 resolve #9")).toEqual([
      2, 3, 4, 5, 6, 7, 8, 9,
    ]);
    expect(closesIssues("closes #4 and again closes #4")).toEqual([4]);
    expect(closesIssues("prefixes #3, fixes#4, fixing #5, #6 fixes, fixes #7a, refixes #8")).toEqual([]);
    expect(closesIssues("Fixes octo/repo#9 and fixes other/repo#10", "Octo/Repo")).toEqual([9]);
    expect(closesIssues("Fixes other/repo#10")).toEqual([]);
    expect(closesIssues("Füge Grüße hinzu\n\nFixes #3, closes #4.")).toEqual([3, 4]);
  });
});
