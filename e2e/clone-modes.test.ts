// Shallow and partial clones, fetch details and push details, with the real git CLI
// under protocol v0 and v2.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalServer } from "./server";
import { commitFile, git, gitEnv, gitRun, makeDatedRepo, makeRepo, parseRefs, tempDir } from "./git";
import { packOf, textLines, v2 } from "./raw";

const server = new LocalServer();
let seq = 0;
const newPath = (label: string) => `modes/${label}-${Date.now().toString(36)}-${seq++}`;

let dated: string;
let datedUrl: string;

beforeAll(async () => {
  await server.start();
  await server.signUpAndUse("modes");
  dated = await makeDatedRepo(40);
  datedUrl = `${server.url}/${newPath("dated")}`;
  await git(dated, "push", datedUrl, "main", "--tags");
});
afterAll(() => server.stop());

const count = async (dir: string, rev = "HEAD") => Number((await git(dir, "rev-list", "--count", rev)).trim());

async function fsckOk(dir: string, ...args: string[]) {
  const r = await gitRun(dir, ["fsck", ...args]);
  expect(r.code, r.stderr).toBe(0);
}

for (const version of [0, 2] as const) {
  describe(`protocol v${version}`, () => {
    const P = ["-c", `protocol.version=${version}`];

    describe("shallow", () => {
      it("clones --depth N and deepens, then unshallows", async () => {
        const dir = tempDir();
        await git(dir, ...P, "clone", "-q", "--depth", "1", datedUrl, "c");
        const c = join(dir, "c");
        expect(await count(c)).toBe(1);
        expect(existsSync(join(c, ".git/shallow"))).toBe(true);
        await fsckOk(c);
        await git(c, ...P, "fetch", "-q", "--deepen=4");
        expect(await count(c)).toBe(5);
        await fsckOk(c);
        await git(c, ...P, "fetch", "-q", "--depth=10");
        expect(await count(c)).toBe(10);
        await git(c, ...P, "fetch", "-q", "--unshallow");
        expect(await count(c)).toBe(40);
        expect(existsSync(join(c, ".git/shallow"))).toBe(false);
        await fsckOk(c, "--strict");
      });

      // The same clone from C git's own upload-pack (over a pipe) is the reference.
      for (const option of [
        "--shallow-since=2020-02-01",
        "--shallow-since=2020-01-20 12:00",
        "--shallow-exclude=t29",
        "--shallow-exclude=t9",
      ]) {
        it(`clones ${option} as C git does`, async () => {
          const dir = tempDir();
          await git(dir, ...P, "clone", "-q", option, datedUrl, "c");
          await git(dir, "clone", "-q", "--no-local", option, dated, "ref");
          const c = join(dir, "c");
          expect(await count(c)).toBe(await count(join(dir, "ref")));
          expect(readFileSync(join(c, ".git/shallow"), "utf8")).toBe(readFileSync(join(dir, "ref/.git/shallow"), "utf8"));
          await fsckOk(c);
        });
      }

      it("pushes from a shallow clone", async () => {
        const src = await makeRepo(6);
        const url = `${server.url}/${newPath("shallow-push")}`;
        await git(src, ...P, "push", url, "main");
        const dir = tempDir();
        await git(dir, ...P, "clone", "-q", "--depth", "1", url, "c");
        const tip = await commitFile(join(dir, "c"), "new.txt", "from a shallow clone\n");
        await git(join(dir, "c"), ...P, "push", "origin", "main");
        await git(dir, ...P, "clone", "-q", url, "full");
        expect((await git(join(dir, "full"), "rev-parse", "HEAD")).trim()).toBe(tip);
        expect(await count(join(dir, "full"))).toBe(7);
        await fsckOk(join(dir, "full"), "--strict");
      });
    });

    describe("partial clone", () => {
      it("clones --filter=blob:none and fetches blobs lazily for checkout, log -p and blame", async () => {
        const dir = tempDir();
        await git(dir, ...P, "clone", "-q", "--filter=blob:none", datedUrl, "c");
        const c = join(dir, "c");
        const missing = await git(c, "rev-list", "--objects", "--all", "--missing=print");
        expect(missing.split("\n").filter((l) => l.startsWith("?")).length).toBeGreaterThan(10);
        await git(c, ...P, "checkout", "-q", "HEAD~20");
        expect(readFileSync(join(c, "log.txt"), "utf8").split("\n").length).toBe(21);
        await git(c, ...P, "checkout", "-q", "main");
        const log = await git(c, ...P, "log", "-p", "-3", "--", "log.txt");
        expect(log).toContain("+line 39");
        const blame = await git(c, ...P, "blame", "log.txt");
        expect(blame.split("\n").filter(Boolean).length).toBe(40);
        await fsckOk(c);
      });

      it("clones --filter=blob:limit and keeps small blobs", async () => {
        const src = await makeRepo(2);
        writeFileSync(join(src, "big.bin"), Buffer.alloc(50_000, 7));
        await commitFile(src, "small.txt", "small\n");
        const url = `${server.url}/${newPath("limit")}`;
        await git(src, ...P, "push", url, "main");
        const dir = tempDir();
        await git(dir, ...P, "clone", "-q", "--no-checkout", "--filter=blob:limit=1k", url, "c");
        const c = join(dir, "c");
        const missing = (await git(c, "rev-list", "--objects", "--all", "--missing=print")).split("\n").filter((l) => l.startsWith("?"));
        const bigOid = (await git(src, "rev-parse", "HEAD:big.bin")).trim();
        const smallOid = (await git(src, "rev-parse", "HEAD:small.txt")).trim();
        expect(missing).toContain(`?${bigOid}`);
        expect(missing).not.toContain(`?${smallOid}`);
        await git(c, ...P, "checkout", "-q", "main");
        expect(statSync(join(c, "big.bin")).size).toBe(50_000);
        await fsckOk(c);
      });

      it("clones --filter=tree:0 and fetches trees on demand", async () => {
        const dir = tempDir();
        await git(dir, ...P, "clone", "-q", "--filter=tree:0", datedUrl, "c");
        const c = join(dir, "c");
        expect(readFileSync(join(c, "f0.txt"), "utf8")).toBe("version 35\n");
        await git(c, ...P, "log", "-q", "--stat", "-2");
        await fsckOk(c);
      });
    });

    describe("fetch details", () => {
      it("fetches a commit by id that no ref points at (allow-reachable-sha1-in-want)", async () => {
        const dir = tempDir();
        await git(dir, ...P, "clone", "-q", "--depth", "1", datedUrl, "c");
        const target = (await git(dated, "rev-parse", "HEAD~7")).trim();
        await git(join(dir, "c"), ...P, "fetch", "-q", "--depth", "1", "origin", target);
        expect((await git(join(dir, "c"), "cat-file", "-t", target)).trim()).toBe("commit");
      });

      it("sends a small thin pack for an incremental fetch, and follows new tags", async () => {
        const src = await makeRepo(3);
        writeFileSync(join(src, "big.txt"), Array.from({ length: 5000 }, (_, i) => `big line ${i}`).join("\n"));
        await commitFile(src, "x.txt", "x\n");
        const url = `${server.url}/${newPath("thin")}`;
        await git(src, ...P, "push", url, "main");
        const dir = tempDir();
        await git(dir, ...P, "clone", "-q", url, "c");
        const c = join(dir, "c");
        // One new commit that changes one line of a large file.
        writeFileSync(join(src, "big.txt"), readFileSync(join(src, "big.txt"), "utf8").replace("big line 2500", "changed"));
        await commitFile(src, "y.txt", "y\n");
        await git(src, "tag", "-a", "v9", "-m", "nine");
        // Push the commit first so the server stores the big file as a delta it can reuse.
        await git(src, ...P, "push", url, "main", "v9");
        const trace = join(dir, "received.pack");
        const r = await gitRun(c, [...P, "fetch", "origin"], { GIT_TRACE_PACKFILE: trace });
        expect(r.code, r.stderr).toBe(0);
        const size = statSync(trace).size;
        expect(size).toBeLessThan(4096);
        // A thin pack cannot be indexed on its own: its delta base is on the client.
        const plain = execFileSync("sh", ["-c", `git index-pack --stdin < ${trace} 2>&1 || true`], { cwd: c, env: gitEnv }).toString();
        expect(plain).toMatch(/unresolved deltas|pack has .* unresolved/);
        // The new tag arrives with the fetch of main (include-tag / auto-follow).
        expect(await git(c, "tag", "-l", "v9")).toContain("v9");
        await fsckOk(c, "--strict");
      });
    });

    describe("push details", () => {
      it("passes push options to server-side hooks", async () => {
        const src = await makeRepo(2);
        const path = newPath("options");
        const url = `${server.url}/${path}`;
        await git(src, ...P, "push", url, "main");
        await commitFile(src, "o.txt", "o\n");
        await git(src, ...P, "push", "-o", "ci.skip", "-o", "reviewer=bob", url, "main");
        const log = (await (await server.fetch(`/api/repos/${path}/pushes`)).json()) as { pushOptions: string[]; commands: unknown[] }[];
        expect(log[0].pushOptions).toEqual(["ci.skip", "reviewer=bob"]);
        expect(log[0].commands[0]).toMatchObject({ ref: "refs/heads/main", ok: true });
      });

      it("accepts pushes with an empty pack: a new ref at an existing commit, and a delete", async () => {
        const src = await makeRepo(3);
        const url = `${server.url}/${newPath("empty-pack")}`;
        await git(src, ...P, "push", url, "main");
        await git(src, ...P, "push", url, "main:refs/heads/copy", "HEAD~1:refs/heads/older");
        let refs = parseRefs(await git(src, ...P, "ls-remote", url));
        expect(refs.get("refs/heads/copy")).toBe(refs.get("refs/heads/main"));
        expect(refs.get("refs/heads/older")).toBe((await git(src, "rev-parse", "HEAD~1")).trim());
        await git(src, ...P, "push", url, ":refs/heads/copy");
        refs = parseRefs(await git(src, ...P, "ls-remote", url));
        expect(refs.has("refs/heads/copy")).toBe(false);
      });
    });
  });
}

describe("protocol v2 details", () => {
  it("object-info reports sizes as git cat-file does", async () => {
    const blob = (await git(dated, "rev-parse", "HEAD:log.txt")).trim();
    const commit = (await git(dated, "rev-parse", "HEAD")).trim();
    const lines = textLines(await v2(datedUrl, "object-info", ["size", `oid ${blob}`, `oid ${commit}`]));
    expect(lines).toEqual([
      "size",
      `${blob} ${(await git(dated, "cat-file", "-s", blob)).trim()}`,
      `${commit} ${(await git(dated, "cat-file", "-s", commit)).trim()}`,
      "0000",
    ]);
  });

  it("wait-for-done holds the pack until the client says done", async () => {
    const head = (await git(dated, "rev-parse", "HEAD")).trim();
    const old = (await git(dated, "rev-parse", "HEAD~5")).trim();
    const waiting = textLines(await v2(datedUrl, "fetch", [`want ${head}`, `have ${old}`, "wait-for-done"]));
    expect(waiting).toEqual(["acknowledgments", `ACK ${old}`, "0000"]);
    const ready = textLines(await v2(datedUrl, "fetch", [`want ${head}`, `have ${old}`]));
    expect(ready.slice(0, 4)).toEqual(["acknowledgments", `ACK ${old}`, "ready", "0001"]);
    expect(ready).toContain("packfile");
  });

  it("include-tag adds annotated tags that point at sent commits", async () => {
    const tagged = (await git(dated, "rev-parse", "t39^{commit}")).trim();
    const tag = (await git(dated, "rev-parse", "t39")).trim();
    const dir = tempDir();
    for (const include of [false, true]) {
      const res = await v2(datedUrl, "fetch", [`want ${tagged}`, "ofs-delta", "no-progress", ...(include ? ["include-tag"] : []), "done"]);
      const pack = join(dir, `p${include}.pack`);
      writeFileSync(pack, packOf(res));
      execFileSync("git", ["index-pack", pack], { cwd: dir, env: gitEnv });
      const listing = execFileSync("git", ["verify-pack", "-v", pack.replace(/\.pack$/, ".idx")], { cwd: dir, env: gitEnv }).toString();
      expect(listing.includes(`${tag} tag`)).toBe(include);
    }
  });
});
