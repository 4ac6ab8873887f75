// Repository roles and how a caller's role is worked out. Owners rank above admins only
// in that they cannot be removed; every check below compares ranks.
import type { Caller } from "../auth/caller";
import type { Scope } from "../auth/tokens";

export type Role = "none" | "read" | "write" | "admin" | "owner";
export type Permission = "read" | "write" | "admin";
export type CollaboratorRole = "read" | "write" | "admin";

const RANK: Record<Role, number> = { none: 0, read: 1, write: 2, admin: 3, owner: 4 };

export function isCollaboratorRole(s: string): s is CollaboratorRole {
  return s === "read" || s === "write" || s === "admin";
}

export function allows(role: Role, need: Permission): boolean {
  return RANK[role] >= RANK[need];
}

function atMost(role: Role, cap: Scope): Role {
  return RANK[role] > RANK[cap] ? cap : role;
}

export interface RepoFacts {
  ownerId: number;
  isPrivate: boolean;
  /** The caller's collaborator role on this repository, if any. */
  collaborator: CollaboratorRole | null;
}

/**
 * The caller's role: the owner owns; site admins administer every repository (as in
 * Gitea); collaborators have their role; anyone may read a public repository. A token
 * never does more than its scope allows.
 */
export function roleOf(caller: Caller, repo: RepoFacts): Role {
  let role: Role = repo.isPrivate ? "none" : "read";
  if (caller.kind !== "anonymous") {
    const u = caller.user;
    if (u.id === repo.ownerId) role = "owner";
    else if (u.isAdmin) role = "admin";
    else if (repo.collaborator && RANK[repo.collaborator] > RANK[role]) role = repo.collaborator;
    if (caller.kind === "token") role = atMost(role, caller.scope);
  }
  return role;
}
