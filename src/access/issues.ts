// Who may do what with a repository's issues, on top of the one access check (./check.ts):
// - read issues, comments and labels: read access (anyone on a public repository);
// - open an issue or comment: read access and a signed-in account; a token needs the
//   write scope, as GitHub's tokens need a scope that writes;
// - edit an issue or close/reopen it, edit or delete a comment: its author, or a writer;
// - labels, assignees, and managing the repository's labels: writers.
// Every refusal is the check's own AccessRefused, so each surface answers it as it
// answers any other. Creating issues and comments also spends the account's quota.
import type { Env } from "../util/env";
import type { Actor } from "../repo/collab";
import { RateLimited } from "../auth/caller";
import { CREATE_LIMIT, parseLimit, spend } from "../auth/rate-limit";
import { AccessRefused, type Granted } from "./check";
import { allows } from "./roles";

/** The caller as a participant in a repository's issues. */
export interface Participant extends Actor {
  /** May label, assign, and edit or close what others wrote: write access. */
  triage: boolean;
}

/** The signed-in caller who may open issues and comment here; throws AccessRefused otherwise. */
export function participant(g: Granted): Participant {
  const c = g.caller;
  if (c.kind === "anonymous") throw new AccessRefused({ ok: false, reason: "unauthenticated", caller: c, visible: true });
  if (c.kind === "token" && !allows(c.scope, "write"))
    throw new AccessRefused({ ok: false, reason: "forbidden", caller: c, need: "write", repo: g.repo });
  return { id: c.user.id, login: c.user.username, triage: allows(g.role, "write") };
}

/** The caller as a participant, or null for an anonymous one (who may still read). */
export function viewer(g: Granted): Participant | null {
  if (g.caller.kind === "anonymous") return null;
  const c = g.caller;
  return { id: c.user.id, login: c.user.username, triage: allows(g.role, "write") && (c.kind !== "token" || allows(c.scope, "write")) };
}

export function mayEdit(p: Participant | null, author: Actor): boolean {
  return p !== null && (p.triage || p.id === author.id);
}

/** Throws AccessRefused unless the caller wrote it or may write to the repository. */
export function requireAuthorOrWriter(g: Granted, p: Participant, author: Actor): void {
  if (!mayEdit(p, author)) throw new AccessRefused({ ok: false, reason: "forbidden", caller: g.caller, need: "write", repo: g.repo });
}

export function requireWriter(g: Granted, p: Participant): void {
  if (!p.triage) throw new AccessRefused({ ok: false, reason: "forbidden", caller: g.caller, need: "write", repo: g.repo });
}

/**
 * Spends one creation from the account's quota (issues and comments, across every
 * repository); throws RateLimited when it is used up, so one account cannot flood a
 * repository.
 */
export async function spendCreation(env: Env, p: Participant): Promise<void> {
  const wait = await spend(env.DB, `create:${p.id}`, parseLimit(env.GITFLARE_CREATE_LIMIT, CREATE_LIMIT));
  if (wait > 0) throw new RateLimited(wait, "You are creating issues and comments too quickly");
}

/** People who may be assigned: the owner and the collaborators, by login. */
export async function assignable(env: Env, g: Granted): Promise<Actor[]> {
  const { results } = await env.DB.prepare(
    `SELECT u.id, u.username FROM users u WHERE u.id = ?1
     UNION SELECT u.id, u.username FROM collaborators c JOIN users u ON u.id = c.user_id WHERE c.repo_id = ?2
     ORDER BY 2 COLLATE NOCASE`,
  )
    .bind(g.repo.ownerId, g.repo.id)
    .all<{ id: number; username: string }>();
  return results.map((r) => ({ id: r.id, login: r.username }));
}

/** The people `logins` name, and the logins that name nobody who may be assigned here. */
export async function resolveAssignees(env: Env, g: Granted, logins: string[]): Promise<{ people: Actor[]; invalid: string[] }> {
  if (!logins.length) return { people: [], invalid: [] };
  const can = new Map((await assignable(env, g)).map((a) => [a.login.toLowerCase(), a]));
  const people: Actor[] = [];
  const invalid: string[] = [];
  for (const login of logins) {
    const a = can.get(login.trim().toLowerCase());
    if (a) people.push(a);
    else invalid.push(login);
  }
  return { people, invalid };
}
