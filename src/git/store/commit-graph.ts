// Writes `objects/info/commit-graph` from the commit table, so that an exported repository
// carries the file C git would write, and marks which packs it describes, so maintenance
// knows when it is stale. The file is derived: losing it loses nothing but speed.
import type { Dofs } from "../../fs/dofs";
import { type GraphCommits, writeCommitGraph } from "../pack/commit-graph";

export const COMMIT_GRAPH_PATH = "/objects/info/commit-graph";

const HASH = 20;

export class CommitGraphFile {
  constructor(
    private readonly fs: Dofs,
    private readonly sql: SqlStorage,
  ) {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS git_commit_graph (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      packs TEXT NOT NULL
    )`);
  }

  /** Names the pack set the graph was written for; the graph is current while it holds. */
  private packSet(): string {
    return this.sql
      .exec<{ name: string }>("SELECT name FROM git_pack ORDER BY name")
      .toArray()
      .map((r) => r.name)
      .join(" ");
  }

  isCurrent(): boolean {
    const row = this.sql.exec<{ packs: string }>("SELECT packs FROM git_commit_graph WHERE id = 1").toArray()[0];
    return row !== undefined && row.packs === this.packSet() && this.fs.exists(COMMIT_GRAPH_PATH);
  }

  /**
   * Forgets the graph, inside the transaction that drops commits: a graph naming a commit
   * the repository no longer has fails `git fsck`.
   */
  drop(): void {
    if (this.fs.exists(COMMIT_GRAPH_PATH)) this.fs.unlink(COMMIT_GRAPH_PATH);
    this.sql.exec("DELETE FROM git_commit_graph");
  }

  /**
   * Writes the graph of every stored commit whose ancestry is stored whole (as git, which
   * writes none in a shallow repository, we leave out commits above a missing parent).
   * Returns how many commits it holds.
   */
  write(): number {
    const graph = this.commits();
    const bytes = writeCommitGraph(graph);
    this.sql.exec("INSERT OR REPLACE INTO git_commit_graph (id, packs) VALUES (1, ?)", this.packSet());
    if (!this.fs.exists("/objects/info")) this.fs.mkdir("/objects/info", { recursive: true });
    this.fs.writeFile(COMMIT_GRAPH_PATH, bytes);
    return graph.count;
  }

  /**
   * Two passes over the table, in name order, so that memory is flat arrays: names first,
   * then parents resolved to positions by binary search.
   */
  private commits(): GraphCommits {
    const total = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM git_commit").one().n;
    const oids = new Uint8Array(total * HASH);
    let count = 0;
    for (const row of this.sql.exec<{ oid: string }>("SELECT oid FROM git_commit ORDER BY oid")) {
      oids.set(Buffer.from(row.oid, "hex"), count++ * HASH);
    }
    const find = (hex: string): number => {
      const want = Buffer.from(hex, "hex");
      let lo = 0;
      let hi = count;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const c = Buffer.compare(oids.subarray(mid * HASH, (mid + 1) * HASH), want);
        if (c === 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
      }
      return -1;
    };
    const trees = new Uint8Array(count * HASH);
    const times = new Float64Array(count);
    const parentStart = new Uint32Array(count + 1);
    let parents = new Uint32Array(Math.max(16, count + (count >>> 3)));
    const broken = new Uint8Array(count);
    let i = 0;
    let used = 0;
    for (const row of this.sql.exec<{ tree: string; parents: string; time: number }>(
      "SELECT tree, parents, time FROM git_commit ORDER BY oid",
    )) {
      trees.set(Buffer.from(row.tree, "hex"), i * HASH);
      times[i] = row.time;
      parentStart[i] = used;
      for (const p of row.parents ? row.parents.split(" ") : []) {
        const at = find(p);
        if (at < 0) {
          broken[i] = 1;
          continue;
        }
        if (used === parents.length) {
          const grown = new Uint32Array(parents.length * 2);
          grown.set(parents);
          parents = grown;
        }
        parents[used++] = at;
      }
      i++;
    }
    parentStart[count] = used;
    const full = { count, oids, trees, times, parentStart, parents };
    return broken.some((b) => b) ? withoutBroken(full, broken) : full;
  }
}

/** The graph without the commits that have a missing parent, nor any of their descendants. */
function withoutBroken(g: GraphCommits, broken: Uint8Array): GraphCommits {
  // A commit is out when any parent is out: settle each commit after its parents, with
  // an explicit stack since histories are deeper than any call stack.
  const OUT = 1;
  const IN = 2;
  // Each edge pushes at most once: a commit seen again has all it pushed settled.
  const stack = new Uint32Array(g.parentStart[g.count] + 1);
  for (let start = 0; start < g.count; start++) {
    if (broken[start]) continue;
    let top = 0;
    stack[top++] = start;
    while (top > 0) {
      const c = stack[top - 1];
      if (broken[c]) {
        top--;
        continue;
      }
      let out = false;
      for (let k = g.parentStart[c]; k < g.parentStart[c + 1]; k++) if (broken[g.parents[k]] === OUT) out = true;
      let pending = false;
      if (!out) {
        for (let k = g.parentStart[c]; k < g.parentStart[c + 1]; k++) {
          if (!broken[g.parents[k]]) {
            stack[top++] = g.parents[k];
            pending = true;
          }
        }
      }
      if (pending) continue;
      broken[c] = out ? OUT : IN;
      top--;
    }
  }
  const renumber = new Int32Array(g.count).fill(-1);
  let kept = 0;
  for (let i = 0; i < g.count; i++) if (broken[i] !== OUT) renumber[i] = kept++;
  const out: GraphCommits = {
    count: kept,
    oids: new Uint8Array(kept * HASH),
    trees: new Uint8Array(kept * HASH),
    times: new Float64Array(kept),
    parentStart: new Uint32Array(kept + 1),
    parents: new Uint32Array(g.parentStart[g.count]),
  };
  let used = 0;
  for (let i = 0; i < g.count; i++) {
    const j = renumber[i];
    if (j < 0) continue;
    out.oids.set(g.oids.subarray(i * HASH, (i + 1) * HASH), j * HASH);
    out.trees.set(g.trees.subarray(i * HASH, (i + 1) * HASH), j * HASH);
    out.times[j] = g.times[i];
    out.parentStart[j] = used;
    for (let k = g.parentStart[i]; k < g.parentStart[i + 1]; k++) out.parents[used++] = renumber[g.parents[k]];
  }
  out.parentStart[kept] = used;
  return out;
}
