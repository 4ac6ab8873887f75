// Changes to a repository's settings, shared by the settings pages and the API. Each
// takes a grant from the access check (admin) and throws SettingsError when it refuses.
import type { Env } from "../util/env";
import { type User, findUserByName } from "../auth/accounts";
import { type Granted, stubFor } from "./check";
import {
  type RepoRecord,
  RepoExists,
  deleteRepoRecord,
  dropPending,
  insertRepo,
  lookupRepo,
  markCreated,
  removeCollaborator,
  renameRepo,
  repoNameProblem,
  setCollaborator,
  updateRepo,
} from "./repos";
import { type CollaboratorRole, allows } from "./roles";

export class SettingsError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 = 400,
  ) {
    super(message);
  }
}

/**
 * Creates an empty repository for `owner`: its record (pending), then the bare
 * repository in its Durable Object, with the description written there too, then the
 * record is marked created. Stopped anywhere before that, it leaves a pending record that
 * no surface shows, and which the next creation of the name takes over. Throws RepoExists.
 */
export async function createRepository(env: Env, owner: User, name: string, description: string, isPrivate: boolean): Promise<RepoRecord> {
  const insert = () => insertRepo(env.DB, owner.id, owner.username, name, description, isPrivate);
  let repo: RepoRecord;
  try {
    repo = await insert();
  } catch (e) {
    if (!(e instanceof RepoExists && (await dropAbandoned(env, owner.username, name)))) throw e;
    repo = await insert();
  }
  const stub = stubFor(env, repo);
  await stub.init();
  await stub.setDescription(description);
  await markCreated(env.DB, repo.id);
  return { ...repo, pending: false };
}

/**
 * Removes the record an unfinished creation left at owner/name (pending, and its object
 * holds no repository), so that the name can be taken; true if it did. A push creating
 * that name at this very moment, before it stored anything, loses its record; a new
 * record of the name gets the same object name, so a creation finds its refs again.
 */
async function dropAbandoned(env: Env, owner: string, name: string): Promise<boolean> {
  const found = await lookupRepo(env.DB, owner, name);
  if (!found || found.redirected || !found.repo.pending) return false;
  if (await stubFor(env, found.repo).exists()) return false;
  return dropPending(env.DB, found.repo.id);
}

function requireAdmin(g: Granted): void {
  if (!allows(g.role, "admin")) throw new SettingsError("Admin access is required.", 404);
}

export async function updateSettings(
  env: Env,
  g: Granted,
  fields: { description?: string; isPrivate?: boolean; defaultBranch?: string },
): Promise<void> {
  requireAdmin(g);
  if (fields.description !== undefined && fields.description.length > 350)
    throw new SettingsError("Description is too long (at most 350 characters).");
  if (fields.isPrivate === false && g.repo.parent?.isPrivate)
    throw new SettingsError("A fork of a private repository stays private while its parent is private.");
  if (fields.defaultBranch !== undefined && fields.defaultBranch !== "" && !(await g.stub.setDefaultBranch(fields.defaultBranch))) {
    throw new SettingsError(`There is no branch '${fields.defaultBranch}'.`);
  }
  await updateRepo(env.DB, g.repo.id, fields);
  if (fields.description !== undefined) await g.stub.setDescription(fields.description);
}

export async function rename(env: Env, g: Granted, newName: string): Promise<string> {
  requireAdmin(g);
  const name = newName.trim();
  const problem = repoNameProblem(name);
  if (problem) throw new SettingsError(problem);
  if (name === g.repo.name) return name;
  try {
    await renameRepo(env.DB, g.repo, name).catch(async (e) => {
      if (!(e instanceof RepoExists && (await dropAbandoned(env, g.repo.owner, name)))) throw e;
      await renameRepo(env.DB, g.repo, name);
    });
  } catch (e) {
    if (e instanceof RepoExists) throw new SettingsError(e.message, 409);
    throw e;
  }
  return name;
}

/** Erases the repository's storage first, so a failure leaves it listed and retryable. */
export async function destroy(env: Env, g: Granted): Promise<void> {
  requireAdmin(g);
  await g.stub.destroy();
  await deleteRepoRecord(env.DB, g.repo.id);
}

export async function addCollaborator(env: Env, g: Granted, username: string, role: CollaboratorRole): Promise<void> {
  requireAdmin(g);
  const user = await findUserByName(env.DB, username.trim());
  if (!user) throw new SettingsError(`No user named '${username}'.`, 404);
  if (user.id === g.repo.ownerId) throw new SettingsError("The owner already has every permission.");
  await setCollaborator(env.DB, g.repo.id, user.id, role);
  // Approvals count only from writers: one who now only reads no longer counts.
  if (role === "read") await g.stub.lostWriteAccess(user.id);
}

export async function dropCollaborator(env: Env, g: Granted, username: string): Promise<void> {
  requireAdmin(g);
  const user = await findUserByName(env.DB, username);
  if (!user || !(await removeCollaborator(env.DB, g.repo.id, user.id)))
    throw new SettingsError(`'${username}' is not a collaborator.`, 404);
  await g.stub.lostWriteAccess(user.id);
}
