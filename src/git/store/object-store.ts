// The object store: packs in DOFS under objects/pack, found through a SQL index.
//
// The `.pack` and `.idx` files are the truth (C git reads them after export); the SQL
// tables are derived from them and rebuilt by `rebuildIndex` when lost. Reads know each
// entry's compressed length from the index, so they inflate exactly one zlib stream,
// the fast path, and resolved objects sit in a byte-budgeted cache.
import type { Dofs } from "../../fs/dofs";
import { isFsError } from "../../fs/errors";
import { ByteLru, compact } from "../../util/lru";
import {
  MissingObjectError,
  OBJ_COMMIT,
  OBJ_OFS_DELTA,
  OBJ_REF_DELTA,
  OBJ_TAG,
  type ObjectType,
  hashObject,
  parseCommit,
  parseTag,
  toHex,
  fromHex,
  typeCode,
  typeName,
} from "../object/object";
import { applyDelta } from "../pack/delta";
import { PackFormatError, parseEntryHeader } from "../pack/entry";
import { idOrder, readIdxV2 } from "../pack/idx";
import { inflateExact } from "../pack/zlib";
import { type IndexOptions, type IndexResult, indexPack, PackIndexer } from "../pack/indexer";
import type { BaseSource, ObjectLocation, PackSource } from "../pack/source";
import { PackBitmaps } from "./bitmap";
import { CommitGraphFile } from "./commit-graph";

export { MissingObjectError };
export type { ObjectLocation } from "../pack/source";

export const PACK_DIR = "/objects/pack";

const STAGED_ROWS_A_STATEMENT = 12;
const STAGED_ROW = ",(?, ?, ?, ?, ?, ?, ?, ?)";
/** Staged commit rows a statement: twenty of five values, the platform's 100 bound parameters. */
const STAGED_COMMITS_A_STATEMENT = 20;
const STAGED_COMMIT_ROW = ",(?, ?, ?, ?, ?)";

/** The order `stageRows` writes an index result's rows in: its objects' and commits' by id. */
export interface StagingOrder {
  objects: Uint32Array;
  commits: Uint32Array;
}

export function stagingOrder(result: IndexResult): StagingOrder {
  const { commits } = result;
  const byOid = Uint32Array.from(commits.keys()).sort((a, b) =>
    commits[a].oid < commits[b].oid ? -1 : commits[a].oid > commits[b].oid ? 1 : 0,
  );
  return { objects: idOrder(result.objects), commits: byOid };
}

/** Where a staged pack's `.idx` waits (see `writeStagedIdx`). */
export function stagedIdxPath(tempPath: string): string {
  return tempPath.replace(/\.pack$/, ".idx");
}

export interface GitObject {
  type: ObjectType;
  data: Uint8Array;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** A pack the store holds. */
export interface PackRecord {
  id: number;
  name: string;
  /** The `.pack` file in DOFS. */
  path: string;
  size: number;
  objects: number;
  created: number;
}

export interface CommitInfo {
  tree: string;
  parents: string[];
  time: number;
}

/** A pack record as a fork receives it (see `stageExport`). */
export type ExportedPack = Omit<PackRecord, "path"> & { coversTips: string | null };

/** Which staged pages a fork reads, by kind: rows of a table, or a pack's `.idx` ("idx:NAME"). */
export interface ExportManifest {
  token: string;
  packs: ExportedPack[];
  pages: { kind: string; count: number }[];
}

/** Characters of JSON (or bytes of an .idx) per staged page: under SQLite's 2 MB row. */
const EXPORT_PAGE = 1_500_000;
/** A staged export nobody finished reading is dropped after this long. */
const EXPORT_TTL_MS = 3600 * 1000;

type LocationRow = {
  pack: number;
  offset: number;
  length: number;
  type: number;
  size: number;
  base: string | null;
};

export class ObjectStore implements BaseSource, PackSource {
  private readonly sql: SqlStorage;
  private readonly objects: ByteLru<string, { type: number; data: Uint8Array }>;
  private readonly commits = new ByteLru<string, CommitInfo>(6 * 1024 * 1024, (c) => 160 + c.parents.length * 100);
  private packPaths = new Map<number, string>();
  /** `objects/info/commit-graph`, for C git after export; derived from the commit table. */
  readonly graph: CommitGraphFile;
  /** The covering pack's `.bitmap`, for C git after export and for our walks; derived. */
  readonly bitmaps: PackBitmaps;

  constructor(
    private readonly fs: Dofs,
    sql: SqlStorage,
    cacheBytes = 8 * 1024 * 1024,
  ) {
    this.sql = sql;
    // Trees and small blobs, the bases walks and deltas need again; a large object would
    // push hundreds of them out for one read, so none over an eighth of the budget is kept.
    const most = cacheBytes / 8;
    this.objects = new ByteLru(cacheBytes, (o) => (o.data.byteLength > most ? cacheBytes + 1 : o.data.byteLength + 96));
    this.sql.exec(`CREATE TABLE IF NOT EXISTS git_pack (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      size INTEGER NOT NULL,
      objects INTEGER NOT NULL,
      created INTEGER NOT NULL
    )`);
    // covers: the refs digest for which this pack holds every reachable object (see wholePack);
    // covers_tips: that digest's ref values, so that a later clone can tell whether they are
    // all still reached (the pack then answers most of it; see coveringPack).
    const columns = new Set(
      this.sql
        .exec<{ name: string }>("PRAGMA table_info(git_pack)")
        .toArray()
        .map((c) => c.name),
    );
    for (const column of ["covers", "covers_tips"]) {
      if (!columns.has(column)) this.sql.exec(`ALTER TABLE git_pack ADD COLUMN ${column} TEXT`);
    }
    this.sql.exec(`CREATE TABLE IF NOT EXISTS git_object (
      oid TEXT PRIMARY KEY,
      pack INTEGER NOT NULL,
      offset INTEGER NOT NULL,
      length INTEGER NOT NULL,
      type INTEGER NOT NULL,
      size INTEGER NOT NULL,
      base TEXT
    ) WITHOUT ROWID`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS git_tag (
      oid TEXT PRIMARY KEY,
      object TEXT NOT NULL,
      type INTEGER NOT NULL
    ) WITHOUT ROWID`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS git_commit (
      oid TEXT PRIMARY KEY,
      tree TEXT NOT NULL,
      parents TEXT NOT NULL,
      time INTEGER NOT NULL
    ) WITHOUT ROWID`);
    // Rows of a pack still being indexed, by its temporary path: see `stageRows`. Keyed so
    // that the commit reads them in the object table's order (by oid), without sorting
    // hundreds of thousands of rows inside its transaction. An empty table of the first
    // layout, keyed (path, offset), is made again in this one.
    const stagedKey = this.sql
      .exec<{ name: string; pk: number }>("PRAGMA table_info(git_staged_object)")
      .toArray()
      .find((c) => c.name === "appended");
    if (stagedKey && stagedKey.pk === 0 && !this.sql.exec("SELECT 1 FROM git_staged_object LIMIT 1").toArray().length)
      this.sql.exec("DROP TABLE git_staged_object");
    this.sql.exec(`CREATE TABLE IF NOT EXISTS git_staged_object (
      path TEXT NOT NULL,
      offset INTEGER NOT NULL,
      oid TEXT NOT NULL,
      length INTEGER NOT NULL,
      type INTEGER NOT NULL,
      size INTEGER NOT NULL,
      base TEXT,
      appended INTEGER NOT NULL,
      PRIMARY KEY (path, appended, oid, offset)
    ) WITHOUT ROWID`);
    // Temporary paths whose staged rows are left to drop (a pack committed or refused):
    // maintenance drops them a slice at a time, not the push's last transaction.
    this.sql.exec("CREATE TABLE IF NOT EXISTS git_staged_gone (path TEXT PRIMARY KEY) WITHOUT ROWID");
    this.sql.exec(`CREATE TABLE IF NOT EXISTS git_staged_commit (
      path TEXT NOT NULL,
      oid TEXT NOT NULL,
      tree TEXT NOT NULL,
      parents TEXT NOT NULL,
      time INTEGER NOT NULL,
      PRIMARY KEY (path, oid)
    ) WITHOUT ROWID`);
    this.graph = new CommitGraphFile(fs, sql);
    this.bitmaps = new PackBitmaps(fs, sql);
    this.loadPacks();
    fs.onRollback(() => {
      this.objects.clear();
      this.commits.clear();
      this.loadPacks();
    });
  }

  /**
   * Adds packs to the id-to-path map. Entries are never removed here: a read that
   * located an object just before maintenance retired its pack can still finish.
   */
  private loadPacks(): void {
    for (const r of this.sql.exec<{ id: number; name: string }>("SELECT id, name FROM git_pack")) {
      this.packPaths.set(r.id, `${PACK_DIR}/${r.name}.pack`);
    }
  }

  has(oid: string): boolean {
    return this.sql.exec("SELECT 1 FROM git_object WHERE oid = ?", oid).toArray().length > 0;
  }

  /** Locations fetched ahead by `prefetchLocations`, taken by the next `locate`. */
  private prefetched = new Map<string, ObjectLocation>();

  /** Looks up the locations of objects about to be read, in one query. */
  prefetchLocations(oids: string[]): void {
    if (oids.length < 2) return;
    if (this.prefetched.size > 20_000) this.prefetched.clear();
    for (const [oid, loc] of this.locateMany(oids)) this.prefetched.set(oid, loc);
  }

  /** The locations of an object and of every delta base under it, by oid. */
  private locateChain(oid: string): Map<string, ObjectLocation> {
    const rows = this.sql
      .exec<LocationRow & { oid: string }>(
        `WITH RECURSIVE chain(oid, pack, offset, length, type, size, base, depth) AS (
           SELECT oid, pack, offset, length, type, size, base, 0 FROM git_object WHERE oid = ?
           UNION ALL
           SELECT o.oid, o.pack, o.offset, o.length, o.type, o.size, o.base, chain.depth + 1
           FROM git_object o JOIN chain ON o.oid = chain.base WHERE chain.depth < 10000
         ) SELECT oid, pack, offset, length, type, size, base FROM chain`,
        oid,
      )
      .toArray();
    return new Map(rows.map((r) => [r.oid, r]));
  }

  /** Drops prefetched locations, so none outlives the walk that wanted it. */
  forgetPrefetched(): void {
    this.prefetched.clear();
  }

  locate(oid: string): ObjectLocation | null {
    const ahead = this.prefetched.get(oid);
    if (ahead) {
      this.prefetched.delete(oid);
      return ahead;
    }
    const row = this.sql.exec<LocationRow>("SELECT pack, offset, length, type, size, base FROM git_object WHERE oid = ?", oid).toArray()[0];
    return row ? { oid, ...row } : null;
  }

  /** Locations of many objects in few queries (point queries dominate a clone otherwise). */
  locateMany(oids: string[]): Map<string, ObjectLocation> {
    const out = new Map<string, ObjectLocation>();
    for (let i = 0; i < oids.length; i += 100) {
      const part = oids.slice(i, i + 100);
      const rows = this.sql
        .exec<LocationRow & { oid: string }>(
          `SELECT oid, pack, offset, length, type, size, base FROM git_object WHERE oid IN (${part.map(() => "?").join(",")})`,
          ...part,
        )
        .toArray();
      for (const r of rows) out.set(r.oid, r);
    }
    return out;
  }

  /** Type and size without inflating: what v2 `object-info` and filters need. */
  info(oid: string): { type: ObjectType; size: number } | null {
    const loc = this.locate(oid);
    return loc ? { type: typeName(loc.type), size: loc.size } : null;
  }

  /** Like `rawSpan`, for reading a pack through once (not cached). */
  async packSpan(pack: number, offset: number, length: number): Promise<Uint8Array> {
    const path = this.packPaths.get(pack);
    if (!path) throw new MissingObjectError(`pack ${pack}`);
    return this.fs.readOnce(path, offset, length);
  }

  /** `packSpan` as parts in order (see Dofs.readOnceParts), for streaming a pack as stored. */
  async packSpanParts(pack: number, offset: number, length: number): Promise<Uint8Array[]> {
    const path = this.packPaths.get(pack);
    if (!path) throw new MissingObjectError(`pack ${pack}`);
    return this.fs.readOnceParts(path, offset, length);
  }

  /** Up to `length` bytes of a pack from `offset` (fewer at its end). */
  async rawSpan(pack: number, offset: number, length: number): Promise<Uint8Array> {
    const path = this.packPaths.get(pack);
    if (!path) throw new MissingObjectError(`pack ${pack}`);
    const size = this.fs.stat(path).size;
    return this.fs.readAsync(path, offset, Math.max(0, Math.min(length, size - offset)));
  }

  /** The raw bytes of an object's pack entry, as stored (in DOFS or tiered to R2). */
  async rawEntry(loc: ObjectLocation): Promise<Uint8Array> {
    const path = this.packPaths.get(loc.pack);
    if (!path) throw new MissingObjectError(loc.oid);
    return this.fs.readAsync(path, loc.offset, loc.length);
  }

  async read(oid: string): Promise<GitObject> {
    const o = await this.readObject(oid);
    if (!o) throw new MissingObjectError(oid);
    return { type: typeName(o.type), data: o.data };
  }

  /** The object an annotated tag names directly (one level), or null. */
  tagTarget(oid: string): string | null {
    return this.sql.exec<{ object: string }>("SELECT object FROM git_tag WHERE oid = ?", oid).toArray()[0]?.object ?? null;
  }

  /** Follows annotated tags to the object they finally name; null if `oid` is no tag. */
  peel(oid: string): string | null {
    let cur = oid;
    for (let i = 0; i < 64; i++) {
      const row = this.sql.exec<{ object: string }>("SELECT object FROM git_tag WHERE oid = ?", cur).toArray()[0];
      if (!row) return cur === oid ? null : cur;
      cur = row.object;
    }
    return null;
  }

  /** `peel` over every annotated tag, read in one query, for listing many refs. */
  peeler(): (oid: string) => string | null {
    const targets = new Map<string, string>();
    for (const r of this.sql.exec<{ oid: string; object: string }>("SELECT oid, object FROM git_tag")) targets.set(r.oid, r.object);
    return (oid) => {
      let cur = oid;
      for (let i = 0; i < 64; i++) {
        const next = targets.get(cur);
        if (next === undefined) return cur === oid ? null : cur;
        cur = next;
      }
      return null;
    };
  }

  async readObject(oid: string): Promise<{ type: number; data: Uint8Array } | null> {
    const cached = this.objects.get(oid);
    if (cached) return cached;
    try {
      return await this.readChain(oid, !this.prefetched.has(oid));
    } catch (e) {
      // Maintenance deleted a retired pack between locating the object and reading it
      // (only a clone or fetch in flight holds retired packs back): the object's current
      // copy is in the pack that replaced it.
      if (!isFsError(e, "ENOENT")) throw e;
      return this.readChain(oid, true);
    }
  }

  private async readChain(oid: string, fresh: boolean): Promise<{ type: number; data: Uint8Array } | null> {
    // Walk down to the first cached or whole object, then apply deltas on the way up.
    const chain: { loc: ObjectLocation; delta: Uint8Array }[] = [];
    let cur = oid;
    let baseObj: { type: number; data: Uint8Array } | undefined;
    // The whole delta chain's locations come from one query, not one per link.
    const links = fresh ? this.locateChain(oid) : null;
    for (;;) {
      const loc = links?.get(cur) ?? this.locate(cur);
      if (!loc) {
        if (chain.length === 0) return null;
        throw new MissingObjectError(cur);
      }
      const raw = await this.rawEntry(loc);
      const hdr = parseEntryHeader(raw, 0);
      if (!hdr) throw new PackFormatError(`truncated entry for ${cur}`);
      const body = compact(inflateExact(raw.subarray(hdr.headerLength), hdr.size));
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

  /** Like `commit`, but null for a commit that is not stored (a shallow boundary's parent). */
  commitIfStored(oid: string): CommitInfo | null {
    const cached = this.commits.get(oid);
    if (cached) return cached;
    try {
      return this.commit(oid);
    } catch (e) {
      if (e instanceof MissingObjectError) return null;
      throw e;
    }
  }

  /** Tree, parents and time of a commit, from the commit table when it has them. */
  commit(oid: string): CommitInfo {
    const cached = this.commits.get(oid);
    if (cached) return cached;
    const row = this.sql
      .exec<{ tree: string; parents: string; time: number }>("SELECT tree, parents, time FROM git_commit WHERE oid = ?", oid)
      .toArray()[0];
    // Every commit passes through the indexer, which records it: no inflating here.
    if (!row) throw new MissingObjectError(oid);
    const info: CommitInfo = { tree: row.tree, parents: row.parents ? row.parents.split(" ") : [], time: row.time };
    this.commits.set(oid, info);
    return info;
  }

  typeOf(oid: string): number | null {
    const row = this.sql.exec<{ type: number }>("SELECT type FROM git_object WHERE oid = ?", oid).toArray()[0];
    return row ? row.type : null;
  }

  /**
   * The objects of the given types (1 commit ... 4 tag) whose ids start with `prefix`
   * (lower-case hex), at most `limit`, in id order: a range scan of the primary key,
   * as git's abbreviated ids need.
   */
  withPrefix(prefix: string, types: number[], limit: number): { oid: string; type: number }[] {
    // Every id is lower-case hex, so all that sort between `prefix` and `prefix + "g"` start with it.
    return this.sql
      .exec<{ oid: string; type: number }>(
        `SELECT oid, type FROM git_object WHERE oid >= ? AND oid < ? AND type IN (${types.map(() => "?").join(",")}) ORDER BY oid LIMIT ?`,
        prefix,
        `${prefix}g`,
        ...types,
        limit,
      )
      .toArray();
  }

  // ---- writing ---------------------------------------------------------------

  /** Indexes a pack that sits at a temporary path in DOFS. Throws PackFormatError. */
  index(tempPath: string, onProgress?: IndexOptions["onProgress"]): Promise<IndexResult> {
    return indexPack(this.fs, tempPath, this, { onProgress });
  }

  /** The same as resumable work, for indexing a large pack over several invocations. */
  indexer(tempPath: string): PackIndexer {
    return new PackIndexer(this.fs, tempPath, this);
  }

  /** The packs, oldest first. */
  packs(): PackRecord[] {
    return this.sql
      .exec<Omit<PackRecord, "path">>("SELECT id, name, size, objects, created FROM git_pack ORDER BY id")
      .toArray()
      .map((p) => ({ ...p, path: `${PACK_DIR}/${p.name}.pack` }));
  }

  /** The objects whose current copy lies in these packs, in pack order. */
  objectsIn(packs: number[]): string[] {
    return this.sql
      .exec<{ oid: string }>(`SELECT oid FROM git_object WHERE pack IN (${packs.map(() => "?").join(",")}) ORDER BY pack, offset`, ...packs)
      .toArray()
      .map((r) => r.oid);
  }

  /** Every stored object's id. */
  oids(): string[] {
    return this.sql
      .exec<{ oid: string }>("SELECT oid FROM git_object")
      .toArray()
      .map((r) => r.oid);
  }

  /**
   * Replaces packs by one written from their entries (a repack). Objects of the old packs
   * that the new one lacks (pruned) leave the index. The old packs' files stay, for reads
   * that located an object in them just before; the caller deletes them later. Returns the
   * new pack's name, the dropped objects and the old packs. Runs inside the caller's
   * transaction.
   */
  replacePacks(
    old: number[],
    tempPath: string,
    result: IndexResult,
    idx: Uint8Array,
  ): { name: string; dropped: string[]; retired: PackRecord[] } {
    const retired = this.packs().filter((p) => old.includes(p.id));
    const kept = new Set(result.objects.map((o) => o.oid));
    const dropped = this.objectsIn(old).filter((oid) => !kept.has(oid));
    if (dropped.length) this.graph.drop();
    for (const oid of dropped) {
      this.sql.exec("DELETE FROM git_object WHERE oid = ?", oid);
      this.sql.exec("DELETE FROM git_commit WHERE oid = ?", oid);
      this.sql.exec("DELETE FROM git_tag WHERE oid = ?", oid);
    }
    const name = this.commitPack(tempPath, result, idx);
    for (const p of retired) this.sql.exec("DELETE FROM git_pack WHERE id = ?", p.id);
    return { name, dropped, retired };
  }

  /** Records that `pack` holds every object reachable from the refs with this digest. */
  markCovering(pack: string, refsDigest: string, tips: Iterable<string>): void {
    this.sql.exec("UPDATE git_pack SET covers = ?, covers_tips = ? WHERE name = ?", refsDigest, [...new Set(tips)].join(" "), pack);
  }

  /**
   * The newest pack that held exactly what the refs reached when it was written, and
   * those refs' values: while they are all still reached, a clone is that pack plus the
   * objects above it.
   */
  coveringPack(): { pack: number; size: number; objects: number; tips: string[] } | null {
    const row = this.sql
      .exec<{ id: number; size: number; objects: number; tips: string }>(
        "SELECT id, size, objects, covers_tips AS tips FROM git_pack WHERE covers_tips IS NOT NULL ORDER BY id DESC LIMIT 1",
      )
      .toArray()[0];
    if (!row) return null;
    return { pack: row.id, size: row.size, objects: row.objects, tips: row.tips ? row.tips.split(" ") : [] };
  }

  /**
   * The repository's only pack, if it holds exactly what the refs with this digest reach:
   * a clone of every ref can then be sent the pack file as it is stored.
   */
  wholePack(refsDigest: string): { pack: number; size: number; objects: number } | null {
    const packs = this.sql
      .exec<{ id: number; size: number; objects: number; covers: string | null }>("SELECT id, size, objects, covers FROM git_pack LIMIT 2")
      .toArray();
    if (packs.length !== 1 || packs[0].covers !== refsDigest) return null;
    return { pack: packs[0].id, size: packs[0].size, objects: packs[0].objects };
  }

  /**
   * Which of `oids` the pack holds, by its `.idx` (not the SQL index, where the newest
   * copy of an object wins): one read of the .idx's name table per first byte asked about.
   */
  packContains(pack: number, oids: string[]): Set<string> {
    const path = this.packPaths.get(pack)?.replace(/\.pack$/, ".idx");
    const found = new Set<string>();
    if (!path || !oids.length) return found;
    const fanout = new DataView(this.fs.read(path, 8, 256 * 4).slice().buffer);
    const byFirst = new Map<number, string[]>();
    for (const oid of oids) {
      const b = Number.parseInt(oid.slice(0, 2), 16);
      const list = byFirst.get(b);
      if (list) list.push(oid);
      else byFirst.set(b, [oid]);
    }
    for (const [b, list] of byFirst) {
      const from = b ? fanout.getUint32((b - 1) * 4) : 0;
      const to = fanout.getUint32(b * 4);
      if (to <= from) continue;
      const names = this.fs.read(path, 8 + 1024 + from * 20, (to - from) * 20);
      for (const oid of list) {
        const want = fromHex(oid);
        let lo = 0;
        let hi = to - from;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          const c = compareBytes(names.subarray(mid * 20, mid * 20 + 20), want);
          if (c === 0) {
            found.add(oid);
            break;
          }
          if (c < 0) lo = mid + 1;
          else hi = mid;
        }
      }
    }
    return found;
  }

  /**
   * Moves an indexed pack into objects/pack with its .idx, and records its objects.
   * Runs inside the caller's transaction so that objects exist before refs name them.
   */
  commitPack(tempPath: string, result: IndexResult, idx: Uint8Array | "written", staged = false): string {
    const name = `pack-${toHex(result.packChecksum)}`;
    const packPath = `${PACK_DIR}/${name}.pack`;
    const existing = this.sql.exec<{ id: number }>("SELECT id FROM git_pack WHERE name = ?", name).toArray()[0];
    if (existing) {
      // The same pack again (a retried push): its objects are already recorded.
      this.fs.unlink(tempPath);
      if (idx === "written") this.fs.unlink(stagedIdxPath(tempPath));
      if (staged) this.dropStaged(tempPath);
      return name;
    }
    this.fs.mkdir(PACK_DIR, { recursive: true });
    this.fs.rename(tempPath, packPath);
    if (idx === "written") this.fs.rename(stagedIdxPath(tempPath), `${PACK_DIR}/${name}.idx`);
    else this.fs.writeFile(`${PACK_DIR}/${name}.idx`, idx, { mode: 0o444 });
    const id = this.sql
      .exec<{ id: number }>(
        "INSERT INTO git_pack (name, size, objects, created) VALUES (?, ?, ?, ?) RETURNING id",
        name,
        result.packSize,
        result.objects.length,
        Date.now(),
      )
      .one().id;
    // The newest copy of an object wins: a pack's rows then all point into it, so its
    // deltas resolve inside it, and maintenance can retire older packs independently.
    // Except the bases appended to complete a thin pack: those are whole copies of objects
    // already stored, often as small deltas, and a fetch of the versions of a file pushed
    // one at a time would send each whole. A delta on them resolves through the older copy.
    if (staged) {
      // One statement per table: SQLite copies rows far faster than statements arrive one
      // by one, which keeps this transaction short for a pack of hundreds of thousands.
      for (const [appended, verb] of [
        [0, "REPLACE"],
        [1, "IGNORE"],
      ] as const) {
        this.sql.exec(
          `INSERT OR ${verb} INTO git_object (oid, pack, offset, length, type, size, base)
           SELECT oid, ?, offset, length, type, size, base FROM git_staged_object WHERE path = ? AND appended = ? ORDER BY path, appended, oid, offset`,
          id,
          tempPath,
          appended,
        );
      }
      this.sql.exec(
        "INSERT OR IGNORE INTO git_commit (oid, tree, parents, time) SELECT oid, tree, parents, time FROM git_staged_commit WHERE path = ? ORDER BY path, oid",
        tempPath,
      );
      this.dropStaged(tempPath);
    } else {
      const appended = new Set(result.appended ?? []);
      for (const o of result.objects) {
        this.sql.exec(
          `INSERT OR ${appended.has(o.oid) ? "IGNORE" : "REPLACE"} INTO git_object (oid, pack, offset, length, type, size, base) VALUES (?, ?, ?, ?, ?, ?, ?)`,
          o.oid,
          id,
          o.offset,
          o.length,
          o.type,
          o.size,
          o.base,
        );
      }
      for (const c of result.commits) this.recordCommit(c.oid, c.tree, c.parents, c.time);
    }
    for (const t of result.tags)
      this.sql.exec("INSERT OR IGNORE INTO git_tag (oid, object, type) VALUES (?, ?, ?)", t.oid, t.object, t.type);
    this.packPaths.set(id, packPath);
    return name;
  }

  /**
   * Records rows `from`..`to` of an indexed pack's objects (and of its commits) for
   * `commitPack(…, staged)`, a slice of work at a time, so that the transaction that
   * commits a large pack copies its rows in one statement instead of writing each.
   * `from` 0 starts over, and forgets rows that pushes which never finished left behind.
   */
  stageRows(
    tempPath: string,
    result: IndexResult,
    order: StagingOrder,
    from: number,
    to: number,
    commitsFrom: number,
    commitsTo: number,
  ): void {
    if (from === 0 && commitsFrom === 0) {
      // Rows of this path from an earlier start are the same rows: staging replaces them.
      for (const { path } of this.sql.exec<{ path: string }>("SELECT DISTINCT path FROM git_staged_object").toArray()) {
        if (path !== tempPath && !this.fs.exists(path)) this.dropStaged(path);
      }
    }
    const appended = new Set(result.appended ?? []);
    // In the order of the tables' keys (the ids'), each row goes at the end of the tree
    // instead of anywhere in it: in pack order, staging took 14 s of a 439k-object push.
    // Several rows a statement: a call into SQLite costs more than the row it writes. Twelve
    // rows of eight values stay under the platform's 100 bound parameters a statement.
    const values: (string | number | null)[] = [];
    const flush = () => {
      const rows = values.length / 8;
      if (!rows) return;
      this.sql.exec(
        `INSERT OR REPLACE INTO git_staged_object (path, offset, oid, length, type, size, base, appended) VALUES ${STAGED_ROW.repeat(rows).slice(1)}`,
        ...values,
      );
      values.length = 0;
    };
    for (let i = from; i < to; i++) {
      const o = result.objects.get(order.objects[i]);
      values.push(tempPath, o.offset, o.oid, o.length, o.type, o.size, o.base, appended.size && appended.has(o.oid) ? 1 : 0);
      if (values.length === 8 * STAGED_ROWS_A_STATEMENT) flush();
    }
    flush();
    const commits: (string | number)[] = [];
    const flushCommits = () => {
      const rows = commits.length / 5;
      if (!rows) return;
      this.sql.exec(
        `INSERT OR IGNORE INTO git_staged_commit (path, oid, tree, parents, time) VALUES ${STAGED_COMMIT_ROW.repeat(rows).slice(1)}`,
        ...commits,
      );
      commits.length = 0;
    };
    for (let i = commitsFrom; i < commitsTo; i++) {
      const c = result.commits[order.commits[i]];
      commits.push(tempPath, c.oid, c.tree, c.parents.join(" "), c.time);
      if (commits.length === 5 * STAGED_COMMITS_A_STATEMENT) flushCommits();
    }
    flushCommits();
  }

  /**
   * Forgets the staged rows of a pack, committed (copied) or not to be: they are no
   * longer read, and `sweepStaged` deletes them later. Deleting the rows of a large
   * pack took most of a second, in the transaction that ends the push.
   */
  dropStaged(tempPath: string): void {
    this.sql.exec("INSERT OR IGNORE INTO git_staged_gone (path) VALUES (?)", tempPath);
  }

  /** Whether staged rows of finished pushes wait to be deleted. */
  stagedGarbage(): boolean {
    return this.sql.exec("SELECT 1 FROM git_staged_gone LIMIT 1").toArray().length > 0;
  }

  /** Deletes about `rows` staged rows of finished pushes; the number deleted. */
  sweepStaged(rows: number): number {
    let deleted = 0;
    for (const { path } of this.sql.exec<{ path: string }>("SELECT path FROM git_staged_gone").toArray()) {
      for (const table of ["git_staged_object", "git_staged_commit"]) {
        if (deleted >= rows) return deleted;
        const key = table === "git_staged_object" ? "appended, oid, offset" : "oid";
        deleted += this.sql.exec(
          `DELETE FROM ${table} WHERE (path, ${key}) IN (SELECT path, ${key} FROM ${table} WHERE path = ? LIMIT ?)`,
          path,
          rows - deleted,
        ).rowsWritten;
      }
      if (deleted >= rows) return deleted;
      this.sql.exec("DELETE FROM git_staged_gone WHERE path = ?", path);
    }
    return deleted;
  }

  /** Writes a staged pack's `.idx` beside it, ahead of the transaction that commits it. */
  writeStagedIdx(tempPath: string, idx: Uint8Array): void {
    this.fs.writeFile(stagedIdxPath(tempPath), idx);
  }

  private recordCommit(oid: string, tree: string, parents: string[], time: number): void {
    this.sql.exec("INSERT OR IGNORE INTO git_commit (oid, tree, parents, time) VALUES (?, ?, ?, ?)", oid, tree, parents.join(" "), time);
  }

  /**
   * Drops the SQL index and rebuilds it from the .idx and .pack files in DOFS. The
   * index rows are written in one transaction; types, sizes, commits and tags need the
   * objects themselves, which may live in R2, so they are filled in afterwards.
   */
  async rebuildIndex(): Promise<void> {
    type Row = { oid: string; offset: number; length: number; base: string | null };
    const packs: { name: string; size: number; rows: Row[] }[] = [];
    const files = this.fs.exists(PACK_DIR) ? this.fs.readdir(PACK_DIR) : [];
    for (const f of files.filter((n) => n.endsWith(".idx"))) {
      const name = f.slice(0, -4);
      const packPath = `${PACK_DIR}/${name}.pack`;
      if (!this.fs.exists(packPath)) continue;
      const { entries } = readIdxV2(this.fs.readFile(`${PACK_DIR}/${f}`));
      const size = this.fs.stat(packPath).size;
      // Entry lengths come from the next entry's offset; the last ends at the trailer.
      const sorted = [...entries].sort((a, b) => a.offset - b.offset);
      const byOffset = new Map(sorted.map((e) => [e.offset, e.oid]));
      const rows: Row[] = [];
      for (let i = 0; i < sorted.length; i++) {
        const e = sorted[i];
        const end = i + 1 < sorted.length ? sorted[i + 1].offset : size - 20;
        const head = parseEntryHeader(await this.fs.readAsync(packPath, e.offset, 32), 0)!;
        const base =
          head.type === OBJ_OFS_DELTA
            ? (byOffset.get(e.offset - head.baseDistance!) ?? null)
            : head.type === OBJ_REF_DELTA
              ? head.baseOid!
              : null;
        rows.push({ oid: e.oid, offset: e.offset, length: end - e.offset, base });
      }
      packs.push({ name, size, rows });
    }
    this.fs.transaction(() => {
      this.sql.exec("DELETE FROM git_object");
      this.sql.exec("DELETE FROM git_commit");
      this.sql.exec("DELETE FROM git_tag");
      this.sql.exec("DELETE FROM git_pack");
      for (const p of packs) {
        const id = this.sql
          .exec<{ id: number }>(
            "INSERT INTO git_pack (name, size, objects, created) VALUES (?, ?, ?, ?) RETURNING id",
            p.name,
            p.size,
            p.rows.length,
            Date.now(),
          )
          .one().id;
        for (const r of p.rows) {
          this.sql.exec(
            "INSERT OR IGNORE INTO git_object (oid, pack, offset, length, type, size, base) VALUES (?, ?, ?, ?, 0, 0, ?)",
            r.oid,
            id,
            r.offset,
            r.length,
            r.base,
          );
        }
      }
    });
    this.objects.clear();
    this.commits.clear();
    this.loadPacks();
    // Types, sizes, commits and tags need the objects themselves.
    for (const { oid } of this.sql.exec<{ oid: string }>("SELECT oid FROM git_object").toArray()) {
      const o = (await this.readObject(oid))!;
      if (hashObject(typeName(o.type), o.data) !== oid) throw new PackFormatError(`object ${oid} does not match its id`);
      this.sql.exec("UPDATE git_object SET type = ?, size = ? WHERE oid = ?", o.type, o.data.byteLength, oid);
      if (o.type === OBJ_COMMIT) {
        const c = parseCommit(o.data);
        this.recordCommit(oid, c.tree, c.parents, c.committer.timestamp);
      } else if (o.type === OBJ_TAG) {
        const t = parseTag(o.data);
        this.sql.exec("INSERT OR IGNORE INTO git_tag (oid, object, type) VALUES (?, ?, ?)", oid, t.object, typeCode(t.type));
      }
    }
  }

  /**
   * Stages the SQL index as it is now, and the packs' `.idx` files, for a fork that reads
   * the same pack files: in pages, because the whole is larger than one RPC message
   * (32 MiB) for a repository of a few hundred thousand objects. Synchronous, so every page
   * describes the same packs whatever lands after. Rows are tuples, to keep pages compact.
   */
  stageExport(now = Date.now(), pageSize = EXPORT_PAGE): ExportManifest {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS git_export (
      token TEXT NOT NULL,
      kind TEXT NOT NULL,
      seq INTEGER NOT NULL,
      at INTEGER NOT NULL,
      data BLOB NOT NULL,
      PRIMARY KEY (token, kind, seq)
    ) WITHOUT ROWID`);
    this.sql.exec("DELETE FROM git_export WHERE at < ?", now - EXPORT_TTL_MS);
    const token = crypto.randomUUID();
    const pages: ExportManifest["pages"] = [];
    const put = (kind: string, seq: number, data: string | ArrayBuffer) =>
      this.sql.exec("INSERT INTO git_export (token, kind, seq, at, data) VALUES (?, ?, ?, ?, ?)", token, kind, seq, now, data);
    const tables: [string, string][] = [
      ["objects", "oid, pack, offset, length, type, size, base FROM git_object"],
      ["commits", "oid, tree, parents, time FROM git_commit"],
      ["tags", "oid, object, type FROM git_tag"],
    ];
    for (const [kind, select] of tables) {
      let seq = 0;
      let rows: string[] = [];
      let chars = 0;
      const flush = () => {
        put(kind, seq++, `[${rows.join(",")}]`);
        rows = [];
        chars = 0;
      };
      // In batches by oid, each read whole before the pages it fills are written.
      for (let after = ""; ; ) {
        const batch = [...this.sql.exec(`SELECT ${select} WHERE oid > ? ORDER BY oid LIMIT 5000`, after).raw()];
        if (!batch.length) break;
        for (const row of batch) {
          const text = JSON.stringify(row);
          if (chars + text.length > pageSize && rows.length) flush();
          rows.push(text);
          chars += text.length + 1;
        }
        after = batch[batch.length - 1][0] as string;
      }
      if (rows.length) flush();
      pages.push({ kind, count: seq });
    }
    const packs = this.sql
      .exec<{ id: number; name: string; size: number; objects: number; created: number; covers_tips: string | null }>(
        "SELECT id, name, size, objects, created, covers_tips FROM git_pack ORDER BY id",
      )
      .toArray()
      .map((p) => ({ id: p.id, name: p.name, size: p.size, objects: p.objects, created: p.created, coversTips: p.covers_tips }));
    for (const p of packs) {
      const idx = this.fs.readFile(`${PACK_DIR}/${p.name}.idx`);
      let seq = 0;
      for (let at = 0; at < idx.byteLength; at += pageSize) put(`idx:${p.name}`, seq++, idx.slice(at, at + pageSize).buffer);
      pages.push({ kind: `idx:${p.name}`, count: seq });
    }
    return { token, packs, pages };
  }

  /** One staged page: JSON rows, or bytes of an `.idx`; null when there is no such page. */
  exportPage(token: string, kind: string, seq: number): string | Uint8Array | null {
    const row = this.sql
      .exec<{ data: string | ArrayBuffer }>("SELECT data FROM git_export WHERE token = ? AND kind = ? AND seq = ?", token, kind, seq)
      .toArray()[0];
    if (!row) return null;
    return typeof row.data === "string" ? row.data : new Uint8Array(row.data);
  }

  dropExport(token: string): void {
    this.sql.exec("DELETE FROM git_export WHERE token = ?", token);
  }

  /**
   * Starts an import into an empty store (a fork being made): forgets whatever an earlier
   * attempt left, and records the exported packs, whose `.pack` and `.idx` files the caller
   * puts in objects/pack. Runs inside the caller's transaction.
   */
  beginImport(packs: ExportedPack[]): void {
    for (const table of ["git_object", "git_commit", "git_tag", "git_pack"]) this.sql.exec(`DELETE FROM ${table}`);
    for (const p of packs) {
      const id = this.sql
        .exec<{ id: number }>(
          "INSERT INTO git_pack (name, size, objects, created, covers_tips) VALUES (?, ?, ?, ?, ?) RETURNING id",
          p.name,
          p.size,
          p.objects,
          p.created,
          p.coversTips,
        )
        .one().id;
      this.packPaths.set(id, `${PACK_DIR}/${p.name}.pack`);
    }
  }

  /**
   * Imports one page of `stageExport`'s rows; pack ids are the exporter's, mapped through
   * the pack names. Runs inside the caller's transaction.
   */
  importPage(kind: string, page: string, packs: ExportedPack[]): void {
    const rows = JSON.parse(page) as (string | number | null)[][];
    if (kind === "objects") {
      const byName = new Map(
        this.sql
          .exec<{ id: number; name: string }>("SELECT id, name FROM git_pack")
          .toArray()
          .map((r) => [r.name, r.id]),
      );
      const ids = new Map(packs.map((p) => [p.id, byName.get(p.name)]));
      for (const [oid, pack, offset, length, type, size, base] of rows) {
        const id = ids.get(pack as number);
        if (id === undefined) throw new PackFormatError(`object ${oid} lies in a pack the fork does not have`);
        this.sql.exec(
          "INSERT OR REPLACE INTO git_object (oid, pack, offset, length, type, size, base) VALUES (?, ?, ?, ?, ?, ?, ?)",
          oid,
          id,
          offset,
          length,
          type,
          size,
          base,
        );
      }
    } else if (kind === "commits") {
      for (const [oid, tree, parents, time] of rows)
        this.sql.exec("INSERT OR IGNORE INTO git_commit (oid, tree, parents, time) VALUES (?, ?, ?, ?)", oid, tree, parents, time);
    } else if (kind === "tags") {
      for (const [oid, object, type] of rows)
        this.sql.exec("INSERT OR IGNORE INTO git_tag (oid, object, type) VALUES (?, ?, ?)", oid, object, type);
    } else throw new PackFormatError(`unknown index page kind ${kind}`);
  }

  stats(): { packs: number; objects: number } {
    const packs = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM git_pack").one().n;
    const objects = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM git_object").one().n;
    return { packs, objects };
  }
}
