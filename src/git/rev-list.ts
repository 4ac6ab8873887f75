// `git rev-list --left-right left...right`: the commits only one side reaches, which a pull
// request lists as its commits (right) and how far its base has moved on (left).
//
// One walk newest first paints each commit with the sides that reach it; it ends when every
// queued commit is reached from both sides and nothing queued is newer than the oldest
// one-sided commit found, give or take git's SLOP commits for clock skew (revision.c's
// limit_list stops the same way).
import type { ObjectStore } from "./store/object-store";
import { CommitQueue } from "./walk";

export interface Divergence {
  /** Commits that only `left` reaches, newest first (by committer time). */
  left: string[];
  /** Commits that only `right` reaches, newest first. */
  right: string[];
  /** The walk stopped at its limit: the lists may be incomplete. */
  truncated: boolean;
}

const LEFT = 1;
const RIGHT = 2;
const BOTH = LEFT | RIGHT;
const SLOP = 5;

export function leftRight(store: ObjectStore, left: string, right: string, limit = 100_000): Divergence {
  const flags = new Map<string, number>();
  const queued = new Map<string, number>();
  const queue = new CommitQueue();
  const order: string[] = [];
  // Queued entries whose commit is not yet reached from both sides.
  let oneSided = 0;
  const flag = (oid: string) => flags.get(oid) ?? 0;
  const paint = (oid: string, f: number) => {
    const old = flag(oid);
    if (old !== BOTH && (old | f) === BOTH) oneSided -= queued.get(oid) ?? 0;
    flags.set(oid, old | f);
  };
  const put = (oid: string) => {
    const info = store.commitIfStored(oid);
    if (!info) return;
    queue.push(oid, info.time);
    queued.set(oid, (queued.get(oid) ?? 0) + 1);
    if (flag(oid) !== BOTH) oneSided++;
  };
  paint(left, LEFT);
  paint(right, RIGHT);
  put(left);
  if (right !== left) put(right);
  let oldestOneSided = Infinity;
  let slop = SLOP;
  let truncated = false;
  const seen = new Set<string>();
  while (queue.size) {
    if (oneSided === 0) {
      if (queue.peekTime() < oldestOneSided && --slop < 0) break;
    } else slop = SLOP;
    const { oid, time } = queue.pop()!;
    queued.set(oid, queued.get(oid)! - 1);
    const f = flag(oid);
    if (f !== BOTH) oneSided--;
    if (!seen.has(oid)) {
      if (seen.size >= limit) {
        truncated = true;
        break;
      }
      seen.add(oid);
      order.push(oid);
      if (f !== BOTH) oldestOneSided = Math.min(oldestOneSided, time);
    }
    for (const p of store.commitIfStored(oid)?.parents ?? []) {
      if ((flag(p) & f) === f) continue;
      paint(p, f);
      put(p);
    }
  }
  return {
    left: order.filter((oid) => flag(oid) === LEFT),
    right: order.filter((oid) => flag(oid) === RIGHT),
    truncated,
  };
}
