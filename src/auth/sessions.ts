// Browser sessions: a random id in an HttpOnly, SameSite=Lax cookie; D1 keeps only its
// SHA-256, the user and the session's CSRF token. Sessions last 30 days and are renewed
// when half of that has passed, the scheme Lucia's guide describes.
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { type User, toUser } from "./accounts";
import { randomToken, sha256Hex } from "./crypto";

export const SESSION_COOKIE = "gf_session";
const LIFETIME_MS = 30 * 86_400_000;

export interface Session {
  user: User;
  csrf: string;
}

function secure(c: Context): boolean {
  return new URL(c.req.url).protocol === "https:";
}

export async function startSession(c: Context, db: D1Database, userId: number): Promise<void> {
  const id = randomToken();
  const expires = Date.now() + LIFETIME_MS;
  await db
    .prepare("INSERT INTO sessions (id_hash, user_id, csrf, expires_at, created_at) VALUES (?, ?, ?, ?, ?)")
    .bind(await sha256Hex(id), userId, randomToken(), expires, Date.now())
    .run();
  setCookie(c, SESSION_COOKIE, id, { path: "/", httpOnly: true, sameSite: "Lax", secure: secure(c), expires: new Date(expires) });
}

export async function readSession(c: Context, db: D1Database): Promise<Session | null> {
  const id = getCookie(c, SESSION_COOKIE);
  if (!id || id.length > 100) return null;
  const hash = await sha256Hex(id);
  const row = await db
    .prepare(
      `SELECT s.csrf, s.expires_at, u.id, u.username, u.email, u.is_admin
       FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?`,
    )
    .bind(hash)
    .first<{ csrf: string; expires_at: number; id: number; username: string; email: string; is_admin: number }>();
  if (!row) return null;
  const now = Date.now();
  if (row.expires_at <= now) {
    await db.prepare("DELETE FROM sessions WHERE id_hash = ?").bind(hash).run();
    return null;
  }
  if (row.expires_at - now < LIFETIME_MS / 2) {
    const expires = now + LIFETIME_MS;
    await db.prepare("UPDATE sessions SET expires_at = ? WHERE id_hash = ?").bind(expires, hash).run();
    setCookie(c, SESSION_COOKIE, id, { path: "/", httpOnly: true, sameSite: "Lax", secure: secure(c), expires: new Date(expires) });
  }
  return { user: toUser(row), csrf: row.csrf };
}

export async function endSession(c: Context, db: D1Database): Promise<void> {
  const id = getCookie(c, SESSION_COOKIE);
  if (id)
    await db
      .prepare("DELETE FROM sessions WHERE id_hash = ?")
      .bind(await sha256Hex(id))
      .run();
  deleteCookie(c, SESSION_COOKIE, { path: "/", secure: secure(c) });
}
