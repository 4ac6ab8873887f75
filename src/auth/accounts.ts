// User accounts in D1.
import { RESERVED_OWNERS } from "../util/names";
import { hashPassword } from "./password";

export interface User {
  id: number;
  username: string;
  email: string;
  isAdmin: boolean;
}

type UserRow = { id: number; username: string; email: string; is_admin: number };

export function toUser(r: UserRow): User {
  return { id: r.id, username: r.username, email: r.email, isAdmin: r.is_admin === 1 };
}

const USERNAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$/;

/** GitHub's rules: letters, digits and single inner hyphens, at most 39 characters. */
export function usernameProblem(name: string): string | null {
  if (!USERNAME.test(name) || name.includes("--"))
    return "Username may contain only letters, digits and single hyphens, and cannot start or end with a hyphen (at most 39 characters).";
  if (RESERVED_OWNERS.has(name.toLowerCase())) return "That username is reserved.";
  return null;
}

export function emailProblem(email: string): string | null {
  return /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]+$/.test(email) && email.length <= 254 ? null : "Enter a valid email address.";
}

export class UsernameTaken extends Error {}

export async function userCount(db: D1Database): Promise<number> {
  return (await db.prepare("SELECT count(*) AS n FROM users").first<{ n: number }>())?.n ?? 0;
}

/** Creates an account; the first account on a site becomes its admin. */
export async function createUser(db: D1Database, username: string, email: string, password: string): Promise<User> {
  const hash = await hashPassword(password);
  try {
    const row = await db
      .prepare(
        `INSERT INTO users (username, email, password_hash, is_admin, created_at)
         VALUES (?1, ?2, ?3, (SELECT count(*) = 0 FROM users), ?4)
         RETURNING id, username, email, is_admin`,
      )
      .bind(username, email, hash, Date.now())
      .first<UserRow>();
    return toUser(row!);
  } catch (e) {
    if (String(e).includes("UNIQUE")) throw new UsernameTaken("That username or email is already taken.");
    throw e;
  }
}

export async function findUserByName(db: D1Database, username: string): Promise<User | null> {
  const row = await db.prepare("SELECT id, username, email, is_admin FROM users WHERE username = ?").bind(username).first<UserRow>();
  return row ? toUser(row) : null;
}

/** The user and their password hash, for logging in by username or email. */
export async function findLogin(db: D1Database, login: string): Promise<{ user: User; passwordHash: string } | null> {
  const row = await db
    .prepare("SELECT id, username, email, is_admin, password_hash FROM users WHERE username = ?1 OR email = ?1")
    .bind(login)
    .first<UserRow & { password_hash: string }>();
  return row ? { user: toUser(row), passwordHash: row.password_hash } : null;
}

/** Which of `names` are accounts, in lower case (for linking `@user` mentions). */
export async function existingLogins(db: D1Database, names: string[]): Promise<Set<string>> {
  if (!names.length) return new Set();
  const { results } = await db
    .prepare("SELECT username FROM users WHERE username IN (SELECT value FROM json_each(?))")
    .bind(JSON.stringify(names))
    .all<{ username: string }>();
  return new Set(results.map((r) => r.username.toLowerCase()));
}
