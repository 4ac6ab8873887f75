// The browser editor's pages (src/web/editor.ts) through the Worker, as a signed-in browser
// posts them: an edit commits to the branch on top of the commit the page showed; a page
// opened before the branch moved is refused with nothing written; a new branch, a new file
// and a deletion; files that cannot be edited; who may see the pages. C git's fsck --strict
// checks the repository afterwards.
import { SELF, env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TREE, fromHex, parseCommit } from "../src/git/object/object";
import { pktLine } from "../src/git/protocol/pkt-line";
import type { Repository } from "../src/repo/repository";
import { concatBytes } from "../src/util/bytes";
import { Browserless } from "../e2e/accounts";
import type { GitRun } from "./git-check";
import { accountAuth, inRepo, ownerFetch } from "./helpers";
import { buildPack, oidOf } from "./pack-builder";

const BASE = "http://gitflare.test";
const ZERO = "0".repeat(40);
const utf8 = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
let seq = 0;

/** A tree object from entries already in git's order. */
function tree(entries: [mode: string, name: string, oid: string][]): Uint8Array {
  return concatBytes(entries.flatMap(([mode, name, oid]) => [utf8(`${mode} ${name}\0`), fromHex(oid)]));
}

/** A first commit: README.md, a CRLF file, a binary file, dir/a.txt, dir/b.txt, an executable. */
function firstCommit() {
  const blobs = {
    readme: utf8("hello\n"),
    crlf: utf8("one\r\ntwo\r\n"),
    bin: Uint8Array.of(0, 1, 2, 0, 255),
    a: utf8("a\n"),
    b: utf8("b\n"),
    run: utf8("#!/bin/sh\necho hi\n"),
  };
  const id = (b: Uint8Array) => oidOf(OBJ_BLOB, b);
  const dir = tree([
    ["100644", "a.txt", id(blobs.a)],
    ["100644", "b.txt", id(blobs.b)],
  ]);
  const root = tree([
    ["100644", "README.md", id(blobs.readme)],
    ["100644", "bin.dat", id(blobs.bin)],
    ["100644", "crlf.txt", id(blobs.crlf)],
    ["40000", "dir", oidOf(OBJ_TREE, dir)],
    ["100755", "run.sh", id(blobs.run)],
  ]);
  const sig = "Pat <pat@example.com> 1700000000 +0000";
  const commit = utf8(`tree ${oidOf(OBJ_TREE, root)}\nauthor ${sig}\ncommitter ${sig}\n\nFirst\n`);
  const pack = buildPack([
    ...Object.values(blobs).map((data) => ({ type: OBJ_BLOB, data })),
    { type: OBJ_TREE, data: dir },
    { type: OBJ_TREE, data: root },
    { type: OBJ_COMMIT, data: commit },
  ]);
  return { pack, commit: oidOf(OBJ_COMMIT, commit) };
}

interface Fixture {
  owner: string;
  name: string;
  /** `/owner/name` */
  path: string;
  web: Browserless;
  stub: DurableObjectStub<Repository>;
  first: string;
}

/** A repository pushed by a user who is also signed in to a browser. */
async function repository(isPrivate = true): Promise<Fixture> {
  const owner = `writer${seq++}`;
  const name = `edits${seq++}`;
  const web = new Browserless(BASE, (url, init) => SELF.fetch(url, init));
  const signup = await web.post(
    "/signup",
    { username: owner, email: `${owner}@example.com`, password: "correct horse" },
    { from: "/signup" },
  );
  expect(signup.status).toBe(303);
  const { pack, commit } = firstCommit();
  const res = await ownerFetch(`${BASE}/${owner}/${name}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body: concatBytes([pktLine(`${ZERO} ${commit} refs/heads/main\0report-status\n`), utf8("0000"), pack]),
  });
  expect(dec(new Uint8Array(await res.arrayBuffer()))).toContain("ok refs/heads/main");
  if (!isPrivate) {
    const patch = await ownerFetch(`${BASE}/api/repos/${owner}/${name}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: '{"private":false}',
    });
    expect(patch.status).toBe(200);
    await patch.text();
  }
  return { owner, name, path: `/${owner}/${name}`, web, stub: env.REPO.getByName(`${owner}/${name}`), first: commit };
}

const refsOf = (stub: DurableObjectStub<Repository>) => inRepo(stub, (repo) => Object.fromEntries(repo.refs.list()));

async function fileAt(stub: DurableObjectStub<Repository>, commit: string, path: string): Promise<{ mode: string; text: string } | null> {
  return inRepo(stub, async (repo) => {
    const entry = await repo.views.browser.entry(commit, path);
    if (!entry) return null;
    return { mode: entry.mode, text: dec((await repo.store.read(entry.oid)).data) };
  });
}

async function commitOf(stub: DurableObjectStub<Repository>, oid: string) {
  return inRepo(stub, async (repo) => {
    const o = await repo.store.read(oid);
    return { raw: dec(o.data), ...parseCommit(o.data) };
  });
}

/** The hidden fields of the editor form on a page. */
function hidden(page: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(page);
  if (!m) throw new Error(`no ${name} field in:\n${page.slice(0, 2000)}`);
  return m[1];
}

async function fsck(f: Fixture): Promise<GitRun[]> {
  const tar = await ownerFetch(`${BASE}${f.path}/export.tar`);
  expect(tar.status).toBe(200);
  const res = await env.GIT_CHECK.fetch("http://git-check/", {
    method: "POST",
    headers: {
      "X-Git-Commands": JSON.stringify([
        ["fsck", "--strict", "--no-dangling"],
        ["log", "--format=%H %P|%an <%ae>|%cn|%s", "--all"],
      ]),
    },
    body: await tar.arrayBuffer(),
  });
  const body = (await res.json()) as { runs?: GitRun[]; error?: string };
  expect(body.error).toBeUndefined();
  return body.runs!;
}

describe("editing a file in the browser", () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await repository();
  });

  it("shows the file in a form that carries the commit it was opened at", async () => {
    const res = await f.web.get(`${f.path}/edit/main/README.md`);
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain("<textarea");
    // The newline after <textarea> is the parser's; the content follows it.
    expect(page).toMatch(/name="content"[^>]*>\nhello\n<\/textarea>/);
    expect(hidden(page, "parent")).toBe(f.first);
    expect(hidden(page, "branch")).toBe("main");
    expect(page).toContain(`Commit directly to the <b>main</b> branch`);
    expect(page).toContain(`value="${f.owner}-patch-1"`);
  });

  it("commits to the branch: parent, author, message, LF kept though the browser sent CRLF", async () => {
    const res = await f.web.post(
      `${f.path}/edit/main/README.md`,
      {
        parent: f.first,
        branch: "main",
        from: "README.md",
        filename: "README.md",
        content: "hello\r\nworld\r\n",
        message: "",
        description: "",
        target: "direct",
      },
      { from: `${f.path}/edit/main/README.md` },
    );
    expect(res.status).toBe(303);
    expect(res.headers.get("Location")).toBe(`${f.path}/blob/main/README.md`);
    const main = (await refsOf(f.stub))["refs/heads/main"];
    expect(main).not.toBe(f.first);
    const c = await commitOf(f.stub, main);
    expect(c.parents).toEqual([f.first]);
    expect(c.message).toBe("Update README.md\n");
    expect(c.author).toMatchObject({ name: f.owner, email: `${f.owner}@example.com`, timezone: "+0000" });
    expect(c.committer).toMatchObject({ name: f.owner, email: `${f.owner}@example.com`, timezone: "+0000" });
    expect(Math.abs(c.author.timestamp - Date.now() / 1000)).toBeLessThan(600);
    expect(await fileAt(f.stub, main, "README.md")).toEqual({ mode: "100644", text: "hello\nworld\n" });
    // Everything else is as it was.
    expect(await fileAt(f.stub, main, "run.sh")).toEqual({ mode: "100755", text: "#!/bin/sh\necho hi\n" });
  });

  it("keeps CRLF in a file that has CRLF, and an extended description", async () => {
    const parent = (await refsOf(f.stub))["refs/heads/main"];
    const page = await (await f.web.get(`${f.path}/edit/main/crlf.txt`)).text();
    // The textarea shows the file as it is (the browser will send CRLF either way).
    expect(page).toContain("one\r\ntwo\r\n</textarea>");
    const res = await f.web.post(
      `${f.path}/edit/main/crlf.txt`,
      {
        parent: hidden(page, "parent"),
        branch: "main",
        from: "crlf.txt",
        filename: "crlf.txt",
        content: "one\ntwo\nthree",
        message: "Add three  ",
        description: "Because\r\nthree is more.",
        target: "direct",
      },
      { from: `${f.path}/edit/main/crlf.txt` },
    );
    expect(res.status).toBe(303);
    const main = (await refsOf(f.stub))["refs/heads/main"];
    expect((await commitOf(f.stub, main)).parents).toEqual([parent]);
    expect((await commitOf(f.stub, main)).message).toBe("Add three\n\nBecause\nthree is more.\n");
    expect((await fileAt(f.stub, main, "crlf.txt"))!.text).toBe("one\r\ntwo\r\nthree");
  });

  it("refuses a page opened before the branch moved (409), and writes nothing", async () => {
    const before = await refsOf(f.stub);
    const packs = await inRepo(f.stub, (repo) => repo.store.packs().length);
    const content = "a stale edit that must not be stored\n";
    const res = await f.web.post(
      `${f.path}/edit/main/README.md`,
      { parent: f.first, branch: "main", from: "README.md", filename: "README.md", content, message: "Stale", target: "direct" },
      { from: `${f.path}/edit/main/README.md` },
    );
    expect(res.status).toBe(409);
    const page = await res.text();
    expect(page).toContain("changed since you opened this page");
    // The form comes back with the person's text, still at the commit they started from.
    expect(page).toContain(content);
    expect(hidden(page, "parent")).toBe(f.first);
    expect(await refsOf(f.stub)).toEqual(before);
    expect(await inRepo(f.stub, (repo) => repo.store.packs().length)).toBe(packs);
    expect(await inRepo(f.stub, (repo) => repo.store.has(oidOf(OBJ_BLOB, utf8(content))))).toBe(false);
  });

  it("commits a stale page to a new branch instead, and offers a pull request", async () => {
    const main = (await refsOf(f.stub))["refs/heads/main"];
    const res = await f.web.post(
      `${f.path}/edit/main/dir/a.txt`,
      {
        parent: f.first,
        branch: "main",
        from: "dir/a.txt",
        filename: "dir/a.txt",
        content: "a, on a branch\r\n",
        message: "Branch edit",
        target: "branch",
        new_branch: "feature/edit",
      },
      { from: `${f.path}/edit/main/dir/a.txt` },
    );
    expect(res.status).toBe(201);
    const page = await res.text();
    expect(page).toContain(`href="${f.path}/compare/main...feature/edit"`);
    expect(page).toContain("Open a pull request");
    const refs = await refsOf(f.stub);
    expect(refs["refs/heads/main"]).toBe(main);
    const c = await commitOf(f.stub, refs["refs/heads/feature/edit"]);
    expect(c.parents).toEqual([f.first]);
    expect((await fileAt(f.stub, refs["refs/heads/feature/edit"], "dir/a.txt"))!.text).toBe("a, on a branch\n");
    // The compare page it links to shows the change.
    const compare = await f.web.get(`${f.path}/compare/main...feature/edit`);
    expect(compare.status).toBe(200);
    expect(await compare.text()).toContain("dir/a.txt");
    // The same branch name again is refused: it exists now.
    const again = await f.web.post(
      `${f.path}/edit/main/dir/a.txt`,
      {
        parent: f.first,
        branch: "main",
        from: "dir/a.txt",
        filename: "dir/a.txt",
        content: "again\n",
        target: "branch",
        new_branch: "feature/edit",
      },
      { from: `${f.path}/edit/main/dir/a.txt` },
    );
    expect(again.status).toBe(409);
    expect(await again.text()).toContain("A branch named feature/edit already exists");
    expect((await refsOf(f.stub))["refs/heads/feature/edit"]).toBe(refs["refs/heads/feature/edit"]);
  });

  it("refuses bad branch names, empty changes and a form without its commit", async () => {
    const page = await (await f.web.get(`${f.path}/edit/main/README.md`)).text();
    const fields = { parent: hidden(page, "parent"), branch: "main", from: "README.md", filename: "README.md", content: "hello\nworld\n" };
    const before = await refsOf(f.stub);
    const tries: [Record<string, string>, number, string][] = [
      [{ ...fields, target: "branch", new_branch: "bad..name" }, 422, "not a valid branch name"],
      [{ ...fields, target: "branch", new_branch: "" }, 422, "Enter a branch name"],
      [{ ...fields, target: "direct" }, 422, "No changes to commit"],
      [{ ...fields, parent: "", target: "direct" }, 409, "changed since you opened this page"],
      [{ ...fields, parent: "not-a-commit", target: "direct" }, 422, "reload the page"],
      [{ ...fields, filename: "../escape.txt", content: "x", target: "direct" }, 422, ".. component"],
      [{ ...fields, filename: "dir", content: "x", target: "direct" }, 422, "A directory named dir already exists"],
    ];
    for (const [form, status, text] of tries) {
      const res = await f.web.post(`${f.path}/edit/main/README.md`, form, { from: `${f.path}/edit/main/README.md` });
      expect(res.status, JSON.stringify(form)).toBe(status);
      expect(await res.text()).toContain(text);
    }
    expect(await refsOf(f.stub)).toEqual(before);
  });

  it("renames a file by changing its name", async () => {
    const page = await (await f.web.get(`${f.path}/edit/main/run.sh`)).text();
    const res = await f.web.post(
      `${f.path}/edit/main/run.sh`,
      {
        parent: hidden(page, "parent"),
        branch: "main",
        from: "run.sh",
        filename: "bin/run.sh",
        content: "#!/bin/sh\necho hi\n",
        target: "direct",
      },
      { from: `${f.path}/edit/main/run.sh` },
    );
    expect(res.status).toBe(303);
    const main = (await refsOf(f.stub))["refs/heads/main"];
    expect(await fileAt(f.stub, main, "run.sh")).toBeNull();
    // Still executable.
    expect(await fileAt(f.stub, main, "bin/run.sh")).toEqual({ mode: "100755", text: "#!/bin/sh\necho hi\n" });
    expect((await commitOf(f.stub, main)).message).toBe("Rename run.sh to bin/run.sh\n");
  });

  it("creates a file in a new directory from the new-file page", async () => {
    const res = await f.web.get(`${f.path}/new/main/dir`);
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('name="filename" value="dir/"');
    const post = await f.web.post(
      `${f.path}/new/main/dir`,
      { parent: hidden(page, "parent"), branch: "main", filename: "dir/sub/new.txt", content: "brand new\r\n", target: "direct" },
      { from: `${f.path}/new/main/dir` },
    );
    expect(post.status).toBe(303);
    expect(post.headers.get("Location")).toBe(`${f.path}/blob/main/dir/sub/new.txt`);
    const main = (await refsOf(f.stub))["refs/heads/main"];
    expect(await fileAt(f.stub, main, "dir/sub/new.txt")).toEqual({ mode: "100644", text: "brand new\n" });
    expect((await commitOf(f.stub, main)).message).toBe("Create dir/sub/new.txt\n");
    // A file that exists is not created again.
    const page2 = await (await f.web.get(`${f.path}/new/main`)).text();
    const again = await f.web.post(
      `${f.path}/new/main`,
      { parent: hidden(page2, "parent"), branch: "main", filename: "README.md", content: "x", target: "direct" },
      { from: `${f.path}/new/main` },
    );
    expect(again.status).toBe(422);
    expect(await again.text()).toContain("A file named README.md already exists");
    // /new alone goes to the default branch.
    const bare = await f.web.get(`${f.path}/new`);
    expect(bare.status).toBe(302);
    expect(bare.headers.get("Location")).toBe(`${f.path}/new/main`);
  });

  it("deletes a file, and the last file of a directory takes the directory with it", async () => {
    for (const file of ["dir/a.txt", "dir/b.txt", "dir/sub/new.txt"]) {
      const res = await f.web.get(`${f.path}/delete/main/${file}`);
      expect(res.status).toBe(200);
      const page = await res.text();
      const post = await f.web.post(
        `${f.path}/delete/main/${file}`,
        { parent: hidden(page, "parent"), branch: "main", from: file, target: "direct" },
        { from: `${f.path}/delete/main/${file}` },
      );
      expect(post.status).toBe(303);
    }
    const main = (await refsOf(f.stub))["refs/heads/main"];
    expect((await commitOf(f.stub, main)).message).toBe("Delete dir/sub/new.txt\n");
    expect(await inRepo(f.stub, (repo) => repo.views.browser.entry(main, "dir"))).toBeNull();
    expect(await fileAt(f.stub, main, "README.md")).not.toBeNull();
  });

  it("does not edit binary files, symlinks or missing files", async () => {
    const bin = await f.web.get(`${f.path}/edit/main/bin.dat`);
    expect(bin.status).toBe(422);
    expect(await bin.text()).toContain("binary file");
    const page = await (await f.web.get(`${f.path}/edit/main/README.md`)).text();
    const post = await f.web.post(
      `${f.path}/edit/main/bin.dat`,
      { parent: hidden(page, "parent"), branch: "main", from: "bin.dat", filename: "bin.dat", content: "text now", target: "direct" },
      { from: `${f.path}/edit/main/README.md` },
    );
    expect(post.status).toBe(422);
    expect(await post.text()).toContain("binary file");
    expect((await f.web.get(`${f.path}/edit/main/nope.txt`)).status).toBe(404);
    expect((await f.web.get(`${f.path}/edit/nope/README.md`)).status).toBe(404);
    expect((await f.web.get(`${f.path}/new/main/README.md`)).status).toBe(404);
  });

  it("refuses a file over the size limit", async () => {
    const page = await (await f.web.get(`${f.path}/new/main`)).text();
    const res = await f.web.post(
      `${f.path}/new/main`,
      { parent: hidden(page, "parent"), branch: "main", filename: "big.txt", content: "x".repeat(1024 * 1024 + 1), target: "direct" },
      { from: `${f.path}/new/main` },
    );
    expect(res.status).toBe(413);
    expect(await res.text()).toContain("cannot be edited in the browser");
  });

  it("leaves a repository that C git's fsck --strict accepts, with the commits as written", async () => {
    const [check, log] = await fsck(f);
    expect(check.stderr).toBe("");
    expect(check.code).toBe(0);
    expect(log.stdout).toContain(`|${f.owner} <${f.owner}@example.com>|${f.owner}|Update README.md`);
    expect(log.stdout).toContain("|Branch edit");
  });
});

describe("a first file in an empty repository", () => {
  it("makes the first commit on the default branch", async () => {
    const owner = `starter${seq++}`;
    const web = new Browserless(BASE, (url, init) => SELF.fetch(url, init));
    expect(
      (await web.post("/signup", { username: owner, email: `${owner}@example.com`, password: "correct horse" }, { from: "/signup" }))
        .status,
    ).toBe(303);
    expect((await web.post("/new", { name: "blank", visibility: "private" }, { from: "/new" })).status).toBe(303);
    const home = await (await web.get(`/${owner}/blank`)).text();
    expect(home).toContain(`href="/${owner}/blank/new/main"`);
    const page = await (await web.get(`/${owner}/blank/new/main`)).text();
    expect(hidden(page, "parent")).toBe("");
    const res = await web.post(
      `/${owner}/blank/new/main`,
      { parent: "", branch: "main", filename: "README.md", content: "# Blank\r\n", target: "direct" },
      { from: `/${owner}/blank/new/main` },
    );
    expect(res.status).toBe(303);
    const stub = env.REPO.getByName(`${owner}/blank`);
    const main = (await refsOf(stub))["refs/heads/main"];
    expect((await commitOf(stub, main)).parents).toEqual([]);
    expect(await fileAt(stub, main, "README.md")).toEqual({ mode: "100644", text: "# Blank\n" });
    // Listed as updated, as after a push.
    const meta = (await (await ownerFetch(`${BASE}/api/repos/${owner}/blank`)).json()) as { pushed_at: string | null };
    expect(meta.pushed_at).not.toBeNull();
    expect((await web.get(`/${owner}/blank`)).status).toBe(200);
  });
});

describe("who may edit", () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await repository(false);
  });

  it("shows Edit, Delete and Add file only to people who may write", async () => {
    const own = await (await f.web.get(`${f.path}/blob/main/README.md`)).text();
    expect(own).toContain(`href="${f.path}/edit/main/README.md"`);
    expect(own).toContain(`href="${f.path}/delete/main/README.md"`);
    expect(await (await f.web.get(`${f.path}/tree/main/dir`)).text()).toContain(`href="${f.path}/new/main/dir"`);
    expect(await (await f.web.get(f.path)).text()).toContain(`href="${f.path}/new/main"`);
    // Binary files get no Edit link, only Delete.
    const bin = await (await f.web.get(`${f.path}/blob/main/bin.dat`)).text();
    expect(bin).not.toContain("/edit/main/bin.dat");
    expect(bin).toContain("/delete/main/bin.dat");
    const anon = await (await SELF.fetch(`${BASE}${f.path}/blob/main/README.md`)).text();
    expect(anon).toContain("hello");
    expect(anon).not.toContain("/edit/");
    expect(anon).not.toContain("/delete/");
    expect(await (await SELF.fetch(`${BASE}${f.path}`)).text()).not.toContain("/new/");
  });

  it("sends anonymous visitors to sign in, refuses readers and strangers, and tokens cannot post the form", async () => {
    for (const page of ["edit/main/README.md", "new/main", "delete/main/README.md"]) {
      const anon = await SELF.fetch(`${BASE}${f.path}/${page}`, { redirect: "manual" });
      expect(anon.status, page).toBe(302);
      expect(anon.headers.get("Location")).toBe(`/login?next=${encodeURIComponent(`${f.path}/${page}`)}`);
      await anon.text();
    }
    const reader = `reader${seq++}`;
    await accountAuth(reader);
    const add = await ownerFetch(`${BASE}/api/repos/${f.owner}/${f.name}/collaborators/${reader}`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: '{"role":"read"}',
    });
    expect(add.status).toBeLessThan(300);
    await add.text();
    for (const who of [reader, `stranger${seq++}`]) {
      const res = await SELF.fetch(`${BASE}${f.path}/edit/main/README.md`, { headers: { Authorization: await accountAuth(who) } });
      expect(res.status, who).toBe(403);
      expect(await res.text()).not.toContain("<textarea");
    }
    const before = await refsOf(f.stub);
    const token = await SELF.fetch(`${BASE}${f.path}/edit/main/README.md`, {
      method: "POST",
      headers: { Authorization: await accountAuth(f.owner), "Content-Type": "application/x-www-form-urlencoded", Origin: BASE },
      body: new URLSearchParams({
        parent: f.first,
        branch: "main",
        from: "README.md",
        filename: "README.md",
        content: "by token",
        target: "direct",
      }),
    });
    expect(token.status).toBe(403);
    await token.text();
    expect(await refsOf(f.stub)).toEqual(before);
  });
});
