// Attacks that held when the product was attacked (issue 12), kept so that they cannot
// silently regress: a few hundred odd URLs, methods, bodies and headers against every
// route never get a 5xx and change nothing; sessions and tokens that no longer hold, or
// are used where they do not belong, are refused. test/hostile.test.ts and
// test/fuzz.test.ts attack the git protocol below HTTP; test/access.test.ts,
// test/sign-in.test.ts and test/errors.test.ts the access check and credentials.
import { SELF, env } from "cloudflare:test";
import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, inject, it } from "vitest";
import app from "../src/worker";
import { pktLine } from "../src/git/protocol/pkt-line";
import { concatBytes } from "../src/util/bytes";
import { createUser, findUserByName } from "../src/auth/accounts";
import { createToken } from "../src/auth/tokens";
import { Browserless, setCookies } from "../e2e/accounts";
import { accountAuth, fromBase64 } from "./helpers";

const fixtures = inject("fixtures");
const BASE = "http://gitflare.test";
const OWNER = "hardy";
const REPO = "victim";
const ZERO = "0".repeat(40);
const PASSWORD = "password-123";
const enc = (s: string) => new TextEncoder().encode(s);
let seq = 0;

/** A fresh client address per request, so that rate limits never hide what a request reaches. */
const address = () => `198.18.${(seq >> 8) & 255}.${seq++ & 255}`;

const browser = () => new Browserless(BASE, (url, init) => SELF.fetch(url, init));

async function signIn(login: string, password = PASSWORD): Promise<Browserless> {
  const b = browser();
  const res = await b.post("/login", { login, password }, { from: "/login" });
  expect(res.status, `sign-in of ${login}`).toBe(303);
  await res.arrayBuffer();
  return b;
}

/** The `Cookie` header of a new session of `login`. */
async function sessionCookie(login: string): Promise<string> {
  const b = browser();
  const csrf = await b.csrf("/login");
  const res = await b.get("/login", {
    method: "POST",
    headers: { Origin: BASE, "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: csrf, login, password: PASSWORD }),
  });
  expect(res.status).toBe(303);
  const cookie = setCookies(res).find((c) => c.startsWith("gf_session="));
  expect(cookie).toBeDefined();
  return cookie!.split(";")[0];
}

async function json(method: string, path: string, auth: string, body?: unknown): Promise<Response> {
  return SELF.fetch(BASE + path, {
    method,
    headers: { Authorization: auth, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function pushFixture(owner: string, name: string, auth: string): Promise<void> {
  const res = await SELF.fetch(`${BASE}/${owner}/${name}/git-receive-pack`, {
    method: "POST",
    headers: { Authorization: auth, "Content-Type": "application/x-git-receive-pack-request" },
    body: concatBytes([
      pktLine(`${ZERO} ${fixtures.head} refs/heads/main\0report-status\n`),
      enc("0000"),
      fromBase64(fixtures.ofsPack.pack),
    ]),
  });
  expect(new TextDecoder().decode(await res.arrayBuffer())).toContain("ok refs/heads/main");
}

/** A repository with a branch, an issue with a comment and a label, and a collaborator. */
async function seedRepository(owner: string, name: string): Promise<{ commentId: number }> {
  const auth = await accountAuth(owner);
  await pushFixture(owner, name, auth);
  expect((await json("PATCH", `/api/repos/${owner}/${name}`, auth, { private: false })).status).toBe(200);
  const v3 = `/api/v3/repos/${owner}/${name}`;
  expect((await json("POST", `${v3}/labels`, auth, { name: "bug", color: "d73a4a" })).status).toBe(201);
  expect((await json("POST", `${v3}/issues`, auth, { title: "First", body: "hello", labels: ["bug"] })).status).toBe(201);
  const comment = await json("POST", `${v3}/issues/1/comments`, auth, { body: "a comment" });
  expect(comment.status).toBe(201);
  await accountAuth("helper");
  expect((await json("PUT", `/api/repos/${owner}/${name}/collaborators/helper`, auth, { role: "read" })).status).toBe(200);
  return { commentId: ((await comment.json()) as { id: number }).id };
}

/** Everything a hostile request could change about a repository, as its owner sees it. */
async function snapshot(owner: string, name: string): Promise<Record<string, unknown>> {
  const auth = await accountAuth(owner);
  const get = async (path: string) => {
    const res = await SELF.fetch(BASE + path, { headers: { Authorization: auth } });
    return { status: res.status, body: await res.text() };
  };
  const refs = await get(`/${owner}/${name}.git/info/refs?service=git-upload-pack`);
  // Any push, even one whose every command was refused, counts as the last push in
  // listings (src/http/smart-http.ts); refs say whether anything changed.
  const repo = await get(`/api/repos/${owner}/${name}`);
  repo.body = repo.body.replace(/"pushed_at":"[^"]*"/, "");
  const count = await env.DB.prepare("SELECT count(*) AS n FROM repos").first<{ n: number }>();
  const tokens = await env.DB.prepare("SELECT count(*) AS n FROM tokens WHERE revoked_at IS NULL").first<{ n: number }>();
  return {
    refs,
    repo,
    collaborators: await get(`/api/repos/${owner}/${name}/collaborators`),
    issues: await get(`/api/v3/repos/${owner}/${name}/issues?state=all`),
    comments: await get(`/api/v3/repos/${owner}/${name}/issues/1/comments`),
    labels: await get(`/api/v3/repos/${owner}/${name}/labels`),
    repositories: count?.n,
    liveTokens: tokens?.n,
  };
}

interface Probe {
  label: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: BodyInit;
}

/**
 * Sends each probe (a few at a time) and returns those answered with a 5xx or not at all.
 * The Worker is called directly, with what it leaves to `waitUntil` awaited at the end:
 * the test pool's SELF.fetch grows slower with every call it has made (0.7 ms a request
 * becomes 40 after 600 and 400 after 1,500), and there are over a thousand probes.
 */
async function run(probes: Probe[]): Promise<string[]> {
  const failures: string[] = [];
  const later: Promise<unknown>[] = [];
  const ctx = {
    waitUntil: (p: Promise<unknown>) => later.push(p.catch((e) => failures.push(`waitUntil threw: ${(e as Error).message}`))),
    passThroughOnException: () => undefined,
    props: {},
  } as unknown as ExecutionContext;
  let next = 0;
  const worker = async () => {
    while (next < probes.length) {
      const p = probes[next++];
      const headers = new Headers(p.headers);
      if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", address());
      try {
        const request = new Request(BASE + p.path, { method: p.method, headers, body: p.body, redirect: "manual" });
        const res = await app.fetch(request, env, ctx);
        // Read to the end: an answer that breaks off midway is a failure too.
        await res.arrayBuffer();
        if (res.status >= 500) failures.push(`${res.status} ${p.label}: ${p.method} ${p.path.slice(0, 200)}`);
      } catch (e) {
        failures.push(`threw ${p.label}: ${p.method} ${p.path.slice(0, 200)}: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  await Promise.all(later);
  return failures;
}

// Values for every parameter of every route: traversal, NUL and invalid escapes, overlong
// names, unicode (RTL override, emoji, a lone surrogate's escape), markup, header
// injection, numbers that are not, and git's own revision syntax.
const HOSTILE = [
  "..",
  "%2e%2e",
  "..%2F..%2F..%2Fetc%2Fpasswd",
  "%2e%2e%5c%2e%2e%5cwindows",
  "%00",
  "a%00b",
  "%ff%fe",
  "%",
  "%zz",
  "%ed%a0%80",
  "x".repeat(5000),
  "%F0%9F%92%A9",
  "%E2%80%AEtxt.exe",
  "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
  "'%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E",
  "%0d%0aSet-Cookie:%20x=y",
  "-1",
  "0",
  "99999999999999999999999",
  "NaN",
  "%2F",
  "~",
  ".git",
  "HEAD",
  "@%7B-1%7D",
  "main~99999",
  "main%5E%7Btree%7D",
  "main:a.txt",
  "refs%2Fheads%2F..%2F..%2Fconfig",
  "a..b",
  ".",
  "%20",
  "CON",
];

/** The victim's value for each parameter, so that a probe changes one thing at a time. */
function defaults(path: string, commentId: number): Record<string, string> {
  const wildcard = path.includes("/compare/")
    ? "v1...main"
    : path.includes("/archive/")
      ? "main.tar.gz"
      : /\/(blob|raw|blame)\//.test(path)
        ? "main/a.txt"
        : path.includes("/commit/")
          ? fixtures.head
          : "main";
  return { owner: OWNER, repo: REPO, number: "1", id: String(commentId), name: "bug", user: "helper", "*": wildcard };
}

function concrete(pattern: string, values: Record<string, string>): string {
  return pattern.replace(/:(\w+)|\*/g, (m, name: string | undefined) => values[name ?? "*"] ?? m);
}

/**
 * Probes with each route's parameters replaced, one at a time, by hostile values: one
 * each for owner and repository (they meet the same access check on every route), three
 * for the route's own parameters, and for paths also a hostile value beside a real file.
 */
function urlProbes(commentId: number, credentials: Record<string, string>[]): Probe[] {
  const probes: Probe[] = [];
  let turn = 0;
  for (const r of app.routes) {
    if (r.method === "ALL") continue;
    const slots = [...r.path.matchAll(/:(\w+)|\*/g)].map((m) => m[1] ?? "*");
    const base = defaults(r.path, commentId);
    const isGit = /git-(upload|receive)-pack$/.test(r.path);
    for (const slot of slots) {
      const values = Array.from({ length: slot === "owner" || slot === "repo" ? 1 : 3 }, () => HOSTILE[turn++ % HOSTILE.length]);
      if (slot === "*") values.push(`main/${HOSTILE[turn % HOSTILE.length]}`, `${HOSTILE[(turn + 7) % HOSTILE.length]}/a.txt`);
      for (const v of values) {
        probes.push({
          label: `${r.method} ${r.path} with ${slot}=${v.slice(0, 40)}`,
          method: r.method,
          path: concrete(r.path, { ...base, [slot]: v }) + (r.path.endsWith("/info/refs") ? "?service=git-upload-pack" : ""),
          headers: {
            ...credentials[turn++ % credentials.length],
            "Content-Type": isGit ? `application/x-${r.path.slice(r.path.lastIndexOf("/") + 1)}-request` : "application/json",
          },
          body: r.method === "GET" || r.method === "HEAD" ? undefined : isGit ? "0000" : "{}",
        });
      }
    }
  }
  return probes;
}

/** Whole odd URLs: double slashes, traversal past the routes, huge paths and queries. */
function oddUrlProbes(owner: string): Probe[] {
  const long = "q".repeat(64 * 1024);
  const paths = [
    "//",
    "///" + OWNER + "//" + REPO,
    `/${OWNER}//${REPO}/tree//main`,
    `/${OWNER}/${REPO}/tree/main//`,
    `/${OWNER}/${REPO}/blob/main//a.txt`,
    `/${OWNER}/${REPO}.git/`,
    `/${OWNER}/${REPO}.git.git/info/refs?service=git-upload-pack`,
    `/${OWNER}/${REPO}/info/refs`,
    `/${OWNER}/${REPO}/info/refs?service=`,
    `/${OWNER}/${REPO}/info/refs?service=git-upload-pack&service=git-receive-pack`,
    `/${OWNER}/${REPO}/info/refs?service=${long}`,
    `/${OWNER}/${REPO}/HEAD`,
    `/${OWNER}/${REPO}/objects/info/packs`,
    `/${OWNER}/${REPO}/blob/main/a.txt?plain=${long}`,
    `/${OWNER}/${REPO}/commits/main?path=../../etc/passwd&page=-1&per_page=1e9`,
    `/${OWNER}/${REPO}/commits/main?page=99999999999999999999&path=%00`,
    `/${OWNER}/${REPO}/commit/${fixtures.head}?full=%00&w=${long}`,
    `/${OWNER}/${REPO}/issues?q=${long}&page=-5`,
    `/${OWNER}/${REPO}/issues?q=is:issue%20label:%22%3Cscript%3E%22%20author:%00%20sort:nope&page=abc`,
    `/${OWNER}/${REPO}/issues?q=${"label:x%20".repeat(500)}`,
    `/${OWNER}/${REPO}/issues?state=%00&label=%3Cscript%3E&assignee=../..`,
    `/${OWNER}/${REPO}/refs.json?q=%3Cscript%3E&x=${long}`,
    `/${OWNER}/${REPO}/archive/..%2F..%2Fmain.tar.gz`,
    `/${OWNER}/${REPO}/archive/main.exe`,
    `/${OWNER}/${REPO}/archive/.tar.gz`,
    `/${OWNER}/${REPO}/archive/main.tar.gz.zip`,
    `/${OWNER}/${REPO}/raw/main/%2e%2e/%2e%2e/etc/passwd`,
    `/${OWNER}/${REPO}/raw/${"a/".repeat(2000)}`,
    `/${OWNER}/${REPO}/tree/${"main/".repeat(1000)}`,
    `/${OWNER}/${REPO}/compare/main...main...main`,
    `/${OWNER}/${REPO}/compare/...`,
    `/${OWNER}/${REPO}/compare/${"x".repeat(3000)}...main`,
    `/${OWNER}/${REPO}/blame/${fixtures.base}/a.txt?${long}`,
    `/api/v3/repos/${OWNER}/${REPO}/issues?per_page=-1&page=abc&state=weird&sort=%00&direction=sideways&labels=,,,&since=notadate`,
    `/api/v3/repos/${OWNER}/${REPO}/issues?per_page=1000000&page=99999999999999`,
    `/api/v3/repos/${OWNER}/${REPO}/issues/1/comments?per_page=0&page=-1&since=%00`,
    `/api/v3/repos/${OWNER}/${REPO}/labels?per_page=NaN`,
    `/api/v3/nothing/here/${long}`,
    `/api/repos/${OWNER}/${REPO}/pushes?limit=NaN`,
    `/api/repos/${OWNER}/${REPO}/pushes?limit=-99999999999999999999`,
    `/api/${long}`,
    "/static/app.js/..",
    "/static/%2e%2e/src/worker.ts",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/" + "a".repeat(10000),
    `/${OWNER}/${"a".repeat(300)}`,
    `/${"a".repeat(300)}/${REPO}`,
    `/${OWNER}/${REPO}/settings?${long}`,
    `/login?next=${long}`,
    "/login?next=%2F%5C%5Cevil.example",
    "/settings/tokens?" + long,
  ];
  return paths.map(
    (path, i): Probe => ({
      label: "odd URL",
      method: "GET",
      path,
      headers: i % 2 ? { Authorization: owner } : {},
    }),
  );
}

/** On every route's own URL, a method no route has, and (off the API) one the route lacks. */
function methodProbes(commentId: number, owner: string): Probe[] {
  const has = new Set(app.routes.map((r) => `${r.method} ${r.path}`));
  const odd = ["PROPFIND", "MKCOL", "PURGE", "OPTIONS", "TRACE", "LOCK"];
  const standard = ["GET", "POST", "PUT", "DELETE", "PATCH"];
  const probes: Probe[] = [];
  let turn = 0;
  for (const r of app.routes) {
    if (r.method === "ALL") continue;
    const path = concrete(r.path, defaults(r.path, commentId));
    const methods = [odd[turn++ % odd.length]];
    // On the API only methods no API route has: a real DELETE there would delete.
    const lacking = standard.filter((m) => !has.has(`${m} ${r.path}`));
    if (!r.path.startsWith("/api/") && lacking.length) methods.push(lacking[turn++ % lacking.length]);
    for (const method of methods)
      probes.push({
        label: `${method} on ${r.method} ${r.path}`,
        method,
        path,
        headers: { Authorization: owner },
        body: ["POST", "PUT", "PATCH", "DELETE"].includes(method) ? "{}" : undefined,
      });
  }
  return probes;
}

function gzip(bytes: Uint8Array | string): Uint8Array {
  return new Uint8Array(gzipSync(bytes));
}

/** Odd bodies for the git services: wrong types and encodings, broken pkt-lines and packs, bombs. */
function gitBodyProbes(owner: string): Probe[] {
  const probes: Probe[] = [];
  const upload = `/${OWNER}/${REPO}/git-upload-pack`;
  const receive = `/${OWNER}/${REPO}/git-receive-pack`;
  const uploadType = "application/x-git-upload-pack-request";
  const receiveType = "application/x-git-receive-pack-request";
  const fake = "1".repeat(40);
  const v2 = (parts: (string | Uint8Array)[]) => concatBytes(parts.map((p) => (typeof p === "string" ? enc(p) : p)));
  const uploadBodies: [string, BodyInit, Record<string, string>?][] = [
    ["empty", ""],
    ["two bytes", "00"],
    ["length past the end", "ffffwant"],
    ["length below four", "0003"],
    ["non-hex length", "zzzzwant"],
    ["delim and end in v0", "00010002"],
    ["want of a bad id", pktLine("want zz\n")],
    ["want of a missing object", concatBytes([pktLine(`want ${fake} side-band-64k\n`), enc("0000"), pktLine("done\n")])],
    ["haves without wants", concatBytes([enc("0000"), pktLine(`have ${fake}\n`), pktLine("done\n")])],
    [
      "ten thousand haves",
      concatBytes([
        pktLine(`want ${fixtures.head}\n`),
        enc("0000"),
        ...Array.from({ length: 10000 }, () => pktLine(`have ${fake}\n`)),
        pktLine("done\n"),
      ]),
    ],
    ["deepen of minus one", concatBytes([pktLine(`want ${fixtures.head}\n`), pktLine("deepen -1\n"), enc("0000"), pktLine("done\n")])],
    [
      "deepen-since garbage",
      concatBytes([pktLine(`want ${fixtures.head}\n`), pktLine("deepen-since x\n"), enc("0000"), pktLine("done\n")]),
    ],
    [
      "filter garbage",
      concatBytes([pktLine(`want ${fixtures.head} filter\n`), pktLine("filter blob:limit=-1\n"), enc("0000"), pktLine("done\n")]),
    ],
    ["a line of 65520 bytes", pktLine("x".repeat(65516))],
    ["v2 unknown command", v2([pktLine("command=nope\n"), "0001", "0000"]), { "Git-Protocol": "version=2" }],
    [
      "v2 ls-refs with odd arguments",
      v2([pktLine("command=ls-refs\n"), "0001", pktLine("ref-prefix \n"), pktLine("peel=yes\n"), pktLine("x".repeat(60000)), "0000"]),
      { "Git-Protocol": "version=2" },
    ],
    ["v2 fetch without wants", v2([pktLine("command=fetch\n"), "0001", pktLine("done\n"), "0000"]), { "Git-Protocol": "version=2" }],
    [
      "v2 fetch of a missing object",
      v2([pktLine("command=fetch\n"), "0001", pktLine(`want ${fake}\n`), pktLine("done\n"), "0000"]),
      { "Git-Protocol": "version=2" },
    ],
    [
      "v2 fetch, unknown argument",
      v2([pktLine("command=fetch\n"), "0001", pktLine("frobnicate\n"), "0000"]),
      { "Git-Protocol": "version=2" },
    ],
    [
      "v2 object-format sha256",
      v2([pktLine("command=ls-refs\n"), pktLine("object-format=sha256\n"), "0001", "0000"]),
      { "Git-Protocol": "version=2" },
    ],
    ["v2 without a flush", v2([pktLine("command=fetch\n"), "0001", pktLine(`want ${fixtures.head}\n`)]), { "Git-Protocol": "version=2" }],
    ["gzip header on plain text", "0000", { "Content-Encoding": "gzip" }],
    ["truncated gzip", gzip("0000".repeat(1000)).slice(0, 30), { "Content-Encoding": "gzip" }],
    ["gzip twice", gzip(gzip("0000")), { "Content-Encoding": "gzip" }],
    ["gzip, gzip", gzip("0000"), { "Content-Encoding": "gzip, gzip" }],
    ["deflate", "0000", { "Content-Encoding": "deflate" }],
    ["gzip bomb past the request cap", gzip(new Uint8Array(40 * 1024 * 1024)), { "Content-Encoding": "gzip" }],
    ["gzip bomb of flushes within the cap", gzip("0000".repeat(2 * 1024 * 1024)), { "Content-Encoding": "gzip" }],
  ];
  for (const [label, body, headers] of uploadBodies)
    probes.push({
      label: `upload-pack ${label}`,
      method: "POST",
      path: upload,
      body,
      headers: { "Content-Type": uploadType, Authorization: owner, ...headers },
    });
  for (const type of [
    "",
    "text/plain",
    receiveType,
    `${uploadType}; charset=utf-8`,
    "APPLICATION/X-GIT-UPLOAD-PACK-REQUEST",
    "multipart/form-data; boundary=x",
  ])
    probes.push({
      label: `upload-pack as '${type}'`,
      method: "POST",
      path: upload,
      body: "0000",
      headers: { "Content-Type": type, Authorization: owner },
    });

  // Each push names an old id that is not the branch's, so even a pack that indexed could
  // move nothing: what is checked is that the body is refused without a 5xx.
  const command = (name = "refs/heads/main", old = fake) => pktLine(`${old} ${fixtures.head} ${name}\0report-status side-band-64k\n`);
  const packHeader = (count: number, version = 2) => {
    const h = new Uint8Array(12);
    h.set(enc("PACK"));
    new DataView(h.buffer).setUint32(4, version);
    new DataView(h.buffer).setUint32(8, count);
    return h;
  };
  const receiveBodies: [string, BodyInit, Record<string, string>?][] = [
    ["empty", ""],
    ["a flush only", "0000"],
    ["a truncated command", "00"],
    [
      "a command line of 65520 bytes",
      concatBytes([pktLine(`${fake} ${fixtures.head} refs/heads/${"x".repeat(65516 - 93 - 15)}\0report-status\n`), enc("0000")]),
    ],
    ["a command without capabilities or flush", pktLine(`${fake} ${fixtures.head} refs/heads/main\n`)],
    [
      "a command with a short id",
      concatBytes([pktLine(`${fake.slice(2)} ${fixtures.head} refs/heads/main\0report-status\n`), enc("0000")]),
    ],
    ["the wrong old id and no pack", concatBytes([command(), enc("0000")])],
    ["the wrong old id and the fixture pack", concatBytes([command(), enc("0000"), fromBase64(fixtures.ofsPack.pack)])],
    ["a ref outside refs/", concatBytes([command("config", ZERO), enc("0000"), fromBase64(fixtures.ofsPack.pack)])],
    ["a traversing ref", concatBytes([command("refs/heads/../../config", ZERO), enc("0000"), fromBase64(fixtures.ofsPack.pack)])],
    ["pack version 3", concatBytes([command(), enc("0000"), packHeader(1, 3)])],
    ["a pack claiming 2^32-1 objects", concatBytes([command(), enc("0000"), packHeader(0xffffffff)])],
    ["a pack header cut short", concatBytes([command(), enc("0000"), enc("PAC")])],
    ["a pack of garbage", concatBytes([command(), enc("0000"), packHeader(3), new Uint8Array(4096).fill(0x9c)])],
    [
      "ten thousand commands",
      concatBytes([
        command(),
        ...Array.from({ length: 10000 }, (_, i) => pktLine(`${fake} ${fixtures.head} refs/heads/b${i}\n`)),
        enc("0000"),
      ]),
    ],
    ["a push option without the capability", concatBytes([command(), enc("0000"), pktLine("evil\n"), enc("0000")])],
    ["gzip header on plain text", concatBytes([command(), enc("0000")]), { "Content-Encoding": "gzip" }],
    ["truncated gzip", gzip(concatBytes([command(), enc("0000")])).slice(0, 20), { "Content-Encoding": "gzip" }],
    ["gzip bomb of zeros", gzip(new Uint8Array(48 * 1024 * 1024)), { "Content-Encoding": "gzip" }],
    // Small enough for the tests' 2 KiB segments (vitest.workers.config.ts) to stay quick.
    [
      "gzip bomb after a command",
      gzip(concatBytes([command(), enc("0000"), packHeader(1), new Uint8Array(256 * 1024)])),
      { "Content-Encoding": "gzip" },
    ],
    ["br", concatBytes([command(), enc("0000")]), { "Content-Encoding": "br" }],
  ];
  for (const [label, body, headers] of receiveBodies)
    probes.push({
      label: `receive-pack ${label}`,
      method: "POST",
      path: receive,
      body,
      headers: { "Content-Type": receiveType, Authorization: owner, ...headers },
    });
  for (const type of ["", "text/plain", uploadType, "application/x-git-receive-pack-request ", "application/json"])
    probes.push({
      label: `receive-pack as '${type}'`,
      method: "POST",
      path: receive,
      body: "0000",
      headers: { "Content-Type": type, Authorization: owner },
    });
  return probes;
}

/** Odd bodies for every API route that takes one, sent by the owner. */
function apiBodyProbes(commentId: number, owner: string): Probe[] {
  const wrongTypes = JSON.stringify({
    title: [],
    body: {},
    name: [],
    new_name: [],
    color: 5,
    description: 5,
    state: 7,
    state_reason: [],
    labels: "x",
    assignees: "x",
    role: "owner",
    private: 1,
    default_branch: [],
  });
  const bodies: [string, BodyInit, string][] = [
    ["empty", "", "application/json"],
    ["a brace", "{", "application/json"],
    // Not `[]`: a bare array is how GitHub's clients set an issue's labels.
    ["an array of a number", "[1]", "application/json"],
    ["null", "null", "application/json"],
    ["a huge number", "1e999", "application/json"],
    ["deep nesting", `{"a":${"[".repeat(100000)}${"]".repeat(100000)}}`, "application/json"],
    ["every field of the wrong type", wrongTypes, "application/json"],
    ["a prototype key", '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}', "application/json"],
    ["a form", "title=x&name=y&role=admin", "application/x-www-form-urlencoded"],
    ["broken multipart", "--x\r\nContent-Disposition: form-data; name=title\r\n\r\nx", "multipart/form-data; boundary=x"],
    ["plain text", wrongTypes, "text/plain"],
    ["JSON past the cap", `{"description":"${"d".repeat(2 * 1024 * 1024)}"}`, "application/json"],
  ];
  const probes: Probe[] = [];
  for (const r of app.routes) {
    if (!r.path.startsWith("/api/") || !["POST", "PATCH", "PUT"].includes(r.method)) continue;
    const path = concrete(r.path, defaults(r.path, commentId));
    for (const [label, body, type] of bodies)
      probes.push({
        label: `${r.method} ${r.path} with ${label}`,
        method: r.method,
        path,
        body,
        headers: { Authorization: owner, "Content-Type": type },
      });
  }
  return probes;
}

/** Odd headers on a page, the API, a git advertisement and a git request. */
function headerProbes(owner: string, ownerToken: string): Probe[] {
  const b64 = (s: string) => btoa(s);
  const sets: [string, Record<string, string>][] = [
    ["Basic without credentials", { Authorization: "Basic" }],
    ["Basic and a space", { Authorization: "Basic " }],
    ["Basic of padding", { Authorization: "Basic ====" }],
    ["Basic that is not base64", { Authorization: "Basic !!!" }],
    ["Basic with no colon", { Authorization: `Basic ${b64("nocolon")}` }],
    ["Basic of a colon", { Authorization: `Basic ${b64(":")}` }],
    ["Basic, empty username, real token", { Authorization: `Basic ${b64(`:${ownerToken}`)}` }],
    ["Basic, username only", { Authorization: `Basic ${b64(`${OWNER}:`)}` }],
    ["Basic, token with a suffix", { Authorization: `Basic ${b64(`${OWNER}:${ownerToken}x`)}` }],
    ["Basic of NULs", { Authorization: `Basic ${b64("\0:\0")}` }],
    ["Basic of latin-1 bytes", { Authorization: `Basic ${b64("h\xe4rdy:\xff\xfe")}` }],
    ["Basic, 20 KB", { Authorization: `Basic ${"A".repeat(20000)}` }],
    ["Basic with two spaces", { Authorization: `Basic  ${b64(`${OWNER}:${ownerToken}`)}` }],
    ["two schemes", { Authorization: `Basic ${b64(`${OWNER}:${ownerToken}`)}, Bearer x` }],
    ["Bearer alone", { Authorization: "Bearer" }],
    ["Bearer, 20 KB", { Authorization: `Bearer ${"x".repeat(20000)}` }],
    ["token prefix alone", { Authorization: "token gfp_" }],
    ["Digest", { Authorization: 'Digest username="hardy", realm="x", nonce="1", uri="/", response="0"' }],
    ["Negotiate", { Authorization: "Negotiate YII=" }],
    ["scheme only spaces", { Authorization: "   " }],
    ["session cookie of garbage", { Cookie: `gf_session=${"x".repeat(200)}` }],
    ["session cookie with NUL escapes", { Cookie: "gf_session=%00%00" }],
    ["two session cookies", { Cookie: "gf_session=a; gf_session=b" }],
    ["a cookie header of separators", { Cookie: "=;;=;;;=" }],
    ["a 5 KB CSRF cookie", { Cookie: `gf_csrf=${"y".repeat(5000)}` }],
    ["a 16 KB cookie header", { Cookie: Array.from({ length: 800 }, (_, i) => `c${i}=vvvvvvvvvvvvvvvv`).join("; ") }],
    ["Git-Protocol version=3", { "Git-Protocol": "version=3" }],
    ["Git-Protocol repeated", { "Git-Protocol": "version=2:version=1:version=2" }],
    ["Git-Protocol empty value", { "Git-Protocol": "version=" }],
    ["Git-Protocol of colons", { "Git-Protocol": ":::::" }],
    ["Git-Protocol, 8 KB", { "Git-Protocol": `version=2:${"x".repeat(8192)}` }],
    ["a 64 KB header", { "X-Junk": "j".repeat(64 * 1024) }],
    ["Range past the end", { Range: "bytes=999999999999-" }],
    ["Range backwards", { Range: "bytes=5-1" }],
    ["Range of items", { Range: "items=0-1" }],
    ["If-None-Match garbage", { "If-None-Match": 'W/"x", *, "' }],
    ["Accept nonsense", { Accept: "*/*;q=nan, text/html;q=-1" }],
    ["Accept-Encoding nonsense", { "Accept-Encoding": "gzip;q=2, br;q=x, *;q=" }],
    ["client address garbage", { "CF-Connecting-IP": "not-an-address" }],
    ["client address of 4 KB", { "CF-Connecting-IP": "9".repeat(4096) }],
    ["forwarded headers", { "X-Forwarded-For": "127.0.0.1, ::1", "X-Forwarded-Host": "evil.example", Forwarded: "for=evil" }],
    ["Origin null", { Origin: "null" }],
  ];
  const targets: [string, string, BodyInit?, Record<string, string>?][] = [
    ["page", `/${OWNER}/${REPO}`],
    ["API", `/api/repos/${OWNER}/${REPO}`],
    [
      "v2 ls-refs",
      `/${OWNER}/${REPO}.git/git-upload-pack`,
      concatBytes([pktLine("command=ls-refs\n"), enc("0001"), pktLine("peel\n"), enc("0000")]),
      { "Content-Type": "application/x-git-upload-pack-request" },
    ],
  ];
  const probes: Probe[] = [];
  for (const [target, path, body, extra] of targets)
    for (const [label, headers] of sets) {
      // Odd headers beside good credentials too, where they do not replace them.
      const withOwner: Record<string, string> = !("Authorization" in headers) && seq++ % 2 === 0 ? { Authorization: owner } : {};
      probes.push({
        label: `${label} on ${target}`,
        method: body ? "POST" : "GET",
        path,
        body,
        headers: { ...withOwner, ...extra, ...headers },
      });
    }
  return probes;
}

let commentId = 0;
let owner = "";

beforeAll(async () => {
  owner = await accountAuth(OWNER);
  ({ commentId } = await seedRepository(OWNER, REPO));
});

describe("hostile requests", () => {
  it("answers a few hundred odd URLs, methods, bodies and headers without a 5xx, and changes nothing", async () => {
    const stranger = await accountAuth("hstranger");
    // The owner's session cookie too: pages go deepest with it, forms then lack a CSRF token.
    const cookie = await sessionCookie(OWNER);
    const ownerToken = atob(owner.slice("Basic ".length)).split(":")[1];
    const before = await snapshot(OWNER, REPO);
    const probes = [
      ...urlProbes(commentId, [{}, { Authorization: owner }, { Authorization: stranger }, { Cookie: cookie }]),
      ...oddUrlProbes(owner),
      ...methodProbes(commentId, owner),
      ...gitBodyProbes(owner),
      ...apiBodyProbes(commentId, owner),
      ...headerProbes(owner, ownerToken),
    ];
    expect(probes.length).toBeGreaterThan(600);
    expect(await run(probes)).toEqual([]);
    expect(await snapshot(OWNER, REPO)).toEqual(before);
  }, 300_000);
});

describe("found by attacking it", () => {
  it("searches issues for words longer than a LIKE pattern may be, and finds them", async () => {
    const auth = await accountAuth(OWNER);
    const name = "longwords";
    await pushFixture(OWNER, name, auth);
    // SQLite in a Durable Object refuses a LIKE pattern over 50 bytes: these were 500s.
    const words = ["w".repeat(48), "x".repeat(49), `https://example.com/${"path/".repeat(40)}`, "ü".repeat(40), "%_\\".repeat(30)];
    for (const [i, word] of words.entries()) {
      const res = await json("POST", `/api/v3/repos/${OWNER}/${name}/issues`, auth, { title: `issue ${i}`, body: `see ${word} here` });
      expect(res.status).toBe(201);
      await res.arrayBuffer();
    }
    for (const [i, word] of words.entries()) {
      const res = await SELF.fetch(`${BASE}/${OWNER}/${name}/issues?q=${encodeURIComponent(`is:issue ${word}`)}`, {
        headers: { Authorization: auth },
      });
      expect(res.status, word).toBe(200);
      expect(await res.text(), word).toContain(`issue ${i}`);
    }
  });

  it("answers a client line too long to quote in full with a clean ERR", async () => {
    const line = pktLine(`command=ls-refs\n`);
    const res = await SELF.fetch(`${BASE}/${OWNER}/${REPO}/git-upload-pack`, {
      method: "POST",
      headers: { Authorization: owner, "Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": "version=2" },
      body: concatBytes([line, enc("0001"), pktLine("x".repeat(65516)), enc("0000")]),
    });
    expect(res.status).toBe(200);
    const text = new TextDecoder().decode(await res.arrayBuffer());
    expect(text).toMatch(/^[0-9a-f]{4}ERR unexpected line: 'x{900,}/);
    expect(text.length).toBeLessThan(2000);
  });
});

describe("bodies past the caps (found by attacking it: read whole before)", () => {
  /** A body of `total` bytes made as it is read, counting what was read. */
  function countedBody(total: number, chunk: Uint8Array): { stream: ReadableStream<Uint8Array>; read: () => number } {
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= total) return controller.close();
        controller.enqueue(chunk);
        sent += chunk.byteLength;
      },
    });
    return { stream, read: () => sent };
  }

  /** The Worker called directly, so that the stream it reads is the one counted here. */
  function direct(request: Request): Promise<Response> {
    const ctx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
    return Promise.resolve(app.fetch(request, env, ctx));
  }

  it("refuses a v3 JSON body past 1 MiB with 413: at once when its length says so, else without reading it all", async () => {
    const path = `/api/v3/repos/${OWNER}/${REPO}/issues`;
    const declared = await json("POST", path, owner, { title: "big", body: "x".repeat(2 * 1024 * 1024) });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ message: "request body is larger than 1048576 bytes" });
    const body = countedBody(60 * 1024 * 1024, enc(`{"title": "big", "body": "${"x".repeat(64 * 1024)}`));
    const res = await direct(
      new Request(BASE + path, {
        method: "POST",
        headers: { Authorization: owner, "Content-Type": "application/json" },
        body: body.stream,
      }),
    );
    expect(res.status).toBe(413);
    await res.arrayBuffer();
    expect(body.read()).toBeLessThan(2 * 1024 * 1024);
  });

  it("refuses a form past 1 MiB with 413, even before signing in, without reading it all; a long issue body still posts", async () => {
    const b = browser();
    const csrf = await b.csrf("/login");
    const declared = await b.get("/login", {
      method: "POST",
      headers: { Origin: BASE, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: csrf, login: OWNER, password: "p".repeat(2 * 1024 * 1024) }),
    });
    expect(declared.status).toBe(413);
    await declared.arrayBuffer();
    const body = countedBody(60 * 1024 * 1024, enc(`login=${"x".repeat(64 * 1024)}`));
    const res = await direct(
      new Request(`${BASE}/login`, {
        method: "POST",
        headers: { Origin: BASE, "Content-Type": "application/x-www-form-urlencoded" },
        body: body.stream,
      }),
    );
    expect(res.status).toBe(413);
    await res.arrayBuffer();
    expect(body.read()).toBeLessThan(2 * 1024 * 1024);
    // The largest issue body, in four-byte characters, fits in a form.
    const me = await signIn(OWNER);
    const longest = "😀".repeat(32 * 1024);
    const posted = await me.post(`/${OWNER}/${REPO}/issues`, { title: "long", body: longest }, { from: `/${OWNER}/${REPO}/issues/new` });
    expect(posted.status).toBe(303);
    await posted.arrayBuffer();
  });
});

describe("credentials that no longer hold, or do not belong", () => {
  async function tokenFor(username: string, scope: "read" | "write" | "admin", expiresAt: number | null): Promise<string> {
    const user = (await findUserByName(env.DB, username)) ?? (await createUser(env.DB, username, `${username}@example.com`, PASSWORD));
    const { token } = await createToken(env.DB, user.id, `t${seq++}`, scope, expiresAt);
    return token;
  }
  const basic = (username: string, token: string) => `Basic ${btoa(`${username}:${token}`)}`;

  /** A push of a new branch, a settings change and a new issue: each refused, nothing changed. */
  async function refusedEverywhere(auth: string, who: string): Promise<void> {
    const before = await snapshot(OWNER, REPO);
    const push = await SELF.fetch(`${BASE}/${OWNER}/${REPO}/git-receive-pack`, {
      method: "POST",
      headers: { Authorization: auth, "Content-Type": "application/x-git-receive-pack-request", "CF-Connecting-IP": address() },
      body: concatBytes([pktLine(`${ZERO} ${fixtures.head} refs/heads/intruder\0report-status\n`), enc("0000")]),
    });
    expect([401, 403, 404], `${who}: push`).toContain(push.status);
    await push.arrayBuffer();
    const info = await SELF.fetch(`${BASE}/${OWNER}/${REPO}/info/refs?service=git-receive-pack`, {
      headers: { Authorization: auth, "CF-Connecting-IP": address() },
    });
    expect([401, 403, 404], `${who}: receive-pack advertisement`).toContain(info.status);
    await info.arrayBuffer();
    for (const [method, path, body] of [
      ["PATCH", `/api/repos/${OWNER}/${REPO}`, { description: "changed" }],
      ["POST", `/api/v3/repos/${OWNER}/${REPO}/issues`, { title: "intruder" }],
      ["DELETE", `/api/v3/repos/${OWNER}/${REPO}/labels/bug`, undefined],
    ] as const) {
      const res = await SELF.fetch(BASE + path, {
        method,
        headers: { Authorization: auth, "Content-Type": "application/json", "CF-Connecting-IP": address() },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      expect([401, 403, 404], `${who}: ${method} ${path}`).toContain(res.status);
      await res.arrayBuffer();
    }
    expect(await snapshot(OWNER, REPO)).toEqual(before);
  }

  it("refuses a revoked token, an expired one and a read token for pushes and changes", async () => {
    const revoked = await tokenFor(OWNER, "admin", null);
    const id = (await env.DB.prepare("SELECT id FROM tokens ORDER BY id DESC LIMIT 1").first<{ id: number }>())!.id;
    // Live first: the refusals below are the revocation's doing.
    const live = await SELF.fetch(`${BASE}/api/user`, { headers: { Authorization: basic(OWNER, revoked) } });
    expect(live.status).toBe(200);
    await live.arrayBuffer();
    await env.DB.prepare("UPDATE tokens SET revoked_at = ? WHERE id = ?").bind(Date.now(), id).run();
    await refusedEverywhere(basic(OWNER, revoked), "revoked token");
    await refusedEverywhere(`Bearer ${revoked}`, "revoked token as Bearer");
    await refusedEverywhere(basic(OWNER, await tokenFor(OWNER, "admin", Date.now() - 1000)), "expired token");
    await refusedEverywhere(basic(OWNER, await tokenFor(OWNER, "read", null)), "read token");
  });

  it("refuses another user's token under the owner's name, and the owner's token under another name", async () => {
    const other = await tokenFor("hneighbour", "admin", null);
    await refusedEverywhere(basic(OWNER, other), "another user's token under the owner's name");
    const mine = await tokenFor(OWNER, "admin", null);
    await refusedEverywhere(basic("hneighbour", mine), "the owner's token under another name");
    await refusedEverywhere(basic(`${OWNER} `, mine), "the owner's name with a trailing space");
  });

  it("refuses a session cookie replayed after signing out, and an expired session", async () => {
    const cookie = await sessionCookie(OWNER);
    const page = await SELF.fetch(`${BASE}/settings/tokens`, { headers: { Cookie: cookie } });
    expect(page.status).toBe(200);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1];
    // Sign out with that session's own form.
    const out = await SELF.fetch(`${BASE}/logout`, {
      method: "POST",
      headers: { Cookie: cookie, Origin: BASE, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: csrf }),
      redirect: "manual",
    });
    expect(out.status).toBe(303);
    await out.arrayBuffer();
    const before = await snapshot(OWNER, REPO);
    const replayed = await SELF.fetch(`${BASE}/settings/tokens`, { headers: { Cookie: cookie }, redirect: "manual" });
    expect(replayed.status).toBe(302);
    expect(replayed.headers.get("Location")).toMatch(/^\/login/);
    await replayed.arrayBuffer();
    const api = await SELF.fetch(`${BASE}/api/user`, { headers: { Cookie: cookie } });
    expect(api.status).toBe(401);
    await api.arrayBuffer();
    // Its forms, with its own CSRF token, are refused too.
    for (const [path, fields] of [
      ["/settings/tokens", { name: "replayed", scope: "admin", expires: "30" }],
      [`/${OWNER}/${REPO}/settings`, { description: "replayed", visibility: "private" }],
      [`/${OWNER}/${REPO}/issues`, { title: "replayed", body: "x" }],
    ] as const) {
      const res = await SELF.fetch(BASE + path, {
        method: "POST",
        headers: { Cookie: cookie, Origin: BASE, "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ ...fields, _csrf: csrf }),
        redirect: "manual",
      });
      expect([302, 401, 403, 404], `replayed ${path}`).toContain(res.status);
      if (res.status === 302) expect(res.headers.get("Location")).toMatch(/^\/login/);
      await res.arrayBuffer();
    }
    expect(await snapshot(OWNER, REPO)).toEqual(before);

    // A session past its expiry is no session.
    const stale = await sessionCookie(OWNER);
    await env.DB.prepare("UPDATE sessions SET expires_at = ? WHERE expires_at = (SELECT max(expires_at) FROM sessions)")
      .bind(Date.now() - 1)
      .run();
    const expired = await SELF.fetch(`${BASE}/api/user`, { headers: { Cookie: stale } });
    expect(expired.status).toBe(401);
    await expired.arrayBuffer();
  });

  it("refuses a form with another session's CSRF token, or with the signed-out one", async () => {
    const mine = await signIn(OWNER);
    const theirs = await signIn("helper");
    const anonymous = browser();
    const before = await snapshot(OWNER, REPO);
    for (const [label, token] of [
      ["another session's token", await theirs.csrf("/new")],
      ["the token of the browser before signing in", await anonymous.csrf("/login")],
    ] as const) {
      for (const [path, fields] of [
        [`/${OWNER}/${REPO}/settings`, { description: "forged", visibility: "private" }],
        [`/${OWNER}/${REPO}/labels`, { name: "forged", color: "ffffff" }],
        [`/${OWNER}/${REPO}/issues/1/comments`, { body: "forged" }],
        ["/settings/tokens", { name: "forged", scope: "admin", expires: "30" }],
      ] as const) {
        const res = await mine.post(path, fields, { csrf: token });
        expect(res.status, `${label}: ${path}`).toBe(403);
        await res.arrayBuffer();
      }
    }
    expect(await snapshot(OWNER, REPO)).toEqual(before);
    // The session's own token still works: the refusals were the tokens' doing.
    const ok = await mine.post(`/${OWNER}/${REPO}/issues/1/comments`, { body: "genuine" }, { from: `/${OWNER}/${REPO}/issues/1` });
    expect(ok.status).toBe(303);
    await ok.arrayBuffer();
  });

  it("refuses every form posted from another origin, even with the session's own token", { timeout: 180_000 }, async () => {
    const name = "crossorigin";
    const { commentId: comment } = await seedRepository(OWNER, name);
    const mine = await signIn(OWNER);
    const csrf = await mine.csrf("/new");
    const before = await snapshot(OWNER, name);
    // Fields that each form would accept from this site: only the origin is wrong.
    const fields: Record<string, Record<string, string>> = {
      "/signup": { username: "crossy", email: "crossy@example.com", password: PASSWORD },
      "/login": { login: OWNER, password: PASSWORD },
      "/new": { name: "made-cross-origin", visibility: "public" },
      "/settings/tokens": { name: "cross", scope: "admin", expires: "30" },
      "/:owner/:repo/settings": { description: "cross", visibility: "private" },
      "/:owner/:repo/settings/collaborators": { username: "hneighbour", role: "admin" },
      "/:owner/:repo/settings/rename": { name: "renamed-cross" },
      "/:owner/:repo/settings/delete": { confirm: `${OWNER}/${name}` },
      "/:owner/:repo/issues": { title: "cross", body: "x" },
      "/:owner/:repo/issues/:number/comments": { body: "cross" },
      "/:owner/:repo/issues/:number/edit": { title: "cross", state: "closed" },
      "/:owner/:repo/issues/:number/labels": {},
      "/:owner/:repo/issues/:number/assignees": {},
      "/:owner/:repo/issues/comments/:id/edit": { body: "cross" },
      "/:owner/:repo/labels": { name: "cross", color: "ffffff" },
      "/:owner/:repo/labels/edit": { name: "bug", new_name: "cross" },
      "/:owner/:repo/labels/delete": { name: "bug" },
    };
    const forms = app.routes.filter((r) => r.method === "POST" && !r.path.startsWith("/api/") && !/git-|\/logout$/.test(r.path));
    expect(forms.length).toBeGreaterThan(15);
    for (const r of forms) {
      const path = concrete(r.path, { owner: OWNER, repo: name, number: "1", id: String(comment), user: "helper" });
      for (const origin of ["https://evil.example", "null", "http://gitflare.test.evil.example"]) {
        const res = await mine.post(path, fields[r.path] ?? {}, { csrf, origin });
        expect(res.status, `${origin}: POST ${path}`).toBe(403);
        await res.arrayBuffer();
      }
    }
    // Signing out from another origin leaves the session signed in.
    const out = await mine.post("/logout", {}, { csrf, origin: "https://evil.example" });
    expect(out.status).toBe(403);
    await out.arrayBuffer();
    expect((await mine.get("/settings/tokens")).status).toBe(200);
    expect(await snapshot(OWNER, name)).toEqual(before);
    const made = await env.DB.prepare("SELECT count(*) AS n FROM repos WHERE name IN ('made-cross-origin', 'renamed-cross')").first<{
      n: number;
    }>();
    expect(made!.n).toBe(0);
    expect(await findUserByName(env.DB, "crossy")).toBeNull();
  });

  it("refuses what a cross-site form can send to the JSON API with a session cookie, and grants no CORS", async () => {
    const cookie = await sessionCookie(OWNER);
    const before = await snapshot(OWNER, REPO);
    const changes = app.routes.filter((r) => r.path.startsWith("/api/") && r.method === "POST");
    expect(changes.length).toBeGreaterThan(5);
    for (const r of changes) {
      const path = concrete(r.path, { ...defaults(r.path, commentId), repo: r.path === "/api/repos/:owner/:repo" ? "made-by-form" : REPO });
      for (const [type, body] of [
        ["text/plain", '{"title":"cross","body":"x","name":"cross","labels":["bug"],"assignees":["helper"]}'],
        ["application/x-www-form-urlencoded", "title=cross&name=cross"],
        ["multipart/form-data; boundary=b", '--b\r\nContent-Disposition: form-data; name="title"\r\n\r\ncross\r\n--b--\r\n'],
      ]) {
        const res = await SELF.fetch(BASE + path, {
          method: "POST",
          headers: { Cookie: cookie, Origin: "https://evil.example", "Content-Type": type },
          body,
        });
        expect(res.status, `${type}: POST ${path}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${type}: POST ${path}`).toBeLessThan(500);
        await res.arrayBuffer();
      }
    }
    for (const method of ["DELETE", "PATCH", "PUT"]) {
      const preflight = await SELF.fetch(`${BASE}/api/repos/${OWNER}/${REPO}`, {
        method: "OPTIONS",
        headers: { Cookie: cookie, Origin: "https://evil.example", "Access-Control-Request-Method": method },
      });
      expect(preflight.status).toBeLessThan(500);
      expect(preflight.headers.get("Access-Control-Allow-Origin")).toBeNull();
      expect(preflight.headers.get("Access-Control-Allow-Credentials")).toBeNull();
      await preflight.arrayBuffer();
    }
    expect(await snapshot(OWNER, REPO)).toEqual(before);
    const made = await env.DB.prepare("SELECT count(*) AS n FROM repos WHERE name = 'made-by-form'").first<{ n: number }>();
    expect(made!.n).toBe(0);
  });
});
