// Creating a repository is one step on every surface, even when the creator stops half
// way (issue 12, defects 3 and 7): a record whose Durable Object holds no repository is
// no repository to the API, the pages, git or the listings; asking to push to a name that
// does not exist creates no storage; and a later creation of the name succeeds.
import { SELF, env, listDurableObjectIds } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { concatBytes } from "../src/util/bytes";
import { pktLine } from "../src/git/protocol/pkt-line";
import { findUserByName } from "../src/auth/accounts";
import { insertRepo } from "../src/access/repos";
import { accountAuth, fromBase64, ownerFetch } from "./helpers";

const fixtures = inject("fixtures");
const ZERO = "0".repeat(40);
const BASE = "http://gitflare.test";
const OWNER = "maker";
let seq = 0;

async function pushFixture(name: string): Promise<string> {
  const body = concatBytes([
    pktLine(`${ZERO} ${fixtures.head} refs/heads/main\0report-status\n`),
    new TextEncoder().encode("0000"),
    fromBase64(fixtures.ofsPack.pack),
  ]);
  const res = await ownerFetch(`${BASE}/${OWNER}/${name}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body,
  });
  return new TextDecoder().decode(await res.arrayBuffer());
}

/** What each surface answers for the repository: API, page, clone advertisement, listing. */
async function surfaces(name: string): Promise<{ api: number; page: number; clone: number; listed: boolean }> {
  const api = await ownerFetch(`${BASE}/api/repos/${OWNER}/${name}`);
  await api.arrayBuffer();
  const page = await ownerFetch(`${BASE}/${OWNER}/${name}`);
  await page.arrayBuffer();
  const clone = await ownerFetch(`${BASE}/${OWNER}/${name}.git/info/refs?service=git-upload-pack`);
  await clone.arrayBuffer();
  const profile = await ownerFetch(`${BASE}/${OWNER}`);
  const listed = (await profile.text()).includes(`href="/${OWNER}/${name}"`);
  return { api: api.status, page: page.status, clone: clone.status, listed };
}

/** The record a creation writes first, as a crash right after it leaves it. */
async function halfCreated(name: string) {
  await accountAuth(OWNER);
  const user = (await findUserByName(env.DB, OWNER))!;
  return insertRepo(env.DB, user.id, user.username, name, "", true);
}

async function storedObjects(): Promise<Set<string>> {
  return new Set((await listDurableObjectIds(env.REPO)).map((id) => id.toString()));
}

describe("a creation that stopped half way", () => {
  it("is no repository on any surface while its object holds none, and the next push creates it", async () => {
    const name = `half${seq++}`;
    await halfCreated(name);
    expect(await surfaces(name)).toEqual({ api: 404, page: 404, clone: 404, listed: false });
    // Pushing to it is pushing to a repository that does not exist yet.
    const ad = await ownerFetch(`${BASE}/${OWNER}/${name}.git/info/refs?service=git-receive-pack`);
    expect(ad.status).toBe(200);
    expect(new TextDecoder().decode(await ad.arrayBuffer())).toContain(`${ZERO} capabilities^{}`);
    expect(await pushFixture(name)).toContain("ok refs/heads/main");
    expect(await surfaces(name)).toEqual({ api: 200, page: 200, clone: 200, listed: true });
    const row = await env.DB.prepare("SELECT pending, pushed_at FROM repos WHERE name = ?")
      .bind(name)
      .first<{ pending: number; pushed_at: number }>();
    expect(row).toEqual({ pending: 0, pushed_at: expect.any(Number) });
  });

  it("is the repository on every surface once its object holds it (the push stored it, then the server stopped)", async () => {
    const name = `stored${seq++}`;
    const repo = await halfCreated(name);
    await env.REPO.getByName(repo.doName).init();
    expect(await surfaces(name)).toEqual({ api: 200, page: 200, clone: 200, listed: true });
  });

  it("does not stop a new repository or a rename from taking the name", async () => {
    const viaApi = `api${seq++}`;
    await halfCreated(viaApi);
    const created = await ownerFetch(`${BASE}/api/repos/${OWNER}/${viaApi}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ description: "second try", private: false }),
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ name: viaApi, description: "second try", private: false });
    expect(await surfaces(viaApi)).toEqual({ api: 200, page: 200, clone: 200, listed: true });

    const target = `renamed${seq++}`;
    await halfCreated(target);
    const renamed = await ownerFetch(`${BASE}/api/repos/${OWNER}/${viaApi}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: target }),
    });
    expect(renamed.status).toBe(200);
    expect(await renamed.json()).toEqual({ owner: OWNER, name: target });
    expect(await surfaces(target)).toEqual({ api: 200, page: 200, clone: 200, listed: true });
  });

  it("leaves nothing behind when the creating push is refused", async () => {
    const name = `refused${seq++}`;
    const body = concatBytes([pktLine(`${ZERO} ${"1".repeat(40)} refs/heads/main\0report-status\n`), new TextEncoder().encode("0000")]);
    const res = await ownerFetch(`${BASE}/${OWNER}/${name}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request" },
      body,
    });
    expect(new TextDecoder().decode(await res.arrayBuffer())).toContain("ng refs/heads/main");
    expect(await env.DB.prepare("SELECT count(*) AS n FROM repos WHERE name = ?").bind(name).first("n")).toBe(0);
  });
});

describe("asking to push to a repository that does not exist", () => {
  it("creates no storage: no record, no Durable Object, for any name", async () => {
    const auth = await accountAuth(OWNER, "write");
    const names = Array.from({ length: 5 }, () => `nothing${seq++}`);
    for (const name of names) {
      for (const version of ["", "version=1"]) {
        const res = await SELF.fetch(`${BASE}/${OWNER}/${name}.git/info/refs?service=git-receive-pack`, {
          headers: { Authorization: auth, ...(version ? { "Git-Protocol": version } : {}) },
        });
        expect(res.status).toBe(200);
        expect(res.headers.get("Content-Type")).toBe("application/x-git-receive-pack-advertisement");
        await res.arrayBuffer();
      }
    }
    const stored = await storedObjects();
    for (const name of names) {
      for (const objectName of [`${OWNER}/${name}`, `${OWNER}/${name}~new`])
        expect(stored.has(env.REPO.idFromName(objectName).toString()), objectName).toBe(false);
    }
    const records = await env.DB.prepare(`SELECT count(*) AS n FROM repos WHERE name IN (${names.map(() => "?").join()})`)
      .bind(...names)
      .first("n");
    expect(records).toBe(0);
  });

  it("advertises exactly what an empty repository's object does", async () => {
    const empty = `empty${seq++}`;
    const created = await ownerFetch(`${BASE}/api/repos/${OWNER}/${empty}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    expect(created.status).toBe(201);
    await created.arrayBuffer();
    for (const version of ["", "version=1"]) {
      const headers = version ? { "Git-Protocol": version } : undefined;
      const fromObject = await ownerFetch(`${BASE}/${OWNER}/${empty}.git/info/refs?service=git-receive-pack`, { headers });
      const fromWorker = await ownerFetch(`${BASE}/${OWNER}/missing${seq++}.git/info/refs?service=git-receive-pack`, { headers });
      expect(new Uint8Array(await fromWorker.arrayBuffer())).toEqual(new Uint8Array(await fromObject.arrayBuffer()));
    }
  });
});
