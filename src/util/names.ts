// Owner and repository names: what may appear in URLs and Durable Object names.

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9_-])?$/;

/** Top-level paths that belong to the app, never to an owner. */
export const RESERVED_OWNERS = new Set([
  "api",
  "static",
  "assets",
  "login",
  "logout",
  "signup",
  "settings",
  "new",
  "admin",
  "explore",
  "search",
  "-",
  "favicon.ico",
  "robots.txt",
]);

export function isValidName(name: string): boolean {
  return NAME.test(name) && !name.endsWith(".git") && name !== "." && name !== "..";
}

export function isValidOwner(owner: string): boolean {
  return isValidName(owner) && !RESERVED_OWNERS.has(owner.toLowerCase());
}

/** `repo.git` and `repo` name the same repository, as on GitHub. */
export function stripGitSuffix(repo: string): string {
  return repo.endsWith(".git") ? repo.slice(0, -4) : repo;
}

/** The Durable Object name: case-insensitive like GitHub's URLs. */
export function repoKey(owner: string, repo: string): string {
  return `${owner.toLowerCase()}/${repo.toLowerCase()}`;
}
