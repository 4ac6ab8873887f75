// File locking (git-lfs docs/api/locking.md). Reading the locks needs read access;
// locking, unlocking and the push-time verify need write; unlocking another person's
// lock (force) needs admin. The locks live in the repository's Durable Object.
import { allows } from "../../access/roles";
import { userOf } from "../../auth/caller";
import type { LfsLock } from "../../repo/lfs/store";
import { type C, jsonBody, lfsAccess, lfsError, lfsJson } from "./responses";

const MAX_PATH = 4096;

function limitOf(v: unknown): number {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 100) : 100;
}

/** A lock as the spec shows it (without the owner's id). */
function shown(l: LfsLock) {
  return { id: l.id, path: l.path, locked_at: l.locked_at, owner: l.owner };
}

function refName(body: Record<string, unknown> | null): string | null {
  const ref = body?.ref as { name?: unknown } | undefined;
  return typeof ref?.name === "string" ? ref.name : null;
}

export async function createLock(c: C): Promise<Response> {
  const g = await lfsAccess(c, "write");
  if (g instanceof Response) return g;
  const user = userOf(g.caller);
  const body = await jsonBody(c);
  const path = body?.path;
  if (!user) return lfsError(403, "Locks belong to an account: sign in or use a token.");
  if (typeof path !== "string" || !path || path.length > MAX_PATH) return lfsError(422, "Expected {path} naming a file.");
  const r = await g.stub.lfsLock(path, refName(body), { id: user.id, login: user.username });
  if (!r) return lfsError(404, "Repository not found.");
  if (!r.ok) return lfsJson(409, { lock: shown(r.lock), message: `${path} is already locked by ${r.lock.owner.name}.` });
  return lfsJson(201, { lock: shown(r.lock) });
}

export async function listLocks(c: C): Promise<Response> {
  const g = await lfsAccess(c, "read");
  if (g instanceof Response) return g;
  const r = await g.stub.lfsLocks({
    path: c.req.query("path") || undefined,
    id: c.req.query("id") || undefined,
    cursor: c.req.query("cursor") || undefined,
    limit: limitOf(c.req.query("limit")),
  });
  if (!r) return lfsError(404, "Repository not found.");
  return lfsJson(200, { locks: r.locks.map(shown), ...(r.next_cursor ? { next_cursor: r.next_cursor } : {}) });
}

export async function verifyLocks(c: C): Promise<Response> {
  const g = await lfsAccess(c, "write");
  if (g instanceof Response) return g;
  const body = await jsonBody(c);
  const r = await g.stub.lfsLocks({ cursor: typeof body?.cursor === "string" ? body.cursor : undefined, limit: limitOf(body?.limit) });
  if (!r) return lfsError(404, "Repository not found.");
  const me = userOf(g.caller)?.id;
  return lfsJson(200, {
    ours: r.locks.filter((l) => l.ownerId === me).map(shown),
    theirs: r.locks.filter((l) => l.ownerId !== me).map(shown),
    ...(r.next_cursor ? { next_cursor: r.next_cursor } : {}),
  });
}

export async function unlock(c: C): Promise<Response> {
  const g = await lfsAccess(c, "write");
  if (g instanceof Response) return g;
  const user = userOf(g.caller);
  if (!user) return lfsError(403, "Locks belong to an account: sign in or use a token.");
  const body = await jsonBody(c);
  const force = body?.force === true;
  if (force && !allows(g.role, "admin")) return lfsError(403, "Only a repository admin may force-unlock another person's lock.");
  const r = await g.stub.lfsUnlock(c.req.param("id") ?? "", user.id, force);
  if (!r) return lfsError(404, "Repository not found.");
  if (!r.ok) return lfsError(r.status, r.message);
  return lfsJson(200, { lock: shown(r.lock) });
}
