// `rev-list --objects <wants> --not <haves>` by reachability bitmaps, as git's
// pack-bitmap.c does it: what the wants reach, less what the haves reach, each computed
// as the bitmaps of the commits it meets that have one, plus a walk of what lies above
// them (pushes since the covering pack was written, commits between selected ones).
// Objects outside the covering pack get positions past its end, for this walk only.
import { Pacer } from "../util/pace";
import { OBJ_COMMIT, OBJ_TAG, OBJ_TREE, MissingObjectError, treeChildren } from "./object/object";
import { Bitset } from "./pack/ewah";
import type { LoadedBitmap } from "./store/bitmap";
import type { ObjectStore } from "./store/object-store";

/**
 * Objects walked outside bitmaps before the walk gives up and the plain walk answers, in
 * steps: about one of its steps' worth (CHECKPOINT_OBJECTS), so a giving up wastes no more.
 */
const WALK_LIMIT = 16_384;

export interface BitmapWalkResult {
  oids: string[];
  commits: number;
  /** Commits the haves reach that are parents of commits sent: a thin pack builds on their trees. */
  edges: string[];
}

class TooFar extends Error {}

class Positions {
  private readonly extended = new Map<string, number>();
  readonly extendedOids: string[] = [];

  constructor(private readonly index: LoadedBitmap) {}

  of(oid: string): number {
    const p = this.index.positions.position(oid);
    if (p >= 0) return p;
    let e = this.extended.get(oid);
    if (e === undefined) {
      e = this.index.positions.count + this.extendedOids.length;
      this.extended.set(oid, e);
      this.extendedOids.push(oid);
    }
    return e;
  }

  /** The bitmap of a commit of the pack that has one, or null. */
  bitmapOf(oid: string): Bitset | null {
    const i = this.index.positions.find(oid);
    return i >= 0 && this.index.bitmap.has(i) ? this.index.bitmap.get(i) : null;
  }

  oidAt(p: number): string {
    const n = this.index.positions.count;
    return p < n ? this.index.positions.oidAt(this.index.positions.idxPosition[p]) : this.extendedOids[p - n];
  }
}

/**
 * What `roots` reach, as bits. With `exclude` (what the haves reach), commits and trees in
 * it are not walked: whatever they reach is subtracted anyway.
 */
async function reach(
  store: ObjectStore,
  pos: Positions,
  roots: string[],
  budget: { left: number },
  pacer: Pacer,
  exclude?: Bitset,
  edges?: Set<string>,
): Promise<{ bits: Bitset; commits: string[] }> {
  const bits = new Bitset(0);
  const commits: string[] = [];
  const trees: string[] = [];
  const blobs: string[] = [];
  for (const root of roots) {
    let cur = root;
    for (let depth = 0; depth < 64; depth++) {
      const type = store.typeOf(cur);
      if (type === null) throw new MissingObjectError(cur);
      if (type !== OBJ_TAG) {
        if (type === OBJ_COMMIT) commits.push(cur);
        else if (type === OBJ_TREE) trees.push(cur);
        else blobs.push(cur);
        break;
      }
      bits.set(pos.of(cur));
      const target = store.tagTarget(cur);
      if (!target) throw new MissingObjectError(cur);
      cur = target;
    }
  }
  for (const b of blobs) bits.set(pos.of(b));
  // Commits first, so that the bitmaps met cover as many trees as possible before any is read.
  const walked: string[] = [];
  const stack = [...commits];
  while (stack.length) {
    const c = stack.pop()!;
    const p = pos.of(c);
    if (bits.get(p) || exclude?.get(p)) continue;
    const known = pos.bitmapOf(c);
    if (known) {
      bits.or(known);
      continue;
    }
    if (--budget.left < 0) throw new TooFar();
    if (pacer.due()) await pacer.pause();
    bits.set(p);
    walked.push(c);
    for (const parent of store.commit(c).parents) {
      if (exclude?.get(pos.of(parent))) {
        edges?.add(parent);
        continue;
      }
      // A shallow repository's boundary: the parent is not stored.
      if (store.commitIfStored(parent)) stack.push(parent);
    }
  }
  for (const c of walked) trees.push(store.commit(c).tree);
  while (trees.length) {
    const t = trees.pop()!;
    const p = pos.of(t);
    if (bits.get(p) || exclude?.get(p)) continue;
    if (--budget.left < 0) throw new TooFar();
    if (pacer.due()) await pacer.pause();
    bits.set(p);
    for (const child of treeChildren((await store.read(t)).data)) {
      if (child.isTree) trees.push(child.oid);
      else bits.set(pos.of(child.oid));
    }
  }
  return { bits, commits: walked };
}

/**
 * The objects to send for `wants` less what `haves` reach, by the covering pack's bitmaps;
 * null when there are none, or when too much lies outside them (the plain walk answers).
 */
export async function bitmapObjects(store: ObjectStore, wants: string[], haves: Iterable<string>): Promise<BitmapWalkResult | null> {
  const index = store.bitmaps.load();
  if (!index) return null;
  const pos = new Positions(index);
  const budget = { left: WALK_LIMIT };
  const pacer = new Pacer();
  try {
    const haveRoots = [...haves].filter((h) => store.has(h));
    const excluded = haveRoots.length ? (await reach(store, pos, haveRoots, budget, pacer)).bits : new Bitset(0);
    const edges = new Set<string>();
    const { bits } = await reach(store, pos, wants, budget, pacer, excluded, edges);
    bits.andNot(excluded);
    // Commits, then tags, then trees and blobs, each in pack order (objects of the pack
    // first): the order git's bitmap walk gives, and the pack's own for reused deltas.
    const n = index.positions.count;
    const { commits: commitBits, tags: tagBits } = index.bitmap;
    const out: string[] = [];
    const rest: string[] = [];
    const extraTags: string[] = [];
    let commits = 0;
    for (const p of bits.positions()) {
      const oid = pos.oidAt(p);
      if (p < n ? commitBits.get(p) : store.typeOf(oid) === OBJ_COMMIT) {
        out.push(oid);
        commits++;
      } else if (p < n ? tagBits.get(p) : store.typeOf(oid) === OBJ_TAG) extraTags.push(oid);
      else rest.push(oid);
    }
    // One at a time: spreading hundreds of thousands of arguments overflows the stack.
    for (const o of extraTags) out.push(o);
    for (const o of rest) out.push(o);
    return { oids: out, commits, edges: [...edges].filter((e) => store.has(e)) };
  } catch (e) {
    if (e instanceof TooFar) return null;
    throw e;
  }
}
