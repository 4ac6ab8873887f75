// The object store's repack and DOFS's R2 clean-up, below the maintenance slices that
// test/maintenance.test.ts drives.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { Dofs } from "../src/fs/dofs";
import { geometricRun } from "../src/git/pack/repack";
import { Repack } from "../src/git/store/repack";
import { freshRepo, inRepo } from "./helpers";

describe("choosing packs", () => {
  it("merges the small packs that break the geometric progression, and leaves one alone", () => {
    expect(geometricRun([])).toEqual([]);
    expect(geometricRun([{ id: 1, size: 100 }])).toEqual([]);
    expect(
      geometricRun([
        { id: 1, size: 100 },
        { id: 2, size: 300 },
        { id: 3, size: 1000 },
      ]),
    ).toEqual([]);
    expect(
      geometricRun([
        { id: 4, size: 1000 },
        { id: 1, size: 10 },
        { id: 2, size: 10 },
        { id: 3, size: 30 },
      ]),
    ).toEqual([1, 2, 3]);
  });
});

describe("repack state", () => {
  it("carries a repack in progress over from the tables maintenance kept before", async () => {
    await inRepo(freshRepo("repack"), (repo, state) => {
      const sql = state.storage.sql;
      // The object as the old code left it: its tables under the old names, mid-job.
      for (const t of ["git_repack_state", "git_repack_todo", "git_repack_done", "git_unreachable", "git_retired"]) {
        sql.exec(`DROP TABLE IF EXISTS ${t}`);
      }
      sql.exec("CREATE TABLE maint_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
      sql.exec("CREATE TABLE maint_todo (seq INTEGER PRIMARY KEY, oid TEXT NOT NULL)");
      sql.exec("CREATE TABLE maint_unreachable (oid TEXT PRIMARY KEY, since INTEGER NOT NULL) WITHOUT ROWID");
      const job = { packs: [1, 2], out: "/objects/compact/x.pack", total: 1, cursor: 0, bytes: 12, prune: false };
      sql.exec("INSERT INTO maint_state (key, value) VALUES ('job', ?)", JSON.stringify(job));
      sql.exec("INSERT INTO maint_todo (seq, oid) VALUES (0, ?)", "a".repeat(40));
      sql.exec("INSERT INTO maint_unreachable (oid, since) VALUES (?, 5)", "b".repeat(40));

      const repack = new Repack(repo.fs, repo.store, sql);
      expect(repack.merging()).toEqual([1, 2]);
      expect(sql.exec("SELECT oid FROM git_repack_todo").toArray()).toEqual([{ oid: "a".repeat(40) }]);
      expect(sql.exec("SELECT since FROM git_unreachable").toArray()).toEqual([{ since: 5 }]);
      const left = sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'maint_%'").toArray();
      expect(left).toEqual([]);
    });
  });
});

describe("erasing a repository's R2 objects", () => {
  it("aborts an upload part-way to R2", async () => {
    const MiB = 1024 * 1024;
    const { key, uploadId } = await inRepo(freshRepo("drop-r2"), async (repo, state) => {
      const fs = new Dofs(state.storage, { bucket: env.PACKS, tierPartBytes: 5 * MiB });
      const data = new Uint8Array(12 * MiB);
      for (let i = 0; i < data.byteLength; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
      fs.writeFile("/big.pack", data);
      expect(await fs.tierStep("/big.pack", "packs/dropped.pack", 5 * MiB)).toBe("more");
      const job = state.storage.sql.exec<{ key: string; upload_id: string }>("SELECT key, upload_id FROM dofs_tier_job").one();
      await repo.destroy();
      return { key: job.key, uploadId: job.upload_id };
    });
    const upload = env.PACKS!.resumeMultipartUpload(key, uploadId);
    await expect(upload.uploadPart(2, new Uint8Array(16))).rejects.toThrow();
    expect(await env.PACKS!.head(key)).toBeNull();
  });
});
