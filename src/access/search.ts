// Site-wide search over D1: repositories by name and description, issues and pull
// requests by title and body (the copy in issue_search, see migrations/0003_search.sql).
// Both filter by what the caller may read inside the query, before its LIMIT, by the
// same rule as the access check (./roles.ts): public, or the caller owns it, is a site
// admin, or collaborates on it. Pending repositories are no repositories yet.
import type { Caller } from "../auth/caller";

export interface RepoHit {
  id: number;
  ownerId: number;
  owner: string;
  name: string;
  description: string;
  isPrivate: boolean;
  createdAt: number;
  pushedAt: number | null;
}

export interface IssueHit {
  repoId: number;
  owner: string;
  name: string;
  number: number;
  isPull: boolean;
  state: "open" | "closed";
  title: string;
  body: string;
  authorId: number;
  authorLogin: string;
  createdAt: number;
  updatedAt: number;
}

/**
 * SQL true when the caller may read repository `r` (binds: is admin, user id). As in the
 * access check (./check.ts), a fork of a private repository also needs each private
 * repository up its chain of private parents to be readable, and one whose parent is gone
 * is hidden (RepoRecord.orphaned).
 */
const READABLE = `r.pending = 0 AND (r.is_private = 0 OR ?1 = 1 OR r.owner_id = ?2
  OR EXISTS (SELECT 1 FROM collaborators c WHERE c.repo_id = r.id AND c.user_id = ?2))
  AND (?1 = 1 OR r.parent_id IS NULL OR NOT EXISTS (
    WITH RECURSIVE up(id) AS (
      SELECT r.parent_id
      UNION SELECT p.parent_id FROM repos p JOIN up ON p.id = up.id WHERE p.is_private = 1 AND p.parent_id IS NOT NULL
    )
    SELECT 1 FROM up LEFT JOIN repos a ON a.id = up.id WHERE a.id IS NULL OR (a.is_private = 1 AND a.owner_id != ?2
      AND NOT EXISTS (SELECT 1 FROM collaborators c WHERE c.repo_id = a.id AND c.user_id = ?2))))`;

function who(caller: Caller): [number, number] {
  return caller.kind === "anonymous" ? [0, -1] : [caller.user.isAdmin ? 1 : 0, caller.user.id];
}

const like = (s: string) => `%${s.replace(/[\\%_]/g, "\\$&")}%`;

/**
 * GitHub's bounds on a query. Each word and qualifier binds a parameter, and D1 takes at
 * most 100 in a statement; a longer query is refused rather than failing there.
 */
export const MAX_QUERY_CHARS = 256;
export const MAX_QUERY_PARTS = 12;

/** Why `q` is too long to search for, or null. */
export function queryTooLong(parts: number, q: string): string | null {
  if (q.length > MAX_QUERY_CHARS) return `The search is longer than ${MAX_QUERY_CHARS} characters.`;
  if (parts > MAX_QUERY_PARTS) return `The search has more than ${MAX_QUERY_PARTS} terms and qualifiers.`;
  return null;
}

type Refused = { ok: false; message: string };

/** Words and "quoted phrases", and qualifier:value pairs. */
function tokens(q: string): { words: string[]; qualifiers: [string, string][] } {
  const words: string[] = [];
  const qualifiers: [string, string][] = [];
  // D1 refuses a NUL inside a bound string; nobody searches for one.
  for (const m of q.replaceAll("\u0000", "").matchAll(/([a-z]+):("[^"]*"|\S+)|"([^"]*)"|(\S+)/gi)) {
    if (m[1]) qualifiers.push([m[1].toLowerCase(), m[2].replace(/^"|"$/g, "")]);
    else if (m[3] !== undefined ? m[3] : m[4]) words.push(m[3] ?? m[4]);
  }
  return { words, qualifiers };
}

export async function searchRepos(
  db: D1Database,
  caller: Caller,
  q: string,
  offset: number,
  limit: number,
): Promise<{ ok: true; total: number; items: RepoHit[] } | Refused> {
  const { words, qualifiers } = tokens(q);
  const tooLong = queryTooLong(words.length + qualifiers.length, q);
  if (tooLong) return { ok: false, message: tooLong };
  const where = [READABLE];
  const args: (string | number)[] = [...who(caller)];
  const bind = (v: string | number) => {
    args.push(v);
    return `?${args.length}`;
  };
  for (const w of words) {
    const p = bind(like(w));
    where.push(
      `(r.name LIKE ${p} ESCAPE '\\' OR r.description LIKE ${p} ESCAPE '\\' OR (u.username || '/' || r.name) LIKE ${p} ESCAPE '\\')`,
    );
  }
  for (const [k, v] of qualifiers) {
    if (k === "user" || k === "org") where.push(`u.username = ${bind(v)} COLLATE NOCASE`);
    else if (k === "is" && (v === "public" || v === "private")) where.push(`r.is_private = ${v === "private" ? 1 : 0}`);
    else if (k === "repo") where.push(`(u.username || '/' || r.name) = ${bind(v)} COLLATE NOCASE`);
  }
  const from = `FROM repos r JOIN users u ON u.id = r.owner_id WHERE ${where.join(" AND ")}`;
  const [count, rows] = await db.batch([
    db.prepare(`SELECT count(*) AS n ${from}`).bind(...args),
    db
      .prepare(
        `SELECT r.id, r.owner_id, u.username AS owner, r.name, r.description, r.is_private, r.created_at, r.pushed_at ${from}
         ORDER BY coalesce(r.pushed_at, r.created_at) DESC, r.id DESC LIMIT ${bind(limit)} OFFSET ${bind(offset)}`,
      )
      .bind(...args),
  ]);
  type Row = {
    id: number;
    owner_id: number;
    owner: string;
    name: string;
    description: string;
    is_private: number;
    created_at: number;
    pushed_at: number | null;
  };
  return {
    ok: true,
    total: (count.results[0] as { n: number }).n,
    items: (rows.results as Row[]).map(
      (r): RepoHit => ({
        id: r.id,
        ownerId: r.owner_id,
        owner: r.owner,
        name: r.name,
        description: r.description,
        isPrivate: r.is_private === 1,
        createdAt: r.created_at,
        pushedAt: r.pushed_at,
      }),
    ),
  };
}

export async function searchIssues(
  db: D1Database,
  caller: Caller,
  q: string,
  offset: number,
  limit: number,
): Promise<{ ok: true; total: number; items: IssueHit[] } | Refused> {
  const { words, qualifiers } = tokens(q);
  const tooLong = queryTooLong(words.length + qualifiers.length, q);
  if (tooLong) return { ok: false, message: tooLong };
  const where = [READABLE];
  const args: (string | number)[] = [...who(caller)];
  const bind = (v: string | number) => {
    args.push(v);
    return `?${args.length}`;
  };
  // The trigram index finds terms of 3 or more characters; shorter ones are compared as they are.
  const long = words.filter((w) => [...w].length >= 3);
  if (long.length)
    where.push(
      `i.id IN (SELECT rowid FROM issue_search_text WHERE issue_search_text MATCH ${bind(long.map((w) => `"${w.replaceAll('"', '""')}"`).join(" AND "))})`,
    );
  for (const w of words.filter((w) => [...w].length < 3)) {
    const p = bind(like(w));
    where.push(`(i.title LIKE ${p} ESCAPE '\\' OR i.body LIKE ${p} ESCAPE '\\')`);
  }
  for (const [k, v] of qualifiers) {
    const value = v.toLowerCase();
    if ((k === "is" || k === "type") && (value === "issue" || value === "pr" || value === "pull-request"))
      where.push(`i.is_pull = ${value === "issue" ? 0 : 1}`);
    else if ((k === "is" || k === "state") && (value === "open" || value === "closed")) where.push(`i.state = ${bind(value)}`);
    else if (k === "repo") {
      const [owner, name] = v.split("/");
      where.push(`u.username = ${bind(owner ?? "")} COLLATE NOCASE AND r.name = ${bind(name ?? "")}`);
    } else if (k === "author") where.push(`i.author_login = ${bind(v)} COLLATE NOCASE`);
    else if (k === "user" || k === "org") where.push(`u.username = ${bind(v)} COLLATE NOCASE`);
    else if (k === "in") continue;
    else
      return {
        ok: false,
        message: `The ${k}:${v} qualifier is not supported. Use is:issue, is:pr, is:open, is:closed, repo:, author: or user:.`,
      };
  }
  const from = `FROM issue_search i JOIN repos r ON r.do_name = i.do_name JOIN users u ON u.id = r.owner_id WHERE ${where.join(" AND ")}`;
  const [count, rows] = await db.batch([
    db.prepare(`SELECT count(*) AS n ${from}`).bind(...args),
    db
      .prepare(
        `SELECT r.id AS repo_id, u.username AS owner, r.name, i.number, i.is_pull, i.state, i.title, i.body, i.author_id, i.author_login,
           i.created_at, i.updated_at ${from} ORDER BY i.updated_at DESC, i.id DESC LIMIT ${bind(limit)} OFFSET ${bind(offset)}`,
      )
      .bind(...args),
  ]);
  type Row = {
    repo_id: number;
    owner: string;
    name: string;
    number: number;
    is_pull: number;
    state: "open" | "closed";
    title: string;
    body: string;
    author_id: number;
    author_login: string;
    created_at: number;
    updated_at: number;
  };
  return {
    ok: true,
    total: (count.results[0] as { n: number }).n,
    items: (rows.results as Row[]).map((r) => ({
      repoId: r.repo_id,
      owner: r.owner,
      name: r.name,
      number: r.number,
      isPull: r.is_pull === 1,
      state: r.state,
      title: r.title,
      body: r.body,
      authorId: r.author_id,
      authorLogin: r.author_login,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    })),
  };
}
