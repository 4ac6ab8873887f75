// The client-compatibility matrix: clone, fetch and push with every client we know
// people use. The table goes to e2e/out/compat.md; `npm run docs` puts it in the README.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { type Credential, cloneRepository, openRepository } from "es-git";
import * as isogit from "isomorphic-git";
import http from "isomorphic-git/http/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalServer } from "./server";
import { writeGenerated } from "./generated";
import type { Account } from "./accounts";
import { commitFile, git, gitRun, makeRepo, parseRefs, tempDir } from "./git";

type Op = "clone" | "fetch" | "push" | "shallow clone";
const OPS: Op[] = ["clone", "fetch", "push", "shallow clone"];

interface Client {
  name: string;
  clone(url: string, dir: string, depth?: number): Promise<void>;
  fetch(dir: string): Promise<void>;
  push(dir: string, ref: string): Promise<void>;
  shallow: boolean;
  /**
   * Operations known to fail against Gitflare: the error they fail with and why. The test
   * accepts exactly that failure and the table shows the cell failing, with the reason.
   */
  known?: Partial<Record<Op, { error: RegExp; why: string }>>;
}

const gitVersion = execFileSync("git", ["--version"])
  .toString()
  .trim()
  .replace(/^git version /, "");

function cliClient(version: 0 | 1 | 2): Client {
  const P = ["-c", `protocol.version=${version}`];
  return {
    name: `git ${gitVersion} CLI (protocol v${version})`,
    shallow: true,
    async clone(url, dir, depth) {
      await git(join(dir, ".."), ...P, "clone", "-q", ...(depth ? ["--depth", String(depth)] : []), url, dir);
    },
    async fetch(dir) {
      await git(dir, ...P, "fetch", "-q", "origin");
    },
    async push(dir, ref) {
      await git(dir, ...P, "push", "-q", "origin", `${ref}:${ref}`);
    },
  };
}

let account: Account;
const isoAuth = () => ({ Authorization: account.auth });

const isoClient: Client = {
  name: "isomorphic-git 1.44 (Node http)",
  shallow: true,
  async clone(url, dir, depth) {
    await isogit.clone({ fs, http, dir, url, singleBranch: false, depth, headers: isoAuth() });
  },
  async fetch(dir) {
    await isogit.fetch({ fs, http, dir, remote: "origin", headers: isoAuth() });
  },
  async push(dir, ref) {
    const r = await isogit.push({ fs, http, dir, remote: "origin", ref, headers: isoAuth() });
    if (!r.ok) throw new Error(JSON.stringify(r));
  },
};

// libgit2, through es-git's prebuilt binding (no system library needed). Credentials are
// given when the server asks for them (a 401), as libgit2's credential callback does.
const esGitVersion: string = createRequire(import.meta.url)("es-git/package.json").version;
const esCredential = (): Credential => ({ type: "Plain", username: account.username, password: account.token });

const esGitClient: Client = {
  name: `libgit2 1.9 (es-git ${esGitVersion})`,
  shallow: true,
  async clone(url, dir, depth) {
    await cloneRepository(url, dir, { fetch: { credential: esCredential(), ...(depth ? { depth } : {}) } });
  },
  async fetch(dir) {
    const repo = await openRepository(dir);
    await repo.getRemote("origin").fetch([], { fetch: { credential: esCredential() } });
  },
  async push(dir, ref) {
    const repo = await openRepository(dir);
    await repo.getRemote("origin").push([`${ref}:${ref}`], { credential: esCredential() });
  },
};

const clients = [cliClient(0), cliClient(1), cliClient(2), isoClient, esGitClient];
const results = new Map<string, Map<Op, "pass" | "fail" | "n/a">>();
const server = new LocalServer();
let seq = 0;

beforeAll(async () => {
  await server.start();
  account = await server.signUpAndUse("clients");
});
afterAll(async () => {
  await server.stop();
  writeMatrix();
});

function record(client: string, op: Op, outcome: "pass" | "fail" | "n/a") {
  if (!results.has(client)) results.set(client, new Map());
  results.get(client)!.set(op, outcome);
}

/**
 * Runs an operation and records its outcome. A failure fails the test unless it is the
 * client's known failure for that operation; a known failure that no longer happens fails
 * it too, so that the entry and the table are brought up to date.
 */
async function attempt(client: Client, op: Op, fn: () => Promise<void>) {
  const known = client.known?.[op];
  try {
    await fn();
  } catch (e) {
    record(client.name, op, "fail");
    if (known?.error.test(String(e))) return;
    throw e;
  }
  record(client.name, op, "pass");
  if (known) throw new Error(`${client.name}: ${op} works now; remove its known failure ("${known.why}")`);
}

/** A test's title, marked when the operation is a known failure. */
const title = (client: Client, op: Op, text: string) => (client.known?.[op] ? `${text} (known failure, see the table's note)` : text);

function writeMatrix() {
  if (results.size === 0) return;
  const mark = { pass: "✅ pass", fail: "❌ fail", "n/a": "— (client has no such option)" };
  const rows = [`| client | ${OPS.join(" | ")} |`, `|---|${OPS.map(() => "---").join("|")}|`];
  const notes: string[] = [];
  for (const c of clients) {
    const r = results.get(c.name);
    if (!r) continue;
    const cells = OPS.map((op) => {
      const outcome = r.get(op) ?? "fail";
      const known = c.known?.[op];
      if (!known || outcome !== "fail") return mark[outcome];
      notes.push(`${notes.length + 1}. ${c.name}, ${op}: ${known.why}`);
      return `${mark.fail} (note ${notes.length})`;
    });
    rows.push(`| ${c.name} | ${cells.join(" | ")} |`);
  }
  writeGenerated("compat.md", rows.join("\n") + "\n" + (notes.length ? "\n" + notes.join("\n") + "\n" : ""));
}

for (const client of clients) {
  describe(client.name, () => {
    let src: string;
    let url: string;
    let work: string;

    beforeAll(async () => {
      src = await makeRepo(5);
      await git(src, "tag", "-a", "v1", "-m", "v1");
      url = `${server.url}/clients/c${Date.now().toString(36)}${seq++}.git`;
      await git(src, "push", "-q", url, "main", "v1");
      work = tempDir("gitflare-client-");
    });

    it(title(client, "clone", "clones"), () =>
      attempt(client, "clone", async () => {
        const dir = join(work, "clone");
        await client.clone(url, dir);
        expect((await git(dir, "rev-parse", "HEAD")).trim()).toBe((await git(src, "rev-parse", "HEAD")).trim());
        const fsck = await gitRun(dir, ["fsck", "--strict"]);
        expect(fsck.code, fsck.stderr).toBe(0);
      }),
    );

    it(title(client, "fetch", "fetches"), () =>
      attempt(client, "fetch", async () => {
        const dir = join(work, "clone");
        const tip = await commitFile(src, "fetched.txt", "new on the server\n");
        await git(src, "push", "-q", url, "main");
        await client.fetch(dir);
        expect((await git(dir, "rev-parse", "refs/remotes/origin/main")).trim()).toBe(tip);
      }),
    );

    it(title(client, "push", "pushes"), () =>
      attempt(client, "push", async () => {
        const dir = join(work, "clone");
        await git(dir, "checkout", "-q", "-B", "main", "refs/remotes/origin/main");
        const tip = await commitFile(dir, `pushed-${seq}.txt`, `from ${client.name}\n`);
        await client.push(dir, "refs/heads/main");
        expect(parseRefs(await git(dir, "ls-remote", url)).get("refs/heads/main")).toBe(tip);
        const check = join(work, "verify");
        await git(work, "clone", "-q", url, check);
        const fsck = await gitRun(check, ["fsck", "--strict"]);
        expect(fsck.code, fsck.stderr).toBe(0);
      }),
    );

    it(title(client, "shallow clone", "shallow-clones"), async () => {
      if (!client.shallow) {
        record(client.name, "shallow clone", "n/a");
        return;
      }
      await attempt(client, "shallow clone", async () => {
        const dir = join(work, "shallow");
        await client.clone(url, dir, 1);
        expect((await git(dir, "rev-list", "--count", "HEAD")).trim()).toBe("1");
        const fsck = await gitRun(dir, ["fsck"]);
        expect(fsck.code, fsck.stderr).toBe(0);
      });
    });
  });
}
