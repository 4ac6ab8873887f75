// The client-compatibility matrix: clone, fetch and push with every client we know
// people use. The README's table is written from this run's results.
import { execFile, execFileSync } from "node:child_process";
import fs, { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as isogit from "isomorphic-git";
import http from "isomorphic-git/http/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalServer } from "./server";
import { writeReadmeSection } from "./readme";
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

function py(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, GITFLARE_USER: account.username, GITFLARE_TOKEN: account.token };
    execFile("/usr/bin/python3", [join(import.meta.dirname, "clients/pygit2_client.py"), ...args], { env }, (err, _out, stderr) =>
      err ? reject(new Error(`pygit2 ${args[0]} failed: ${stderr}`)) : resolve(),
    );
  });
}

const pygit2Client: Client = {
  name: "libgit2 1.5 (pygit2)",
  shallow: false,
  clone: (url, dir) => py(["clone", url, dir]),
  fetch: (dir) => py(["fetch", "", dir]),
  push: (dir, ref) => py(["push", "", dir, `${ref}:${ref}`]),
};

const clients = [cliClient(0), cliClient(1), cliClient(2), isoClient, pygit2Client];
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

/** Runs an operation, records its outcome, and rethrows failures so the test fails. */
async function attempt(client: Client, op: Op, fn: () => Promise<void>) {
  try {
    await fn();
    record(client.name, op, "pass");
  } catch (e) {
    record(client.name, op, "fail");
    throw e;
  }
}

function writeMatrix() {
  if (results.size === 0) return;
  const mark = { pass: "✅ pass", fail: "❌ fail", "n/a": "— (client has no such option)" };
  const rows = [`| client | ${OPS.join(" | ")} |`, `|---|${OPS.map(() => "---").join("|")}|`];
  for (const c of clients) {
    const r = results.get(c.name);
    if (!r) continue;
    rows.push(`| ${c.name} | ${OPS.map((op) => mark[r.get(op) ?? "fail"]).join(" | ")} |`);
  }
  const table = rows.join("\n");
  const dir = join(import.meta.dirname, "..");
  writeFileSync(join(dir, "e2e/compat.md"), table + "\n");
  writeReadmeSection("compat", "e2e/clients.test.ts", table);
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

    it("clones", () =>
      attempt(client, "clone", async () => {
        const dir = join(work, "clone");
        await client.clone(url, dir);
        expect((await git(dir, "rev-parse", "HEAD")).trim()).toBe((await git(src, "rev-parse", "HEAD")).trim());
        const fsck = await gitRun(dir, ["fsck", "--strict"]);
        expect(fsck.code, fsck.stderr).toBe(0);
      }));

    it("fetches", () =>
      attempt(client, "fetch", async () => {
        const dir = join(work, "clone");
        const tip = await commitFile(src, "fetched.txt", "new on the server\n");
        await git(src, "push", "-q", url, "main");
        await client.fetch(dir);
        expect((await git(dir, "rev-parse", "refs/remotes/origin/main")).trim()).toBe(tip);
      }));

    it("pushes", () =>
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
      }));

    it("shallow-clones", async () => {
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
