// Merge bases as commit-reach.c computes them without a commit-graph: paint_down_to_common
// ordered by committer date (ties first-in, first-out), remove_redundant, then newest first.
// Ported step for step so that clock skew and the order of several bases match git, since
// merge-ort merges several bases into a virtual one in that order.
import type { MergeStore } from "./store";

export interface CommitNode {
  /** An oid, or a made-up name for a virtual commit. */
  id: string;
  tree: string;
  date: number;
  parents: CommitNode[] | null;
}

const PARENT1 = 1;
const PARENT2 = 2;
const STALE = 4;
const RESULT = 8;

export class CommitGraph {
  private readonly nodes = new Map<string, CommitNode>();
  constructor(private readonly store: MergeStore) {}

  async get(oid: string): Promise<CommitNode> {
    let n = this.nodes.get(oid);
    if (!n) {
      const c = await this.store.commit(oid);
      n = { id: oid, tree: c.tree, date: c.date, parents: null };
      this.nodes.set(oid, n);
    }
    return n;
  }

  async parents(n: CommitNode): Promise<CommitNode[]> {
    if (!n.parents) {
      const c = await this.store.commit(n.id);
      n.parents = await Promise.all(c.parents.map((p) => this.get(p)));
    }
    return n.parents;
  }
}

class Queue {
  private heap: { n: CommitNode; ctr: number }[] = [];
  private ctr = 0;
  private before(a: { n: CommitNode; ctr: number }, b: { n: CommitNode; ctr: number }): boolean {
    return a.n.date !== b.n.date ? a.n.date > b.n.date : a.ctr < b.ctr;
  }
  put(n: CommitNode): void {
    const h = this.heap;
    h.push({ n, ctr: this.ctr++ });
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }
  get(): CommitNode {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.before(h[l], h[m])) m = l;
        if (r < h.length && this.before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top.n;
  }
}

/** commit_list_insert_by_date: newest first, an equal date after those already there. */
function insertByDate(list: CommitNode[], n: CommitNode): void {
  let i = 0;
  while (i < list.length && !(list[i].date < n.date)) i++;
  list.splice(i, 0, n);
}

async function paintDownToCommon(
  graph: CommitGraph,
  one: CommitNode,
  twos: CommitNode[],
  flags: Map<CommitNode, number>,
): Promise<CommitNode[]> {
  const flag = (n: CommitNode) => flags.get(n) ?? 0;
  // queue_has_nonstale, kept as a count: queued entries whose commit is not yet STALE.
  const queued = new Map<CommitNode, number>();
  let nonstale = 0;
  const setFlags = (n: CommitNode, f: number) => {
    const old = flag(n);
    if (!(old & STALE) && f & STALE) nonstale -= queued.get(n) ?? 0;
    flags.set(n, old | f);
  };
  const queue = new Queue();
  const put = (n: CommitNode) => {
    queue.put(n);
    queued.set(n, (queued.get(n) ?? 0) + 1);
    if (!(flag(n) & STALE)) nonstale++;
  };
  const result: CommitNode[] = [];
  setFlags(one, PARENT1);
  if (twos.length === 0) return [one];
  put(one);
  for (const t of twos) {
    setFlags(t, PARENT2);
    put(t);
  }
  while (nonstale > 0) {
    const commit = queue.get();
    queued.set(commit, queued.get(commit)! - 1);
    if (!(flag(commit) & STALE)) nonstale--;
    let f = flag(commit) & (PARENT1 | PARENT2 | STALE);
    if (f === (PARENT1 | PARENT2)) {
      if (!(flag(commit) & RESULT)) {
        setFlags(commit, RESULT);
        insertByDate(result, commit);
      }
      f |= STALE;
    }
    for (const p of await graph.parents(commit)) {
      if ((flag(p) & f) === f) continue;
      setFlags(p, f);
      put(p);
    }
  }
  return result;
}

async function removeRedundant(graph: CommitGraph, array: CommitNode[]): Promise<CommitNode[]> {
  const redundant = new Array<boolean>(array.length).fill(false);
  for (let i = 0; i < array.length; i++) {
    if (redundant[i]) continue;
    const others: number[] = [];
    for (let j = 0; j < array.length; j++) if (i !== j && !redundant[j]) others.push(j);
    const flags = new Map<CommitNode, number>();
    await paintDownToCommon(
      graph,
      array[i],
      others.map((j) => array[j]),
      flags,
    );
    if ((flags.get(array[i]) ?? 0) & PARENT2) redundant[i] = true;
    for (const j of others) if ((flags.get(array[j]) ?? 0) & PARENT1) redundant[j] = true;
  }
  return array.filter((_, i) => !redundant[i]);
}

/** get_merge_bases(one, two): the best common ancestors, newest first. */
export async function mergeBases(graph: CommitGraph, one: CommitNode, two: CommitNode): Promise<CommitNode[]> {
  if (one === two) return [one];
  const flags = new Map<CommitNode, number>();
  const painted = await paintDownToCommon(graph, one, [two], flags);
  const result: CommitNode[] = [];
  for (const c of painted) if (!((flags.get(c) ?? 0) & STALE)) insertByDate(result, c);
  if (result.length <= 1) return result;
  const kept = await removeRedundant(graph, result);
  const sorted: CommitNode[] = [];
  for (const c of kept) insertByDate(sorted, c);
  return sorted;
}
