// The object store: packs in DOFS under objects/pack, found through a SQL index.
//
// The `.pack` and `.idx` files are the truth (C git reads them after export); the SQL
// tables are derived from them and rebuilt by `rebuildIndex` when lost. Reads know each
// entry's compressed length from the index, so they inflate exactly one zlib stream,
// the fast path, and resolved objects sit in a byte-budgeted cache.
import type { Dofs } from "../fs/dofs";
import { ByteLru } from "../util/lru";
import { OBJ_COMMIT, OBJ_OFS_DELTA, OBJ_REF_DELTA, type ObjectType, hashObject, parseCommit, toHex, typeName } from "./object";
import { applyDelta } from "./pack/delta";
import { PackFormatError, parseEntryHeader } from "./pack/entry";
import { readIdxV2 } from "./pack/idx";
import { inflateExact } from "./pack/zlib";
import { type BaseSource, type IndexOptions, type IndexResult, indexPack } from "./pack/indexer";

export const PACK_DIR = "/objects/pack";

export class MissingObjectError extends Error {
  constructor(readonly oid: string) {
    super(`object ${oid} is missing`);
    this.name = "MissingObjectError";
  }
}

export interface ObjectLocation {
  oid: string;
  pack: number;
  offset: number;
  length: number;
  type: number;
  size: number;
  base: string | null;
}

export interface GitObject {
  type: ObjectType;
  data: Uint8Array;
}

export interface CommitInfo {
  tree: string;
  parents: string[];
  time: number;
}

type LocationRow = {
  pack: number;
  offset: number;
  length: number;
  type: number;
  size: number;
  base: string | null;
};

export class ObjectStore implements BaseSource {
  private readonly sql: SqlStorage;
  private readonly objects: ByteLru<string, { type: number; data: Uint8Array }>;
  private readonly commits = new Map<string, CommitInfo>();
  private packPaths = new Map<number, string>();

  constructor(
    private readonly fs: Dofs,
    sql: SqlStorage,
    cacheBytes = 32 * 1024 * 1024,
  ) {
    this.sql = sql;
    this.objects = new ByteLru(cacheBytes, (o) => o.data.byteLength + 96);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS git_pack (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      size INTEGER NOT NULL,
      objects INTEGER NOT NULL,
      created INTEGER NOT NULL
    )`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS git_object (
      oid TEXT PRIMARY KEY,
      pack INTEGER NOT NULL,
      offset INTEGER NOT NULL,
      length INTEGER NOT NULL,
      type INTEGER NOT NULL,
      size INTEGER NOT NULL,
      base TEXT
    ) WITHOUT ROWID`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS git_commit (
      oid TEXT PRIMARY KEY,
      tree TEXT NOT NULL,
      parents TEXT NOT NULL,
      time INTEGER NOT NULL
    ) WITHOUT ROWID`);
    this.loadPacks();
    fs.onRollback(() => {
      this.objects.clear();
      this.commits.clear();
      this.loadPacks();
    });
  }

  private loadPacks(): void {
    this.packPaths = new Map(
      this.sql
        .exec<{ id: number; name: string }>("SELECT id, name FROM git_pack")
        .toArray()
        .map((r) => [r.id, `${PACK_DIR}/${r.name}.pack`]),
    );
  }

  has(oid: string): boolean {
    return this.sql.exec("SELECT 1 FROM git_object WHERE oid = ?", oid).toArray().length > 0;
  }

  locate(oid: string): ObjectLocation | null {
    const row = this.sql.exec<LocationRow>("SELECT pack, offset, length, type, size, base FROM git_object WHERE oid = ?", oid).toArray()[0];
    return row ? { oid, ...row } : null;
  }

  /** Type and size without inflating: what v2 `object-info` and filters need. */
  info(oid: string): { type: ObjectType; size: number } | null {
    const loc = this.locate(oid);
    return loc ? { type: typeName(loc.type), size: loc.size } : null;
  }

  /** The raw bytes of an object's pack entry, as stored. */
  rawEntry(loc: ObjectLocation): Uint8Array {
    const path = this.packPaths.get(loc.pack);
    if (!path) throw new MissingObjectError(loc.oid);
    return this.fs.read(path, loc.offset, loc.length);
  }

  read(oid: string): GitObject {
    const o = this.readObject(oid);
    if (!o) throw new MissingObjectError(oid);
    return { type: typeName(o.type), data: o.data };
  }

  readObject(oid: string): { type: number; data: Uint8Array } | null {
    const cached = this.objects.get(oid);
    if (cached) return cached;
    // Walk down to the first cached or whole object, then apply deltas on the way up.
    const chain: { loc: ObjectLocation; delta: Uint8Array }[] = [];
    let cur = oid;
    let baseObj: { type: number; data: Uint8Array } | undefined;
    for (;;) {
      const loc = this.locate(cur);
      if (!loc) {
        if (chain.length === 0) return null;
        throw new MissingObjectError(cur);
      }
      const raw = this.rawEntry(loc);
      const hdr = parseEntryHeader(raw, 0);
      if (!hdr) throw new PackFormatError(`truncated entry for ${cur}`);
      const body = inflateExact(raw.subarray(hdr.headerLength), hdr.size);
      if (hdr.type !== OBJ_OFS_DELTA && hdr.type !== OBJ_REF_DELTA) {
        baseObj = { type: hdr.type, data: body };
        if (chain.length) this.objects.set(cur, baseObj);
        break;
      }
      if (!loc.base) throw new PackFormatError(`delta ${cur} has no recorded base`);
      chain.push({ loc, delta: body });
      cur = loc.base;
      const hit = this.objects.get(cur);
      if (hit) {
        baseObj = hit;
        break;
      }
      if (chain.length > 10000) throw new PackFormatError("delta chain too deep");
    }
    let obj = baseObj;
    for (let i = chain.length - 1; i >= 0; i--) {
      obj = { type: obj.type, data: applyDelta(obj.data, chain[i].delta) };
      this.objects.set(chain[i].loc.oid, obj);
    }
    if (chain.length === 0) this.objects.set(oid, obj);
    return obj;
  }

  /** Tree, parents and time of a commit, from the commit table when it has them. */
  commit(oid: string): CommitInfo {
    const cached = this.commits.get(oid);
    if (cached) return cached;
    const row = this.sql
      .exec<{ tree: string; parents: string; time: number }>("SELECT tree, parents, time FROM git_commit WHERE oid = ?", oid)
      .toArray()[0];
    let info: CommitInfo;
    if (row) {
      info = { tree: row.tree, parents: row.parents ? row.parents.split(" ") : [], time: row.time };
    } else {
      const o = this.read(oid);
      if (o.type !== "commit") throw new Error(`${oid} is a ${o.type}, not a commit`);
      const c = parseCommit(o.data);
      info = { tree: c.tree, parents: c.parents, time: c.committer.timestamp };
    }
    if (this.commits.size > 200_000) this.commits.clear();
    this.commits.set(oid, info);
    return info;
  }

  typeOf(oid: string): number | null {
    const row = this.sql.exec<{ type: number }>("SELECT type FROM git_object WHERE oid = ?", oid).toArray()[0];
    return row ? row.type : null;
  }

  // ---- writing ---------------------------------------------------------------

  /** Indexes a pack that sits at a temporary path in DOFS. Throws PackFormatError. */
  index(tempPath: string, onProgress?: IndexOptions["onProgress"]): IndexResult {
    return indexPack(this.fs, tempPath, this, { onProgress });
  }

  /**
   * Moves an indexed pack into objects/pack with its .idx, and records its objects.
   * Runs inside the caller's transaction so that objects exist before refs name them.
   */
  commitPack(tempPath: string, result: IndexResult, idx: Uint8Array): string {
    const name = `pack-${toHex(result.packChecksum)}`;
    const packPath = `${PACK_DIR}/${name}.pack`;
    const existing = this.sql.exec<{ id: number }>("SELECT id FROM git_pack WHERE name = ?", name).toArray()[0];
    if (existing) {
      // The same pack again (a retried push): its objects are already recorded.
      this.fs.unlink(tempPath);
      return name;
    }
    this.fs.mkdir(PACK_DIR, { recursive: true });
    this.fs.rename(tempPath, packPath);
    this.fs.writeFile(`${PACK_DIR}/${name}.idx`, idx, { mode: 0o444 });
    const id = this.sql
      .exec<{ id: number }>(
        "INSERT INTO git_pack (name, size, objects, created) VALUES (?, ?, ?, ?) RETURNING id",
        name,
        result.packSize,
        result.objects.length,
        Date.now(),
      )
      .one().id;
    for (const o of result.objects) {
      this.sql.exec(
        "INSERT OR IGNORE INTO git_object (oid, pack, offset, length, type, size, base) VALUES (?, ?, ?, ?, ?, ?, ?)",
        o.oid,
        id,
        o.offset,
        o.length,
        o.type,
        o.size,
        o.base,
      );
    }
    for (const c of result.commits) {
      this.sql.exec(
        "INSERT OR IGNORE INTO git_commit (oid, tree, parents, time) VALUES (?, ?, ?, ?)",
        c.oid,
        c.tree,
        c.parents.join(" "),
        c.time,
      );
    }
    this.packPaths.set(id, packPath);
    return name;
  }

  /** Drops the SQL index and rebuilds it from the .idx and .pack files in DOFS. */
  rebuildIndex(): void {
    this.fs.transaction(() => {
      this.sql.exec("DELETE FROM git_object");
      this.sql.exec("DELETE FROM git_commit");
      this.sql.exec("DELETE FROM git_pack");
      this.objects.clear();
      this.commits.clear();
      this.packPaths.clear();
      const files = this.fs.exists(PACK_DIR) ? this.fs.readdir(PACK_DIR) : [];
      for (const f of files.filter((n) => n.endsWith(".idx"))) {
        const name = f.slice(0, -4);
        const packPath = `${PACK_DIR}/${name}.pack`;
        if (!this.fs.exists(packPath)) continue;
        const { entries } = readIdxV2(this.fs.readFile(`${PACK_DIR}/${f}`));
        const id = this.sql
          .exec<{ id: number }>(
            "INSERT INTO git_pack (name, size, objects, created) VALUES (?, ?, ?, ?) RETURNING id",
            name,
            this.fs.stat(packPath).size,
            entries.length,
            Date.now(),
          )
          .one().id;
        this.packPaths.set(id, packPath);
        // Entry lengths come from the next entry's offset; the last ends at the trailer.
        const sorted = [...entries].sort((a, b) => a.offset - b.offset);
        const packSize = this.fs.stat(packPath).size;
        const byOffset = new Map(sorted.map((e) => [e.offset, e.oid]));
        for (let i = 0; i < sorted.length; i++) {
          const e = sorted[i];
          const end = i + 1 < sorted.length ? sorted[i + 1].offset : packSize - 20;
          const head = parseEntryHeader(this.fs.read(packPath, e.offset, 32), 0)!;
          const base =
            head.type === OBJ_OFS_DELTA ? byOffset.get(e.offset - head.baseDistance!) ?? null : head.type === OBJ_REF_DELTA ? head.baseOid! : null;
          this.sql.exec(
            "INSERT OR IGNORE INTO git_object (oid, pack, offset, length, type, size, base) VALUES (?, ?, ?, ?, 0, 0, ?)",
            e.oid,
            id,
            e.offset,
            end - e.offset,
            base,
          );
        }
      }
      // Types and sizes need the objects themselves: resolve each one once.
      for (const { oid } of this.sql.exec<{ oid: string }>("SELECT oid FROM git_object").toArray()) {
        const o = this.readObject(oid)!;
        this.sql.exec("UPDATE git_object SET type = ?, size = ? WHERE oid = ?", o.type, o.data.byteLength, oid);
        if (o.type === OBJ_COMMIT) {
          const c = parseCommit(o.data);
          this.sql.exec(
            "INSERT OR IGNORE INTO git_commit (oid, tree, parents, time) VALUES (?, ?, ?, ?)",
            oid,
            c.tree,
            c.parents.join(" "),
            c.committer.timestamp,
          );
        }
        if (hashObject(typeName(o.type), o.data) !== oid) throw new PackFormatError(`object ${oid} does not match its id`);
      }
    });
  }

  stats(): { packs: number; objects: number } {
    const packs = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM git_pack").one().n;
    const objects = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM git_object").one().n;
    return { packs, objects };
  }
}
