// Code search inside workerd: the index in the repository's SQLite (built in slices,
// updated incrementally after pushes and editor moves, with files changed, removed and
// renamed), binary and oversized files left out, deletion with the repository, the API's
// shapes and qualifiers, and that a private repository is searched by its readers only.
import { SELF, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { concatBytes } from "../src/util/bytes";
import { pktLine } from "../src/git/protocol/pkt-line";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TREE, fromHex } from "../src/git/object/object";
import type { Repository } from "../src/repo/repository";
import { buildPack, oidOf } from "./pack-builder";
import { accountAuth, inRepo } from "./helpers";
import { DEFAULT_INDEX, distinctTrigrams } from "../src/repo/search/code-index";

/** `length` characters of base64 of random bytes: text whose trigrams are nearly all distinct. */
function randomBase64(length: number): string {
  const bytes = new Uint8Array(Math.ceil((length * 3) / 4));
  for (let at = 0; at < bytes.length; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  return btoa(String.fromCharCode(...bytes)).slice(0, length);
}

const BASE = "http://gitflare.test";
const enc = (s: string) => new TextEncoder().encode(s);
let seq = 0;
type Stub = DurableObjectStub<Repository>;
// biome-ignore lint/suspicious/noExplicitAny: the API's answers, read field by field as the assertions need
type Json = Record<string, any>;

async function call(user: string | null, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const h: Record<string, string> = { "Content-Type": "application/json", ...headers };
  if (user) h.Authorization = await accountAuth(user);
  return SELF.fetch(`${BASE}${path}`, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: "manual",
  });
}

async function makeRepo(owner: string, isPrivate: boolean, collaborators: Record<string, string> = {}) {
  const name = `search${seq++}`;
  const res = await call(owner, "POST", `/api/repos/${owner}/${name}`, { private: isPrivate });
  expect(res.status).toBe(201);
  await res.text();
  for (const [user, role] of Object.entries(collaborators)) {
    await accountAuth(user);
    const put = await call(owner, "PUT", `/api/repos/${owner}/${name}/collaborators/${user}`, { role });
    expect(put.status).toBe(200);
    await put.text();
  }
  const row = await env.DB.prepare("SELECT do_name FROM repos WHERE name = ?").bind(name).first<{ do_name: string }>();
  return { path: `${owner}/${name}`, stub: env.REPO.getByName(row!.do_name) as unknown as Stub };
}

const who = { name: "Fixture", email: "fixture@example.com" };

async function commit(stub: Stub, parent: string | null, changes: Parameters<Repository["commitFiles"]>[0]["changes"]): Promise<string> {
  const r = await stub.commitFiles({
    parent,
    branch: "main",
    createBranch: false,
    changes,
    message: "change",
    author: who,
    when: { seconds: 1_750_000_000 },
  });
  expect(r.ok).toBe(true);
  return r.ok ? r.commit : "";
}

/** Runs index slices until the index has caught up; returns the slices' reports. */
async function catchUp(stub: Stub, sliceEntries = 4000) {
  const reports = [];
  for (;;) {
    const r = await stub.indexSlice({ sliceEntries });
    reports.push(r);
    if (!r.more) return reports;
    expect(reports.length).toBeLessThan(500);
  }
}

async function codeSearch(user: string | null, q: string, accept = "application/vnd.github.text-match+json") {
  const res = await call(user, "GET", `/api/v3/search/code?q=${encodeURIComponent(q)}`, undefined, { Accept: accept });
  return { status: res.status, link: res.headers.get("Link"), json: (await res.json()) as Json };
}

const paths = (j: Json) => (j.items as Json[]).map((i) => i.path).sort();

const APP =
  "var app = exports = module.exports = {};\n\napp.init = function init() {\n  this.cache = {};\n};\n\nfunction createApplication() {\n  return app;\n}\n";
const ROUTER = "// Router <b> & friends\nfunction Router(options) {\n  return createApplication;\n}\n";

describe("code search", () => {
  it("indexes in slices, leaves out binary and oversized files, and answers in GitHub's shape with qualifiers", async () => {
    const { path, stub } = await makeRepo("searcher", false);
    const binary = concatBytes([enc("createApplication"), new Uint8Array([0, 1, 2])]);
    const head = await commit(stub, null, [
      { kind: "create", path: "lib/application.js", content: APP },
      { kind: "create", path: "lib/router/index.js", content: ROUTER },
      { kind: "create", path: "README.md", content: "# Demo\nUse createApplication() to start.\n" },
      { kind: "create", path: "data.bin", content: binary },
      { kind: "create", path: "big.txt", content: `createApplication\n${"x".repeat(400 * 1024)}\n` },
    ]);
    // Before the first slice nothing is indexed: no results, and the answer says so.
    const before = await codeSearch("searcher", `createApplication repo:${path}`);
    expect(before.json).toMatchObject({ total_count: 0, incomplete_results: true, items: [] });

    const reports = await catchUp(stub, 3);
    expect(reports.length).toBeGreaterThan(2);
    const found = await codeSearch("searcher", `createApplication repo:${path}`);
    expect(found.status).toBe(200);
    expect(found.json.total_count).toBe(3);
    expect(found.json.incomplete_results).toBe(false);
    expect(paths(found.json)).toEqual(["README.md", "lib/application.js", "lib/router/index.js"]);
    const app = (found.json.items as Json[]).find((i) => i.path === "lib/application.js")!;
    expect(app).toMatchObject({
      name: "application.js",
      html_url: `${BASE}/${path}/blob/${head}/lib/application.js`,
      url: `${BASE}/api/v3/repos/${path}/contents/lib/application.js?ref=${head}`,
      repository: { full_name: path, private: false },
    });
    expect(app.sha).toBe(oidOf(OBJ_BLOB, enc(APP)));
    expect(app.text_matches).toEqual([
      {
        object_url: `${BASE}/api/v3/repos/${path}/git/blobs/${app.sha}`,
        object_type: "FileContent",
        property: "content",
        fragment: "function createApplication() {",
        matches: [{ text: "createApplication", indices: [9, 26] }],
      },
    ]);
    // Without the text-match media type there are no text_matches.
    expect((await codeSearch("searcher", `createApplication repo:${path}`, "application/json")).json.items[0].text_matches).toBeUndefined();

    // Case-insensitive substrings, punctuation included; qualifiers.
    expect(paths((await codeSearch("searcher", `APP.INIT repo:${path}`)).json)).toEqual(["lib/application.js"]);
    expect(paths((await codeSearch("searcher", `createApplication extension:md repo:${path}`)).json)).toEqual(["README.md"]);
    expect(paths((await codeSearch("searcher", `createApplication language:javascript repo:${path}`)).json)).toEqual([
      "lib/application.js",
      "lib/router/index.js",
    ]);
    expect(paths((await codeSearch("searcher", `createApplication lang:Markdown repo:${path}`)).json)).toEqual(["README.md"]);
    expect(paths((await codeSearch("searcher", `createApplication path:router repo:${path}`)).json)).toEqual(["lib/router/index.js"]);
    expect(paths((await codeSearch("searcher", `createApplication path:/lib repo:${path}`)).json)).toHaveLength(2);
    expect(paths((await codeSearch("searcher", `"function Router" repo:${path}`)).json)).toEqual(["lib/router/index.js"]);
    expect((await codeSearch("searcher", `createApplication language:cobol repo:${path}`)).json.total_count).toBe(0);

    // Pagination: one per page, with GitHub's Link header.
    const page = await call(
      "searcher",
      "GET",
      `/api/v3/search/code?q=${encodeURIComponent(`createApplication repo:${path}`)}&per_page=1&page=2`,
    );
    expect(page.headers.get("Link")).toContain('rel="next"');
    expect(page.headers.get("Link")).toContain('rel="prev"');
    expect(((await page.json()) as Json).items).toHaveLength(1);

    // Bad queries: a clear 422.
    for (const [q, message] of [
      [`ap repo:${path}`, "at least 3 characters"],
      ["createApplication", "Must include at least one user, organization, or repository"],
      [`createApplication repo:${path} owner:x`, "not supported"],
      [`repo:${path}`, "at least one term"],
    ]) {
      const bad = await codeSearch("searcher", q);
      expect(bad.status).toBe(422);
      expect(bad.json.errors[0].message).toContain(message);
    }
  });

  it("follows pushes and editor commits incrementally: a file changed, removed and renamed", async () => {
    const { path, stub } = await makeRepo("searcher", false);
    const first = await commit(stub, null, [
      { kind: "create", path: "lib/application.js", content: APP },
      { kind: "create", path: "lib/router/index.js", content: ROUTER },
      { kind: "create", path: "README.md", content: "Use createApplication() to start.\n" },
    ]);
    await catchUp(stub);
    const newApp = APP.replace("createApplication", "makeApp");
    const second = await commit(stub, first, [
      { kind: "update", path: "lib/application.js", content: newApp },
      { kind: "delete", path: "README.md" },
      { kind: "update", path: "lib/routing/index.js", from: "lib/router/index.js", content: ROUTER },
    ]);
    // Behind: the old commit's results, marked incomplete.
    const behind = await codeSearch("searcher", `createApplication repo:${path}`);
    expect(behind.json.incomplete_results).toBe(true);
    expect(behind.json.items[0].html_url).toContain(`/blob/${first}/`);
    expect(paths(behind.json)).toHaveLength(3);

    const reports = await catchUp(stub);
    // Only the changed blob was read: the renamed file's blob was indexed already.
    expect(reports.reduce((n, r) => n + r.bytes, 0)).toBe(enc(newApp).byteLength);
    const after = await codeSearch("searcher", `createApplication repo:${path}`);
    expect(after.json.incomplete_results).toBe(false);
    expect(paths(after.json)).toEqual(["lib/routing/index.js"]);
    expect(after.json.items[0].html_url).toBe(`${BASE}/${path}/blob/${second}/lib/routing/index.js`);
    expect(paths((await codeSearch("searcher", `makeApp repo:${path}`)).json)).toEqual(["lib/application.js"]);

    // A git push (receive-pack) that replaces the whole tree.
    const blob = enc("const pushedNeedle = 1;\n");
    const tree = concatBytes([enc("100644 pushed.js\0"), fromHex(oidOf(OBJ_BLOB, blob))]);
    const c = enc(
      `tree ${oidOf(OBJ_TREE, tree)}\nparent ${second}\nauthor A <a@b> 1750000100 +0000\ncommitter A <a@b> 1750000100 +0000\n\npush\n`,
    );
    const oid = oidOf(OBJ_COMMIT, c);
    const pack = buildPack([
      { type: OBJ_COMMIT, data: c },
      { type: OBJ_TREE, data: tree },
      { type: OBJ_BLOB, data: blob },
    ]);
    const res = await SELF.fetch(`${BASE}/${path}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request", Authorization: await accountAuth("searcher") },
      body: concatBytes([pktLine(`${second} ${oid} refs/heads/main\0report-status\n`), enc("0000"), pack]),
    });
    expect(await res.text()).toContain("ok refs/heads/main");
    // The push set the alarm for the index; run its slices here rather than wait.
    await catchUp(stub);
    expect(paths((await codeSearch("searcher", `pushedNeedle repo:${path}`)).json)).toEqual(["pushed.js"]);
    expect((await codeSearch("searcher", `makeApp repo:${path}`)).json.total_count).toBe(0);
    // Texts no file has any more are gone from the index.
    const rows = await inRepo(stub, (_r, state) => ({
      blobs: state.storage.sql.exec("SELECT count(*) AS n FROM search_blob").one().n,
      texts: state.storage.sql.exec("SELECT count(*) AS n FROM search_text").one().n,
    }));
    expect(rows).toEqual({ blobs: 1, texts: 1 });
  });

  it("searches another branch on request, and the page marks and escapes matches with links to lines", async () => {
    const { path, stub } = await makeRepo("searcher", false);
    const head = await commit(stub, null, [{ kind: "create", path: "lib/router/index.js", content: ROUTER }]);
    const side = await stub.commitFiles({
      parent: head,
      branch: "side",
      createBranch: true,
      changes: [{ kind: "create", path: "side.txt", content: "only on <side> createApplication\n" }],
      message: "side",
      author: who,
      when: { seconds: 1_750_000_000 },
    });
    expect(side.ok).toBe(true);
    await catchUp(stub);
    const page = await call("searcher", "GET", `/${path}/search?q=${encodeURIComponent('"Router <b>"')}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`// <mark>Router &lt;b&gt;</mark> &amp; friends`);
    expect(html).toContain(`href="/${path}/blob/${head}/lib/router/index.js#L1"`);
    // The side branch is indexed once someone searches it.
    const first = await (await call("searcher", "GET", `/${path}/search?q=createApplication&ref=side`)).text();
    expect(first).toContain("being indexed");
    await catchUp(stub);
    const sideHtml = await (await call("searcher", "GET", `/${path}/search?q=createApplication&ref=side`)).text();
    expect(sideHtml).toContain("side.txt");
    expect(sideHtml).toContain("only on &lt;side&gt; <mark>createApplication</mark>");
    const short = await call("searcher", "GET", `/${path}/search?q=ab`);
    expect(short.status).toBe(422);
    expect(await short.text()).toContain("at least 3 characters");
  });

  it("answers hostile queries with a result or a 4xx, never a 500", async () => {
    const { path, stub } = await makeRepo("searcher", false);
    await commit(stub, null, [{ kind: "create", path: "a.txt", content: 'quote " and NEAR(x y) * ^ : %_\\\n' }]);
    await catchUp(stub);
    const queries = [
      '"',
      '""',
      '"unbalanced',
      'quote "',
      "NEAR(x y)",
      "a*b* OR",
      "^^^",
      "%_\\",
      "x\u0000yz",
      "💩💩💩",
      "path:",
      'path:"a b" abc',
      "lang:",
      "\u202etxt",
      "'; DROP TABLE x; --",
      // More terms and qualifiers than SQLite takes bound parameters (D1 and Durable Objects: 100).
      Array.from({ length: 120 }, () => "w").join(" "),
      `abc ${Array.from({ length: 20 }, () => "lang:c++").join(" ")}`,
      Array.from({ length: 120 }, (_, i) => `word${i}`).join(" "),
      `abc ${Array.from({ length: 120 }, (_, i) => `path:p${i}`).join(" ")}`,
      `abc ${Array.from({ length: 120 }, (_, i) => `user:u${i}`).join(" ")}`,
      "x".repeat(60_000),
    ];
    for (const q of queries) {
      for (const url of [
        `/api/v3/search/code?q=${encodeURIComponent(`${q} repo:${path}`)}`,
        `/api/v3/search/issues?q=${encodeURIComponent(q)}`,
        `/api/v3/search/repositories?q=${encodeURIComponent(q)}`,
        `/${path}/search?q=${encodeURIComponent(q)}`,
        `/search?q=${encodeURIComponent(q)}&type=issues`,
      ]) {
        const res = await call("searcher", "GET", url);
        await res.arrayBuffer();
        expect(res.status, `${url}`).toBeLessThan(500);
      }
    }
    expect(paths((await codeSearch("searcher", `"NEAR(x y)" repo:${path}`)).json)).toEqual(["a.txt"]);
    expect(paths((await codeSearch("searcher", `": %_" repo:${path}`)).json)).toEqual(["a.txt"]);
  });

  it("counts every match but pages through the first 1,000, as GitHub does", async () => {
    const { path, stub } = await makeRepo("searcher", false);
    const files = Array.from({ length: 1003 }, (_, i) => ({
      kind: "create" as const,
      path: `many/f${String(i).padStart(4, "0")}.txt`,
      content: `manyNeedle ${i}\n`,
    }));
    await commit(stub, null, files);
    await catchUp(stub);
    expect((await codeSearch("searcher", `manyNeedle repo:${path}`)).json.total_count).toBe(1003);
    const last = await call(
      "searcher",
      "GET",
      `/api/v3/search/code?q=${encodeURIComponent(`manyNeedle repo:${path}`)}&per_page=100&page=10`,
    );
    const lastJson = (await last.json()) as Json;
    expect(lastJson.total_count).toBe(1003);
    expect((lastJson.items as Json[]).map((i) => i.path).at(-1)).toBe("many/f0999.txt");
    expect(last.headers.get("Link")).not.toContain('rel="next"');
    const past = await call(
      "searcher",
      "GET",
      `/api/v3/search/code?q=${encodeURIComponent(`manyNeedle repo:${path}`)}&per_page=100&page=11`,
    );
    expect(((await past.json()) as Json).items).toEqual([]);
  });

  it("counts a text's distinct trigrams closely enough to bound a slice by them", () => {
    const exact = (t: string) => {
      const seen = new Set<string>();
      for (let i = 0; i + 2 < t.length; i++) seen.add(t.slice(i, i + 3));
      return seen.size;
    };
    const texts = ["", "ab", "abc", "a".repeat(1000), APP, ROUTER.repeat(50), randomBase64(3_000), randomBase64(150_000)];
    for (let i = 0; i < 20; i++) texts.push(`${APP}${randomBase64(i * 997)}${"é€😀".repeat(i * 31)}`);
    for (const t of texts) {
      const n = exact(t);
      expect(Math.abs(distinctTrigrams(t) - n), `${t.length} characters, ${n} trigrams`).toBeLessThanOrEqual(Math.max(2, n * 0.03));
    }
  });

  it("cuts the slices of texts with many trigrams (random base64) by trigrams, not bytes, and still indexes them all", async () => {
    const { path, stub } = await makeRepo("searcher", false);
    const files = Array.from({ length: 12 }, (_, i) => ({
      kind: "create" as const,
      path: `blob${i}.txt`,
      content: `marker${i}x ${randomBase64(100_000)}`,
    }));
    await commit(stub, null, files);
    const reports = await catchUp(stub);
    // The first slice stops at the first text past the bound (about 75,000 trigrams each
    // here, 1.2 MB in all: under the byte bound); the index's timers may run the others.
    const [first] = reports;
    expect(first.more).toBe(true);
    expect(first.indexed).toBeGreaterThan(1);
    expect(first.indexed).toBeLessThan(12);
    expect(first.trigrams).toBeGreaterThanOrEqual(DEFAULT_INDEX.sliceTrigrams);
    expect(first.trigrams - DEFAULT_INDEX.sliceTrigrams).toBeLessThan(100_000);
    for (const i of [0, 11]) {
      const found = await codeSearch("searcher", `marker${i}x repo:${path}`);
      expect(paths(found.json)).toEqual([`blob${i}.txt`]);
    }
  });

  it("is deleted with the repository", async () => {
    const { path, stub } = await makeRepo("searcher", false);
    await commit(stub, null, [{ kind: "create", path: "a.txt", content: "deleteMeNeedle\n" }]);
    await catchUp(stub);
    const count = () =>
      inRepo(stub, (_r, state) =>
        ["search_file", "search_blob", "search_text", "search_branch"].map(
          (t) => state.storage.sql.exec(`SELECT count(*) AS n FROM ${t}`).one().n,
        ),
      );
    expect(await count()).toEqual([1, 1, 1, 1]);
    const del = await call("searcher", "DELETE", `/api/v3/repos/${path}`);
    expect(del.status).toBe(204);
    expect(await count()).toEqual([0, 0, 0, 0]);
    expect((await codeSearch("searcher", `deleteMeNeedle repo:${path}`)).status).toBe(422);
  });

  it("searches a private repository for its readers only", async () => {
    const { path, stub } = await makeRepo("secretive", true, { peeker: "read" });
    await commit(stub, null, [{ kind: "create", path: "secret.txt", content: "privateNeedle inside\n" }]);
    await catchUp(stub);
    for (const user of ["secretive", "peeker"])
      expect(paths((await codeSearch(user, `privateNeedle repo:${path}`)).json)).toEqual(["secret.txt"]);
    const missing = await codeSearch("stranger", `privateNeedle repo:secretive/nothing-here`);
    for (const user of ["stranger", null]) {
      const r = await codeSearch(user, `privateNeedle repo:${path}`);
      // The same answer as for a repository that does not exist.
      expect(r.status).toBe(422);
      expect(r.json).toEqual(missing.json);
      const page = await call(user, "GET", `/${path}/search?q=privateNeedle`);
      expect(page.status).toBe(404);
      expect(await page.text()).not.toContain("privateNeedle inside");
    }
  });
});

describe("site-wide search", () => {
  const needle = `zq${Date.now().toString(36)}`;

  async function issue(user: string, path: string, title: string, body = "") {
    const res = await call(user, "POST", `/api/v3/repos/${path}/issues`, { title, body });
    expect(res.status).toBe(201);
    return ((await res.json()) as Json).number as number;
  }

  async function issues(user: string | null, q: string) {
    const res = await call(user, "GET", `/api/v3/search/issues?q=${encodeURIComponent(q)}`);
    expect(res.status).toBe(200);
    const json = (await res.json()) as Json;
    return {
      total: json.total_count as number,
      titles: (json.items as Json[]).map((i) => i.title as string).sort(),
      items: json.items as Json[],
    };
  }

  it("finds issues and pull requests by title and body, with is: and repo: qualifiers, never a private repository's for others", async () => {
    const pub = await makeRepo("siteowner", false);
    const priv = await makeRepo("siteowner", true, { sitereader: "read" });
    await issue("siteowner", pub.path, `Crash in ${needle} parser`, "Steps to reproduce");
    const closed = await issue("siteowner", pub.path, "Docs typo", `The ${needle} page has a typo`);
    await issue("siteowner", priv.path, `Secret ${needle} launch plan`);
    const head = await commit(pub.stub, null, [{ kind: "create", path: "a.txt", content: "a\n" }]);
    const branch = await pub.stub.commitFiles({
      parent: head,
      branch: "feature",
      createBranch: true,
      changes: [{ kind: "create", path: "b.txt", content: "b\n" }],
      message: "b",
      author: who,
      when: { seconds: 1_750_000_000 },
    });
    expect(branch.ok).toBe(true);
    const pr = await call("siteowner", "POST", `/api/v3/repos/${pub.path}/pulls`, {
      title: `Fix ${needle} parser`,
      head: "feature",
      base: "main",
    });
    expect(pr.status).toBe(201);
    const shut = await call("siteowner", "PATCH", `/api/v3/repos/${pub.path}/issues/${closed}`, { state: "closed" });
    expect(shut.status).toBe(200);
    await Promise.all([pub.stub.issuesMirrored(), priv.stub.issuesMirrored()]);

    const all = [`Crash in ${needle} parser`, "Docs typo", `Fix ${needle} parser`];
    for (const user of [null, "stranger"]) expect(await issues(user, needle)).toMatchObject({ total: 3, titles: all });
    for (const user of ["siteowner", "sitereader"])
      expect((await issues(user, needle)).titles).toEqual([...all, `Secret ${needle} launch plan`].sort());
    expect((await issues(null, `${needle} is:pr`)).titles).toEqual([`Fix ${needle} parser`]);
    expect((await issues(null, `${needle} is:issue is:open`)).titles).toEqual([`Crash in ${needle} parser`]);
    expect((await issues(null, `${needle} is:closed`)).titles).toEqual(["Docs typo"]);
    expect((await issues("siteowner", `${needle} repo:${priv.path}`)).titles).toEqual([`Secret ${needle} launch plan`]);
    expect((await issues("stranger", `${needle} repo:${priv.path}`)).total).toBe(0);
    const found = await issues(null, `${needle} is:pr`);
    expect(found.items[0]).toMatchObject({
      html_url: `${BASE}/${pub.path}/pull/2`.replace("/pull/2", `/pull/${found.items[0].number}`),
      state: "open",
    });
    expect(found.items[0].pull_request).toBeDefined();
    // An edit reaches the mirror.
    const edit = await call("siteowner", "PATCH", `/api/v3/repos/${pub.path}/issues/${closed}`, { title: `Docs ${needle} typo` });
    expect(edit.status).toBe(200);
    await pub.stub.issuesMirrored();
    expect((await issues(null, `${needle} is:closed`)).titles).toEqual([`Docs ${needle} typo`]);

    // Renamed: the issues follow; deleted: they are gone.
    const renamed = await call("siteowner", "PATCH", `/api/v3/repos/${pub.path}`, { name: `${pub.path.split("/")[1]}-renamed` });
    expect(renamed.status).toBe(200);
    expect((await issues(null, `${needle} is:pr`)).items[0].repository_url).toBe(`${BASE}/api/v3/repos/${pub.path}-renamed`);
    expect((await call("siteowner", "DELETE", `/api/v3/repos/${pub.path}-renamed`)).status).toBe(204);
    expect((await issues(null, needle)).total).toBe(0);
    const left = await env.DB.prepare("SELECT count(*) AS n FROM issue_search WHERE title LIKE ?")
      .bind(`%${needle}%`)
      .first<{ n: number }>();
    expect(left?.n).toBe(1);
    // Made public, the private repository's issue shows to everyone.
    expect((await call("siteowner", "PATCH", `/api/v3/repos/${priv.path}`, { private: false })).status).toBe(200);
    expect((await issues("stranger", needle)).titles).toEqual([`Secret ${needle} launch plan`]);
  });

  it("leaves out a fork of a private repository, and its issues, once its owner loses access to the parent", async () => {
    const word = `${needle}fork`;
    const parent = await makeRepo("netowner", true, { netreader: "read" });
    await commit(parent.stub, null, [{ kind: "create", path: "a.txt", content: "a\n" }]);
    expect((await call("netowner", "PATCH", `/api/v3/repos/${parent.path}`, { description: `Plans ${word}` })).status).toBe(200);
    const forked = await call("netreader", "POST", `/api/v3/repos/${parent.path}/forks`, {});
    expect(forked.status).toBe(202);
    const fork = ((await forked.json()) as Json).full_name as string;
    await issue("netreader", fork, `Copied ${word} notes`);
    const row = await env.DB.prepare("SELECT do_name FROM repos WHERE name = ? AND owner_id = (SELECT id FROM users WHERE username = ?)")
      .bind(fork.split("/")[1], "netreader")
      .first<{ do_name: string }>();
    await (env.REPO.getByName(row!.do_name) as unknown as Stub).issuesMirrored();
    const repoNames = async () =>
      ((await (await call("netreader", "GET", `/api/v3/search/repositories?q=${word}`)).json()) as Json).items.map(
        (i: Json) => i.full_name,
      );
    expect((await repoNames()).sort()).toEqual([parent.path, fork].sort());
    expect((await issues("netreader", word)).titles).toEqual([`Copied ${word} notes`]);

    expect((await call("netowner", "DELETE", `/api/v3/repos/${parent.path}/collaborators/netreader`)).status).toBe(204);
    expect((await call("netreader", "GET", `/api/v3/repos/${fork}`)).status).toBe(404);
    expect(await repoNames()).toEqual([]);
    expect((await issues("netreader", word)).total).toBe(0);
    expect(await (await call("netreader", "GET", `/search?q=${word}`)).text()).not.toContain(fork);
  });

  it("finds repositories by name and description, never a private one for others; and the page", async () => {
    const open = await makeRepo("siteowner", false);
    const hidden = await makeRepo("siteowner", true, { sitereader: "read" });
    for (const [r, text] of [
      [open, `Public ${needle} tools`],
      [hidden, `Private ${needle} plans`],
    ] as const) {
      const res = await call("siteowner", "PATCH", `/api/v3/repos/${r.path}`, { description: text });
      expect(res.status).toBe(200);
    }
    const repos = async (user: string | null, q: string) => {
      const res = await call(user, "GET", `/api/v3/search/repositories?q=${encodeURIComponent(q)}`);
      expect(res.status).toBe(200);
      const json = (await res.json()) as Json;
      return { total: json.total_count, names: (json.items as Json[]).map((i) => i.full_name).sort() };
    };
    for (const user of [null, "stranger"]) expect(await repos(user, needle)).toEqual({ total: 1, names: [open.path] });
    for (const user of ["siteowner", "sitereader"]) expect((await repos(user, needle)).names).toEqual([open.path, hidden.path].sort());
    expect((await repos("siteowner", `${needle} is:private`)).names).toEqual([hidden.path]);
    expect((await repos(null, open.path.split("/")[1])).names).toContain(open.path);

    const page = await (await call("stranger", "GET", `/search?q=${needle}`)).text();
    expect(page).toContain(`${open.path}</a>`);
    expect(page).not.toContain(hidden.path);
    const mine = await (await call("siteowner", "GET", `/search?q=${needle}`)).text();
    expect(mine).toContain(hidden.path);
    expect((await call(null, "GET", "/api/v3/search/repositories?q=")).status).toBe(422);
  });
});
