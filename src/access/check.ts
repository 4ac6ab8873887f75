// The one access check. Every route that touches a repository (git, web pages, raw,
// archive, export, settings, API) calls `checkAccess`, and it is the only code that
// hands out a repository's Durable Object stub, so a route cannot reach a repository
// without passing it. It answers with a tagged union; `requireAccess` throws the refusal
// instead, as `AccessRefused`. Each surface turns a refusal into its own form in one
// place (git: 401 with WWW-Authenticate, 403, 404; pages; JSON).
import type { Context } from "hono";
import type { Repository } from "../repo/repository";
import type { Env } from "../util/env";
import { type Caller, callerOf, userOf } from "../auth/caller";
import { isValidName, isValidOwner, stripGitSuffix } from "../util/names";
import { type RepoRecord, RepoExists, insertRepo, lookupRepo, markCreated } from "./repos";
import { type Permission, type Role, allows, roleOf } from "./roles";

export interface Granted {
  ok: true;
  repo: RepoRecord;
  role: Role;
  caller: Caller;
  stub: DurableObjectStub<Repository>;
  /** The repository's web path, `/owner/name`. */
  base: string;
}

export type Refusal =
  /** Nothing the caller may see is here: missing, or private and not theirs. */
  | { ok: false; reason: "not-found"; caller: Caller }
  /**
   * Credentials could help: the caller is anonymous. `visible` says whether the
   * repository is public (a page may then offer to sign in rather than show a 404).
   */
  | { ok: false; reason: "unauthenticated"; caller: Caller; visible: boolean }
  /** The caller can see the repository but lacks the permission. */
  | { ok: false; reason: "forbidden"; caller: Caller; need: Permission; repo: RepoRecord }
  /** The repository was renamed; `location` is this request's URL under the new name. */
  | { ok: false; reason: "redirect"; caller: Caller; location: string };

export type Access = Granted | Refusal;

/** A refusal from `requireAccess`, for the surface's one error mapping to answer. */
export class AccessRefused extends Error {
  constructor(readonly refusal: Refusal) {
    super(`access refused: ${refusal.reason}`);
  }
}

type AnyContext = Context<{ Bindings: Env }>;

/** Names a repository outside the route's parameters (code search's `repo:owner/name`). */
export interface RepoName {
  owner: string;
  repo: string;
}

/** The route's owner and repository, from the :owner and :repo parameters (or `named`). */
function names(c: AnyContext, named?: RepoName): { owner: string; name: string; raw: string } | null {
  const owner = named ? named.owner : (c.req.param("owner") ?? "");
  const raw = named ? named.repo : (c.req.param("repo") ?? "");
  const name = stripGitSuffix(raw);
  return isValidOwner(owner) && isValidName(name) ? { owner, name, raw } : null;
}

/** This request's URL with `/owner/raw` replaced by the repository's current path. */
function movedUrl(c: AnyContext, owner: string, raw: string, repo: RepoRecord): string {
  const url = new URL(c.req.url);
  const from = `/${owner}/${raw}`;
  const at = url.pathname.indexOf(from + "/") >= 0 ? url.pathname.indexOf(from + "/") : url.pathname.lastIndexOf(from);
  const to = `/${repo.owner}/${repo.name}${raw.endsWith(".git") ? ".git" : ""}`;
  url.pathname = url.pathname.slice(0, at) + to + url.pathname.slice(at + from.length);
  return url.toString();
}

export function stubFor(env: Env, repo: RepoRecord): DurableObjectStub<Repository> {
  return env.REPO.getByName(repo.doName) as unknown as DurableObjectStub<Repository>;
}

export async function checkAccess(c: AnyContext, need: Permission, named?: RepoName): Promise<Access> {
  const n = names(c, named);
  // Who is asking and which repository it is are looked up together.
  const [caller, found] = await Promise.all([callerOf(c), n ? lookupRepo(c.env.DB, n.owner, n.name) : null]);
  const hidden = (): Refusal =>
    caller.kind === "anonymous"
      ? { ok: false, reason: "unauthenticated", caller, visible: false }
      : { ok: false, reason: "not-found", caller };
  if (!n || !found) return hidden();
  let { repo } = found;
  const callerId = userOf(caller)?.id;
  const collaborator = callerId === undefined ? null : (found.collaborators.get(callerId) ?? null);
  const role = roleOf(caller, { ownerId: repo.ownerId, isPrivate: repo.isPrivate, collaborator });
  if (!allows(role, "read")) return hidden();
  if (repo.orphaned && !userOf(caller)?.isAdmin) return hidden();
  // A fork of a private repository is for those who can read the parent, as on GitHub,
  // where losing access to the parent takes the fork away too.
  if (repo.parent?.isPrivate && !(await readsParent(c.env.DB, caller, repo.parent.fullName))) return hidden();
  if (repo.pending) {
    // Creation writes the record, then the object (D1 and a Durable Object share no
    // transaction). Until the object holds the repository, the record is not a
    // repository on any surface; once it does, its creation is complete, whatever
    // stopped the creator from saying so (a crash, a lost response).
    if (!(await stubFor(c.env, repo).exists())) return hidden();
    await markCreated(c.env.DB, repo.id);
    repo = { ...repo, pending: false };
  }
  if (found.redirected) return { ok: false, reason: "redirect", caller, location: movedUrl(c, n.owner, n.raw, repo) };
  if (!allows(role, need))
    return caller.kind === "anonymous"
      ? { ok: false, reason: "unauthenticated", caller, visible: true }
      : { ok: false, reason: "forbidden", caller, need, repo };
  return { ok: true, repo, role, caller, stub: stubFor(c.env, repo), base: `/${repo.owner}/${repo.name}` };
}

/** Private parents followed up a fork chain before the answer is no. */
const MAX_PARENT_DEPTH = 32;

/**
 * Whether the caller may read the repository `fullName` (a fork's private parent), and
 * every private repository it was forked from in turn: a fork of a fork must not outlive
 * the caller's access to the private root.
 */
async function readsParent(db: D1Database, caller: Caller, fullName: string, depth = 0): Promise<boolean> {
  if (userOf(caller)?.isAdmin) return true;
  if (depth >= MAX_PARENT_DEPTH) return false;
  const [owner, name] = fullName.split("/");
  const found = await lookupRepo(db, owner, name);
  if (!found || found.repo.orphaned) return false;
  const id = userOf(caller)?.id;
  const collaborator = id === undefined ? null : (found.collaborators.get(id) ?? null);
  if (!allows(roleOf(caller, { ownerId: found.repo.ownerId, isPrivate: found.repo.isPrivate, collaborator }), "read")) return false;
  const up = found.repo.parent;
  return !up?.isPrivate || readsParent(db, caller, up.fullName, depth + 1);
}

/** The grant for `need`; throws AccessRefused when the check refuses. */
export async function requireAccess(c: AnyContext, need: Permission): Promise<Granted> {
  const access = await checkAccess(c, need);
  if (!access.ok) throw new AccessRefused(access);
  return access;
}

/**
 * Push-to-create: a push to a repository that does not exist, under the caller's own
 * name, by a caller allowed to write, creates it (private). Returns the owner to create
 * it for, and the pending record an unfinished creation left (see `checkAccess`) to
 * reuse, or null when this push may not create anything. Call it after `checkAccess`
 * refused with not-found.
 */
export async function pushToCreateOwner(
  c: AnyContext,
): Promise<{ ownerId: number; owner: string; name: string; pending: RepoRecord | null } | null> {
  const caller = await callerOf(c);
  const n = names(c);
  if (!n || caller.kind === "anonymous") return null;
  if (caller.kind === "token" && !allows(caller.scope, "write")) return null;
  if (caller.user.username.toLowerCase() !== n.owner.toLowerCase()) return null;
  const found = await lookupRepo(c.env.DB, n.owner, n.name);
  const reusable = found && !found.redirected && found.repo.pending && found.repo.ownerId === caller.user.id;
  if (found && !reusable) return null;
  return { ownerId: caller.user.id, owner: caller.user.username, name: n.name, pending: reusable ? found.repo : null };
}

/**
 * The grant for a push that creates its repository: the record is inserted now, pending
 * (or an unfinished one reused), and the push completes the creation when it stores
 * something (`markCreated`). `inserted` says this push wrote the record, so it removes
 * it again if it stores nothing. Null when the push may not create it.
 */
export async function pushToCreate(c: AnyContext): Promise<(Granted & { inserted: boolean }) | null> {
  const target = await pushToCreateOwner(c);
  if (!target) return null;
  let repo = target.pending;
  let inserted = false;
  if (!repo) {
    try {
      repo = await insertRepo(c.env.DB, target.ownerId, target.owner, target.name, "", true);
      inserted = true;
    } catch (e) {
      if (!(e instanceof RepoExists)) throw e;
      // Another push is creating it at the same moment: it is ours either way.
      repo = (await pushToCreateOwner(c))?.pending ?? null;
      if (!repo) return null;
    }
  }
  const caller = await callerOf(c);
  const role = roleOf(caller, { ownerId: repo.ownerId, isPrivate: repo.isPrivate, collaborator: null });
  return { ok: true, repo, role, caller, stub: stubFor(c.env, repo), base: `/${repo.owner}/${repo.name}`, inserted };
}
