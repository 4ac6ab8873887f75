// Revision walks: which objects a fetch must send, as `git rev-list --objects
// <wants> --not <haves>` computes them, and reachability questions for negotiation.
import { MissingObjectError, type ObjectStore } from "./store/object-store";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TAG, OBJ_TREE, treeChildren } from "./object/object";
import { Pacer } from "../util/pace";
import { bitmapObjects } from "./bitmap-walk";

/** A max-heap of commits by committer time: the order git's revision walk uses. */
export class CommitQueue {
  private items: { oid: string; time: number }[] = [];

  get size(): number {
    return this.items.length;
  }

  /** Time of the newest queued commit (-Infinity when empty). */
  peekTime(): number {
    return this.items.length ? this.items[0].time : -Infinity;
  }

  push(oid: string, time: number): void {
    const a = this.items;
    a.push({ oid, time });
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p].time >= a[i].time) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }

  pop(): { oid: string; time: number } | undefined {
    const a = this.items;
    if (!a.length) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l].time > a[m].time) m = l;
        if (r < a.length && a[r].time > a[m].time) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}

export type ObjectFilter =
  | { kind: "blob:none" }
  | { kind: "blob:limit"; limit: number }
  | { kind: "tree"; depth: number }
  | { kind: "object:type"; type: "blob" | "tree" | "commit" | "tag" };

export interface WalkOptions {
  /** Commits the client has: they and their ancestry are not sent. */
  haves?: Iterable<string>;
  /** Commits whose parents are not walked: the client's (new) shallow boundary. */
  shallow?: Set<string>;
  filter?: ObjectFilter;
  /** Objects between the checkpoints where `walkObjects` yields (default `CHECKPOINT_OBJECTS`). */
  checkpointEvery?: number;
}

export interface WalkResult {
  /** Objects to send, commits and tags first, then trees and blobs in walk order. */
  oids: string[];
  commits: number;
  /** Objects known to be on the client (boundary trees and their contents). */
  clientHas: Set<string>;
}

/** Peels a want or have to the object it names, collecting the tags on the way. */
function peelTags(store: ObjectStore, oid: string, tags: string[]): { oid: string; type: number } {
  let cur = oid;
  for (let depth = 0; depth < 64; depth++) {
    const type = store.typeOf(cur);
    if (type === null) throw new MissingObjectError(cur);
    if (type !== OBJ_TAG) return { oid: cur, type };
    tags.push(cur);
    // One level at a time, to collect every tag of a nested chain.
    const target = store.tagTarget(cur);
    if (!target) throw new MissingObjectError(cur);
    cur = target;
  }
  throw new Error(`tag chain too long at ${oid}`);
}

export const CHECKPOINT_OBJECTS = 16384;

/** The objects to send for `wants`, less what the client has, in one go. */
export async function enumerateObjects(store: ObjectStore, wants: Iterable<string>, options: WalkOptions = {}): Promise<WalkResult> {
  const walk = walkObjects(store, wants, options, false);
  for (;;) {
    const r = await walk.next();
    if (r.done) return r.value;
  }
}

/**
 * The same walk as a generator that, with `pause`, yields its progress (commits walked,
 * then objects found) every `checkpointEvery` objects: its caller can end an invocation
 * there and resume the walk in the next. It runs only while its caller drives it, so each
 * part runs in the invocation that asked for it.
 */
export async function* walkObjects(
  store: ObjectStore,
  wants: Iterable<string>,
  options: WalkOptions = {},
  pause = true,
): AsyncGenerator<number, WalkResult> {
  const out: string[] = [];
  const seen = new Set<string>();
  const emit = (oid: string) => {
    if (seen.has(oid)) return;
    seen.add(oid);
    out.push(oid);
  };
  const every = options.checkpointEvery ?? CHECKPOINT_OBJECTS;
  let dueAt = pause ? every : Infinity;
  // Between checkpoints (or through a whole walk without them) the event loop still gets
  // a turn: see util/pace.ts.
  const pacer = new Pacer();

  // With the covering pack's bitmaps, the common case is bitmap arithmetic (bitmap-walk.ts).
  // They know nothing of depth or filters, and when too much lies above them the walk below
  // answers, in steps.
  if (!options.shallow?.size && !options.filter) {
    // Both may be read twice: once here, once by the walk if this gives up.
    wants = [...wants];
    options = { ...options, haves: [...(options.haves ?? [])] };
    const fast = await bitmapObjects(store, wants as string[], options.haves!);
    if (fast) {
      const clientHas = new Set<string>();
      for (const edge of fast.edges) await markTree(store, store.commit(edge).tree, clientHas, pacer);
      return { oids: fast.oids, commits: fast.commits, clientHas };
    }
  }

  const uninteresting = new Set<string>();
  const queue = new CommitQueue();
  const queued = new Set<string>();
  // Queued commits still interesting: the walk ends when none are left.
  const live = new Set<string>();
  const rootTrees: string[] = [];
  const rootBlobs: string[] = [];
  const enqueue = (oid: string) => {
    if (queued.has(oid)) return;
    queued.add(oid);
    if (!uninteresting.has(oid)) live.add(oid);
    queue.push(oid, store.commit(oid).time);
  };
  const markUninteresting = (oid: string) => {
    uninteresting.add(oid);
    live.delete(oid);
  };

  for (const have of options.haves ?? []) {
    if (!store.has(have)) continue;
    const { oid, type } = peelTags(store, have, []);
    markUninteresting(oid);
    if (type === OBJ_COMMIT) enqueue(oid);
  }
  for (const want of wants) {
    const tags: string[] = [];
    const { oid, type } = peelTags(store, want, tags);
    for (const t of tags) emit(t);
    if (type === OBJ_COMMIT) enqueue(oid);
    else if (type === OBJ_TREE) rootTrees.push(oid);
    else if (type === OBJ_BLOB) rootBlobs.push(oid);
  }

  // Commit walk, newest first; stops when only uninteresting commits remain queued.
  const commits: string[] = [];
  const edges = new Set<string>();
  let walked = 0;
  while (live.size) {
    if (++walked >= dueAt) {
      dueAt = walked + every;
      yield walked;
    }
    if (pacer.due()) await pacer.pause();
    const { oid } = queue.pop()!;
    live.delete(oid);
    const info = store.commit(oid);
    const isUninteresting = uninteresting.has(oid);
    if (!isUninteresting) commits.push(oid);
    if (options.shallow?.has(oid)) continue;
    for (const p of info.parents) {
      if (isUninteresting) markUninteresting(p);
      // commitIfStored also caches the commit that enqueue reads next.
      else if (!store.commitIfStored(p)) continue;
      if (isUninteresting || !uninteresting.has(p)) enqueue(p);
      else edges.add(p);
    }
  }
  // The edges are the uninteresting parents of commits to send, as in git's
  // mark_edges_uninteresting: their trees are what a thin pack may build on. Haves still
  // queued are not edges; walking every one of their trees made a fetch into a
  // repository of a thousand refs read thousands of trees to send one commit.

  // Objects in the trees of boundary commits are on the client already.
  const excluded = new Set<string>();
  for (const edge of edges) {
    if (!uninteresting.has(edge) || !store.has(edge)) continue;
    await markTree(store, store.commit(edge).tree, excluded, pacer);
  }

  const filter = options.filter;
  const sendCommits = filter?.kind !== "object:type" || filter.type === "commit";
  let commitCount = 0;
  for (const c of commits) {
    if (uninteresting.has(c)) continue;
    if (sendCommits) emit(c);
    commitCount++;
  }
  if (pause) dueAt = out.length + every;
  const gate: Gate = {
    due: () => out.length >= dueAt,
    take: () => {
      dueAt = out.length + every;
      return out.length;
    },
  };
  for (const c of commits) {
    if (uninteresting.has(c)) continue;
    yield* walkTree(store, store.commit(c).tree, 0, excluded, seen, emit, filter, gate, pacer);
  }
  for (const t of rootTrees) yield* walkTree(store, t, 0, excluded, seen, emit, filter, gate, pacer, true);
  for (const b of rootBlobs) emit(b);
  store.forgetPrefetched();
  return { oids: out, commits: commitCount, clientHas: excluded };
}

async function markTree(store: ObjectStore, root: string, excluded: Set<string>, pacer: Pacer): Promise<void> {
  const stack = [root];
  while (stack.length) {
    if (pacer.due()) await pacer.pause();
    const t = stack.pop()!;
    if (excluded.has(t)) continue;
    excluded.add(t);
    if (!store.has(t)) continue;
    for (const child of treeChildren((await store.read(t)).data)) {
      if (child.isTree) stack.push(child.oid);
      else excluded.add(child.oid);
    }
  }
}

/** Where a long tree walk yields its progress (see `walkObjects`). */
interface Gate {
  due(): boolean;
  take(): number;
}

async function* walkTree(
  store: ObjectStore,
  root: string,
  rootDepth: number,
  excluded: Set<string>,
  seen: Set<string>,
  emit: (oid: string) => void,
  filter: ObjectFilter | undefined,
  gate: Gate,
  pacer: Pacer,
  explicit = false,
): AsyncGenerator<number, void> {
  const stack: { oid: string; depth: number }[] = [{ oid: root, depth: rootDepth }];
  while (stack.length) {
    if (gate.due()) yield gate.take();
    if (pacer.due()) await pacer.pause();
    const { oid, depth } = stack.pop()!;
    if (seen.has(oid) || excluded.has(oid)) continue;
    // tree:<n> sends trees at depth < n (the root tree is depth 0).
    if (filter?.kind === "tree" && depth >= filter.depth && !(explicit && depth === 0)) continue;
    if (filter?.kind !== "object:type" || filter.type === "tree") emit(oid);
    else seen.add(oid);
    const children = treeChildren((await store.read(oid)).data);
    // Subtrees are read next: find them in one query rather than one each.
    store.prefetchLocations(children.filter((c) => c.isTree && !seen.has(c.oid) && !excluded.has(c.oid)).map((c) => c.oid));
    // Reverse keeps the tree's own order when popping from the stack.
    for (let i = children.length - 1; i >= 0; i--) {
      const child = children[i];
      if (child.isTree) {
        stack.push({ oid: child.oid, depth: depth + 1 });
      } else if (!seen.has(child.oid) && !excluded.has(child.oid) && blobPasses(store, child.oid, depth + 1, filter)) {
        emit(child.oid);
      }
    }
  }
}

function blobPasses(store: ObjectStore, oid: string, depth: number, filter: ObjectFilter | undefined): boolean {
  if (!filter) return true;
  switch (filter.kind) {
    case "blob:none":
      return false;
    case "blob:limit": {
      const info = store.info(oid);
      return info !== null && info.size <= filter.limit;
    }
    case "tree":
      return depth < filter.depth;
    case "object:type":
      return filter.type === "blob";
  }
}

/**
 * Whether `ancestor` is reachable from `from` through parents, walking no commit older
 * than `notBefore` (commit times make the walk bounded, as in git's negotiation).
 */
export function reachesAny(store: ObjectStore, from: string, targets: Set<string>, notBefore: number): boolean {
  if (targets.has(from)) return true;
  const queue = new CommitQueue();
  const seen = new Set<string>([from]);
  queue.push(from, store.commit(from).time);
  while (queue.size) {
    const { oid } = queue.pop()!;
    for (const p of store.commit(oid).parents) {
      if (targets.has(p)) return true;
      if (seen.has(p) || !store.has(p)) continue;
      seen.add(p);
      const t = store.commit(p).time;
      if (t >= notBefore) queue.push(p, t);
    }
  }
  return false;
}

/**
 * Whether every commit of `targets` is reachable from `from` (both peeled to commits),
 * walking newest first and at most `limit` commits: false when the limit is hit, so the
 * caller takes the long way rather than guess.
 */
export function reachesAll(store: ObjectStore, from: Iterable<string>, targets: Iterable<string>, limit: number): boolean {
  const missing = new Set(targets);
  const queue = new CommitQueue();
  const seen = new Set<string>();
  for (const oid of from) {
    if (seen.has(oid) || !store.has(oid)) continue;
    seen.add(oid);
    missing.delete(oid);
    queue.push(oid, store.commit(oid).time);
  }
  for (let walked = 0; missing.size && queue.size; walked++) {
    if (walked >= limit) return false;
    const { oid } = queue.pop()!;
    for (const p of store.commit(oid).parents) {
      if (seen.has(p) || !store.has(p)) continue;
      seen.add(p);
      missing.delete(p);
      queue.push(p, store.commit(p).time);
    }
  }
  return missing.size === 0;
}
