// Forking, shared by the fork page and the API. Whoever can read a repository may fork it
// into their own account; a fork of a private repository is private. The fork's record is
// written pending, its Durable Object is made from the parent's (./../repo/forks.ts), then
// the record is marked created: stopped anywhere between, the pending record is invisible
// and the next fork of that name takes it over, as with `createRepository`.
import type { Env } from "../util/env";
import type { Caller } from "../auth/caller";
import { type Granted, stubFor } from "./check";
import { type RepoRecord, RepoExists, dropPending, forkOf, insertRepo, lookupRepo, markCreated, repoNameProblem } from "./repos";
import { allows, roleOf } from "./roles";
import { findUserByName } from "../auth/accounts";
import { userOf } from "../auth/caller";

/** A refusal to fork, with the HTTP status that fits it. */
export class ForkError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 401 | 403 | 409 | 422 = 422,
  ) {
    super(message);
  }
}

/**
 * Forks the repository of grant `g` (read access) into the caller's account as `name`
 * (the parent's name by default). A caller who already has a fork of it gets that fork
 * back, as on GitHub. Throws ForkError when it refuses.
 */
export async function forkRepository(env: Env, g: Granted, name?: string): Promise<{ fork: RepoRecord; created: boolean }> {
  const user = signedInWriter(g.caller);
  const existing = await forkOf(env.DB, g.repo.id, user.id);
  if (existing) return { fork: existing, created: false };
  const forkName = (name ?? g.repo.name).trim();
  const problem = repoNameProblem(forkName);
  if (problem) throw new ForkError(problem, 422);
  if (user.id === g.repo.ownerId && forkName.toLowerCase() === g.repo.name.toLowerCase())
    throw new ForkError("You cannot fork a repository into itself: choose another name.");
  const parent = { parentId: g.repo.id, sourceId: g.repo.source?.id ?? null };
  const insert = () => insertRepo(env.DB, user.id, user.username, forkName, g.repo.description, g.repo.isPrivate, parent);
  let fork: RepoRecord;
  try {
    fork = await insert().catch(async (e) => {
      if (!(e instanceof RepoExists && (await dropAbandoned(env, user.username, forkName)))) throw e;
      return insert();
    });
  } catch (e) {
    if (e instanceof RepoExists) throw new ForkError(`You already have a repository named '${forkName}'.`, 409);
    throw e;
  }
  if (!(await stubFor(env, fork).forkFrom(g.repo.doName, fork.doName))) {
    await dropPending(env.DB, fork.id);
    throw new ForkError("The repository could not be forked: it has no storage to share.", 409);
  }
  await stubFor(env, fork).setDescription(g.repo.description);
  await markCreated(env.DB, fork.id, true);
  const made = await lookupRepo(env.DB, user.username, forkName);
  return { fork: made?.repo ?? { ...fork, pending: false }, created: true };
}

function signedInWriter(caller: Caller) {
  if (caller.kind === "anonymous") throw new ForkError("Sign in to fork a repository.", 401);
  if (caller.kind === "token" && !allows(caller.scope, "write")) throw new ForkError("Forking needs a token with write scope.", 403);
  return caller.user;
}

/** Removes an unfinished creation's record at owner/name (see `createRepository`). */
async function dropAbandoned(env: Env, owner: string, name: string): Promise<boolean> {
  const found = await lookupRepo(env.DB, owner, name);
  if (!found || found.redirected || !found.repo.pending) return false;
  if (await stubFor(env, found.repo).exists()) return false;
  return dropPending(env.DB, found.repo.id);
}

/**
 * The fork a pull request's head `forkowner:branch` names, for the caller of grant `g`
 * (the base): `forkowner`'s fork of the base, which the caller must be able to read. Null
 * when there is none the caller may see.
 */
export async function pullHeadFork(
  env: Env,
  g: Granted,
  forkOwner: string,
): Promise<{ repo: string; id: number; fullName: string } | null> {
  const user = await findUserByName(env.DB, forkOwner);
  const fork = user ? await forkOf(env.DB, g.repo.id, user.id) : null;
  const found = fork ? await lookupRepo(env.DB, fork.owner, fork.name) : null;
  if (!fork || !found) return null;
  const viewer = userOf(g.caller);
  const collaborator = viewer ? (found.collaborators.get(viewer.id) ?? null) : null;
  const role = roleOf(g.caller, { ownerId: fork.ownerId, isPrivate: fork.isPrivate, collaborator });
  if (!allows(role, "read")) return null;
  return { repo: fork.doName, id: fork.id, fullName: `${fork.owner}/${fork.name}` };
}
