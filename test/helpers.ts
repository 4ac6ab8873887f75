import { env, runInDurableObject } from "cloudflare:test";
import type { Repository } from "../src/repo/repository";

let counter = 0;

/** A fresh repository Durable Object for each call. */
export function freshRepo(prefix = "test"): DurableObjectStub<Repository> {
  return env.REPO.getByName(`${prefix}/r${Date.now().toString(36)}${counter++}`);
}

export function inRepo<T>(stub: DurableObjectStub<Repository>, fn: (repo: Repository, state: DurableObjectState) => T | Promise<T>): Promise<T> {
  return runInDurableObject(stub, fn);
}

export function fromBase64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
