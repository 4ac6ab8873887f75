// The one place where refs move (DESIGN invariant 9): a push, a pull-request merge, the
// browser editor and the API all end here. New objects arrive as a pack, already in a
// temporary DOFS file and indexed; one SQLite transaction then moves the pack into
// objects/pack and applies the ref updates by compare-and-swap, so the objects a ref names
// are stored before (in the same commit as) the ref moves, and a lost race keeps nothing.
//
// `RefPolicy` is the seam for rules about who may move which ref (protected branches):
// it is asked inside the transaction, about every update, knowing what is moving it.
import { createHash } from "node:crypto";
import type { Dofs } from "../fs/dofs";
import { isFsError } from "../fs/errors";
import { type ObjectType, ZERO_OID, hashObject, typeCode } from "./object/object";
import { encodeWholeEntry } from "./pack/entry";
import { writeIdxV2 } from "./pack/idx";
import type { IndexResult } from "./pack/indexer";
import type { RefStore, RefUpdate, RefUpdateResult } from "./refs";
import { type ObjectStore, stagedIdxPath } from "./store/object-store";

/** Where packs wait until their refs move; not part of the repository (export skips it). */
export const INCOMING_DIR = "/objects/incoming";

export const QUOTA_MESSAGE = "repository quota exceeded";

/** What is moving refs, for a policy to tell a PR merge from a direct push. */
export interface RefActor {
  via: "push" | "merge" | "editor" | "api";
  /** The account doing it, when the caller knows it. */
  user?: string;
  /** The account administers the repository (as the access check found): rules may let it bypass. */
  admin?: boolean;
}

/** The commits arriving with the updates (in the pack, not yet stored), by id: their parents. */
export type IncomingCommits = ReadonlyMap<string, readonly string[]>;

export interface RefPolicy {
  /**
   * Why this update may not happen, or null. Synchronous: it runs inside the transaction,
   * before the pack is stored, so ancestry through new commits goes by `incoming`.
   */
  refuse(update: RefUpdate, actor: RefActor, incoming: IncomingCommits): string | null;
}

/** A pack in a temporary file with its index, waiting for its refs. */
export interface StagedPack {
  tempPath: string;
  indexed: IndexResult;
  /** Its rows were staged with `ObjectStore.stageRows` (a large push). */
  staged?: boolean;
  /** Its `.idx`, when made ahead of the transaction; "written" when in its file already (see `ObjectStore.writeStagedIdx`). */
  idx?: Uint8Array | "written";
}

export interface NewObject {
  type: ObjectType;
  data: Uint8Array;
}

export interface RefTransactionContext {
  fs: Dofs;
  store: ObjectStore;
  refs: RefStore;
  policy?: RefPolicy | null;
}

export interface RefTransaction {
  updates: RefUpdate[];
  /** Any failed update fails them all (a merge, an atomic push). */
  atomic: boolean;
  actor: RefActor;
  pack?: StagedPack | null;
  /** Refs that must still have these values when the updates apply (git update-ref's `verify`). */
  verify?: { name: string; old: string }[];
  /** Inside the transaction, before the refs move. */
  before?(): void;
  /** Inside the transaction, once at least one ref moved; `pack` is the stored pack's name. */
  after?(results: RefUpdateResult[], pack: string | null): void;
}

export type RefTransactionOutcome =
  /** At least one ref moved; with `atomic`, all of them. */
  | { kind: "applied"; results: RefUpdateResult[]; pack: string | null }
  /** No ref moved and nothing was kept. */
  | { kind: "refused"; results: RefUpdateResult[] }
  | { kind: "quota"; message: string };

/**
 * Writes whole objects as a pack (version 2, SHA-1 trailer) into a temporary file and
 * indexes it as a push's pack is indexed. Throws FsError ENOSPC past the quota (the
 * temporary file is then gone).
 */
export async function stageObjects(ctx: RefTransactionContext, objects: NewObject[]): Promise<StagedPack> {
  ctx.fs.mkdir(INCOMING_DIR, { recursive: true });
  const tempPath = `${INCOMING_DIR}/${crypto.randomUUID()}.pack`;
  const writer = ctx.fs.createWriter(tempPath);
  try {
    const hash = createHash("sha1");
    const put = (bytes: Uint8Array) => {
      hash.update(bytes);
      writer.write(bytes);
    };
    const header = new Uint8Array(12);
    header.set([0x50, 0x41, 0x43, 0x4b]);
    new DataView(header.buffer).setUint32(4, 2);
    new DataView(header.buffer).setUint32(8, objects.length);
    put(header);
    for (const o of objects) put(encodeWholeEntry(typeCode(o.type), o.data));
    writer.write(new Uint8Array(hash.digest()));
    writer.close();
    return { tempPath, indexed: await ctx.store.index(tempPath) };
  } catch (e) {
    writer.abort();
    throw e;
  }
}

class NothingApplied extends Error {}

/**
 * Applies the ref updates by compare-and-swap and stores the pack, in one SQLite
 * transaction; keeps nothing when no ref moved. The staged pack's temporary file is gone
 * afterwards, whatever the outcome.
 */
export function applyRefTransaction(ctx: RefTransactionContext, tx: RefTransaction): RefTransactionOutcome {
  const { fs, store, refs } = ctx;
  let results: RefUpdateResult[] = [];
  let packName: string | null = null;
  try {
    fs.transaction(() => {
      const refused = new Map<string, string>();
      const current = refs.list();
      for (const v of tx.verify ?? []) {
        if ((current.get(v.name) ?? ZERO_OID) !== v.old) {
          for (const u of tx.updates) refused.set(u.name, `${v.name} moved (fetch first)`);
        }
      }
      const incoming = new Map((tx.pack?.indexed.commits ?? []).map((c) => [c.oid, c.parents]));
      for (const u of tx.updates) {
        if (refused.has(u.name)) continue;
        const why = ctx.policy?.refuse(u, tx.actor, incoming) ?? null;
        if (why) refused.set(u.name, why);
      }
      if (tx.atomic && refused.size) {
        results = tx.updates.map((u) => ({ name: u.name, ok: false, reason: refused.get(u.name) ?? "atomic push failed" }));
        throw new NothingApplied();
      }
      const allowed = tx.updates.filter((u) => !refused.has(u.name));
      const pack = tx.pack;
      if (pack && pack.indexed.objects.length > 0 && allowed.some((u) => u.new !== ZERO_OID)) {
        const idx = pack.idx ?? writeIdxV2(pack.indexed.objects, pack.indexed.packChecksum);
        packName = store.commitPack(pack.tempPath, pack.indexed, idx, pack.staged);
      }
      tx.before?.();
      const applied = new Map(refs.update(allowed, tx.atomic).map((r) => [r.name, r]));
      results = tx.updates.map((u) => applied.get(u.name) ?? { name: u.name, ok: false, reason: refused.get(u.name)! });
      if (!results.some((r) => r.ok)) throw new NothingApplied();
      tx.after?.(results, packName);
    });
  } catch (e) {
    packName = null;
    if (!(e instanceof NothingApplied)) {
      dropTemp(fs, tx.pack);
      if (tx.pack?.staged) store.dropStaged(tx.pack.tempPath);
      if (isFsError(e, "ENOSPC")) return { kind: "quota", message: QUOTA_MESSAGE };
      throw e;
    }
  }
  dropTemp(fs, tx.pack);
  // Committed rows left the staging table with the transaction; a refused pack's go now.
  if (tx.pack?.staged) store.dropStaged(tx.pack.tempPath);
  return results.some((r) => r.ok) ? { kind: "applied", results, pack: packName } : { kind: "refused", results };
}

function dropTemp(fs: Dofs, pack: StagedPack | null | undefined): void {
  if (pack && fs.exists(pack.tempPath)) fs.unlink(pack.tempPath);
  if (pack?.idx === "written" && fs.exists(stagedIdxPath(pack.tempPath))) fs.unlink(stagedIdxPath(pack.tempPath));
}

/**
 * Stores objects that no ref names yet (GitHub's git data API writes blobs, trees and
 * commits before a ref update names them): staged as a pack and recorded in one
 * transaction. Nothing moves; maintenance prunes them after its grace period if no ref
 * ever comes to name them. Throws when they refer to an object that is not stored.
 */
export async function storeObjects(
  ctx: RefTransactionContext,
  objects: NewObject[],
): Promise<{ kind: "stored" } | { kind: "quota"; message: string }> {
  const fresh = objects.filter((o) => !ctx.store.has(hashObject(o.type, o.data)));
  if (!fresh.length) return { kind: "stored" };
  let pack: StagedPack;
  try {
    pack = await stageObjects(ctx, fresh);
  } catch (e) {
    if (isFsError(e, "ENOSPC")) return { kind: "quota", message: QUOTA_MESSAGE };
    throw e;
  }
  const inPack = new Set(pack.indexed.objects.map((o) => o.oid));
  const missing = [...pack.indexed.referenced].find((oid) => !inPack.has(oid) && !ctx.store.has(oid));
  if (missing) {
    dropTemp(ctx.fs, pack);
    throw new Error(`new objects refer to ${missing}, which is not stored`);
  }
  try {
    ctx.fs.transaction(() => {
      ctx.store.commitPack(pack.tempPath, pack.indexed, writeIdxV2(pack.indexed.objects, pack.indexed.packChecksum));
    });
  } catch (e) {
    dropTemp(ctx.fs, pack);
    if (isFsError(e, "ENOSPC")) return { kind: "quota", message: QUOTA_MESSAGE };
    throw e;
  }
  return { kind: "stored" };
}

/**
 * New objects and the ref updates that name them, as one step: stage, then apply. The
 * objects must be whole (no deltas) and every object they refer to must be among them or
 * already stored.
 */
export async function commitObjects(
  ctx: RefTransactionContext,
  objects: NewObject[],
  tx: Omit<RefTransaction, "pack">,
): Promise<RefTransactionOutcome> {
  let pack: StagedPack | null = null;
  if (objects.length) {
    try {
      pack = await stageObjects(ctx, objects);
    } catch (e) {
      if (isFsError(e, "ENOSPC")) return { kind: "quota", message: QUOTA_MESSAGE };
      throw e;
    }
    const inPack = new Set(pack.indexed.objects.map((o) => o.oid));
    for (const oid of pack.indexed.referenced) {
      if (!inPack.has(oid) && !ctx.store.has(oid)) {
        dropTemp(ctx.fs, pack);
        throw new Error(`new objects refer to ${oid}, which is not stored`);
      }
    }
  }
  return applyRefTransaction(ctx, { ...tx, pack });
}
