// Git LFS with the real git-lfs client against the real local server: track *.bin, push
// three objects (one over 100 MB, streamed through the Worker into R2), clone elsewhere
// and get identical files, lock, list and unlock, a read-only token cannot upload, a
// wrong size or SHA-256 is refused, and the file's web page shows the real file. A second
// server with a small quota refuses a push past it.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, basic, e2eAuth, gitAuthEnv, makeToken } from "./accounts";
import { git, gitRun, tempDir } from "./git";
import { gitLfsPath } from "./git-lfs";
import { LocalServer } from "./server";

const server = new LocalServer();
const LFS = "application/vnd.git-lfs+json";
let account: Account;
let PATH: string;
let src: string;
let remote: string;
const hashes = new Map<string, string>();

const lfsGit = (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) => gitRun(cwd, args, { PATH, ...env });

/**
 * git configuration that answers credentials from a helper, as people set it up, instead
 * of the file's http.extraHeader: git and git-lfs must first hear 401 and then ask.
 */
function helperEnv(token: string): NodeJS.ProcessEnv {
  const file = join(tempDir("gitflare-creds-"), "store");
  writeFileSync(file, `http://${account.username}:${token}@127.0.0.1:${server.port}\n`);
  return { GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "credential.helper", GIT_CONFIG_VALUE_0: `store --file=${file}` };
}

async function must(cwd: string, ...args: string[]): Promise<string> {
  const r = await lfsGit(cwd, args);
  if (r.code !== 0) throw new Error(`git ${args.join(" ")} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(path)
      .on("data", (d) => h.update(d))
      .on("end", () => resolve(h.digest("hex")))
      .on("error", reject);
  });
}

/** Writes `mib` MiB of incompressible bytes without holding them all. */
async function writeLarge(path: string, mib: number): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < mib; i++) if (!out.write(randomBytes(1 << 20))) await new Promise<void>((r) => out.once("drain", () => r()));
  await new Promise<void>((r) => out.end(() => r()));
}

async function batch(auth: string, operation: string, objects: { oid: string; size: number }[]) {
  const res = await fetch(`${remote}/info/lfs/objects/batch`, {
    method: "POST",
    headers: { Authorization: auth, Accept: LFS, "Content-Type": LFS },
    body: JSON.stringify({ operation, transfers: ["basic"], objects }),
  });
  return {
    status: res.status,
    json: (await res.json()) as { objects: { oid: string; error?: { code: number }; actions?: Record<string, { href: string }> }[] },
  };
}

beforeAll(async () => {
  PATH = gitLfsPath();
  await server.start();
  account = await server.signUpAndUse("lara");
  const made = await server.fetch("/api/v3/user/repos", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "assets", private: true }),
  });
  expect(made.status).toBe(201);
  remote = `${server.url}/lara/assets.git`;
  await must(tempDir(), "lfs", "install", "--skip-repo");
  src = tempDir("gitflare-lfs-src-");
  await must(src, "init", "-q", "-b", "main");
  await must(src, "lfs", "track", "*.bin");
  writeFileSync(join(src, "small.bin"), randomBytes(1000));
  writeFileSync(join(src, "medium.bin"), randomBytes(3 << 20));
  await writeLarge(join(src, "large.bin"), 105);
  writeFileSync(join(src, "README.md"), "Assets\n");
  for (const f of ["small.bin", "medium.bin", "large.bin"]) hashes.set(f, await sha256File(join(src, f)));
  await must(src, "add", "-A");
  await must(src, "commit", "-q", "-m", "Add assets");
  await must(src, "remote", "add", "origin", remote);
}, 300_000);

afterAll(async () => {
  await server.stop();
});

describe("Git LFS with the real git-lfs client", () => {
  it("pushes three objects, one over 100 MB, and a clone elsewhere gets identical files", { timeout: 900_000 }, async () => {
    await must(src, "push", "-q", "origin", "main");
    // What git stored is the pointer; the content is in LFS.
    const pointer = await git(src, "cat-file", "-p", "HEAD:large.bin");
    expect(pointer).toContain(`oid sha256:${hashes.get("large.bin")}`);
    expect(pointer).toContain(`size ${105 << 20}`);
    // Cloned with credentials from a helper: git-lfs hears 401 and asks for them.
    const clone = tempDir("gitflare-lfs-clone-");
    const cloned = await lfsGit(clone, ["clone", "-q", remote, "copy"], helperEnv(account.token));
    expect(cloned.code, cloned.stderr).toBe(0);
    for (const [f, h] of hashes) expect(await sha256File(join(clone, "copy", f)), f).toBe(h);
    expect(await must(join(clone, "copy"), "lfs", "ls-files")).toContain("large.bin");
  });

  it("a fork clones with its LFS files, which stay with the parent", { timeout: 300_000 }, async () => {
    const forked = await server.fetch("/api/v3/repos/lara/assets/forks", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "assets-fork" }),
    });
    expect(forked.status).toBe(202);
    const clone = tempDir("gitflare-lfs-fork-");
    const cloned = await lfsGit(clone, ["clone", "-q", `${server.url}/lara/assets-fork.git`, "copy"], helperEnv(account.token));
    expect(cloned.code, cloned.stderr).toBe(0);
    for (const [f, h] of hashes) expect(await sha256File(join(clone, "copy", f)), f).toBe(h);
  });

  it("locks, lists and unlocks files with git lfs locks", async () => {
    expect(await must(src, "lfs", "lock", "small.bin")).toMatch(/Locked small\.bin/);
    const listed = await must(src, "lfs", "locks");
    expect(listed).toMatch(/small\.bin\s+lara\s+ID:\d+/);
    // A push (credentials from a helper) verifies locks without a warning that the
    // server lacks the locking API, and uploads a new object.
    writeFileSync(join(src, "notes.bin"), randomBytes(4096));
    await must(src, "add", "notes.bin");
    await must(src, "commit", "-q", "-m", "A push while locked");
    const pushed = await lfsGit(src, ["push", "origin", "main"], helperEnv(account.token));
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stderr).not.toMatch(/does not support the Git LFS locking API/i);
    const oid = await sha256File(join(src, "notes.bin"));
    expect((await batch(account.auth, "download", [{ oid, size: 4096 }])).json.objects[0].actions).toBeDefined();
    expect(await must(src, "lfs", "unlock", "small.bin")).toMatch(/Unlocked small\.bin/);
    expect((await must(src, "lfs", "locks")).trim()).toBe("");
  });

  it("a read-only token cannot upload: git lfs push fails clearly and nothing is stored", async () => {
    const readToken = await makeToken(account.web, "lfs-read", "read");
    const readOnly = basic(account.username, readToken);
    writeFileSync(join(src, "denied.bin"), randomBytes(5000));
    const oid = await sha256File(join(src, "denied.bin"));
    await must(src, "add", "denied.bin");
    await must(src, "commit", "-q", "-m", "An object a reader may not push");
    for (const env of [gitAuthEnv(readOnly), helperEnv(readToken)]) {
      const r = await lfsGit(src, ["lfs", "push", "origin", "main"], env);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/Permission denied: write access to lara\/assets is required/);
    }
    const down = await batch(account.auth, "download", [{ oid, size: 5000 }]);
    expect(down.json.objects[0].error?.code).toBe(404);
    // The reader still downloads.
    const ok = await batch(readOnly, "download", [{ oid: hashes.get("small.bin")!, size: 1000 }]);
    expect(ok.json.objects[0].actions?.download.href).toContain("/info/lfs/objects/");
  });

  it("refuses an upload whose size or SHA-256 does not match (raw fetch)", async () => {
    const data = randomBytes(2048);
    const oid = createHash("sha256").update(data).digest("hex");
    const planned = await batch(account.auth, "upload", [{ oid, size: data.length }]);
    const href = planned.json.objects[0].actions!.upload.href;
    const put = (body: Uint8Array) =>
      fetch(href, { method: "PUT", headers: { Authorization: account.auth, "Content-Type": "application/octet-stream" }, body });
    const wrongHash = await put(randomBytes(2048));
    expect(wrongHash.status).toBe(422);
    expect(wrongHash.headers.get("Content-Type")).toContain(LFS);
    expect(((await wrongHash.json()) as { message: string }).message).toMatch(/does not match/);
    const wrongSize = await put(data.subarray(0, 2000));
    expect(wrongSize.status).toBe(422);
    await wrongSize.arrayBuffer();
    expect((await batch(account.auth, "download", [{ oid, size: data.length }])).json.objects[0].error?.code).toBe(404);
    const right = await put(data);
    expect(right.status).toBe(200);
    await right.arrayBuffer();
  });

  it("shows an LFS file on its web page as the file, with its real size and a download", async () => {
    const res = await account.web.get("/lara/assets/blob/main/medium.bin");
    const page = await res.text();
    expect(res.status).toBe(200);
    expect(page).toContain("Stored with Git LFS");
    expect(page).toContain("3.0 MiB");
    const href = /href="([^"]*\/info\/lfs\/objects\/[0-9a-f]{64}\?name=medium\.bin)"/.exec(page)?.[1].replaceAll("&amp;", "&");
    expect(href).toBeDefined();
    const file = await account.web.get(href!);
    expect(file.status).toBe(200);
    expect(file.headers.get("Content-Disposition")).toBe('attachment; filename="medium.bin"');
    expect(file.headers.get("Content-Type")).toBe("application/octet-stream");
    expect(
      createHash("sha256")
        .update(new Uint8Array(await file.arrayBuffer()))
        .digest("hex"),
    ).toBe(hashes.get("medium.bin"));
  });
});

describe("the Git LFS quota with the real git-lfs client", () => {
  it("refuses a push past the repository's quota with a clear message, storing nothing", { timeout: 300_000 }, async () => {
    const small = new LocalServer();
    await small.start({ vars: { GITFLARE_LFS_QUOTA_BYTES: "100000" } });
    const before = e2eAuth.header;
    try {
      const user = await small.signUpAndUse("quinn");
      const made = await small.fetch("/api/v3/user/repos", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: "tight" }),
      });
      expect(made.status).toBe(201);
      const dir = tempDir("gitflare-lfs-quota-");
      await must(dir, "init", "-q", "-b", "main");
      await must(dir, "lfs", "track", "*.bin");
      writeFileSync(join(dir, "fits.bin"), randomBytes(60_000));
      await must(dir, "add", "-A");
      await must(dir, "commit", "-q", "-m", "fits");
      const url = `${small.url}/quinn/tight.git`;
      await must(dir, "push", "-q", url, "main");
      writeFileSync(join(dir, "too-much.bin"), randomBytes(60_000));
      const oid = await sha256File(join(dir, "too-much.bin"));
      await must(dir, "add", "-A");
      await must(dir, "commit", "-q", "-m", "too much");
      const r = await lfsGit(dir, ["push", url, "main"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Git LFS quota exceeded: quinn\/tight holds 60000 of its 100000 bytes, and this push adds 60000/);
      const res = await fetch(`${url}/info/lfs/objects/batch`, {
        method: "POST",
        headers: { Authorization: user.auth, Accept: LFS, "Content-Type": LFS },
        body: JSON.stringify({ operation: "download", objects: [{ oid, size: 60_000 }] }),
      });
      expect(((await res.json()) as { objects: { error?: { code: number } }[] }).objects[0].error?.code).toBe(404);
    } finally {
      e2eAuth.header = before;
      await small.stop();
    }
  });
});
