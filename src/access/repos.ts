// Repository metadata in D1: owner, name, visibility, description, the Durable Object
// that holds the data, collaborators, and the old names that redirect after a rename.
import { isValidName, repoKey } from "../util/names";
import type { CollaboratorRole } from "./roles";

export interface RepoRecord {
  id: number;
  ownerId: number;
  owner: string;
  name: string;
  description: string;
  isPrivate: boolean;
  doName: string;
  createdAt: number;
  pushedAt: number | null;
  /**
   * Created in D1 but not yet known to exist in its Durable Object (see
   * migrations/0002_pending_repos.sql): the access check treats it as missing until the
   * object holds a repository.
   */
  pending: boolean;
  /** For a fork: the repository it was forked from, while that exists ("owner/name"). */
  parent: { id: number; fullName: string; isPrivate: boolean } | null;
  /**
   * A fork whose private parent was deleted while the fork's owner could not read it:
   * hidden as it was, from everyone but site admins, instead of standing alone.
   */
  orphaned?: boolean;
  /** For a fork: the root of its fork network (the parent when that is the root). */
  source: { id: number; fullName: string } | null;
  /** How many forks of this repository exist. */
  forksCount: number;
}

type RepoRow = {
  id: number;
  owner_id: number;
  owner: string;
  name: string;
  description: string;
  is_private: number;
  do_name: string;
  created_at: number;
  pushed_at: number | null;
  pending: number;
  parent_id?: number | null;
  parent_name?: string | null;
  parent_private?: number | null;
  source_id?: number | null;
  source_name?: string | null;
  forks_count?: number | null;
};

function toRecord(r: RepoRow): RepoRecord {
  return {
    id: r.id,
    ownerId: r.owner_id,
    owner: r.owner,
    name: r.name,
    description: r.description,
    isPrivate: r.is_private === 1,
    doName: r.do_name,
    createdAt: r.created_at,
    pushedAt: r.pushed_at,
    pending: r.pending === 1,
    parent: r.parent_id && r.parent_name ? { id: r.parent_id, fullName: r.parent_name, isPrivate: r.parent_private === 1 } : null,
    // Null only when the parent row is gone (a RETURNING without the column leaves it undefined).
    orphaned: !!r.parent_id && r.parent_name === null,
    source:
      r.source_id && r.source_name
        ? { id: r.source_id, fullName: r.source_name }
        : r.parent_id && r.parent_name
          ? { id: r.parent_id, fullName: r.parent_name }
          : null,
    forksCount: r.forks_count ?? 0,
  };
}

/** The fork columns: parent and source by name, and the number of forks. */
const FORK_COLUMNS = `r.parent_id, r.source_id,
  (SELECT pu.username || '/' || p.name FROM repos p JOIN users pu ON pu.id = p.owner_id WHERE p.id = r.parent_id) AS parent_name,
  (SELECT p.is_private FROM repos p WHERE p.id = r.parent_id) AS parent_private,
  (SELECT su.username || '/' || s.name FROM repos s JOIN users su ON su.id = s.owner_id WHERE s.id = r.source_id) AS source_name,
  (SELECT count(*) FROM repos f WHERE f.parent_id = r.id AND f.pending = 0) AS forks_count`;

const COLUMNS = `r.id, r.owner_id, u.username AS owner, r.name, r.description, r.is_private, r.do_name, r.created_at, r.pushed_at, r.pending, ${FORK_COLUMNS}`;

export function repoNameProblem(name: string): string | null {
  return isValidName(name) ? null : "Repository names may contain letters, digits, '.', '-' and '_' (at most 100), and cannot end in .git.";
}

export class RepoExists extends Error {
  constructor() {
    super("A repository with that name already exists.");
  }
}

export interface Lookup {
  repo: RepoRecord;
  /** Collaborators' roles by user id. */
  collaborators: Map<number, CollaboratorRole>;
  /** True when the name asked for is an old name of this repository. */
  redirected: boolean;
}

/**
 * The repository at owner/name, or the one that was renamed away from it. It does not
 * depend on who asks (every collaborator comes back), so it can run while the caller is
 * still being identified: one D1 round trip per request instead of two in a row.
 */
export async function lookupRepo(db: D1Database, owner: string, name: string): Promise<Lookup | null> {
  const collab = "(SELECT json_group_object(c.user_id, c.role) FROM collaborators c WHERE c.repo_id = r.id) AS collaborators";
  type Row = RepoRow & { collaborators: string | null };
  const found = (row: Row, redirected: boolean): Lookup => {
    const roles = new Map<number, CollaboratorRole>();
    for (const [id, role] of Object.entries(JSON.parse(row.collaborators ?? "{}") as Record<string, CollaboratorRole>))
      roles.set(Number(id), role);
    return { repo: toRecord(row), collaborators: roles, redirected };
  };
  const direct = await db
    .prepare(`SELECT ${COLUMNS}, ${collab} FROM repos r JOIN users u ON u.id = r.owner_id WHERE u.username = ?1 AND r.name = ?2`)
    .bind(owner, name)
    .first<Row>();
  if (direct) return found(direct, false);
  const moved = await db
    .prepare(
      `SELECT ${COLUMNS}, ${collab} FROM repo_redirects d JOIN users o ON o.id = d.owner_id
       JOIN repos r ON r.id = d.repo_id JOIN users u ON u.id = r.owner_id WHERE o.username = ?1 AND d.name = ?2`,
    )
    .bind(owner, name)
    .first<Row>();
  return moved ? found(moved, true) : null;
}

/**
 * Records a new repository, pending until `markCreated`. The Durable Object is named
 * owner/name as the design says, unless a renamed repository still holds that name, in
 * which case a suffix keeps the two apart.
 */
export async function insertRepo(
  db: D1Database,
  ownerId: number,
  owner: string,
  name: string,
  description: string,
  isPrivate: boolean,
  fork?: { parentId: number; sourceId: number | null },
): Promise<RepoRecord> {
  const base = repoKey(owner, name);
  const taken = await db.prepare("SELECT 1 FROM repos WHERE do_name = ?").bind(base).first();
  const doName = taken ? `${base}~${crypto.randomUUID().slice(0, 8)}` : base;
  try {
    const now = Date.now();
    const [, row] = await db.batch<RepoRow>([
      // A new repository takes its name back from any redirect, as on GitHub.
      db.prepare("DELETE FROM repo_redirects WHERE owner_id = ? AND name = ?").bind(ownerId, name),
      db
        .prepare(
          `INSERT INTO repos (owner_id, name, description, is_private, do_name, created_at, pending, parent_id, source_id) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)
           RETURNING id, owner_id, ? AS owner, name, description, is_private, do_name, created_at, pushed_at, pending, parent_id, source_id`,
        )
        .bind(ownerId, name, description, isPrivate ? 1 : 0, doName, now, fork?.parentId ?? null, fork?.sourceId ?? null, owner),
    ]);
    return toRecord(row.results[0]);
  } catch (e) {
    if (String(e).includes("UNIQUE")) throw new RepoExists();
    throw e;
  }
}

export async function updateRepo(db: D1Database, id: number, fields: { description?: string; isPrivate?: boolean }): Promise<void> {
  if (fields.description !== undefined)
    await db.prepare("UPDATE repos SET description = ? WHERE id = ?").bind(fields.description, id).run();
  if (fields.isPrivate !== undefined)
    await db
      .prepare("UPDATE repos SET is_private = ? WHERE id = ?")
      .bind(fields.isPrivate ? 1 : 0, id)
      .run();
}

/** Renames, leaving the old name as a redirect. */
export async function renameRepo(db: D1Database, repo: RepoRecord, newName: string): Promise<void> {
  try {
    await db.batch([
      db.prepare("DELETE FROM repo_redirects WHERE owner_id = ? AND name = ?").bind(repo.ownerId, newName),
      db.prepare("UPDATE repos SET name = ? WHERE id = ?").bind(newName, repo.id),
      db.prepare("INSERT OR REPLACE INTO repo_redirects (owner_id, name, repo_id) VALUES (?, ?, ?)").bind(repo.ownerId, repo.name, repo.id),
    ]);
  } catch (e) {
    if (String(e).includes("UNIQUE")) throw new RepoExists();
    throw e;
  }
}

export async function deleteRepoRecord(db: D1Database, id: number): Promise<void> {
  await db.batch([
    // Its forks stand alone from now on, as on GitHub; forks of those keep their parent.
    // Not a private repository's forks whose owners had lost access to it: those keep
    // naming it, and stay hidden (see RepoRecord.orphaned).
    db
      .prepare(
        `UPDATE repos SET parent_id = NULL WHERE parent_id = ?1 AND (
           (SELECT is_private FROM repos WHERE id = ?1) = 0
           OR owner_id = (SELECT owner_id FROM repos WHERE id = ?1)
           OR owner_id IN (SELECT user_id FROM collaborators WHERE repo_id = ?1)
           OR owner_id IN (SELECT id FROM users WHERE is_admin = 1))`,
      )
      .bind(id),
    db.prepare("DELETE FROM repo_redirects WHERE repo_id = ?").bind(id),
    db.prepare("DELETE FROM collaborators WHERE repo_id = ?").bind(id),
    db.prepare("UPDATE repos SET source_id = NULL WHERE source_id = ?").bind(id),
    db.prepare("DELETE FROM repos WHERE id = ?").bind(id),
  ]);
}

export async function touchPushed(db: D1Database, id: number): Promise<void> {
  await db.prepare("UPDATE repos SET pushed_at = ? WHERE id = ?").bind(Date.now(), id).run();
}

/** Ends a record's pending state: its Durable Object holds the repository now. */
export async function markCreated(db: D1Database, id: number, pushed = false): Promise<void> {
  await db
    .prepare("UPDATE repos SET pending = 0, pushed_at = CASE WHEN ?2 THEN ?3 ELSE pushed_at END WHERE id = ?1")
    .bind(id, pushed ? 1 : 0, Date.now())
    .run();
}

/**
 * Drops a record whose creation never completed. Only a pending record goes: a
 * repository that exists by now is kept whoever else settled it.
 */
export async function dropPending(db: D1Database, id: number): Promise<boolean> {
  const r = await db.prepare("DELETE FROM repos WHERE id = ? AND pending = 1").bind(id).run();
  return r.meta.changes > 0;
}

/** Whether user ?1 may see repository r (not for site admins, who see all). */
const VISIBLE = "r.is_private = 0 OR r.owner_id = ?1 OR EXISTS (SELECT 1 FROM collaborators c WHERE c.repo_id = r.id AND c.user_id = ?1)";

/** Repositories the user (or an anonymous visitor, for null) may see, newest first. */
export async function visibleRepos(
  db: D1Database,
  viewer: { id: number; isAdmin: boolean } | null,
  opts: { ownerId?: number; limit?: number } = {},
): Promise<RepoRecord[]> {
  const vis = viewer?.isAdmin ? "1" : `(${VISIBLE})`;
  const { results } = await db
    .prepare(
      `SELECT ${COLUMNS} FROM repos r JOIN users u ON u.id = r.owner_id
       WHERE ${vis} AND r.pending = 0 AND (?2 IS NULL OR r.owner_id = ?2) ORDER BY coalesce(r.pushed_at, r.created_at) DESC LIMIT ?3`,
    )
    .bind(viewer?.id ?? -1, opts.ownerId ?? null, opts.limit ?? 100)
    .all<RepoRow>();
  return results.map(toRecord);
}

export interface Collaborator {
  userId: number;
  username: string;
  role: CollaboratorRole;
}

export async function listCollaborators(db: D1Database, repoId: number): Promise<Collaborator[]> {
  const { results } = await db
    .prepare(
      "SELECT c.user_id, u.username, c.role FROM collaborators c JOIN users u ON u.id = c.user_id WHERE c.repo_id = ? ORDER BY u.username",
    )
    .bind(repoId)
    .all<{ user_id: number; username: string; role: CollaboratorRole }>();
  return results.map((r) => ({ userId: r.user_id, username: r.username, role: r.role }));
}

export async function setCollaborator(db: D1Database, repoId: number, userId: number, role: CollaboratorRole): Promise<void> {
  await db
    .prepare(
      "INSERT INTO collaborators (repo_id, user_id, role) VALUES (?, ?, ?) ON CONFLICT(repo_id, user_id) DO UPDATE SET role = excluded.role",
    )
    .bind(repoId, userId, role)
    .run();
}

export async function removeCollaborator(db: D1Database, repoId: number, userId: number): Promise<boolean> {
  const r = await db.prepare("DELETE FROM collaborators WHERE repo_id = ? AND user_id = ?").bind(repoId, userId).run();
  return r.meta.changes > 0;
}

/**
 * Repositories the user owns or collaborates on, with the user's role in each (GitHub's
 * `GET /user/repos`), newest first, a page at a time; and how many there are.
 */
export async function memberRepos(
  db: D1Database,
  userId: number,
  page: { offset: number; limit: number },
): Promise<{ items: (RepoRecord & { collaborator: CollaboratorRole | null })[]; total: number }> {
  const where = "r.pending = 0 AND (r.owner_id = ?1 OR c.user_id IS NOT NULL)";
  const from = "FROM repos r JOIN users u ON u.id = r.owner_id LEFT JOIN collaborators c ON c.repo_id = r.id AND c.user_id = ?1";
  const [rows, count] = await db.batch([
    db
      .prepare(
        `SELECT ${COLUMNS}, c.role AS member_role ${from} WHERE ${where} ORDER BY coalesce(r.pushed_at, r.created_at) DESC, r.id DESC LIMIT ?2 OFFSET ?3`,
      )
      .bind(userId, page.limit, page.offset),
    db.prepare(`SELECT count(*) AS n ${from} WHERE ${where}`).bind(userId),
  ]);
  const items = (rows.results as (RepoRow & { member_role: CollaboratorRole | null })[]).map((r) => ({
    ...toRecord(r),
    collaborator: r.member_role,
  }));
  return { items, total: (count.results[0] as { n: number }).n };
}

/**
 * The forks of a repository that the viewer may see, oldest first (GitHub's
 * `GET /repos/{o}/{r}/forks?sort=oldest`).
 */
export async function listForks(
  db: D1Database,
  parentId: number,
  viewer: { id: number; isAdmin: boolean } | null,
  page: { offset: number; limit: number },
): Promise<RepoRecord[]> {
  const vis = viewer?.isAdmin ? "1" : `(${VISIBLE})`;
  const { results } = await db
    .prepare(
      `SELECT ${COLUMNS} FROM repos r JOIN users u ON u.id = r.owner_id WHERE r.parent_id = ?2 AND r.pending = 0 AND ${vis}
       ORDER BY r.created_at, r.id LIMIT ?3 OFFSET ?4`,
    )
    .bind(viewer?.id ?? -1, parentId, page.limit, page.offset)
    .all<RepoRow>();
  return results.map(toRecord);
}

/** The caller's fork of a repository, if they have one (GitHub answers it again for a second fork). */
export async function forkOf(db: D1Database, parentId: number, ownerId: number): Promise<RepoRecord | null> {
  const row = await db
    .prepare(
      `SELECT ${COLUMNS} FROM repos r JOIN users u ON u.id = r.owner_id WHERE r.parent_id = ? AND r.owner_id = ? AND r.pending = 0 LIMIT 1`,
    )
    .bind(parentId, ownerId)
    .first<RepoRow>();
  return row ? toRecord(row) : null;
}
