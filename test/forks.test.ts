// Forks in workerd: a fork reads its parent's packs in R2 instead of copying them, and the
// shared R2 objects are reference-counted, so the parent's force-pushes, garbage
// collection and deletion leave the fork whole, and the last holder's deletion frees them.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { concatBytes } from "../src/util/bytes";
import { pktLine } from "../src/git/protocol/pkt-line";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TREE, fromHex } from "../src/git/object/object";
import { enumerateObjects } from "../src/git/walk";
import type { Repository } from "../src/repo/repository";
import { beginFork, importForkPage } from "../src/repo/forks";
import { buildPack, oidOf } from "./pack-builder";
import { accountAuth, inRepo, ownerFetch } from "./helpers";
import { SELF } from "cloudflare:test";

const ZERO = "0".repeat(40);
const enc = (s: string) => new TextEncoder().encode(s);
let n = 0;

/** Pushes one commit with a sizeable blob on top of `parent` (null: a new root; `old` for a force-push). */
async function pushCommit(url: string, parent: string | null, i: number, old = parent, ref = "refs/heads/main"): Promise<string> {
  // Incompressible, so that the pack is as large as the history it carries.
  const blob = enc(Array.from({ length: 2000 + i }, (_, k) => ((k * 2654435761 + i * 40503) >>> 0).toString(36)).join("\n"));
  const tree = concatBytes([enc(`100644 f${i}.txt\0`), fromHex(oidOf(OBJ_BLOB, blob))]);
  const commit = enc(
    `tree ${oidOf(OBJ_TREE, tree)}\n${parent ? `parent ${parent}\n` : ""}author A <a@b> ${1700000000 + i} +0000\ncommitter A <a@b> ${1700000000 + i} +0000\n\ncommit ${i}\n`,
  );
  const pack = buildPack([
    { type: OBJ_COMMIT, data: commit },
    { type: OBJ_TREE, data: tree },
    { type: OBJ_BLOB, data: blob },
  ]);
  const oid = oidOf(OBJ_COMMIT, commit);
  const body = concatBytes([pktLine(`${old ?? ZERO} ${oid} ${ref}\0report-status\n`), enc("0000"), pack]);
  const res = await ownerFetch(`${url}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body,
  });
  expect(await res.text()).toContain(`ok ${ref}`);
  return oid;
}

const api = (path: string, user: string, init: RequestInit = {}) =>
  accountAuth(user).then((auth) =>
    SELF.fetch(`http://gitflare.test/api/v3${path}`, {
      ...init,
      headers: { Authorization: auth, "Content-Type": "application/json", ...(init.headers ?? {}) },
    }),
  );

const stubOf = (name: string) => env.REPO.getByName(name) as unknown as DurableObjectStub<Repository>;

/** Every object the repository's refs reach can be read, and hashes right. */
async function readsEverything(stub: DurableObjectStub<Repository>): Promise<number> {
  return inRepo(stub, async (repo) => {
    const tips = [...repo.refs.list().values()];
    const { oids } = await enumerateObjects(repo.store, tips);
    for (const oid of oids) expect((await repo.store.readObject(oid)) !== null).toBe(true);
    return oids.length;
  });
}

async function sharedKeys(stub: DurableObjectStub<Repository>): Promise<string[]> {
  return inRepo(stub, (_repo, state) =>
    state.storage.sql
      .exec<{ key: string }>("SELECT key FROM dofs_r2_shared")
      .toArray()
      .map((r) => r.key),
  );
}

describe("forks", () => {
  it("share the parent's packs and outlive its force-push, garbage collection and deletion", async () => {
    const owner = `fo${Date.now().toString(36)}${n++}`;
    const forker = `fk${Date.now().toString(36)}${n++}`;
    const url = `http://gitflare.test/${owner}/src`;
    let tip: string | null = null;
    for (let i = 0; i < 6; i++) tip = await pushCommit(url, tip, i);

    // A private parent: a stranger cannot see it, so cannot fork it.
    expect((await api(`/repos/${owner}/src/forks`, forker, { method: "POST", body: "{}" })).status).toBe(404);
    await api(`/repos/${owner}/src/collaborators/${forker}`, owner, { method: "PUT", body: JSON.stringify({ permission: "pull" }) });
    const res = await api(`/repos/${owner}/src/forks`, forker, { method: "POST", body: JSON.stringify({ name: "mine" }) });
    expect(res.status).toBe(202);
    const fork = await res.json<{ full_name: string; fork: boolean; private: boolean; parent: { full_name: string } }>();
    expect(fork).toMatchObject({ full_name: `${forker}/mine`, fork: true, private: true, parent: { full_name: `${owner}/src` } });
    // Forking again answers the same fork.
    const again = await api(`/repos/${owner}/src/forks`, forker, { method: "POST", body: "{}" });
    expect((await again.json<{ full_name: string }>()).full_name).toBe(`${forker}/mine`);
    const listed = await (await api(`/repos/${owner}/src/forks`, owner)).json<{ full_name: string }[]>();
    expect(listed.map((r) => r.full_name)).toEqual([`${forker}/mine`]);
    const parentJson = await (await api(`/repos/${owner}/src`, owner)).json<{ forks_count: number; fork: boolean }>();
    expect(parentJson).toMatchObject({ forks_count: 1, fork: false });
    // A fork of a private repository cannot be made public.
    const publish = await api(`/repos/${forker}/mine`, forker, { method: "PATCH", body: JSON.stringify({ private: false }) });
    expect(publish.status).toBe(422);

    const parent = stubOf(`${owner}/src`);
    const child = stubOf(`${forker}/mine`);
    expect(await inRepo(child, (r) => [...r.refs.list()])).toEqual(await inRepo(parent, (r) => [...r.refs.list()]));
    const objects = await readsEverything(child);
    expect(objects).toBe(18);

    // The fork stores no pack bytes of its own: its packs are the parent's R2 objects.
    const own = await child.ownStorage();
    const whole = await parent.ownStorage();
    expect(own.r2OwnBytes).toBe(0);
    expect(whole.r2SharedBytes).toBeGreaterThan(50_000);
    expect(own.sqliteFileBytes).toBeLessThan(whole.r2SharedBytes / 5);
    const keys = await sharedKeys(child);
    expect(keys.length).toBeGreaterThan(0);

    // The parent is force-pushed to an unrelated history and garbage-collected.
    const other = await pushCommit(url, null, 100, tip);
    const opts = { tierMinBytes: Number.MAX_SAFE_INTEGER, tierAgeMs: Number.MAX_SAFE_INTEGER, graceMs: 0 };
    for (let i = 0; i < 50; i++) if (!(await parent.maintenanceSlice(opts, Date.now() + 60_000)).more) break;
    await inRepo(parent, (r) => {
      expect(r.store.has(tip!)).toBe(false);
      expect(r.store.has(other)).toBe(true);
    });
    for (const k of keys) expect(await env.PACKS!.head(k)).not.toBeNull();
    expect(await readsEverything(child)).toBe(18);

    // The parent is deleted: the fork stands alone, and still reads everything.
    expect((await api(`/repos/${owner}/src`, owner, { method: "DELETE" })).status).toBe(204);
    for (const k of keys) expect(await env.PACKS!.head(k)).not.toBeNull();
    expect(await readsEverything(child)).toBe(18);
    const alone = await (await api(`/repos/${forker}/mine`, forker)).json<{ fork: boolean }>();
    expect(alone.fork).toBe(false);

    // The last holder's deletion frees the shared objects.
    expect((await api(`/repos/${forker}/mine`, forker, { method: "DELETE" })).status).toBe(204);
    for (const k of keys) expect(await env.PACKS!.head(k)).toBeNull();
    const rows = await env.DB.prepare(`SELECT count(*) AS n FROM r2_holders WHERE key IN (${keys.map(() => "?").join(",")})`)
      .bind(...keys)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });

  it("refuses anonymous callers and names that are taken", async () => {
    const owner = `fp${Date.now().toString(36)}${n++}`;
    const url = `http://gitflare.test/${owner}/pub`;
    await pushCommit(url, null, 1);
    await api(`/repos/${owner}/pub`, owner, { method: "PATCH", body: JSON.stringify({ private: false }) });
    const anon = await SELF.fetch(`http://gitflare.test/api/v3/repos/${owner}/pub/forks`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    expect(anon.status).toBe(401);
    // The owner may fork their own repository only under another name.
    const self = await api(`/repos/${owner}/pub/forks`, owner, { method: "POST", body: "{}" });
    expect(self.status).toBe(422);
    const renamed = await api(`/repos/${owner}/pub/forks`, owner, { method: "POST", body: JSON.stringify({ name: "pub-2" }) });
    expect(renamed.status).toBe(202);
    expect((await renamed.json<{ private: boolean }>()).private).toBe(false);
  });

  it("open pull requests from a fork into the parent, follow the fork's pushes, and merge", async () => {
    const owner = `fq${Date.now().toString(36)}${n++}`;
    const forker = `fr${Date.now().toString(36)}${n++}`;
    const url = `http://gitflare.test/${owner}/base`;
    const main = await pushCommit(url, null, 1);
    await api(`/repos/${owner}/base`, owner, { method: "PATCH", body: JSON.stringify({ private: false }) });
    expect((await api(`/repos/${owner}/base/forks`, forker, { method: "POST", body: "{}" })).status).toBe(202);
    const forkUrl = `http://gitflare.test/${forker}/base`;
    const first = await pushCommit(forkUrl, main, 2, null, "refs/heads/feature");
    // Opening one needs read on the base only (not write), and a fork the caller can read.
    const open = await api(`/repos/${owner}/base/pulls`, forker, {
      method: "POST",
      body: JSON.stringify({ title: "From my fork", head: `${forker}:feature`, base: "main" }),
    });
    expect(open.status).toBe(201);
    const pr = await open.json<{
      number: number;
      head: { label: string; ref: string; sha: string; repo: { full_name: string; fork: boolean } };
    }>();
    expect(pr.head).toMatchObject({
      label: `${forker}:feature`,
      ref: "feature",
      sha: first,
      repo: { full_name: `${forker}/base`, fork: true },
    });
    const parent = stubOf(`${owner}/base`);
    expect(await inRepo(parent, (r) => r.refs.resolve(`refs/pull/${pr.number}/head`))).toBe(first);
    const listed = await (await api(`/repos/${owner}/base/pulls?head=${forker}:feature`, owner)).json<{ number: number }[]>();
    expect(listed.map((p) => p.number)).toEqual([pr.number]);
    // A stranger's head that is no fork of this repository is refused.
    const bad = await api(`/repos/${owner}/base/pulls`, forker, {
      method: "POST",
      body: JSON.stringify({ title: "x", head: `${owner}x:feature`, base: "main" }),
    });
    expect(bad.status).toBe(422);

    // A push to the fork's branch moves the pull request's head in the parent.
    const second = await pushCommit(forkUrl, first, 3, first, "refs/heads/feature");
    await expect.poll(() => inRepo(parent, (r) => r.refs.resolve(`refs/pull/${pr.number}/head`))).toBe(second);
    const view = await (await api(`/repos/${owner}/base/pulls/${pr.number}`, owner)).json<{ head: { sha: string }; mergeable: boolean }>();
    expect(view).toMatchObject({ head: { sha: second }, mergeable: true });

    // The forker cannot merge it; the base's owner can.
    const refused = await api(`/repos/${owner}/base/pulls/${pr.number}/merge`, forker, { method: "PUT", body: "{}" });
    expect(refused.status).toBe(403);
    const merged = await api(`/repos/${owner}/base/pulls/${pr.number}/merge`, owner, {
      method: "PUT",
      body: JSON.stringify({ sha: second }),
    });
    expect(merged.status).toBe(200);
    const tip = await inRepo(parent, (r) => r.refs.resolve("refs/heads/main"));
    await inRepo(parent, async (r) => {
      const { oids } = await enumerateObjects(r.store, [tip!], { haves: [] });
      expect(oids).toContain(second);
      for (const oid of oids) expect(await r.store.readObject(oid)).not.toBeNull();
    });
  });

  it("hide a fork of a fork of a private repository from someone who lost access to the private root", async () => {
    const a = `fr${Date.now().toString(36)}${n++}`;
    const b = `fs${Date.now().toString(36)}${n++}`;
    await pushCommit(`http://gitflare.test/${a}/r`, null, 400);
    await accountAuth(b);
    expect((await api(`/repos/${a}/r/collaborators/${b}`, a, { method: "PUT", body: "{}" })).status).toBe(201);
    expect((await api(`/repos/${a}/r/forks`, b, { method: "POST", body: "{}" })).status).toBe(202);
    // B forks their own fork: its parent is B's, which B owns.
    expect((await api(`/repos/${b}/r/forks`, b, { method: "POST", body: JSON.stringify({ name: "r2" }) })).status).toBe(202);
    expect((await api(`/repos/${b}/r2`, b)).status).toBe(200);
    expect((await api(`/repos/${a}/r/collaborators/${b}`, a, { method: "DELETE" })).status).toBe(204);
    expect((await api(`/repos/${b}/r`, b)).status).toBe(404);
    expect((await api(`/repos/${b}/r2`, b)).status).toBe(404);
    expect((await api(`/repos/${b}/r2/git/refs/heads/main`, b)).status).toBe(404);
  });

  it("keep a fork hidden from an owner who lost access to its private parent after the parent is deleted", async () => {
    const a = `ft${Date.now().toString(36)}${n++}`;
    const b = `fu${Date.now().toString(36)}${n++}`;
    const c = `fv${Date.now().toString(36)}${n++}`;
    await pushCommit(`http://gitflare.test/${a}/r`, null, 500);
    for (const user of [b, c]) {
      await accountAuth(user);
      expect((await api(`/repos/${a}/r/collaborators/${user}`, a, { method: "PUT", body: "{}" })).status).toBe(201);
      expect((await api(`/repos/${a}/r/forks`, user, { method: "POST", body: "{}" })).status).toBe(202);
    }
    expect((await api(`/repos/${a}/r/collaborators/${b}`, a, { method: "DELETE" })).status).toBe(204);
    expect((await api(`/repos/${b}/r`, b)).status).toBe(404);
    expect((await api(`/repos/${a}/r`, a, { method: "DELETE" })).status).toBe(204);
    expect((await api(`/repos/${b}/r`, b)).status).toBe(404);
    expect((await api(`/search/repositories?q=${b}`, b)).status).toBe(200);
    expect((await (await api(`/search/repositories?q=${b}`, b)).json<{ total_count: number }>()).total_count).toBe(0);
    // Whoever could still read the parent keeps their fork, standing alone.
    const kept = await api(`/repos/${c}/r`, c);
    expect(kept.status).toBe(200);
    expect((await kept.json<{ fork: boolean }>()).fork).toBe(false);
  });

  it("keep what a fork was handed when the parent is deleted while it shares its packs", async () => {
    const a = `fw${Date.now().toString(36)}${n++}`;
    let tip: string | null = null;
    for (let i = 0; i < 3; i++) tip = await pushCommit(`http://gitflare.test/${a}/r`, tip, 600 + i);
    const parent = stubOf(`${a}/r`);
    // The two calls may reach the object in either order: deleted first, there is nothing
    // to share (null); shared first, the fork keeps every pack it was handed.
    const [snap] = await Promise.all([parent.sharePacks("a-fork-being-made"), parent.destroy()]);
    if (snap) {
      expect(snap.packs.length).toBeGreaterThan(0);
      for (const p of snap.packs) expect(await env.PACKS!.head(p.key)).not.toBeNull();
    } else expect(await parent.exists()).toBe(false);
  });

  it("share packs along a fork of a fork, until the last holder goes", async () => {
    const a = `fa${Date.now().toString(36)}${n++}`;
    const b = `fb${Date.now().toString(36)}${n++}`;
    const c = `fc${Date.now().toString(36)}${n++}`;
    let tip: string | null = null;
    for (let i = 0; i < 3; i++) tip = await pushCommit(`http://gitflare.test/${a}/r`, tip, 200 + i);
    await api(`/repos/${a}/r`, a, { method: "PATCH", body: JSON.stringify({ private: false }) });
    expect((await api(`/repos/${a}/r/forks`, b, { method: "POST", body: "{}" })).status).toBe(202);
    // B pushes a commit of its own, then C forks B: C reads A's packs and B's own.
    await pushCommit(`http://gitflare.test/${b}/r`, tip, 300);
    expect((await api(`/repos/${b}/r/forks`, c, { method: "POST", body: "{}" })).status).toBe(202);
    const child = stubOf(`${c}/r`);
    const keys = await sharedKeys(child);
    expect(keys.length).toBe(4);
    const source = await (await api(`/repos/${c}/r`, c)).json<{ parent: { full_name: string }; source: { full_name: string } }>();
    expect(source).toMatchObject({ parent: { full_name: `${b}/r` }, source: { full_name: `${a}/r` } });
    expect((await api(`/repos/${a}/r`, a, { method: "DELETE" })).status).toBe(204);
    expect((await api(`/repos/${b}/r`, b, { method: "DELETE" })).status).toBe(204);
    expect(await readsEverything(child)).toBe(12);
    for (const k of keys) expect(await env.PACKS!.head(k)).not.toBeNull();
    expect((await api(`/repos/${c}/r`, c, { method: "DELETE" })).status).toBe(204);
    for (const k of keys) expect(await env.PACKS!.head(k)).toBeNull();
  });
});

describe("the index a fork is made from", () => {
  it("is staged in pages, read back whole, and dropped once read", async () => {
    const name = `fork/pages${Date.now().toString(36)}${n++}`;
    const url = `http://gitflare.test/${name}`;
    let tip: string | null = null;
    for (let i = 0; i < 6; i++) tip = await pushCommit(url, tip, i);
    const parent = stubOf(name);
    // Pages of 300 characters: many of each kind, as a large repository has of 1.5 MB.
    const { manifest, rows, idx } = await inRepo(parent, (repo, state) => ({
      manifest: repo.store.stageExport(Date.now(), 300),
      rows: state.storage.sql.exec("SELECT oid, offset, length, type, size, base FROM git_object ORDER BY oid").toArray(),
      idx: repo.store.packs().map((p) => [p.name, [...repo.fs.readFile(p.path.replace(/\.pack$/, ".idx"))]] as const),
    }));
    expect(manifest.pages.find((p) => p.kind === "objects")!.count).toBeGreaterThan(3);
    expect(manifest.pages.filter((p) => p.kind.startsWith("idx:")).every((p) => p.count > 1)).toBe(true);
    const pages: { kind: string; seq: number; page: string | Uint8Array }[] = [];
    for (const { kind, count } of manifest.pages)
      for (let seq = 0; seq < count; seq++) pages.push({ kind, seq, page: (await parent.forkExportPage(manifest.token, kind, seq))! });

    const fork = stubOf(`fork/pages-copy${n++}`);
    const copied = await inRepo(fork, (repo, state) => {
      // An earlier attempt's leftovers go first.
      beginFork(repo.fs, repo.store, manifest.packs);
      beginFork(repo.fs, repo.store, manifest.packs);
      for (const p of pages) importForkPage(repo.fs, repo.store, manifest.packs, p.kind, p.seq, p.page);
      return {
        rows: state.storage.sql.exec("SELECT oid, offset, length, type, size, base FROM git_object ORDER BY oid").toArray(),
        idx: repo.store.packs().map((p) => [p.name, [...repo.fs.readFile(p.path.replace(/\.pack$/, ".idx"))]] as const),
        commits: state.storage.sql.exec("SELECT count(*) AS n FROM git_commit").one().n,
      };
    });
    expect(copied.rows).toEqual(rows);
    expect(copied.idx).toEqual(idx);
    expect(copied.commits).toBe(6);
    await parent.forkExportDone(manifest.token);
    expect(await parent.forkExportPage(manifest.token, "objects", 0)).toBeNull();
  });
});
