// Personal access tokens. The secret is shown once; D1 keeps its SHA-256, a scope that
// caps what the token may do (read < write < admin), an optional expiry and when it was
// last used.
import { type User, toUser } from "./accounts";
import { randomToken, sha256Hex } from "./crypto";

export const SCOPES = ["read", "write", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export const TOKEN_PREFIX = "gfp_";
/** last_used_at is written at most this often, so busy tokens do not write on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface TokenInfo {
  id: number;
  name: string;
  scope: Scope;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}

export function tokenNameProblem(name: string): string | null {
  return name.trim().length >= 1 && name.length <= 100 ? null : "Give the token a name (at most 100 characters).";
}

export async function createToken(
  db: D1Database,
  userId: number,
  name: string,
  scope: Scope,
  expiresAt: number | null,
): Promise<{ token: string; id: number }> {
  const token = TOKEN_PREFIX + randomToken(30);
  const row = await db
    .prepare("INSERT INTO tokens (user_id, name, token_hash, scopes, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id")
    .bind(userId, name.trim(), await sha256Hex(token), scope, expiresAt, Date.now())
    .first<{ id: number }>();
  return { token, id: row!.id };
}

export async function listTokens(db: D1Database, userId: number): Promise<TokenInfo[]> {
  const { results } = await db
    .prepare("SELECT id, name, scopes, created_at, expires_at, last_used_at, revoked_at FROM tokens WHERE user_id = ? ORDER BY id DESC")
    .bind(userId)
    .all<{
      id: number;
      name: string;
      scopes: string;
      created_at: number;
      expires_at: number | null;
      last_used_at: number | null;
      revoked_at: number | null;
    }>();
  return results.map((r) => ({
    id: r.id,
    name: r.name,
    scope: isScope(r.scopes) ? r.scopes : "read",
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  }));
}

export async function revokeToken(db: D1Database, userId: number, id: number): Promise<boolean> {
  const r = await db
    .prepare("UPDATE tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL")
    .bind(Date.now(), id, userId)
    .run();
  return r.meta.changes > 0;
}

/** The token's user and scope if it is live (known, not revoked, not expired). */
export async function verifyToken(
  db: D1Database,
  token: string,
  now = Date.now(),
): Promise<{ user: User; scope: Scope; tokenId: number } | null> {
  if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return null;
  const row = await db
    .prepare(
      `SELECT t.id AS token_id, t.scopes, t.expires_at, t.revoked_at, t.last_used_at, u.id, u.username, u.email, u.is_admin
       FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`,
    )
    .bind(await sha256Hex(token))
    .first<{
      token_id: number;
      scopes: string;
      expires_at: number | null;
      revoked_at: number | null;
      last_used_at: number | null;
      id: number;
      username: string;
      email: string;
      is_admin: number;
    }>();
  if (!row || row.revoked_at !== null || (row.expires_at !== null && row.expires_at <= now) || !isScope(row.scopes)) return null;
  if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_RESOLUTION_MS) {
    await db.prepare("UPDATE tokens SET last_used_at = ? WHERE id = ?").bind(now, row.token_id).run();
  }
  return { user: toUser(row), scope: row.scopes, tokenId: row.token_id };
}
