import { SELF, env, runInDurableObject } from "cloudflare:test";
import { createUser, findUserByName } from "../src/auth/accounts";
import { type Scope, createToken } from "../src/auth/tokens";
import type { Repository } from "../src/repo/repository";
import type { GitRun } from "./git-check";

let counter = 0;

/** A fresh repository Durable Object for each call. */
export function freshRepo(prefix = "test"): DurableObjectStub<Repository> {
  return env.REPO.getByName(`${prefix}/r${Date.now().toString(36)}${counter++}`);
}

export function inRepo<T>(
  stub: DurableObjectStub<Repository>,
  fn: (repo: Repository, state: DurableObjectState) => T | Promise<T>,
): Promise<T> {
  // The pool's types want a DurableObject of the test Env; the instance is our Repository.
  const run = runInDurableObject as unknown as (s: typeof stub, f: typeof fn) => Promise<T>;
  return run(stub, fn);
}

export function fromBase64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const accounts = new Map<string, Promise<string>>();

/**
 * An `Authorization` header for an account named `username` with an admin-scoped
 * token, made on first use (the tests' stand-in for signing up).
 */
export function accountAuth(username: string, scope: Scope = "admin"): Promise<string> {
  const key = `${username.toLowerCase()}:${scope}`;
  let p = accounts.get(key);
  if (!p) {
    p = (async () => {
      const user =
        (await findUserByName(env.DB, username)) ?? (await createUser(env.DB, username, `${username}@example.com`, "password-123"));
      const { token } = await createToken(env.DB, user.id, "test", scope, null);
      return "Basic " + btoa(`${user.username}:${token}`);
    })();
    accounts.set(key, p);
  }
  return p;
}

/** SELF.fetch as the owner of the repository in the URL (`/owner/repo/...` or `/api/repos/owner/...`). */
export async function ownerFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const parts = new URL(url).pathname.split("/").filter(Boolean);
  const owner = parts[0] === "api" ? parts[2] : parts[0];
  const headers = new Headers(init.headers);
  if (!headers.has("Authorization")) headers.set("Authorization", await accountAuth(owner));
  return SELF.fetch(url, { ...init, headers });
}

/**
 * Exports a repository (`export.tar`) and runs C git `commands` in it, through the Node
 * side's GIT_CHECK service (test/git-check.ts).
 */
export async function exportAndRun(url: string, commands: string[][]): Promise<GitRun[]> {
  const tar = await ownerFetch(`${url}/export.tar`);
  if (tar.status !== 200) throw new Error(`export.tar answered ${tar.status}`);
  const res = await env.GIT_CHECK.fetch("http://git-check/", {
    method: "POST",
    headers: { "X-Git-Commands": JSON.stringify(commands) },
    body: await tar.arrayBuffer(),
  });
  const body = (await res.json()) as { runs?: GitRun[]; error?: string };
  if (!body.runs) throw new Error(`git check: ${body.error}`);
  return body.runs;
}
