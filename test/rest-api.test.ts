// The GitHub-shaped REST API's repositories, contents, commits, compare and git data
// (src/api/v3/) inside workerd: GitHub's shapes, Link pagination, weak ETags with 304,
// the errors GitHub answers, and the rules for moving refs (fast-forward unless forced,
// compare-and-swap, nothing changed on refusal).
import { SELF } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { pktLine } from "../src/git/protocol/pkt-line";
import { concatBytes } from "../src/util/bytes";
import { accountAuth, fromBase64, ownerFetch } from "./helpers";

const fixtures = inject("fixtures");
const ZERO = "0".repeat(40);
const BASE = "http://gitflare.test";
let seq = 0;

type J = Record<string, any>;

/** A repository holding the fixture's main (12 commits) and `old` three commits behind. */
async function pushed(owner: string): Promise<string> {
  const name = `rest${seq++}`;
  const body = concatBytes([
    pktLine(`${ZERO} ${fixtures.head} refs/heads/main\0report-status\n`),
    pktLine(`${ZERO} ${fixtures.base} refs/heads/old\n`),
    new TextEncoder().encode("0000"),
    fromBase64(fixtures.ofsPack.pack),
  ]);
  const res = await ownerFetch(`${BASE}/${owner}/${name}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body,
  });
  const text = new TextDecoder().decode(await res.arrayBuffer());
  expect(text).toContain("ok refs/heads/main");
  expect(text).toContain("ok refs/heads/old");
  return name;
}

async function api(owner: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await SELF.fetch(`${BASE}/api/v3${path}`, {
    method,
    headers: { Authorization: await accountAuth(owner), "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as any) : null };
}

const b64 = (s: string) => btoa(s);
const unb64 = (s: string) => new TextDecoder().decode(fromBase64(s.replace(/\n/g, "")));

describe("repositories", () => {
  it("creates, reads, updates, lists and deletes a repository in GitHub's shape", async () => {
    const owner = "restowner";
    const made = await api(owner, "POST", "/user/repos", { name: "made", description: "first", private: true });
    expect(made.status).toBe(201);
    expect(made.json).toMatchObject({
      name: "made",
      full_name: `${owner}/made`,
      private: true,
      description: "first",
      owner: { login: owner },
    });
    expect(made.json.permissions).toMatchObject({ admin: true, push: true, pull: true });
    const again = await api(owner, "POST", "/user/repos", { name: "made" });
    expect(again.status).toBe(422);
    expect(again.json.errors[0]).toMatchObject({ resource: "Repository", field: "name" });
    expect(again.json.documentation_url).toMatch(/^https:/);

    const patched = await api(owner, "PATCH", `/repos/${owner}/made`, { description: "second", private: false });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ description: "second", private: false, visibility: "public" });
    const got = await api(owner, "GET", `/repos/${owner}/made`);
    expect(got.json).toMatchObject({ name: "made", description: "second", private: false, default_branch: "main" });

    const mine = await api(owner, "GET", "/user/repos?per_page=100");
    expect(mine.json.map((r: J) => r.name)).toContain("made");
    const theirs = await SELF.fetch(`${BASE}/api/v3/users/${owner}/repos`);
    expect(((await theirs.json()) as J[]).map((r) => r.name)).toContain("made");
    const me = await api(owner, "GET", "/user");
    expect(me.json).toMatchObject({ login: owner, type: "User" });
    expect((await SELF.fetch(`${BASE}/api/v3/user`)).status).toBe(401);

    expect((await api(owner, "DELETE", `/repos/${owner}/made`)).status).toBe(204);
    expect((await api(owner, "GET", `/repos/${owner}/made`)).status).toBe(404);
  });

  it("manages collaborators and answers their permission", async () => {
    const owner = "restcollab";
    await accountAuth("restfriend");
    expect((await api(owner, "POST", "/user/repos", { name: "team" })).status).toBe(201);
    expect((await api(owner, "PUT", `/repos/${owner}/team/collaborators/restfriend`, { permission: "push" })).status).toBe(201);
    // Without a permission, an existing collaborator keeps theirs.
    expect((await api(owner, "PUT", `/repos/${owner}/team/collaborators/restfriend`, {})).status).toBe(204);
    const list = await api(owner, "GET", `/repos/${owner}/team/collaborators`);
    expect(list.json.map((u: J) => [u.login, u.permissions.push, u.permissions.admin])).toEqual([
      [owner, true, true],
      ["restfriend", true, false],
    ]);
    const perm = await api(owner, "GET", `/repos/${owner}/team/collaborators/restfriend/permission`);
    expect(perm.json).toMatchObject({ permission: "write", user: { login: "restfriend" } });
    // The collaborator may now write, but not manage collaborators.
    expect((await api("restfriend", "PUT", `/repos/${owner}/team/collaborators/restfriend`, { permission: "admin" })).status).toBe(403);
    expect((await api(owner, "DELETE", `/repos/${owner}/team/collaborators/restfriend`)).status).toBe(204);
    expect((await api(owner, "DELETE", `/repos/${owner}/team/collaborators/restfriend`)).status).toBe(404);
  });
});

describe("contents", () => {
  it("reads files and directories, and creates, updates and deletes a file with its sha", async () => {
    const owner = "restfiles";
    const name = await pushed(owner);
    const repo = `/repos/${owner}/${name}`;
    const file = await api(owner, "GET", `${repo}/contents/a.txt`);
    expect(file.status).toBe(200);
    expect(file.json).toMatchObject({ type: "file", encoding: "base64", name: "a.txt", path: "a.txt" });
    expect(unb64(file.json.content)).toContain("edited in commit 11");
    expect(file.json.size).toBe(fromBase64(file.json.content.replace(/\n/g, "")).length);
    const old = await api(owner, "GET", `${repo}/contents/a.txt?ref=old`);
    expect(unb64(old.json.content)).not.toContain("edited in commit 11");
    const raw = await SELF.fetch(`${BASE}/api/v3${repo}/contents/a.txt`, {
      headers: { Authorization: await accountAuth(owner), Accept: "application/vnd.github.raw" },
    });
    expect(new TextDecoder().decode(await raw.arrayBuffer())).toBe(unb64(file.json.content));
    const dir = await api(owner, "GET", `${repo}/contents`);
    expect(dir.json.map((e: J) => [e.name, e.type])).toEqual([
      ["a.txt", "file"],
      ["b0.txt", "file"],
      ["b1.txt", "file"],
      ["b2.txt", "file"],
    ]);
    expect((await api(owner, "GET", `${repo}/contents/nope.txt`)).status).toBe(404);

    const created = await api(owner, "PUT", `${repo}/contents/docs/new.md`, { message: "Add docs", content: b64("# New\n") });
    expect(created.status).toBe(201);
    expect(created.json.content).toMatchObject({ path: "docs/new.md", type: "file" });
    expect(created.json.commit.parents[0].sha).toBe(fixtures.head);
    const sha = created.json.content.sha;
    const noSha = await api(owner, "PUT", `${repo}/contents/docs/new.md`, { message: "Edit", content: b64("# Newer\n") });
    expect(noSha.status).toBe(422);
    const wrong = await api(owner, "PUT", `${repo}/contents/docs/new.md`, {
      message: "Edit",
      content: b64("# Newer\n"),
      sha: fixtures.base,
    });
    expect(wrong.status).toBe(409);
    const updated = await api(owner, "PUT", `${repo}/contents/docs/new.md`, { message: "Edit", content: b64("# Newer\n"), sha });
    expect(updated.status).toBe(200);
    expect(unb64((await api(owner, "GET", `${repo}/contents/docs/new.md`)).json.content)).toBe("# Newer\n");
    const onOld = await api(owner, "PUT", `${repo}/contents/x.txt`, {
      message: "On old",
      content: b64("x"),
      branch: "old",
      author: { name: "Ada", email: "ada@example.com", date: "2020-01-02T03:04:05Z" },
    });
    expect(onOld.status).toBe(201);
    expect(onOld.json.commit.author).toMatchObject({ name: "Ada", email: "ada@example.com", date: "2020-01-02T03:04:05Z" });
    expect(onOld.json.commit.parents[0].sha).toBe(fixtures.base);

    const gone = await api(owner, "DELETE", `${repo}/contents/docs/new.md`, { message: "Remove", sha: updated.json.content.sha });
    expect(gone.status).toBe(200);
    expect(gone.json.content).toBeNull();
    expect((await api(owner, "GET", `${repo}/contents/docs/new.md`)).status).toBe(404);
    expect((await api(owner, "GET", `${repo}/readme`)).status).toBe(404);
  });

  it("makes the first commit of an empty repository", async () => {
    const owner = "restempty";
    expect((await api(owner, "POST", "/user/repos", { name: "blank" })).status).toBe(201);
    const made = await api(owner, "PUT", `/repos/${owner}/blank/contents/README.md`, { message: "Init", content: b64("hello\n") });
    expect(made.status).toBe(201);
    expect(made.json.commit.parents).toEqual([]);
    const readme = await api(owner, "GET", `/repos/${owner}/blank/readme`);
    expect(unb64(readme.json.content)).toBe("hello\n");
  });
});

describe("commits and compare", () => {
  it("lists history with Link pages, by path, and gives a commit with files and stats", async () => {
    const owner = "restlog";
    const name = await pushed(owner);
    const repo = `/repos/${owner}/${name}`;
    const first = await api(owner, "GET", `${repo}/commits?per_page=5`);
    expect(first.json).toHaveLength(5);
    expect(first.json[0].sha).toBe(fixtures.head);
    expect(first.json[0].commit.message).toBe("commit 11");
    expect(first.headers.get("Link")).toContain('rel="next"');
    const third = await api(owner, "GET", `${repo}/commits?per_page=5&page=3`);
    expect(third.json.map((c: J) => c.commit.message)).toEqual(["commit 1", "commit 0"]);
    expect(third.headers.get("Link")).not.toContain('rel="next"');
    expect(third.headers.get("Link")).toContain('rel="prev"');
    const fromOld = await api(owner, "GET", `${repo}/commits?sha=old&per_page=1`);
    expect(fromOld.json[0].sha).toBe(fixtures.base);
    // b0.txt changes in commits 0, 3, 6 and 9.
    const byPath = await api(owner, "GET", `${repo}/commits?path=b0.txt`);
    expect(byPath.json.map((c: J) => c.commit.message)).toEqual(["commit 9", "commit 6", "commit 3", "commit 0"]);

    const one = await api(owner, "GET", `${repo}/commits/main`);
    expect(one.json.sha).toBe(fixtures.head);
    expect(one.json.files.map((f: J) => f.filename).sort()).toEqual(["a.txt", "b2.txt"]);
    expect(one.json.stats.total).toBe(one.json.stats.additions + one.json.stats.deletions);
    expect(one.json.files[0].patch).toContain("@@");
    expect((await api(owner, "GET", `${repo}/commits/nosuchref`)).status).toBe(422);
  });

  it("compares two refs: ahead, behind, identical and diverged", async () => {
    const owner = "restcmp";
    const name = await pushed(owner);
    const repo = `/repos/${owner}/${name}`;
    const ahead = await api(owner, "GET", `${repo}/compare/old...main`);
    expect(ahead.json).toMatchObject({ status: "ahead", ahead_by: 3, behind_by: 0, total_commits: 3 });
    expect(ahead.json.merge_base_commit.sha).toBe(fixtures.base);
    expect(ahead.json.commits.map((c: J) => c.commit.message)).toEqual(["commit 9", "commit 10", "commit 11"]);
    expect(ahead.json.files.length).toBeGreaterThan(0);
    const behind = await api(owner, "GET", `${repo}/compare/main...old`);
    expect(behind.json).toMatchObject({ status: "behind", ahead_by: 0, behind_by: 3 });
    expect((await api(owner, "GET", `${repo}/compare/main...main`)).json).toMatchObject({ status: "identical", ahead_by: 0, behind_by: 0 });
    expect((await api(owner, "PUT", `${repo}/contents/side.txt`, { message: "Side", content: b64("s"), branch: "old" })).status).toBe(201);
    expect((await api(owner, "GET", `${repo}/compare/main...old`)).json).toMatchObject({ status: "diverged", ahead_by: 1, behind_by: 3 });
    expect((await api(owner, "GET", `${repo}/compare/main...nope`)).status).toBe(404);
  });
});

describe("git data", () => {
  it("writes a blob, a tree and a commit, and moves a branch to it: fast-forward only unless forced", async () => {
    const owner = "restgit";
    const name = await pushed(owner);
    const repo = `/repos/${owner}/${name}`;
    const blob = await api(owner, "POST", `${repo}/git/blobs`, { content: b64("\u0000binary\u00ff"), encoding: "base64" });
    expect(blob.status).toBe(201);
    const textBlob = await api(owner, "POST", `${repo}/git/blobs`, { content: "hello\n" });
    // git hash-object of "hello\n".
    expect(textBlob.json.sha).toBe("ce013625030ba8dba906f756967f9e9ca394464a");
    const readBack = await api(owner, "GET", `${repo}/git/blobs/${textBlob.json.sha}`);
    expect(readBack.json).toMatchObject({ sha: textBlob.json.sha, size: 6, encoding: "base64" });
    expect(unb64(readBack.json.content)).toBe("hello\n");

    const head = await api(owner, "GET", `${repo}/git/commits/${fixtures.head}`);
    expect(head.json).toMatchObject({ sha: fixtures.head, message: "commit 11", author: { name: "Fixture" } });
    const tree = await api(owner, "POST", `${repo}/git/trees`, {
      base_tree: head.json.tree.sha,
      tree: [
        { path: "bin/data", mode: "100644", type: "blob", sha: blob.json.sha },
        { path: "notes.txt", mode: "100644", type: "blob", content: "notes\n" },
        { path: "b0.txt", mode: "100644", type: "blob", sha: null },
      ],
    });
    expect(tree.status).toBe(201);
    expect(tree.json.tree.map((e: J) => e.path)).toEqual(["a.txt", "b1.txt", "b2.txt", "bin", "notes.txt"]);
    const recursive = await api(owner, "GET", `${repo}/git/trees/${tree.json.sha}?recursive=1`);
    expect(recursive.json.tree.map((e: J) => `${e.type}:${e.path}`)).toContain("blob:bin/data");
    expect(recursive.json.truncated).toBe(false);
    const byRef = await api(owner, "GET", `${repo}/git/trees/main`);
    expect(byRef.json.sha).toBe(head.json.tree.sha);

    const commit = await api(owner, "POST", `${repo}/git/commits`, {
      message: "Made through the API",
      tree: tree.json.sha,
      parents: [fixtures.head],
      author: { name: "Bot", email: "bot@example.com", date: "2024-05-06T07:08:09+02:00" },
    });
    expect(commit.status).toBe(201);
    expect(commit.json).toMatchObject({ message: "Made through the API", author: { name: "Bot" }, tree: { sha: tree.json.sha } });
    const badParent = await api(owner, "POST", `${repo}/git/commits`, { message: "x", tree: tree.json.sha, parents: [ZERO] });
    expect(badParent.status).toBe(422);

    const moved = await api(owner, "PATCH", `${repo}/git/refs/heads/main`, { sha: commit.json.sha });
    expect(moved.status).toBe(200);
    expect(moved.json).toMatchObject({ ref: "refs/heads/main", object: { sha: commit.json.sha, type: "commit" } });
    // Back to an ancestor is not a fast-forward.
    const back = await api(owner, "PATCH", `${repo}/git/refs/heads/main`, { sha: fixtures.base });
    expect(back.status).toBe(422);
    expect(back.json.message).toBe("Update is not a fast forward");
    expect((await api(owner, "GET", `${repo}/git/ref/heads/main`)).json.object.sha).toBe(commit.json.sha);
    const forced = await api(owner, "PATCH", `${repo}/git/refs/heads/main`, { sha: fixtures.base, force: true });
    expect(forced.status).toBe(200);
    expect((await api(owner, "GET", `${repo}/git/ref/heads/main`)).json.object.sha).toBe(fixtures.base);

    const created = await api(owner, "POST", `${repo}/git/refs`, { ref: "refs/heads/feature/x", sha: commit.json.sha });
    expect(created.status).toBe(201);
    expect((await api(owner, "POST", `${repo}/git/refs`, { ref: "refs/heads/feature/x", sha: commit.json.sha })).json.message).toBe(
      "Reference already exists",
    );
    expect((await api(owner, "POST", `${repo}/git/refs`, { ref: "refs/heads/y", sha: tree.json.sha })).status).toBe(422);
    expect((await api(owner, "POST", `${repo}/git/refs`, { ref: "refs/heads/bad..name", sha: commit.json.sha })).status).toBe(422);
    // A ref name beyond Latin-1 gets a node id too.
    expect((await api(owner, "POST", `${repo}/git/refs`, { ref: "refs/heads/fé/ü", sha: commit.json.sha })).status).toBe(201);
    expect((await api(owner, "GET", `${repo}/git/ref/heads/${encodeURIComponent("fé")}/${encodeURIComponent("ü")}`)).json.ref).toBe(
      "refs/heads/fé/ü",
    );
    const matching = await api(owner, "GET", `${repo}/git/matching-refs/heads/feat`);
    expect(matching.json.map((r: J) => r.ref)).toEqual(["refs/heads/feature/x"]);
    expect((await api(owner, "DELETE", `${repo}/git/refs/heads/feature/x`)).status).toBe(204);
    expect((await api(owner, "DELETE", `${repo}/git/refs/heads/feature/x`)).status).toBe(422);
    expect((await api(owner, "GET", `${repo}/git/ref/heads/feature/x`)).status).toBe(404);
    // Writing needs write access.
    const reader = await api("restreader", "PATCH", `${repo}/git/refs/heads/main`, { sha: commit.json.sha, force: true });
    expect(reader.status).toBe(404);
  });

  it("lists tags and reads an annotated tag", async () => {
    const owner = "resttags";
    const name = await pushed(owner);
    const repo = `/repos/${owner}/${name}`;
    expect((await api(owner, "POST", `${repo}/git/refs`, { ref: "refs/tags/light", sha: fixtures.base })).status).toBe(201);
    const tags = await api(owner, "GET", `${repo}/tags`);
    expect(tags.json).toEqual([expect.objectContaining({ name: "light", commit: expect.objectContaining({ sha: fixtures.base }) })]);
    expect((await api(owner, "GET", `${repo}/git/tags/${fixtures.base}`)).status).toBe(404);
  });
});

describe("the API's conditional requests and errors", () => {
  it("answers a GET with a weak ETag and an unchanged one with 304", async () => {
    const owner = "restetag";
    const name = await pushed(owner);
    const url = `/repos/${owner}/${name}/commits?per_page=2`;
    const first = await api(owner, "GET", url);
    const tag = first.headers.get("ETag")!;
    expect(tag).toMatch(/^W\/"[0-9a-f]{40}"$/);
    const again = await api(owner, "GET", url, undefined, { "If-None-Match": tag });
    expect(again.status).toBe(304);
    expect(again.json).toBeNull();
    expect(again.headers.get("ETag")).toBe(tag);
    expect((await api(owner, "PUT", `/repos/${owner}/${name}/contents/c.txt`, { message: "c", content: b64("c") })).status).toBe(201);
    const changed = await api(owner, "GET", url, undefined, { "If-None-Match": tag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("ETag")).not.toBe(tag);
    // Writes carry none.
    expect((await api(owner, "POST", "/user/repos", { name: `etag-${seq++}` })).headers.get("ETag")).toBeNull();
  });

  it("answers bad requests in GitHub's form", async () => {
    const owner = "resterr";
    const name = await pushed(owner);
    const missing = await api(owner, "PUT", `/repos/${owner}/${name}/contents/z.txt`, { content: b64("z") });
    expect(missing.status).toBe(422);
    expect(missing.json).toMatchObject({
      message: "Validation Failed",
      errors: [{ resource: "Contents", field: "message", code: "missing_field" }],
    });
    const badB64 = await api(owner, "PUT", `/repos/${owner}/${name}/contents/z.txt`, { message: "z", content: "!!!" });
    expect(badB64.status).toBe(422);
    const notJson = await SELF.fetch(`${BASE}/api/v3/repos/${owner}/${name}/git/blobs`, {
      method: "POST",
      headers: { Authorization: await accountAuth(owner) },
      body: "{",
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as J).documentation_url).toBeTruthy();
    expect((await api(owner, "GET", `/repos/${owner}/${name}/git/blobs/${"f".repeat(40)}`)).status).toBe(404);
    // Nothing was written by any of them.
    const log = await api(owner, "GET", `/repos/${owner}/${name}/commits?per_page=1`);
    expect(log.json[0].sha).toBe(fixtures.head);
  });
});
