// The git server core against the real git CLI and the real local server.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalServer } from "./server";
import { commitFile, git, gitEnv, gitRun, gitSync, makeRepo, parseRefs, tempDir } from "./git";

const server = new LocalServer();
let seq = 0;
const newRepoPath = (label: string) => `e2e/${label}-${Date.now().toString(36)}-${seq++}`;

beforeAll(async () => {
  await server.start();
  await server.signUpAndUse("e2e");
});
afterAll(() => server.stop());

/** A clone must pass fsck --strict and have exactly the source's refs. */
async function verifyClone(clone: string, source: string, url: string, fsckArgs: string[] = ["--strict"]) {
  const fsck = await gitRun(clone, ["fsck", ...fsckArgs]);
  expect(fsck.code, fsck.stderr).toBe(0);
  const remote = parseRefs(await git(clone, "ls-remote", url));
  remote.delete("HEAD");
  for (const [name] of remote) if (name.endsWith("^{}")) remote.delete(name);
  const local = parseRefs(await git(source, "show-ref"));
  for (const [name] of local) if (name.startsWith("refs/remotes/")) local.delete(name);
  expect(Object.fromEntries(remote)).toEqual(Object.fromEntries(local));
}

for (const version of [0, 2] as const) {
  describe(`protocol v${version}`, () => {
    const P = ["-c", `protocol.version=${version}`];

    it("clones an empty repository", async () => {
      const path = newRepoPath("empty");
      const created = await server.fetch(`/api/repos/${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      expect(created.status).toBe(201);
      const dir = tempDir();
      const r = await gitRun(dir, [...P, "clone", `${server.url}/${path}.git`, "c"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain("You appear to have cloned an empty repository");
      const clone = join(dir, "c");
      // And the first push from that clone works, setting HEAD to its branch.
      await commitFile(clone, "README", "hello\n");
      await git(clone, ...P, "push", "origin", "HEAD:refs/heads/main");
      const head = await git(dir, ...P, "ls-remote", "--symref", `${server.url}/${path}`, "HEAD");
      expect(head).toContain("ref: refs/heads/main\tHEAD");
    });

    it("creates a repository on first push and points HEAD at the pushed branch", async () => {
      const src = await makeRepo(4, "master");
      const url = `${server.url}/${newRepoPath("first")}`;
      await git(src, ...P, "push", url, "master");
      const head = await git(src, ...P, "ls-remote", "--symref", url, "HEAD");
      expect(head).toContain("ref: refs/heads/master\tHEAD");
      const dir = tempDir();
      await git(dir, ...P, "clone", url, "c");
      expect((await git(join(dir, "c"), "rev-parse", "--abbrev-ref", "HEAD")).trim()).toBe("master");
      await verifyClone(join(dir, "c"), src, url);
    });

    it("creates, updates, force-pushes and deletes branches and tags", async () => {
      const src = await makeRepo(3);
      const url = `${server.url}/${newRepoPath("refs")}`;
      await git(src, "branch", "feature");
      await git(src, "tag", "light");
      await git(src, "tag", "-a", "v1.0", "-m", "release 1.0");
      await git(src, ...P, "push", url, "main", "feature", "light", "v1.0");
      let dir = tempDir();
      await git(dir, ...P, "clone", url, "c");
      await verifyClone(join(dir, "c"), src, url);

      // Update (fast-forward), then rewrite history and force-push.
      await commitFile(src, "more.txt", "more\n");
      await git(src, ...P, "push", url, "main");
      await git(src, "checkout", "-q", "feature");
      await commitFile(src, "f.txt", "one\n");
      await git(src, ...P, "push", url, "feature");
      await git(src, "reset", "-q", "--hard", "HEAD~1");
      await commitFile(src, "f.txt", "rewritten\n");
      const nonFf = await gitRun(src, [...P, "push", url, "feature"]);
      expect(nonFf.code).not.toBe(0);
      expect(nonFf.stderr).toMatch(/rejected|non-fast-forward|fetch first/);
      await git(src, ...P, "push", "--force", url, "feature");
      await git(src, "checkout", "-q", "main");

      // Delete a branch and a tag; add an annotated tag on the new commit.
      await git(src, ...P, "push", url, ":refs/tags/light");
      await git(src, "tag", "-d", "light");
      await git(src, "tag", "-a", "v2.0", "-m", "release 2.0");
      await git(src, ...P, "push", url, "v2.0");
      await git(src, ...P, "push", url, "--delete", "feature");
      await git(src, "branch", "-D", "feature");

      dir = tempDir();
      await git(dir, ...P, "clone", url, "c");
      await verifyClone(join(dir, "c"), src, url);
      const tags = await git(join(dir, "c"), "tag", "-l");
      expect(tags.split("\n").filter(Boolean)).toEqual(["v1.0", "v2.0"]);
      expect((await git(join(dir, "c"), "cat-file", "-t", "v2.0")).trim()).toBe("tag");
    });

    it("fetches incrementally into an existing clone", async () => {
      const src = await makeRepo(6);
      const url = `${server.url}/${newRepoPath("fetch")}`;
      await git(src, ...P, "push", url, "main");
      const dir = tempDir();
      await git(dir, ...P, "clone", url, "c");
      const clone = join(dir, "c");
      for (let i = 0; i < 3; i++) {
        await commitFile(src, "data.txt", `round ${i}\n`.repeat(50));
        await git(src, ...P, "push", url, "main");
        await git(clone, ...P, "pull", "-q", "--ff-only");
      }
      await verifyClone(clone, src, url);
      expect((await git(clone, "rev-parse", "HEAD")).trim()).toBe((await git(src, "rev-parse", "HEAD")).trim());
    });

    it("applies atomic pushes all-or-nothing", async () => {
      const src = await makeRepo(2);
      const url = `${server.url}/${newRepoPath("atomic")}`;
      await git(src, "branch", "a");
      await git(src, ...P, "push", url, "main", "a");
      const before = await git(src, ...P, "ls-remote", url);
      // refs/heads/a/b cannot coexist with refs/heads/a: the server refuses it, so an
      // atomic push must leave main alone too.
      await commitFile(src, "x.txt", "x\n");
      const r = await gitRun(src, [...P, "push", "--atomic", url, "main", "HEAD:refs/heads/a/b"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/atomic|cannot lock ref/);
      expect(await git(src, ...P, "ls-remote", url)).toBe(before);
      // Without --atomic, main goes through and only the conflicting ref fails.
      const partial = await gitRun(src, [...P, "push", url, "main", "HEAD:refs/heads/a/b"]);
      expect(partial.code).not.toBe(0);
      const after = parseRefs(await git(src, ...P, "ls-remote", url));
      expect(after.get("refs/heads/main")).toBe((await git(src, "rev-parse", "HEAD")).trim());
      expect(after.has("refs/heads/a/b")).toBe(false);
    });

    it("lets exactly one of two racing pushes to a ref win", async () => {
      const src = await makeRepo(2);
      const url = `${server.url}/${newRepoPath("race")}`;
      await git(src, ...P, "push", url, "main");
      const dir = tempDir();
      await git(dir, ...P, "clone", "-q", url, "one");
      await git(dir, ...P, "clone", "-q", url, "two");
      const one = await commitFile(join(dir, "one"), "r.txt", "one\n");
      const two = await commitFile(join(dir, "two"), "r.txt", "two\n");
      const results = await Promise.all([
        gitRun(join(dir, "one"), [...P, "push", "origin", "main"]),
        gitRun(join(dir, "two"), [...P, "push", "origin", "main"]),
      ]);
      expect(results.filter((r) => r.code === 0).length).toBe(1);
      const loser = results.find((r) => r.code !== 0)!;
      expect(loser.stderr).toMatch(/rejected|failed to update ref|stale/);
      const tip = parseRefs(await git(dir, ...P, "ls-remote", url)).get("refs/heads/main");
      expect([one, two]).toContain(tip);
    });
  });
}

describe("receive-pack over raw HTTP", () => {
  const ZERO = "0".repeat(40);
  const pkt = (s: string) => (s.length + 4).toString(16).padStart(4, "0") + s;

  async function post(path: string, commands: string[], pack: Buffer) {
    const head = commands.map((c, i) => pkt(i === 0 ? `${c}\0report-status side-band-64k\n` : `${c}\n`)).join("") + "0000";
    const res = await server.fetch(`/${path}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request" },
      body: Buffer.concat([Buffer.from(head), pack]),
    });
    return Buffer.from(await res.arrayBuffer()).toString("latin1");
  }

  async function seeded() {
    const src = await makeRepo(3);
    const path = newRepoPath("raw");
    await git(src, "push", `${server.url}/${path}`, "main");
    return { src, path, before: await git(src, "ls-remote", `${server.url}/${path}`) };
  }

  it("refuses a corrupt or truncated pack with an unpack error and changes nothing", async () => {
    const { src, path, before } = await seeded();
    const old = (await git(src, "rev-parse", "HEAD")).trim();
    const next = await commitFile(src, "n.txt", "next\n");
    const pack = execFileSync("git", ["pack-objects", "--revs", "--stdout", "--thin"], {
      cwd: src,
      env: gitEnv,
      input: `${next}\n^${old}\n`,
    });
    const corrupt = Buffer.from(pack);
    corrupt[Math.floor(corrupt.length / 2)] ^= 0xff;
    for (const body of [corrupt, pack.subarray(0, pack.length - 30)]) {
      const out = await post(path, [`${old} ${next} refs/heads/main`], body);
      expect(out).toMatch(/unpack (?!ok)/);
      expect(out).toContain("ng refs/heads/main unpacker error");
      expect(await git(src, "ls-remote", `${server.url}/${path}`)).toBe(before);
    }
    // The same pack, whole, goes through: it is thin, and completed from stored objects.
    const ok = await post(path, [`${old} ${next} refs/heads/main`], pack);
    expect(ok).toContain("unpack ok");
    expect(ok).toContain("ok refs/heads/main");
  });

  it("refuses refs to missing objects with a per-ref reason", async () => {
    const { src, path, before } = await seeded();
    const out = await post(path, [`${ZERO} ${"3".repeat(40)} refs/heads/ghost`], Buffer.alloc(0));
    expect(out).toContain("ng refs/heads/ghost missing necessary objects");
    expect(await git(src, "ls-remote", `${server.url}/${path}`)).toBe(before);
  });

  it("lets exactly one of two racing compare-and-swaps win", async () => {
    const { src, path } = await seeded();
    const old = (await git(src, "rev-parse", "HEAD")).trim();
    const a = (await git(src, "rev-parse", "HEAD~1")).trim();
    const b = (await git(src, "rev-parse", "HEAD~2")).trim();
    const empty = execFileSync("git", ["pack-objects", "--stdout"], { cwd: src, env: gitEnv, input: "" });
    const outs = await Promise.all([
      post(path, [`${old} ${a} refs/heads/main`], empty),
      post(path, [`${old} ${b} refs/heads/main`], empty),
    ]);
    expect(outs.filter((o) => o.includes("ok refs/heads/main")).length).toBe(1);
    expect(outs.filter((o) => o.includes("ng refs/heads/main")).length).toBe(1);
  });
});

describe("persistence, export and pack size", () => {
  it("keeps repositories across a server restart", async () => {
    const src = await makeRepo(5);
    const path = newRepoPath("persist");
    await git(src, "tag", "-a", "v1", "-m", "v1");
    await git(src, "push", `${server.url}/${path}`, "main", "v1");
    await server.stop();
    await server.start();
    for (const version of [0, 2]) {
      const dir = tempDir();
      await git(dir, "-c", `protocol.version=${version}`, "clone", `${server.url}/${path}`, "c");
      await verifyClone(join(dir, "c"), src, `${server.url}/${path}`);
    }
  });

  it("exports a bare repository that C git reads and fsck --strict passes", async () => {
    const src = await makeRepo(8);
    const path = newRepoPath("export");
    await git(src, "branch", "side", "HEAD~3");
    await git(src, "tag", "-a", "v1", "-m", "v1");
    await git(src, "push", `${server.url}/${path}`, "main", "side", "v1");
    await commitFile(src, "later.txt", "later\n");
    await git(src, "push", `${server.url}/${path}`, "main");
    const res = await server.fetch(`/${path}/export.tar`);
    expect(res.status).toBe(200);
    const dir = tempDir();
    writeFileSync(join(dir, "repo.tar"), Buffer.from(await res.arrayBuffer()));
    execFileSync("tar", ["-xf", "repo.tar"], { cwd: dir });
    const name = path.split("/")[1] + ".git";
    const bare = join(dir, name);
    const fsck = await gitRun(bare, ["fsck", "--strict", "--full"]);
    expect(fsck.code, fsck.stderr).toBe(0);
    for (const f of readdirSync(join(bare, "objects/pack")).filter((n) => n.endsWith(".pack"))) {
      const verify = await gitRun(bare, ["verify-pack", join("objects/pack", f)]);
      expect(verify.code, verify.stderr).toBe(0);
    }
    const exported = parseRefs(gitSync(bare, "show-ref"));
    const local = parseRefs(gitSync(src, "show-ref"));
    expect(Object.fromEntries(exported)).toEqual(Object.fromEntries(local));
    expect(gitSync(bare, "symbolic-ref", "HEAD").trim()).toBe("refs/heads/main");
  });

  it("sends a full clone within 1.1x the pack bytes of C git's upload-pack", async () => {
    const src = await makeRepo(40);
    await git(src, "gc", "-q");
    const path = newRepoPath("size");
    await git(src, "push", `${server.url}/${path}`, "main");
    const packBytes = (repo: string) =>
      readdirSync(join(repo, ".git/objects/pack"))
        .filter((n) => n.endsWith(".pack"))
        .reduce((sum, n) => sum + statSync(join(repo, ".git/objects/pack", n)).size, 0);
    const dir = tempDir();
    await git(dir, "clone", "-q", `${server.url}/${path}`, "ours");
    await git(dir, "clone", "-q", "--no-local", src, "cgit");
    const ours = packBytes(join(dir, "ours"));
    const theirs = packBytes(join(dir, "cgit"));
    expect(ours / theirs).toBeLessThanOrEqual(1.1);
  });
});

describe("large pushes and clones in steps", () => {
  // A server that receives push bodies in 4 KiB segments, indexes every push in slices of
  // a few objects, and produces clone answers 8 KiB per invocation.
  const sliced = new LocalServer();
  beforeAll(async () => {
    await sliced.start({
      vars: { GITFLARE_SLICE_MIN_BYTES: "1", GITFLARE_SLICE_UNITS: "20", GITFLARE_SEGMENT_BYTES: "4096", GITFLARE_STEP_BYTES: "8192" },
    });
    await sliced.signUpAndUse("e2e");
  });
  afterAll(() => sliced.stop());

  it("pushes with progress from every slice, then clones a sound copy", async () => {
    const src = await makeRepo(30);
    const url = `${sliced.url}/e2e/sliced.git`;
    const push = await gitRun(src, ["push", "--progress", url, "main"]);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stderr).toMatch(/remote: (Indexing objects|Resolving deltas): \d+%/);
    const dir = tempDir();
    await git(dir, "clone", "-q", url, "c");
    await verifyClone(join(dir, "c"), src, url);
    expect(sliced.output()).toMatch(/receive-pack: upload \d+ segments, longest \d+ ms \(all \d+ ms\), \d+ index slices, longest \d+ ms/);
    expect(sliced.output()).toMatch(/upload-pack: first part \d+ ms, \d+ steps, longest \d+ ms/);
  });

  it("takes a chunked push body in segments and serves v0 and v2 clones in steps", async () => {
    const src = await makeRepo(40);
    // Incompressible content, so the pack spans several side-band frames and steps.
    await commitFile(src, "noise.bin", randomBytes(300_000).toString("base64"));
    const url = `${sliced.url}/e2e/chunked.git`;
    // A post buffer smaller than the body makes git send it chunked, with no length.
    const push = await gitRun(src, ["-c", "http.postBuffer=1024", "push", url, "main"]);
    expect(push.code, push.stderr).toBe(0);
    const segments = [...sliced.output().matchAll(/receive-pack: upload (\d+) segments/g)].map((m) => Number(m[1]));
    expect(Math.max(...segments)).toBeGreaterThan(2);
    for (const protocol of ["0", "2"]) {
      const dir = tempDir();
      await git(dir, "-c", `protocol.version=${protocol}`, "clone", "-q", url, "c");
      await verifyClone(join(dir, "c"), src, url);
    }
    // The last two answers are the two clones'.
    const steps = [...sliced.output().matchAll(/upload-pack: first part \d+ ms, (\d+) steps/g)].map((m) => Number(m[1])).slice(-2);
    expect(steps.length).toBe(2);
    expect(Math.min(...steps)).toBeGreaterThan(2);
  });
});
