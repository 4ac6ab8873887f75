// Forks, in storage: a fork reads its parent's packs where they lie in R2, as git's
// alternates would, instead of copying the history.
//
// The parent, asked to share (`sharePacks`), moves each of its live packs to R2 (those not
// there yet), takes one synchronous snapshot of its refs and stages its object index and
// `.idx` files in pages (the whole is larger than one RPC message for a large repository),
// and records in D1 (`r2_holders`) that it and the fork both hold each pack's R2 key. The
// fork reads the pages (`beginFork`, `importForkPage`), then (`linkFork`) creates DOFS files
// that point at those keys, beside its own copies of the `.idx` files and index rows. Every later deletion of a shared key, by either side (a
// repack retiring the pack, a deletion of the repository), goes through DOFS's `release`,
// which deletes the holder's row and the R2 object only when no row is left.
import type { Dofs } from "../fs/dofs";
import { type ExportManifest, type ExportedPack, type ObjectStore, PACK_DIR } from "../git/store/object-store";
import type { RefStore } from "../git/refs";
import { ZERO_OID } from "../git/object/object";
import { INCOMING_DIR } from "../git/ref-transaction";
import { enumerateObjects } from "../git/walk";
import { writePack } from "../git/pack/writer";
import { writeIdxV2 } from "../git/pack/idx";
import { isFsError } from "../fs/errors";

/** What a parent hands a new fork: refs, HEAD, its packs' R2 keys, and the staged index. */
export interface ForkSnapshot {
  head: string | null;
  refs: [string, string][];
  packs: { name: string; key: string; size: number }[];
  index: ExportManifest;
}

/**
 * Records that `holders` hold `keys`, before anyone reads them through the new holder.
 * The first holder is the one that stores the key now; a key already shared keeps its rows.
 */
export async function holdKeys(db: D1Database, keys: string[], holders: string[]): Promise<void> {
  const stmts = keys.flatMap((k) =>
    holders.map((h) => db.prepare("INSERT OR IGNORE INTO r2_holders (key, holder) VALUES (?, ?)").bind(k, h)),
  );
  for (let i = 0; i < stmts.length; i += 50) await db.batch(stmts.slice(i, i + 50));
}

/**
 * Lets go of `keys` for `holder`; answers the keys that no one holds any more, which the
 * caller deletes from R2. A key nobody recorded (never shared by this design) is its own.
 */
export async function releaseKeys(db: D1Database, keys: string[], holder: string): Promise<string[]> {
  const unread: string[] = [];
  for (const key of keys) {
    const [, left] = await db.batch<{ n: number }>([
      db.prepare("DELETE FROM r2_holders WHERE key = ? AND holder = ?").bind(key, holder),
      db.prepare("SELECT count(*) AS n FROM r2_holders WHERE key = ?").bind(key),
    ]);
    if (left.results[0].n === 0) unread.push(key);
  }
  return unread;
}

/** Moves every live pack of the store to R2; true when all are there (none in SQLite). */
export async function tierAllPacks(fs: Dofs, store: ObjectStore, budget: number): Promise<void> {
  for (let round = 0; round < 100; round++) {
    const local = store.packs().filter((p) => fs.exists(p.path) && !fs.isTiered(p.path));
    if (!local.length) return;
    for (const p of local) {
      const key = `packs/${crypto.randomUUID()}.pack`;
      while ((await fs.tierStep(p.path, key, budget)) === "more");
    }
  }
  throw new Error("packs kept changing while they moved to R2");
}

/**
 * The snapshot a fork is made from; synchronous, so refs, packs and the staged index
 * agree. Every pack must be in R2 already (`tierAllPacks`).
 */
export function snapshotForFork(fs: Dofs, store: ObjectStore, refs: RefStore): ForkSnapshot | null {
  const packs = [];
  for (const p of store.packs()) {
    const key = fs.exists(p.path) ? fs.tierKey(p.path) : null;
    if (!key) return null;
    packs.push({ name: p.name, key, size: p.size });
  }
  return { head: refs.head().symref, refs: [...refs.list()], packs, index: store.stageExport() };
}

/** Begins laying out a fork: whatever an earlier attempt left goes, the packs are recorded. */
export function beginFork(fs: Dofs, store: ObjectStore, packs: ExportedPack[]): void {
  fs.transaction(() => {
    if (fs.exists(PACK_DIR)) for (const name of fs.readdir(PACK_DIR)) fs.unlink(`${PACK_DIR}/${name}`);
    store.beginImport(packs);
  });
}

/** One staged page from the parent: index rows, or the next bytes of a pack's `.idx`. */
export function importForkPage(
  fs: Dofs,
  store: ObjectStore,
  packs: ExportedPack[],
  kind: string,
  seq: number,
  page: string | Uint8Array,
): void {
  if (kind.startsWith("idx:")) {
    if (typeof page === "string") throw new Error(`index page ${kind} is not bytes`);
    const path = `${PACK_DIR}/${kind.slice(4)}.idx`;
    if (seq === 0) {
      fs.mkdir(PACK_DIR, { recursive: true });
      fs.writeFile(path, page);
    } else fs.append(path, page);
    return;
  }
  if (typeof page !== "string") throw new Error(`index page ${kind} is not rows`);
  fs.transaction(() => store.importPage(kind, page, packs));
}

/**
 * Finishes the fork: the parent's packs linked beside their imported `.idx` files, its
 * branches and tags copied. Synchronous, inside the caller's transaction.
 */
export function linkFork(fs: Dofs, refs: RefStore, snap: ForkSnapshot): void {
  for (const p of snap.packs) {
    const base = `${PACK_DIR}/${p.name}`;
    fs.linkTiered(`${base}.pack`, p.key, p.size);
    fs.chmod(`${base}.idx`, 0o444);
  }
  // Tags and branches as the parent had them; not its pull-request refs, as on GitHub.
  const copied = snap.refs.filter(([name]) => name.startsWith("refs/heads/") || name.startsWith("refs/tags/"));
  const results = refs.update(
    copied.map(([name, oid]) => ({ name, old: ZERO_OID, new: oid })),
    true,
  );
  if (results.some((r) => !r.ok)) throw new Error("the fork's refs could not be written");
  if (snap.head) refs.setHead(snap.head);
}

// ---- pull requests from forks ------------------------------------------------------

/**
 * Where a fork came from: its own Durable Object name and its parent's, kept in the
 * fork's SQLite (`fork_link`), so that its branch moves reach the parent's pull requests.
 */
export function saveForkLink(sql: SqlStorage, self: string, parent: string): void {
  sql.exec("CREATE TABLE IF NOT EXISTS fork_link (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  sql.exec("INSERT OR REPLACE INTO fork_link (key, value) VALUES ('self', ?), ('parent', ?)", self, parent);
}

export function forkLink(sql: SqlStorage): { self: string; parent: string } | null {
  if (!sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'fork_link'").toArray().length) return null;
  const rows = new Map(
    sql
      .exec<{ key: string; value: string }>("SELECT key, value FROM fork_link")
      .toArray()
      .map((r) => [r.key, r.value]),
  );
  const self = rows.get("self");
  const parent = rows.get("parent");
  return self && parent ? { self, parent } : null;
}

/**
 * A pack of what `head` reaches that the commits the other side has (`haves`, those known
 * here) do not: what a fork streams its parent for a pull request's head. Stored entries
 * and deltas are copied as they are (the fetch path's writer); no thin bases, so the pack
 * stands alone. Null when `head` is not here.
 */
export async function packFor(store: ObjectStore, head: string, haves: string[]): Promise<ReadableStream<Uint8Array> | null> {
  if (!store.has(head)) return null;
  const known = haves.filter((h) => store.has(h));
  const { oids } = await enumerateObjects(store, [head], { haves: known });
  const blocks = writePack(store, oids, { ofsDelta: true });
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await blocks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
  });
}

/**
 * Stores a pack streamed from another repository (a fork) as a push's pack is stored: into
 * a temporary file, indexed, then recorded in one transaction. No ref names its objects
 * yet (the caller names them; else maintenance prunes them after the grace period). False
 * when the pack needs objects that are not stored here, or does not fit the quota.
 */
export async function receivePack(fs: Dofs, store: ObjectStore, body: ReadableStream<Uint8Array>): Promise<boolean> {
  fs.mkdir(INCOMING_DIR, { recursive: true });
  const temp = `${INCOMING_DIR}/${crypto.randomUUID()}.pack`;
  const drop = () => {
    if (fs.exists(temp)) fs.unlink(temp);
  };
  try {
    const writer = fs.createWriter(temp);
    const reader = body.getReader();
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) writer.write(r.value);
      writer.close();
    } catch (e) {
      writer.abort();
      throw e;
    }
    const indexed = await store.index(temp);
    const inPack = new Set(indexed.objects.map((o) => o.oid));
    if ([...indexed.referenced].some((oid) => !inPack.has(oid) && !store.has(oid))) {
      drop();
      return false;
    }
    fs.transaction(() => store.commitPack(temp, indexed, writeIdxV2(indexed.objects, indexed.packChecksum)));
    return true;
  } catch (e) {
    drop();
    if (isFsError(e, "ENOSPC")) return false;
    throw e;
  }
}
