// Pages as people reach them: URLs with a trailing slash, commits named by abbreviated
// ids and ref names in every position, and a branch selector that does not carry every
// ref in every page. Driven through the Worker with SELF.fetch, over a repository whose
// history is built here so that two commits share a 4-digit id prefix.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TAG, OBJ_TREE, fromHex } from "../src/git/object/object";
import { pktLine } from "../src/git/protocol/pkt-line";
import { concatBytes } from "../src/util/bytes";
import { ownerFetch } from "./helpers";
import { buildPack, oidOf } from "./pack-builder";

const BASE = "http://gitflare.test";
const OWNER = "pages";
const ZERO = "0".repeat(40);
const BRANCHES = 300;
const utf8 = (s: string) => new TextEncoder().encode(s);

interface History {
  pack: Uint8Array;
  /** Commits oldest first. */
  commits: string[];
  tag: string;
  /** Two commits whose ids share their first four hex digits. */
  twins: [string, string];
}

/**
 * A chain of commits over one file, made until two ids share a 4-digit prefix (the
 * birthday bound puts that near 320 commits; the content is fixed, so the chain is too).
 */
function history(): History {
  const blob = utf8("hello\n");
  const blobOid = oidOf(OBJ_BLOB, blob);
  const tree = concatBytes([utf8("100644 a.txt\0"), fromHex(blobOid)]);
  const treeOid = oidOf(OBJ_TREE, tree);
  const entries = [
    { type: OBJ_BLOB, data: blob },
    { type: OBJ_TREE, data: tree },
  ];
  const commits: string[] = [];
  const byPrefix = new Map<string, string>();
  let twins: [string, string] | null = null;
  for (let i = 0; !twins; i++) {
    const parent = commits.length ? `parent ${commits[commits.length - 1]}\n` : "";
    const sig = `Pat <pat@example.com> ${1_700_000_000 + i} +0000`;
    const data = utf8(`tree ${treeOid}\n${parent}author ${sig}\ncommitter ${sig}\n\ncommit ${i}\n`);
    const oid = oidOf(OBJ_COMMIT, data);
    entries.push({ type: OBJ_COMMIT, data });
    commits.push(oid);
    const twin = byPrefix.get(oid.slice(0, 4));
    if (twin) twins = [twin, oid];
    byPrefix.set(oid.slice(0, 4), oid);
  }
  const tagData = utf8(`object ${commits[0]}\ntype commit\ntag v1\ntagger Pat <pat@example.com> 1700000000 +0000\n\nfirst\n`);
  entries.push({ type: OBJ_TAG, data: tagData });
  return { pack: buildPack(entries), commits, tag: oidOf(OBJ_TAG, tagData), twins };
}

/**
 * Creates `refs` by pushes of `pack`. Commands go a few at a time: in these tests the
 * Worker cuts push bodies into 2 KiB segments, and the commands must fit in the first.
 */
async function push(name: string, pack: Uint8Array, refs: [string, string][]): Promise<void> {
  for (let i = 0; i < refs.length; i += 12) {
    await pushOnce(name, i === 0 ? pack : buildPack([]), refs.slice(i, i + 12));
  }
}

async function pushOnce(name: string, pack: Uint8Array, refs: [string, string][]): Promise<void> {
  const lines = refs.map(([ref, oid], i) => pktLine(`${ZERO} ${oid} ${ref}${i === 0 ? "\0report-status" : ""}\n`));
  const res = await ownerFetch(`${BASE}/${OWNER}/${name}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body: concatBytes([...lines, utf8("0000"), pack]),
  });
  const report = new TextDecoder().decode(await res.arrayBuffer());
  expect(report).toContain("unpack ok");
  expect(report).not.toContain(" ng ");
}

const get = (path: string, init: RequestInit = {}) => ownerFetch(`${BASE}/${OWNER}/${path}`, { redirect: "manual", ...init });

let h: History;
const head = () => h.commits[h.commits.length - 1];
/** The shortest prefix of `oid` (7 digits or more) that no other commit here shares. */
const short = (oid: string) => {
  for (let n = 7; ; n++) if (h.commits.filter((c) => c.startsWith(oid.slice(0, n))).length === 1) return oid.slice(0, n);
};

beforeAll(async () => {
  h = history();
  const main: [string, string] = ["refs/heads/main", head()];
  const branches = Array.from({ length: BRANCHES }, (_, i): [string, string] => [
    `refs/heads/branch-${String(i).padStart(3, "0")}`,
    h.commits[i % h.commits.length],
  ]);
  // Two repositories with the same history: one with hundreds of branches, one with two.
  await push("many", h.pack, [main, ["refs/tags/v1", h.tag], ...branches]);
  await push("solo", h.pack, [main, ["refs/tags/v1", h.tag], [`refs/heads/${h.twins[0].slice(0, 4)}`, h.commits[0]]]);
});

describe("a trailing slash", () => {
  it("answers every page, by a redirect to the URL without it", async () => {
    const pages = [
      "many",
      "many/tree/main",
      "many/blob/main/a.txt",
      "many/blame/main/a.txt",
      "many/commits/main",
      `many/commit/${head()}`,
      "many/compare/branch-001...main",
      "many/branches",
      "many/tags",
      "many/settings",
    ];
    for (const p of pages) {
      const slashed = await get(`${p}/?page=0`);
      expect(slashed.status, p).toBe(301);
      expect(slashed.headers.get("Location"), p).toBe(`/${OWNER}/${p}?page=0`);
      await slashed.text();
      const followed = await get(`${p}/`, { redirect: "follow" });
      expect(followed.status, p).toBe(200);
      expect(followed.headers.get("Content-Type"), p).toMatch(/^text\/html/);
      await followed.text();
    }
    const owner = await SELF.fetch(`${BASE}/${OWNER}/`);
    expect(owner.status).toBe(200);
    expect(await owner.text()).toContain("<h1>pages</h1>");
    const login = await SELF.fetch(`${BASE}/login/`);
    expect(login.status).toBe(200);
    await login.text();
  });

  it("leaves the API, raw files, archives, POSTs and odd paths alone", async () => {
    const api = await ownerFetch(`${BASE}/api/repos/${OWNER}/many/`, { redirect: "manual" });
    expect(api.status).toBe(404);
    await api.text();
    for (const path of [`/${OWNER}/many/raw/main/a.txt/`, `/${OWNER}/many/archive/main.zip/`]) {
      const res = await ownerFetch(BASE + path, { redirect: "manual" });
      expect(res.status, path).not.toBe(301);
      await res.arrayBuffer();
    }
    const post = await get("many/", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect(post.status).toBe(404);
    await post.text();
    // Never a redirect to another host (`//evil.example`).
    const evil = await SELF.fetch(`${BASE}//evil.example/`, { redirect: "manual" });
    expect(evil.headers.get("Location")).toBeNull();
    await evil.text();
    // git's paths are untouched.
    const refs = await get("many.git/info/refs?service=git-upload-pack");
    expect(refs.status).toBe(200);
    expect(new TextDecoder().decode(await refs.arrayBuffer())).toContain("refs/heads/main");
  });
});

describe("abbreviated ids and ref names", () => {
  it("resolve in every ref and sha position", async () => {
    const abbrev = short(head());
    const first = short(h.commits[0]);
    const cases: [string, string][] = [
      [`many/commit/${abbrev}`, head()],
      [`many/commit/main`, head()],
      [`many/commit/v1`, h.commits[0]],
      [`many/commit/${h.tag.slice(0, 10)}`, h.commits[0]],
      [`many/commit/${abbrev.toUpperCase()}`, head()],
      [`many/tree/${abbrev}`, "a.txt"],
      [`many/tree/HEAD`, "a.txt"],
      [`many/blob/${abbrev}/a.txt`, "hello"],
      [`many/blame/${abbrev}/a.txt`, "hello"],
      [`many/commits/${abbrev}`, `commit ${h.commits.length - 1}`],
      [`many/commits/${first}`, "commit 0"],
      [`many/compare/${first}...${abbrev}`, `commit ${h.commits.length - 1}`],
    ];
    for (const [path, text] of cases) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(await res.text(), path).toContain(text);
    }
    const raw = await get(`many/raw/${abbrev}/a.txt`);
    expect(raw.status).toBe(200);
    expect(await raw.text()).toBe("hello\n");
    const archive = await get(`many/archive/${abbrev}.tar.gz`);
    expect(archive.status).toBe(200);
    expect(archive.headers.get("Content-Type")).toBe("application/gzip");
    await archive.arrayBuffer();
    // A commit page links to full ids, which stay unambiguous as the repository grows.
    expect(await (await get(`many/commit/${abbrev}`)).text()).toContain(`/${OWNER}/many/tree/${head()}`);
  });

  it("lists the candidates of an ambiguous prefix, and 404s a prefix that names nothing", async () => {
    const [a, b] = h.twins;
    const prefix = a.slice(0, 4);
    for (const [path, link] of [
      [`many/commit/${prefix}`, (oid: string) => `/${OWNER}/many/commit/${oid}`],
      [`many/tree/${prefix}`, (oid: string) => `/${OWNER}/many/tree/${oid}`],
      [`many/blob/${prefix}/a.txt?plain=1`, (oid: string) => `/${OWNER}/many/blob/${oid}/a.txt?plain=1`],
      [`many/raw/${prefix}/a.txt`, (oid: string) => `/${OWNER}/many/raw/${oid}/a.txt`],
      [`many/compare/main...${prefix}`, (oid: string) => `/${OWNER}/many/compare/main...${oid}`],
      [`many/archive/${prefix}.zip`, (oid: string) => `/${OWNER}/many/archive/${oid}.zip`],
    ] as const) {
      const res = await get(path);
      expect(res.status, path).toBe(300);
      const body = await res.text();
      expect(body, path).toContain(`The short id <code>${prefix}</code> names 2 commits`);
      for (const oid of [a, b]) expect(body, path).toContain(`href="${link(oid)}"`);
    }
    // One more digit tells them apart, unless the twins share it too.
    if (a[4] !== b[4]) expect((await get(`many/commit/${a.slice(0, 5)}`)).status).toBe(200);
    // Not a commit id at all, too short, or no object: 404.
    const unused = [..."0123456789abcdef"].map((d) => `${prefix}${d}${d}${d}`).find((p) => !h.commits.some((c) => c.startsWith(p)));
    for (const path of [
      `many/commit/${unused}`,
      `many/tree/${head().slice(0, 3)}`,
      `many/commit/${"0".repeat(40)}`,
      "many/commit/nobranch",
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      await res.text();
    }
    // A ref whose name looks like an id prefix is the ref, as in git.
    const ref = await get(`solo/commit/${prefix}`);
    expect(ref.status).toBe(200);
    expect(await ref.text()).toContain(h.commits[0]);
  });
});

describe("the branch selector", () => {
  it("keeps pages the same size however many refs there are", async () => {
    for (const p of ["", "/tree/main", "/blob/main/a.txt", "/commits/main"]) {
      const [many, solo] = await Promise.all([get(`many${p}`), get(`solo${p}`)]);
      const [a, b] = await Promise.all([many.text(), solo.text()]);
      expect(many.status, p).toBe(200);
      // The same page but for the repository name and the branch count.
      expect(Math.abs(a.length - b.length), p).toBeLessThan(40);
      expect(a, p).not.toContain("branch-");
      expect(a, p).not.toContain("<option");
      // Without JavaScript the selector still leads to every branch and tag.
      expect(a, p).toContain(`<a href="/${OWNER}/many/branches">All branches</a>`);
      expect(a, p).toContain(`<a href="/${OWNER}/many/tags">All tags</a>`);
      expect(a, p).toContain(`data-refs="/${OWNER}/many/refs.json"`);
    }
    const blob = await (await get("many/blob/main/a.txt")).text();
    expect(blob).toContain('data-prefix="/pages/many/blob/" data-suffix="/a.txt" data-current="main"');
  });

  it("loads ref names on demand, filtered and capped, behind the access check", async () => {
    const all = await get("many/refs.json");
    expect(all.status).toBe(200);
    const list = (await all.json()) as { branches: string[]; tags: string[]; more: boolean };
    expect(list.branches.length).toBe(100);
    expect(list.branches[0]).toBe("main");
    expect(list.tags).toEqual(["v1"]);
    expect(list.more).toBe(true);

    const some = (await (await get("many/refs.json?q=BRANCH-02")).json()) as typeof list;
    expect(some).toEqual({ branches: Array.from({ length: 10 }, (_, i) => `branch-02${i}`), tags: [], more: false });
    const exact = (await (await get("many/refs.json?q=main")).json()) as typeof list;
    expect(exact).toEqual({ branches: ["main"], tags: [], more: false });

    // The repository is private: nobody else gets its names.
    const anonymous = await SELF.fetch(`${BASE}/${OWNER}/many/refs.json`);
    expect(anonymous.status).toBe(404);
    expect(await anonymous.text()).not.toContain("branch-");
  });

  it("is driven by the site's own script", async () => {
    const js = await (await SELF.fetch(`${BASE}/static/app.js`)).text();
    expect(js).toContain("details[data-refs]");
    expect(js).not.toContain("innerHTML");
  });
});
