// Shallow clones and fetches: the new shallow boundary for deepen, deepen-since and
// deepen-not, and the shallow/unshallow lines the client must be told.
import type { ObjectStore } from "./store/object-store";
import { CommitQueue } from "./walk";

/** git's "infinite" depth, which `git fetch --unshallow` sends. */
export const INFINITE_DEPTH = 0x7fffffff;

export interface DeepenRequest {
  depth?: number;
  relative?: boolean;
  since?: number;
  /** Commits whose history the client does not want (deepen-not, resolved). */
  not?: string[];
}

export interface ShallowPlan {
  /** Commits to announce as `shallow`. */
  shallow: string[];
  /** Client-shallow commits to announce as `unshallow`. */
  unshallow: string[];
  /** Commits the walk must treat as parentless. */
  walkShallow: Set<string>;
  /** Commits to send that no want reaches by itself (parents of unshallowed commits). */
  extraWants: string[];
}

export class ShallowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ShallowError";
  }
}

export function planShallow(store: ObjectStore, wants: string[], clientShallow: Set<string>, req: DeepenRequest | null): ShallowPlan {
  if (!req) {
    return { shallow: [], unshallow: [], walkShallow: new Set(clientShallow), extraWants: [] };
  }
  const { included, boundary } =
    req.depth !== undefined
      ? byDepth(store, req.relative ? [...clientShallow] : wants, req.relative ? req.depth + 1 : req.depth)
      : req.since !== undefined
        ? bySince(store, wants, req.since)
        : byExclusion(store, wants, req.not ?? []);
  if (included.size === 0 && wants.length) throw new ShallowError("no commits selected for shallow requests");
  const shallow = [...boundary].filter((c) => !clientShallow.has(c));
  const unshallow = [...clientShallow].filter((c) => included.has(c) && !boundary.has(c));
  const walkShallow = new Set<string>(boundary);
  for (const c of clientShallow) walkShallow.add(c);
  const extraWants: string[] = [];
  for (const c of unshallow) for (const p of store.commit(c).parents) if (store.has(p)) extraWants.push(p);
  return { shallow, unshallow, walkShallow, extraWants };
}

function byDepth(store: ObjectStore, roots: string[], limit: number): { included: Set<string>; boundary: Set<string> } {
  const included = new Set<string>();
  const boundary = new Set<string>();
  let level = roots.filter((r) => store.has(r));
  for (let d = 1; level.length && d <= limit; d++) {
    const next: string[] = [];
    for (const c of level) {
      if (included.has(c)) continue;
      included.add(c);
      const parents = store.commit(c).parents.filter((p) => store.has(p));
      if (d === limit) {
        if (parents.length) boundary.add(c);
      } else {
        for (const p of parents) if (!included.has(p)) next.push(p);
      }
    }
    level = next;
  }
  return { included, boundary };
}

function bySince(store: ObjectStore, wants: string[], since: number): { included: Set<string>; boundary: Set<string> } {
  const included = new Set<string>();
  const boundary = new Set<string>();
  const queue = new CommitQueue();
  for (const w of wants) if (store.has(w)) queue.push(w, store.commit(w).time);
  while (queue.size) {
    const { oid, time } = queue.pop()!;
    if (included.has(oid)) continue;
    included.add(oid);
    const parents = store.commit(oid).parents.filter((p) => store.has(p));
    let cut = time < since;
    for (const p of parents) {
      const pt = store.commit(p).time;
      if (pt < since) cut = true;
      else queue.push(p, pt);
    }
    if (cut && parents.length) boundary.add(oid);
  }
  return { included, boundary };
}

function byExclusion(store: ObjectStore, wants: string[], not: string[]): { included: Set<string>; boundary: Set<string> } {
  const excluded = new Set<string>();
  const stack = not.filter((n) => store.has(n));
  while (stack.length) {
    const c = stack.pop()!;
    if (excluded.has(c)) continue;
    excluded.add(c);
    for (const p of store.commit(c).parents) if (store.has(p)) stack.push(p);
  }
  const included = new Set<string>();
  const boundary = new Set<string>();
  const todo = wants.filter((w) => store.has(w) && !excluded.has(w));
  while (todo.length) {
    const c = todo.pop()!;
    if (included.has(c)) continue;
    included.add(c);
    const parents = store.commit(c).parents.filter((p) => store.has(p));
    if (parents.some((p) => excluded.has(p))) boundary.add(c);
    else for (const p of parents) todo.push(p);
  }
  return { included, boundary };
}
