// What compaction leaves behind: the packs a repack replaced are deleted as soon as no
// clone or fetch that began before the repack is in flight; while one is, they wait in R2
// rather than SQLite and it reads them from there. Deleted files give their pages back.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { concatBytes } from "../src/util/bytes";
import { pktLine } from "../src/git/protocol/pkt-line";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TREE, fromHex } from "../src/git/object/object";
import { indexPack } from "../src/git/pack/indexer";
import type { ObjectLocation } from "../src/git/pack/source";
import { Dofs } from "../src/fs/dofs";
import type { Repository } from "../src/repo/repository";
import { ANSWERS_DIR } from "../src/repo/answers";
import { buildPack, oidOf } from "./pack-builder";
import { freshRepo, inRepo, ownerFetch } from "./helpers";

const ZERO = "0".repeat(40);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: ArrayBuffer | Uint8Array) => new TextDecoder().decode(b);
let n = 0;
/** Nothing live moves to R2 here: only what a repack retires. */
const NO_TIERING = { tierMinBytes: Number.MAX_SAFE_INTEGER, tierAgeMs: Number.MAX_SAFE_INTEGER, retiredTierMinBytes: 0 };

/** Pushes a commit with one 48 KiB random blob on top of `parent`: a pack that does not compress. */
async function pushBulky(url: string, parent: string | null, i: number, size = 48 * 1024): Promise<string> {
  const blob = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(blob.subarray(at, at + 65536));
  const tree = concatBytes([enc(`100644 f${i}\0`), fromHex(oidOf(OBJ_BLOB, blob))]);
  const commit = enc(
    `tree ${oidOf(OBJ_TREE, tree)}\n${parent ? `parent ${parent}\n` : ""}author A <a@b> ${1700000000 + i} +0000\ncommitter A <a@b> ${1700000000 + i} +0000\n\nbulk ${i}\n`,
  );
  const oid = oidOf(OBJ_COMMIT, commit);
  const pack = buildPack([
    { type: OBJ_COMMIT, data: commit },
    { type: OBJ_TREE, data: tree },
    { type: OBJ_BLOB, data: blob },
  ]);
  const res = await ownerFetch(`${url}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body: concatBytes([pktLine(`${parent ?? ZERO} ${oid} refs/heads/main\0report-status\n`), enc("0000"), pack]),
  });
  expect(dec(await res.arrayBuffer())).toContain("ok refs/heads/main");
  return oid;
}

/** A repository of `pushes` bulky commits, one pack each. */
async function churned(pushes: number, size?: number) {
  const name = `retired/r${Date.now().toString(36)}${n++}`;
  const url = `http://gitflare.test/${name}`;
  let tip: string | null = null;
  for (let i = 0; i < pushes; i++) tip = await pushBulky(url, tip, i, size);
  const stub = env.REPO.getByName(name);
  expect((await stub.packs()).length).toBe(pushes);
  return { url, stub, tip: tip! };
}

/** Runs maintenance slices until none has more to do. */
async function quiesce(stub: DurableObjectStub<Repository>, overrides = NO_TIERING, now?: number) {
  for (let i = 0; i < 50; i++) if (!(await stub.maintenanceSlice(overrides, now)).more) return;
  throw new Error("maintenance did not come to rest");
}

const fetchV2 = (want: string) =>
  concatBytes([pktLine("command=fetch\n"), enc("0001"), pktLine("ofs-delta\n"), pktLine(`want ${want}\n`), pktLine("done\n"), enc("0000")]);

/** The pack inside a v2 fetch answer (side band 1 after `packfile`). */
function packOf(buf: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let inPack = false;
  for (let at = 0; at + 4 <= buf.length; ) {
    const len = parseInt(dec(buf.subarray(at, at + 4)), 16);
    if (len < 4) {
      at += 4;
      continue;
    }
    const data = buf.subarray(at + 4, at + len);
    if (!inPack) inPack = dec(data) === "packfile\n";
    else if (data[0] === 1) parts.push(data.subarray(1));
    at += len;
  }
  return concatBytes(parts);
}

async function objectsIn(pack: Uint8Array): Promise<number> {
  return inRepo(freshRepo("scratch"), async (repo) => {
    repo.fs.writeFile("/check.pack", pack);
    return (await indexPack(repo.fs, "/check.pack", { readObject: async () => null }, { fixThin: false })).objects.length;
  });
}

/** Paths and R2 keys of the pack files in objects/pack that the object index no longer names. */
function retiredFiles(repo: Repository, state: DurableObjectState): { path: string; tier: string | null }[] {
  const live = new Set(repo.store.packs().map((p) => p.path));
  return state.storage.sql
    .exec<{ path: string; tier: string | null }>("SELECT path, tier FROM dofs_node WHERE parent = '/objects/pack' AND path LIKE '%.pack'")
    .toArray()
    .filter((r) => !live.has(r.path));
}

describe("retired packs", () => {
  it("are deleted at once when no fetch is in flight", async () => {
    const { url, stub, tip } = await churned(4);
    await quiesce(stub);
    expect((await stub.packs()).length).toBe(1);
    const storage = await stub.storage();
    expect(storage.retired).toEqual({ count: 0, sqliteBytes: 0, r2Bytes: 0 });
    expect(storage.pending).toBe(false);
    // SQLite holds one copy of the history: the live pack, and little else.
    expect(storage.packs.sqliteBytes).toBeGreaterThan(4 * 48 * 1024);
    expect(storage.dofsBytes).toBeLessThan(storage.packs.sqliteBytes * 1.1);
    await inRepo(stub, (repo, state) => expect(retiredFiles(repo, state)).toEqual([]));
    expect(await objectsIn(packOf(new Uint8Array(await (await ownerFetch(`${url}/git-upload-pack`, fetchPost(tip))).arrayBuffer())))).toBe(
      12,
    );
  });

  it("wait in R2 for a fetch that began before the repack, which reads them from there; then go", async () => {
    const { stub, tip } = await churned(4);
    await inRepo(stub, (repo) => Object.assign(repo.git.config, { firstBytes: 20_000, stepBytes: 20_000 }));
    // A location in a pack that the repack will retire, as a reader holds it.
    const before = await inRepo(stub, async (repo) => {
      const loc = repo.store.locate(tip) as ObjectLocation;
      return { loc, raw: await repo.store.rawEntry(loc) };
    });
    const start = await stub.uploadPack(new Response(fetchV2(tip)).body!, 2);
    if (start.kind !== "answer" || !start.job) throw new Error("expected an answer in steps");
    const parts = [start.bytes];

    await quiesce(stub);
    expect((await stub.packs()).length).toBe(1);
    const waiting = await stub.storage();
    expect(waiting.retired.count).toBe(4);
    expect(waiting.retired.sqliteBytes).toBe(0);
    expect(waiting.retired.r2Bytes).toBeGreaterThan(4 * 48 * 1024);
    // Nothing of them is left in SQLite: the database holds about one copy of the history,
    // besides the answer under way, which is written where identical fetches can share it.
    const answering = await inRepo(stub, (repo) =>
      repo.fs.exists(ANSWERS_DIR) ? repo.fs.listFiles(ANSWERS_DIR).reduce((n, f) => n + f.size, 0) : 0,
    );
    expect(waiting.dofsBytes - answering).toBeLessThan(waiting.packs.sqliteBytes * 1.1);
    const keys = await inRepo(stub, async (repo, state) => {
      const files = retiredFiles(repo, state);
      expect(files.length).toBe(4);
      expect(files.every((f) => f.tier !== null)).toBe(true);
      // The reader's location still reads the same bytes, now from R2.
      expect(await repo.store.rawEntry(before.loc)).toEqual(before.raw);
      return files.map((f) => f.tier!);
    });
    for (const key of keys) expect(await env.PACKS!.head(key)).not.toBeNull();

    // The fetch carries on across the repack and sends every object.
    for (let offset = concatBytes(parts).byteLength; ; ) {
      const step = await stub.uploadStep(start.job, offset);
      parts.push(step.bytes);
      offset += step.bytes.byteLength;
      if (step.done) break;
    }
    expect(await objectsIn(packOf(concatBytes(parts)))).toBe(12);

    // With the fetch done, the next slice deletes them, in SQLite and in R2.
    const report = await stub.maintenanceSlice(NO_TIERING);
    expect(report.deleted).toBe(8);
    expect((await stub.storage()).retired.count).toBe(0);
    for (const key of keys) expect(await env.PACKS!.head(key)).toBeNull();
  });

  it("are deleted after the grace period even while a fetch is in flight", async () => {
    const { stub, tip } = await churned(3);
    await inRepo(stub, (repo) => Object.assign(repo.git.config, { firstBytes: 20_000, stepBytes: 20_000 }));
    const start = await stub.uploadPack(new Response(fetchV2(tip)).body!, 2);
    if (start.kind !== "answer" || !start.job) throw new Error("expected an answer in steps");
    const opts = { ...NO_TIERING, retiredTierMinBytes: Number.MAX_SAFE_INTEGER, graceMs: 60_000 };
    await quiesce(stub, opts);
    const waiting = await stub.storage();
    // Too small to be worth moving: they wait in SQLite, and an alarm will look again.
    expect(waiting.retired).toMatchObject({ count: 3, r2Bytes: 0 });
    await inRepo(stub, async (repo, state) => {
      await state.storage.deleteAlarm();
      await repo.alarm();
      const at = await state.storage.getAlarm();
      expect(at).not.toBeNull();
      expect(at! - Date.now()).toBeLessThanOrEqual(30_000);
    });
    await stub.maintenanceSlice(opts, Date.now() + 120_000);
    expect((await stub.storage()).retired.count).toBe(0);
    await stub.abandonUpload(start.job);
  });

  it("wait for an export that is streaming them, which leaves retired packs out", async () => {
    const { url, stub } = await churned(3, 512 * 1024);
    const res = await ownerFetch(`${url}/export.tar`);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const parts = [(await reader.read()).value!];
    await quiesce(stub);
    expect((await stub.packs()).length).toBe(1);
    expect((await stub.storage()).retired.count).toBe(3);
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      parts.push(r.value);
    }
    // Every pack the export began with, whole: the three it listed, and not the new one.
    const names = tarNames(concatBytes(parts)).filter((p) => p.endsWith(".pack"));
    expect(names.length).toBe(3);
    await stub.maintenanceSlice(NO_TIERING);
    expect((await stub.storage()).retired.count).toBe(0);
    const after = tarNames(new Uint8Array(await (await ownerFetch(`${url}/export.tar`)).arrayBuffer()));
    expect(after.filter((p) => p.endsWith(".pack")).length).toBe(1);
  });

  it("are not needed by reads that located an object in them: the read finds its new copy", async () => {
    const { stub, tip } = await churned(3);
    await inRepo(stub, async (repo) => {
      // Where the commit is before the repack, as a walk that looked it up ahead holds it.
      const held = repo.store.locate(tip) as ObjectLocation;
      for (let i = 0; i < 20; i++) if (!(await repo.maintenanceSlice(NO_TIERING)).more) break;
      expect(repo.store.packs().length).toBe(1);
      expect(repo.storage().retired.count).toBe(0);
      expect(repo.fs.exists(repo.store["packPaths"].get(held.pack)!)).toBe(false);
      repo.store["objects"].clear();
      repo.store["prefetched"].set(tip, held);
      expect((await repo.store.read(tip)).type).toBe("commit");
    });
  });
});

describe("the storage and maintenance API", () => {
  it("reports where the bytes are to the repository's admin, and runs maintenance for a site admin only", async () => {
    const { url } = await churned(2);
    const api = url.replace("gitflare.test/", "gitflare.test/api/repos/");
    const before = (await (await ownerFetch(`${api}/storage`)).json()) as {
      database_bytes: number;
      files: { sqlite_bytes: number; r2_bytes: number };
      packs: { count: number; sqlite_bytes: number };
      maintenance_pending: boolean;
    };
    expect(before.packs.count).toBe(2);
    expect(before.files.sqlite_bytes).toBeGreaterThanOrEqual(before.packs.sqlite_bytes);
    expect(before.database_bytes).toBeGreaterThan(before.files.sqlite_bytes);
    expect(before.maintenance_pending).toBe(true);
    const run = { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" };
    // The owner of a repository is not, as such, an operator of the site.
    await env.DB.prepare("UPDATE users SET is_admin = 0 WHERE username = 'retired'").run();
    const refused = await ownerFetch(`${api}/maintenance`, run);
    expect(refused.status).toBe(403);
    await env.DB.prepare("UPDATE users SET is_admin = 1 WHERE username = 'retired'").run();
    for (let i = 0; i < 20; i++) {
      const res = await ownerFetch(`${api}/maintenance`, run);
      expect(res.status).toBe(200);
      if (!((await res.json()) as { more: boolean }).more) break;
    }
    const after = (await (await ownerFetch(`${api}/storage`)).json()) as typeof before & { retired_packs: { count: number } };
    expect(after.packs.count).toBe(1);
    expect(after.retired_packs.count).toBe(0);
    expect(after.maintenance_pending).toBe(false);
  });
});

describe("a file deleted while it moves to R2 in parts", () => {
  it("has its upload dropped when the trash is emptied", async () => {
    await inRepo(freshRepo("space"), async (_repo, state) => {
      const fs = new Dofs(state.storage, { bucket: env.PACKS, tierPartBytes: 5 * 1024 * 1024 });
      const data = new Uint8Array(12 * 1024 * 1024);
      for (let i = 0; i < data.byteLength; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
      fs.writeFile("/retired.pack", data);
      expect(await fs.tierStep("/retired.pack", "packs/retired-mid-upload.pack", 5 * 1024 * 1024)).toBe("more");
      fs.unlink("/retired.pack");
      await fs.emptyR2Trash();
      expect(state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM dofs_tier_job").one().n).toBe(0);
    });
  });
});

describe("SQLite space", () => {
  it("comes back when DOFS deletes a file", async () => {
    await inRepo(freshRepo("space"), (repo, state) => {
      const empty = state.storage.sql.databaseSize;
      const data = new Uint8Array(4 * 1024 * 1024);
      for (let i = 0; i < data.byteLength; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
      repo.fs.writeFile("/big", data);
      expect(state.storage.sql.databaseSize - empty).toBeGreaterThan(data.byteLength);
      repo.fs.unlink("/big");
      // The pages are given back to the file system, not only to SQLite's free list.
      expect(state.storage.sql.databaseSize - empty).toBeLessThan(256 * 1024);
    });
  });
});

function fetchPost(tip: string): RequestInit {
  return {
    method: "POST",
    headers: { "Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": "version=2" },
    body: fetchV2(tip),
  };
}

/** The names of the files in a tar, checking that each is there whole. */
function tarNames(tar: Uint8Array): string[] {
  const names: string[] = [];
  for (let at = 0; at + 512 <= tar.byteLength; ) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const name = dec(header.subarray(0, 100)).replace(/\0.*$/s, "");
    const size = Number.parseInt(dec(header.subarray(124, 136)).replace(/\0.*$/s, "").trim() || "0", 8);
    at += 512 + Math.ceil(size / 512) * 512;
    expect(at).toBeLessThanOrEqual(tar.byteLength);
    names.push(name);
  }
  return names;
}

describe("clones sent from R2", () => {
  const COPY = { ...NO_TIERING, serveCopyMinBytes: 1 };

  it("keep the packs a repack retires while they may still be read, and fall back when R2 lost the copy", async () => {
    const { url, stub, tip } = await churned(3);
    await quiesce(stub, COPY);
    const copied = await stub.storage();
    expect(copied.packs.count).toBe(1);
    expect(copied.r2CopyBytes).toBeGreaterThan(3 * 48 * 1024);

    // Sent from R2 by the Worker: the object only planned it, and noted it.
    const sent = packOf(new Uint8Array(await (await ownerFetch(`${url}/git-upload-pack`, fetchPost(tip))).arrayBuffer()));
    expect(await objectsIn(sent)).toBe(9);
    const noted = await inRepo(stub, (_repo, state) => state.storage.sql.exec("SELECT count(*) AS n FROM served_from_r2").one().n);
    expect(noted).toBe(1);

    // Pushes and a repack retire the pack the clone was reading from R2: it waits (with no
    // fetch in flight in the object, it would be deleted at once; see the first test).
    let next = tip;
    for (let i = 3; i < 6; i++) next = await pushBulky(url, next, i);
    await quiesce(stub, COPY);
    const after = await stub.storage();
    expect(after.packs.count).toBe(1);
    // The pack it was reading, and the three pushed since: all retired after that clone began.
    expect(after.retired.count).toBe(4);

    // R2 lost the new copy (as if maintenance replaced it after the plan): the Worker
    // asks for the answer the usual way, and the client still gets the whole pack.
    const key = await inRepo(stub, (_repo, state) => state.storage.sql.exec<{ key: string }>("SELECT key FROM dofs_r2_copy").one().key);
    await env.PACKS!.delete(key);
    const again = packOf(new Uint8Array(await (await ownerFetch(`${url}/git-upload-pack`, fetchPost(next))).arrayBuffer()));
    expect(await objectsIn(again)).toBe(18);
  });
});
