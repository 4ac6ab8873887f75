// Compaction, tiering to R2 and pruning, in workerd, including eviction mid-compaction
// and reads while packs move between tiers.
import { concatBytes } from "../src/util/bytes";
import { abortAllDurableObjects, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { pktLine } from "../src/git/protocol/pkt-line";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TREE, fromHex } from "../src/git/object/object";
import { buildPack, oidOf } from "./pack-builder";
import { freshRepo, inRepo, ownerFetch } from "./helpers";
import { indexPack } from "../src/git/pack/indexer";
import { Dofs } from "../src/fs/dofs";

const ZERO = "0".repeat(40);
const enc = (s: string) => new TextEncoder().encode(s);
let n = 0;

/** A repository name, its URL and stub. */
function repoFixture() {
  const name = `maint/r${Date.now().toString(36)}${n++}`;
  return { name, url: `http://gitflare.test/${name}`, stub: env.REPO.getByName(name) };
}

/** Pushes one commit (a new blob and tree) on top of `parent` to `ref`. */
async function pushCommit(url: string, ref: string, parent: string | null, i: number, old = parent): Promise<string> {
  const blob = enc(`content of commit ${i}\n`.repeat(20 + i));
  const tree = concatBytes([
    enc("100644 file.txt\0"),
    fromHex(oidOf(OBJ_BLOB, blob)),
    enc(`100644 n${i}.txt\0`),
    fromHex(oidOf(OBJ_BLOB, blob)),
  ]);
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

/** A full v2 fetch of `want`, returning the pack bytes. */
async function fetchPack(url: string, want: string): Promise<Uint8Array> {
  const res = await ownerFetch(`${url}/git-upload-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": "version=2" },
    body: concatBytes([
      pktLine("command=fetch\n"),
      enc("0001"),
      pktLine(`want ${want}\n`),
      pktLine("ofs-delta\n"),
      pktLine("no-progress\n"),
      pktLine("done\n"),
      enc("0000"),
    ]),
  });
  return packFromResponse(new Uint8Array(await res.arrayBuffer()));
}

function packFromResponse(buf: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  let inPack = false;
  while (at + 4 <= buf.length) {
    const len = parseInt(new TextDecoder().decode(buf.subarray(at, at + 4)), 16);
    if (len < 4) {
      at += 4;
      continue;
    }
    const data = buf.subarray(at + 4, at + len);
    if (!inPack) inPack = new TextDecoder().decode(data) === "packfile\n";
    else if (data[0] === 1) parts.push(data.subarray(1));
    at += len;
  }
  return concatBytes(parts);
}

/** Indexes a fetched pack in a scratch repository: it must be complete and sound. */
async function objectCount(pack: Uint8Array): Promise<number> {
  return inRepo(freshRepo("scratch"), async (repo) => {
    repo.fs.writeFile("/check.pack", pack);
    const result = await indexPack(repo.fs, "/check.pack", { readObject: async () => null }, { fixThin: false });
    return result.objects.length;
  });
}

describe("compaction", () => {
  it("merges many small packs into one, resuming after eviction, and keeps every object", async () => {
    const { url, name } = repoFixture();
    let stub = env.REPO.getByName(name);
    let tip: string | null = null;
    for (let i = 0; i < 24; i++) tip = await pushCommit(url, "refs/heads/main", tip, i);
    const before = await objectCount(await fetchPack(url, tip!));
    expect(before).toBe(24 * 3);
    expect((await stub.packs()).length).toBe(24);

    // Small slices, and the object is evicted after every one of them.
    let slices = 0;
    for (;;) {
      const report = await stub.maintenanceSlice({
        sliceObjects: 7,
        tierMinBytes: Number.MAX_SAFE_INTEGER,
        tierAgeMs: Number.MAX_SAFE_INTEGER,
      });
      slices++;
      await abortAllDurableObjects().catch(() => undefined);
      stub = env.REPO.getByName(name);
      if (!report.more) break;
      expect(slices).toBeLessThan(100);
    }
    expect(slices).toBeGreaterThan(5);
    const packs = await stub.packs();
    expect(packs.length).toBe(1);
    expect(packs[0].objects).toBe(24 * 3);
    expect(await objectCount(await fetchPack(url, tip!))).toBe(before);
    // The compacted pack holds exactly what the refs reach, so a clone of every ref is
    // served it as stored, as after a single push.
    const res = await ownerFetch(`${url}/git-upload-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": "version=2" },
      body: concatBytes([
        pktLine("command=fetch\n"),
        enc("0001"),
        pktLine(`want ${tip}\n`),
        pktLine("ofs-delta\n"),
        pktLine("done\n"),
        enc("0000"),
      ]),
    });
    const text = new TextDecoder().decode(await res.arrayBuffer());
    expect(text).toContain(`pack-reused ${24 * 3}`);
  });

  it("leaves a geometric sequence alone", async () => {
    const { url, stub } = repoFixture();
    const tip = await pushCommit(url, "refs/heads/main", null, 100);
    await inRepo(stub, (repo) => expect(repo["maintenance"].choosePacks()).toEqual([]));
    await pushCommit(url, "refs/heads/main", tip, 101);
    await inRepo(stub, (repo) => expect(repo["maintenance"].choosePacks().length).toBe(2));
  });

  it("drops objects only after they stay unreachable for the grace period", async () => {
    const { url, stub } = repoFixture();
    const main = await pushCommit(url, "refs/heads/main", null, 0);
    const side = await pushCommit(url, "refs/heads/side", main, 1, null);
    // Delete the side branch: its commit, tree and blob become unreachable.
    const res = await ownerFetch(`${url}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request" },
      body: concatBytes([pktLine(`${side} ${ZERO} refs/heads/side\0report-status\n`), enc("0000")]),
    });
    expect(await res.text()).toContain("ok refs/heads/side");
    const t0 = Date.now();
    const opts = { tierMinBytes: Number.MAX_SAFE_INTEGER, tierAgeMs: Number.MAX_SAFE_INTEGER, graceMs: 60_000 };
    const run = async (now: number) => {
      for (let i = 0; i < 20; i++) if (!(await stub.maintenanceSlice(opts, now)).more) return;
    };
    await run(t0);
    // Within the grace period the side commit is kept (an in-flight fetch may need it).
    await inRepo(stub, (repo) => expect(repo.store.has(side)).toBe(true));
    await pushCommit(url, "refs/heads/main", main, 2);
    await run(t0 + 120_000);
    await inRepo(stub, (repo) => {
      expect(repo.store.has(side)).toBe(false);
      expect(repo.store.has(main)).toBe(true);
    });
  });
});

describe("tiering to R2", () => {
  it("moves packs to R2 and serves fetches, export and reads from there", async () => {
    const { url, stub } = repoFixture();
    let tip: string | null = null;
    for (let i = 0; i < 3; i++) tip = await pushCommit(url, "refs/heads/main", tip, i);
    const expected = await objectCount(await fetchPack(url, tip!));
    for (let i = 0; i < 5; i++) {
      const r = await stub.maintenanceSlice({ tierMinBytes: 0, sliceObjects: 1_000_000 });
      if (!r.more) break;
    }
    const packs = await stub.packs();
    expect(packs.every((p) => p.tier === "r2")).toBe(true);
    const listed = await env.PACKS!.list();
    expect(listed.objects.length).toBeGreaterThanOrEqual(packs.length);
    expect(await objectCount(await fetchPack(url, tip!))).toBe(expected);
    const tar = await ownerFetch(`${url}/export.tar`);
    expect(tar.status).toBe(200);
    expect((await tar.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    // DOFS keeps only what finds the pack: its chunks are gone from SQLite.
    await inRepo(stub, (_repo, state) => {
      const left = state.storage.sql
        .exec<{ n: number }>("SELECT count(*) AS n FROM dofs_chunk c JOIN dofs_node n ON n.ino = c.ino WHERE n.tier IS NOT NULL")
        .one().n;
      expect(left).toBe(0);
    });
  });

  it("keeps a fresh pack under the size threshold in SQLite, with the covering pack copied to R2", async () => {
    const { url, stub } = repoFixture();
    const tip = await pushCommit(url, "refs/heads/main", null, 400);
    // The configured thresholds but for the copy's minimum size, which this pack is under.
    for (let i = 0; i < 50; i++) if (!(await stub.maintenanceSlice({ serveCopyMinBytes: 1, sliceObjects: 1_000_000 })).more) break;
    const packs = await stub.packs();
    expect(packs.length).toBe(1);
    expect(packs[0].tier).toBe("sqlite");
    const storage = await stub.storage();
    expect(storage.r2Bytes).toBe(0);
    expect(storage.r2CopyBytes).toBe(packs[0].size);
    expect(await objectCount(await fetchPack(url, tip))).toBe(3);
  });

  it("serves a fetch that is being read while its pack moves to R2", async () => {
    const { url, stub } = repoFixture();
    // One bigger pack so that the response spans many reads.
    let tip: string | null = null;
    for (let i = 0; i < 2; i++) tip = await pushCommit(url, "refs/heads/main", tip, i * 400);
    await stub.maintenanceSlice({ tierMinBytes: Number.MAX_SAFE_INTEGER });
    const res = await ownerFetch(`${url}/git-upload-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": "version=2" },
      body: concatBytes([
        pktLine("command=fetch\n"),
        enc("0001"),
        pktLine(`want ${tip}\n`),
        pktLine("ofs-delta\n"),
        pktLine("done\n"),
        enc("0000"),
      ]),
    });
    const reader = res.body!.getReader();
    const first = await reader.read();
    // Move every pack while the response is in flight.
    for (let i = 0; i < 5; i++) if (!(await stub.maintenanceSlice({ tierMinBytes: 0 })).more) break;
    expect((await stub.packs()).every((p) => p.tier === "r2")).toBe(true);
    const parts = [first.value!];
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      parts.push(r.value);
    }
    expect(await objectCount(packFromResponse(concatBytes(parts)))).toBe(2 * 3);
  });
});

describe("tiering a large file in parts", () => {
  const MiB = 1024 * 1024;
  const digest = async (b: Uint8Array) =>
    [...new Uint8Array(await crypto.subtle.digest("SHA-256", b))].map((x) => x.toString(16).padStart(2, "0")).join("");
  const bigFile = () => {
    const data = new Uint8Array(12 * MiB);
    for (let i = 0; i < data.byteLength; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
    return data;
  };

  it("uploads a bounded amount per step, resumes after an eviction, and reads back the same bytes", async () => {
    const stub = freshRepo("tier-parts");
    const data = bigFile();
    const steps = await inRepo(stub, async (_repo, state) => {
      const fs = new Dofs(state.storage, { bucket: env.PACKS, tierPartBytes: 5 * MiB });
      fs.writeFile("/big.pack", data);
      const first = await fs.tierStep("/big.pack", "packs/big-1.pack", 5 * MiB);
      // A new instance over the same storage stands for the object after an eviction.
      const again = new Dofs(state.storage, { bucket: env.PACKS, tierPartBytes: 5 * MiB });
      expect(again.isTiered("/big.pack")).toBe(false);
      const second = await again.tierStep("/big.pack", "packs/big-2.pack", 5 * MiB);
      const third = await again.tierStep("/big.pack", "packs/big-3.pack", 5 * MiB);
      expect(again.isTiered("/big.pack")).toBe(true);
      // Compared by digest: a diff of 12 MiB arrays would not fit in the isolate.
      expect(await digest(await again.readOnce("/big.pack", 0, data.byteLength))).toBe(await digest(data));
      // The first key was kept across steps; no job is left.
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM dofs_tier_job").one().n).toBe(0);
      return [first, second, third];
    });
    expect(steps).toEqual(["more", "more", "moved"]);
    expect(await env.PACKS!.head("packs/big-1.pack")).not.toBeNull();
    expect(await env.PACKS!.head("packs/big-2.pack")).toBeNull();
  });

  it("drops the upload when the file changes in between, and keeps the file in SQLite", async () => {
    const stub = freshRepo("tier-parts");
    const data = bigFile();
    await inRepo(stub, async (_repo, state) => {
      const fs = new Dofs(state.storage, { bucket: env.PACKS, tierPartBytes: 5 * MiB });
      fs.writeFile("/big.pack", data);
      expect(await fs.tierStep("/big.pack", "packs/changed.pack", 5 * MiB)).toBe("more");
      fs.writeAt("/big.pack", data.byteLength, new Uint8Array([1, 2, 3]));
      expect(await fs.tierStep("/big.pack", "packs/changed-2.pack", 5 * MiB)).toBe("changed");
      expect(fs.isTiered("/big.pack")).toBe(false);
      expect(fs.stat("/big.pack").size).toBe(data.byteLength + 3);
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM dofs_tier_job").one().n).toBe(0);
    });
    expect(await env.PACKS!.head("packs/changed.pack")).toBeNull();
  });
});

describe("copies in R2 of files kept in SQLite", () => {
  const MiB = 1024 * 1024;
  const digest = async (b: Uint8Array) =>
    [...new Uint8Array(await crypto.subtle.digest("SHA-256", b))].map((x) => x.toString(16).padStart(2, "0")).join("");
  const bigFile = () => {
    const data = new Uint8Array(12 * MiB);
    for (let i = 0; i < data.byteLength; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
    return data;
  };

  it("copies a file, keeps reading SQLite, and tiers it later without a second upload", async () => {
    const stub = freshRepo("copy-then-tier");
    const data = bigFile();
    const key = await inRepo(stub, async (_repo, state) => {
      const fs = new Dofs(state.storage, { bucket: env.PACKS, tierPartBytes: 5 * MiB });
      fs.writeFile("/big.pack", data);
      expect(fs.r2Key("/big.pack")).toBeNull();
      const steps = [];
      for (let i = 0; i < 5; i++) {
        const step = await fs.copyStep("/big.pack", "packs/copy-1.pack", 5 * MiB);
        steps.push(step);
        if (step !== "more") break;
      }
      expect(steps).toEqual(["more", "more", "copied"]);
      // Still in SQLite, readable synchronously; the copy is whole in R2.
      expect(fs.isTiered("/big.pack")).toBe(false);
      expect(fs.read("/big.pack", 0, 4)).toEqual(data.subarray(0, 4));
      expect(fs.r2Key("/big.pack")).toBe("packs/copy-1.pack");
      expect(fs.copiedBytes()).toBe(data.byteLength);
      expect(await fs.copyStep("/big.pack", "packs/copy-2.pack", 5 * MiB)).toBe("copied");
      // Tiering switches to the copy: nothing is uploaded again.
      expect(await fs.tierStep("/big.pack", "packs/tier-1.pack", 5 * MiB)).toBe("moved");
      expect(fs.tierKey("/big.pack")).toBe("packs/copy-1.pack");
      expect(fs.copiedBytes()).toBe(0);
      expect(await digest(await fs.readOnce("/big.pack", 0, data.byteLength))).toBe(await digest(data));
      return fs.tierKey("/big.pack");
    });
    expect(key).toBe("packs/copy-1.pack");
    expect(await env.PACKS!.head("packs/copy-1.pack")).not.toBeNull();
    expect(await env.PACKS!.head("packs/copy-2.pack")).toBeNull();
    expect(await env.PACKS!.head("packs/tier-1.pack")).toBeNull();
  });

  it("drops the copy when the file changes or goes, and deletes it from R2 with the trash", async () => {
    const stub = freshRepo("copy-dropped");
    await inRepo(stub, async (_repo, state) => {
      const fs = new Dofs(state.storage, { bucket: env.PACKS });
      fs.writeFile("/a.pack", new Uint8Array(1000).fill(1));
      fs.writeFile("/b.pack", new Uint8Array(1000).fill(2));
      fs.writeFile("/c.pack", new Uint8Array(1000).fill(3));
      for (const [path, key] of [
        ["/a.pack", "packs/copy-a.pack"],
        ["/b.pack", "packs/copy-b.pack"],
        ["/c.pack", "packs/copy-c.pack"],
      ])
        expect(await fs.copyStep(path, key, MiB)).toBe("copied");
      // A write to the file, its removal, and a rename (which keeps it).
      fs.writeAt("/a.pack", 1000, new Uint8Array([9]));
      fs.unlink("/b.pack");
      fs.rename("/c.pack", "/d.pack");
      expect(fs.r2Key("/a.pack")).toBeNull();
      expect(fs.r2Key("/d.pack")).toBe("packs/copy-c.pack");
      expect(fs.copiedBytes()).toBe(1000);
      // A new instance (after an eviction) knows the copies too.
      const again = new Dofs(state.storage, { bucket: env.PACKS });
      expect(again.r2Key("/d.pack")).toBe("packs/copy-c.pack");
      expect(await again.emptyR2Trash()).toBe(2);
    });
    expect(await env.PACKS!.head("packs/copy-a.pack")).toBeNull();
    expect(await env.PACKS!.head("packs/copy-b.pack")).toBeNull();
    expect(await env.PACKS!.head("packs/copy-c.pack")).not.toBeNull();
  });
});
