// Clones sent from R2 by the Worker: once maintenance has copied the pack that covers the
// refs to R2, a full clone is planned by the repository's object in one call and its
// bytes go from R2 through the Worker. The client must get what C git would send: the
// stored pack as it is, or with the objects pushed since appended under a new header and
// trailer, every object once; anything else (a fetch with haves, a shallow clone) is
// answered by the object as before.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, gitAuthEnv, signUp } from "./accounts";
import { commitFile, git, gitRun, makeDatedRepo, tempDir } from "./git";
import { LocalServer } from "./server";

const server = new LocalServer();
let admin: Account;
let seq = 0;

beforeAll(async () => {
  // Every covering pack is copied to R2, however small: these repositories are.
  await server.start({ vars: { GITFLARE_R2_SERVE_MIN_BYTES: "1" } });
  // The first account is the site admin, who may run maintenance.
  admin = await signUp(server.url, "from-r2");
});
afterAll(() => server.stop());

const newRepo = (label: string) => `from-r2/${label}-${Date.now().toString(36)}-${seq++}`;
const urlOf = (full: string) => `${server.url}/${full}.git`;

async function run(dir: string, ...args: string[]): Promise<string> {
  const r = await gitRun(dir, args, gitAuthEnv(admin.auth));
  if (r.code !== 0) throw new Error(`git ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

/** Runs the repository's maintenance until it has nothing left to do. */
async function maintainUntilDone(full: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${server.url}/api/repos/${full}/maintenance`, {
      method: "POST",
      headers: { Authorization: admin.auth, "Content-Type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    if (!((await res.json()) as { more: boolean }).more) return;
  }
  throw new Error("maintenance never finished");
}

async function r2CopyBytes(full: string): Promise<number> {
  const res = await fetch(`${server.url}/api/repos/${full}/storage`, { headers: { Authorization: admin.auth } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { files: { r2_copy_bytes: number } }).files.r2_copy_bytes;
}

/** Objects reachable from every ref, as C git lists them. */
async function reachable(dir: string): Promise<string[]> {
  return (await git(dir, "rev-list", "--objects", "--all"))
    .split("\n")
    .filter(Boolean)
    .map((l) => l.slice(0, 40))
    .sort();
}

/** The received pack's entries, as `verify-pack` lists them: an object sent twice shows twice. */
async function packEntries(bare: string): Promise<string[]> {
  const [idx] = readdirSync(join(bare, "objects", "pack")).filter((f) => f.endsWith(".idx"));
  return (await git(bare, "verify-pack", "-v", join("objects", "pack", idx)))
    .split("\n")
    .filter((l) => /^[0-9a-f]{40} /.test(l))
    .map((l) => l.slice(0, 40))
    .sort();
}

/** Clones with progress, checks the clone with fsck; its directory, stderr and the server's log of it. */
async function cloneChecked(full: string, args: string[]): Promise<{ dir: string; stderr: string; log: string }> {
  const root = tempDir("from-r2-clone-");
  const mark = server.mark();
  const r = await gitRun(root, [...args, "--progress", urlOf(full), "c.git"], gitAuthEnv(admin.auth));
  expect(r.code, `${r.stderr}\n${server.outputSince(mark)}`).toBe(0);
  const dir = join(root, "c.git");
  const fsck = await gitRun(dir, ["fsck", "--strict", "--no-progress"]);
  expect(fsck.code, fsck.stderr).toBe(0);
  expect(fsck.stdout + fsck.stderr).not.toMatch(/missing|broken/);
  // The Worker logs when the answer has gone out; give its line a moment to arrive.
  await new Promise((r) => setTimeout(r, 300));
  return { dir, stderr: r.stderr, log: server.outputSince(mark) };
}

describe("clones sent from R2", () => {
  it("sends the stored pack from R2, then with the objects of later pushes appended", async () => {
    const src = await makeDatedRepo(40);
    const full = newRepo("clone");
    await run(src, "push", urlOf(full), "main", "--tags");
    // Before maintenance has copied it, the object sends the pack itself.
    const before = await cloneChecked(full, ["-c", "protocol.version=2", "clone", "--bare"]);
    expect(before.log).not.toMatch(/from R2/);
    await maintainUntilDone(full);
    expect(await r2CopyBytes(full)).toBeGreaterThan(0);

    for (const version of [2, 0]) {
      const { dir, stderr, log } = await cloneChecked(full, ["-c", `protocol.version=${version}`, "clone", "--bare"]);
      expect(log).toMatch(/upload-pack: from R2, planned in one invocation/);
      expect(stderr).toMatch(/pack-reused [1-9]/);
      expect(await packEntries(dir)).toEqual(await reachable(src));
    }

    // Small pushes, no maintenance between: thin packs, a new branch, an annotated tag.
    for (let i = 0; i < 8; i++) {
      await commitFile(src, `f${i % 3}.txt`, `change ${i}\n`.repeat(40 + i));
      await run(src, "push", urlOf(full), "main");
    }
    await git(src, "checkout", "-q", "-b", "side");
    await commitFile(src, "side.txt", "on the side\n");
    await git(src, "tag", "-a", "-m", "a tag", "v-side");
    await run(src, "push", urlOf(full), "side", "v-side");
    await git(src, "checkout", "-q", "main");

    for (const version of [2, 0]) {
      const { dir, stderr, log } = await cloneChecked(full, ["-c", `protocol.version=${version}`, "clone", "--bare"]);
      expect(log).toMatch(/upload-pack: from R2, planned in one invocation/);
      expect(stderr).toMatch(/pack-reused [1-9]/);
      // Exactly C git's set, each object once: the appended objects and the stored pack agree.
      const expected = await reachable(src);
      expect(await packEntries(dir)).toEqual(expected);
      expect(await reachable(dir)).toEqual(expected);
    }
    // A clone without side band gets the same pack unframed.
    const plain = await cloneChecked(full, ["-c", "protocol.version=0", "-c", "fetch.unpackLimit=1", "clone", "--bare", "--no-progress"]);
    expect(plain.log).toMatch(/from R2/);
    expect(await reachable(plain.dir)).toEqual(await reachable(src));
  });

  it("answers fetches with haves, shallow clones and moved refs from the object, correctly", async () => {
    const src = await makeDatedRepo(30);
    const full = newRepo("others");
    await run(src, "push", urlOf(full), "main", "--tags");
    await maintainUntilDone(full);
    expect(await r2CopyBytes(full)).toBeGreaterThan(0);

    const shallow = tempDir("from-r2-shallow-");
    const mark = server.mark();
    await run(shallow, "clone", "-q", "--depth", "1", "--single-branch", urlOf(full), "s");
    expect((await git(join(shallow, "s"), "rev-list", "--count", "HEAD")).trim()).toBe("1");

    const { dir } = await cloneChecked(full, ["clone", "--bare"]);
    await commitFile(src, "more.txt", "more\n");
    await run(src, "push", urlOf(full), "main");
    await run(dir, "fetch", "-q", "origin", "+refs/heads/*:refs/heads/*");
    expect(await reachable(dir)).toEqual(await reachable(src));
    await new Promise((r) => setTimeout(r, 300));
    // The shallow clone and the fetch walked in the object; only the full clone went from R2.
    expect(server.outputSince(mark).match(/from R2/g)?.length).toBe(1);

    // A branch deleted since the copy: the pack in R2 holds its commits, which must no
    // longer be sent, so the clone walks in the object instead.
    const src2 = await makeDatedRepo(10);
    const full2 = newRepo("deleted");
    await git(src2, "checkout", "-q", "-b", "secret");
    await commitFile(src2, "secret.txt", "pushed by mistake\n");
    const secret = (await git(src2, "rev-parse", "HEAD")).trim();
    await git(src2, "checkout", "-q", "main");
    await run(src2, "push", urlOf(full2), "main", "secret", "--tags");
    await maintainUntilDone(full2);
    expect(await r2CopyBytes(full2)).toBeGreaterThan(0);
    await run(src2, "push", urlOf(full2), ":secret");
    await git(src2, "branch", "-D", "secret");
    const after = await cloneChecked(full2, ["clone", "--bare"]);
    expect(after.log).not.toMatch(/from R2/);
    expect((await gitRun(after.dir, ["cat-file", "-e", secret])).code).not.toBe(0);
    expect(await reachable(after.dir)).toEqual(await reachable(src2));
  });
});
