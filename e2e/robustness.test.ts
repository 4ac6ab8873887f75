// Against the real server (issue 12, defects 3 and 8): a server killed during a push that
// creates a repository leaves every surface agreeing that it does not exist, and the next
// push creates it; bad bodies get a clean 4xx and the server logs no uncaught error
// (test/api-input.test.ts checks that a body without a length is not read past the cap).
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eAuth } from "./accounts";
import { pkt } from "./raw";
import { LocalServer } from "./server";
import { git, gitRun, makeRepo, tempDir } from "./git";

const server = new LocalServer();
beforeAll(async () => {
  await server.start();
  await server.signUpAndUse("e2e");
});
afterAll(() => server.stop());

/** The Durable Objects' SQLite files under the server's state directory. */
function objectFiles(): Set<string> {
  const found = new Set<string>();
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith(".sqlite")) found.add(join(dir, e.name));
    }
  };
  walk(join(server.stateDir, "v3", "do"));
  return found;
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** SIGKILL to the whole server (npm, wrangler, workerd), as a crash would stop it. */
async function killServer(): Promise<void> {
  const group = server.processGroup!;
  process.kill(-group, "SIGKILL");
  await until("the server to die", () => {
    try {
      process.kill(-group, 0);
      return undefined;
    } catch {
      return true;
    }
  });
}

/** What each surface says of owner/name: API, page, ls-remote. */
async function surfaces(path: string): Promise<{ api: number; page: number; lsRemote: "found" | "not found" }> {
  const api = await server.fetch(`/api/repos/${path}`);
  await api.arrayBuffer();
  const page = await server.fetch(`/${path}`);
  await page.arrayBuffer();
  const ls = await gitRun(tempDir(), ["ls-remote", `${server.url}/${path}.git`]);
  if (ls.code !== 0) expect(ls.stderr).toMatch(/not found/);
  return { api: api.status, page: page.status, lsRemote: ls.code === 0 ? "found" : "not found" };
}

describe("a server killed during a push that creates the repository", () => {
  it("leaves no half-created repository: API, page and git agree, and the next push creates it", async () => {
    const path = `e2e/killed-${Date.now().toString(36)}`;
    const before = objectFiles();
    // A push whose body is held open: the server has recorded the new repository and
    // handed the first segment to its object, and can go no further.
    let hold: ReadableStreamDefaultController<Uint8Array> | null = null;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        hold = controller;
        const head = `${pkt(`${"0".repeat(40)} ${"1".repeat(40)} refs/heads/main\0report-status\n`)}0000PACK`;
        controller.enqueue(new TextEncoder().encode(head));
        controller.enqueue(new Uint8Array([0, 0, 0, 2, 0, 0, 0, 1]));
        controller.enqueue(new Uint8Array(256 * 1024).fill(7));
      },
    });
    const push = fetch(`${server.url}/${path}.git/git-receive-pack`, {
      method: "POST",
      headers: { Authorization: e2eAuth.header, "Content-Type": "application/x-git-receive-pack-request" },
      body,
      duplex: "half",
    } as RequestInit).catch((e: Error) => e);
    // The object's storage appears when the push reaches it, after the record was written.
    await until("the push to reach the repository's object", () => ([...objectFiles()].some((f) => !before.has(f)) ? true : undefined));
    await killServer();
    expect(await push).toBeInstanceOf(Error);
    (hold as ReadableStreamDefaultController<Uint8Array> | null)?.error(new Error("the server is gone"));

    await server.start();
    expect(await surfaces(path)).toEqual({ api: 404, page: 404, lsRemote: "not found" });
    const clone = await gitRun(tempDir(), ["clone", `${server.url}/${path}.git`, "c"]);
    expect(clone.code).not.toBe(0);
    expect(clone.stderr).toMatch(/not found/);

    const src = await makeRepo(3);
    await git(src, "push", `${server.url}/${path}.git`, "main");
    expect(await surfaces(path)).toEqual({ api: 200, page: 200, lsRemote: "found" });
    const meta = (await (await server.fetch(`/api/repos/${path}`)).json()) as { pushed_at: string | null };
    expect(meta.pushed_at).not.toBeNull();
  });
});

describe("bad bodies", () => {
  it("answers an upload-pack body in an encoding it does not read with a clean 400 and no uncaught error", async () => {
    const src = await makeRepo(2);
    const path = `e2e/encoded-${Date.now().toString(36)}`;
    await git(src, "push", `${server.url}/${path}.git`, "main");
    const mark = server.mark();
    for (const size of [64, 4 * 1024 * 1024]) {
      const res = await server.fetch(`/${path}.git/git-upload-pack`, {
        method: "POST",
        headers: { "Content-Type": "application/x-git-upload-pack-request", "Content-Encoding": "br" },
        body: new Uint8Array(size).fill(1),
      });
      expect(res.status).toBe(400);
      expect(await res.text()).toBe("Unsupported Content-Encoding 'br'\n");
    }
    // The next request's log line is there, so anything the 400s caused was printed before it.
    const after = await server.fetch("/api/user");
    await after.arrayBuffer();
    await until("the server to log the next request", () => (server.outputSince(mark).includes("/api/user") ? true : undefined));
    expect(server.outputSince(mark)).not.toMatch(/uncaught|exception/i);
  });

  it("answers a 60 MB JSON body with 413, and no uncaught error", async () => {
    const mark = server.mark();
    const body = new Uint8Array(60 * 1024 * 1024).fill(0x20);
    body.set(new TextEncoder().encode('{"description": "'));
    const res = await server.fetch(`/api/repos/e2e/huge-${Date.now().toString(36)}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: "request body is larger than 1048576 bytes" });
    const after = await server.fetch("/api/user");
    await after.arrayBuffer();
    await until("the server to log the next request", () => (server.outputSince(mark).includes("/api/user") ? true : undefined));
    expect(server.outputSince(mark)).not.toMatch(/uncaught|exception/i);
  });
});
