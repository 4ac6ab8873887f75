// Writes `objects/info/commit-graph` from the commit table, so that an exported repository
// carries the file C git would write, and marks which packs it describes, so maintenance
// knows when it is stale. The file is derived: losing it loses nothing but speed.
//
// Written in steps, each one bounded: the commit table is read a range of names at a
// time into `git_commit_graph_part` as packed binary rows (the table's hex text costs
// more to read than the rest of the work), then a last step resolves parents, computes
// levels and writes the file from those rows alone. A change to the packs between steps
// (a push, a compaction) starts the job again: the file names the packs it was read from.
import type { Dofs } from "../../fs/dofs";
import { type GraphCommits, writeCommitGraph } from "../pack/commit-graph";

export const COMMIT_GRAPH_PATH = "/objects/info/commit-graph";

const HASH = 20;
/** Bytes of packed rows per part: under SQLite's 2 MB row. */
const PART_BYTES = 1 << 20;

export interface GraphStep {
  /** Commits read from the commit table by this step. */
  read: number;
  /** Commits in the file, when this step wrote it; 0 otherwise. */
  written: number;
  /** Whether the file is written: nothing more to do for these packs. */
  done: boolean;
}

export class CommitGraphFile {
  constructor(
    private readonly fs: Dofs,
    private readonly sql: SqlStorage,
  ) {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS git_commit_graph (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      packs TEXT NOT NULL
    )`);
    // The job in progress: the packs it reads, and the last commit name read so far.
    this.sql.exec(`CREATE TABLE IF NOT EXISTS git_commit_graph_job (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      packs TEXT NOT NULL,
      after TEXT NOT NULL
    )`);
    // Each row: name, tree, time (f64), parent count (u16), parents' names; in name order.
    this.sql.exec("CREATE TABLE IF NOT EXISTS git_commit_graph_part (seq INTEGER PRIMARY KEY, rows BLOB NOT NULL)");
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
   * Forgets the graph and any job in progress, inside the transaction that drops commits:
   * a graph naming a commit the repository no longer has fails `git fsck`.
   */
  drop(): void {
    if (this.fs.exists(COMMIT_GRAPH_PATH)) this.fs.unlink(COMMIT_GRAPH_PATH);
    this.sql.exec("DELETE FROM git_commit_graph");
    this.forgetJob();
  }

  private forgetJob(): void {
    this.sql.exec("DELETE FROM git_commit_graph_job");
    this.sql.exec("DELETE FROM git_commit_graph_part");
  }

  /**
   * One step towards the graph of every stored commit whose ancestry is stored whole (as
   * git, which writes none in a shallow repository, we leave out commits above a missing
   * parent): reads up to `budget` commits, or, once all are read, writes the file.
   */
  step(budget: number): GraphStep {
    const packs = this.packSet();
    let job = this.sql.exec<{ packs: string; after: string }>("SELECT packs, after FROM git_commit_graph_job WHERE id = 1").toArray()[0];
    if (job?.packs !== packs) {
      this.forgetJob();
      job = { packs, after: "" };
      this.sql.exec("INSERT INTO git_commit_graph_job (id, packs, after) VALUES (1, ?, '')", packs);
    }
    const read = this.readCommits(job.after, Math.max(1, budget));
    if (read) return { read, written: 0, done: false };
    const graph = this.commits();
    const bytes = writeCommitGraph(graph);
    this.sql.exec("INSERT OR REPLACE INTO git_commit_graph (id, packs) VALUES (1, ?)", packs);
    if (!this.fs.exists("/objects/info")) this.fs.mkdir("/objects/info", { recursive: true });
    this.fs.writeFile(COMMIT_GRAPH_PATH, bytes);
    this.forgetJob();
    return { read: 0, written: graph.count, done: true };
  }

  /** Writes the whole graph at once (tests, and small repositories). */
  write(): number {
    for (;;) {
      const s = this.step(Number.MAX_SAFE_INTEGER);
      if (s.done) return s.written;
    }
  }

  /** Packs up to `limit` commits named after `after` into parts; returns how many. */
  private readCommits(after: string, limit: number): number {
    let buf = new Uint8Array(PART_BYTES + 64 * 1024);
    let view = new DataView(buf.buffer);
    let at = 0;
    let count = 0;
    let last = after;
    const flush = () => {
      if (!at) return;
      this.sql.exec("INSERT INTO git_commit_graph_part (rows) VALUES (?)", buf.slice(0, at));
      at = 0;
    };
    for (const row of this.sql.exec<{ oid: string; tree: string; parents: string; time: number }>(
      "SELECT oid, tree, parents, time FROM git_commit WHERE oid > ? ORDER BY oid LIMIT ?",
      after,
      limit,
    )) {
      const parents = row.parents ? row.parents.split(" ") : [];
      const need = 2 * HASH + 10 + parents.length * HASH;
      if (at + need > buf.byteLength) {
        flush();
        if (need > buf.byteLength) {
          buf = new Uint8Array(need);
          view = new DataView(buf.buffer);
        }
      }
      putHex(buf, at, row.oid);
      putHex(buf, at + HASH, row.tree);
      view.setFloat64(at + 2 * HASH, row.time);
      view.setUint16(at + 2 * HASH + 8, parents.length);
      at += 2 * HASH + 10;
      for (const p of parents) {
        putHex(buf, at, p);
        at += HASH;
      }
      count++;
      last = row.oid;
      if (at >= PART_BYTES) flush();
    }
    flush();
    if (count) this.sql.exec("UPDATE git_commit_graph_job SET after = ? WHERE id = 1", last);
    return count;
  }

  /**
   * The commits from the parts, in name order, as flat arrays: names first, then parents
   * resolved to positions by binary search.
   */
  private commits(): GraphCommits {
    const parts = this.sql
      .exec<{ rows: ArrayBuffer }>("SELECT rows FROM git_commit_graph_part ORDER BY seq")
      .toArray()
      .map((r) => new Uint8Array(r.rows));
    let count = 0;
    let edges = 0;
    for (const part of parts) {
      const view = new DataView(part.buffer, part.byteOffset, part.byteLength);
      for (let at = 0; at < part.byteLength; count++) {
        const k = view.getUint16(at + 2 * HASH + 8);
        edges += k;
        at += 2 * HASH + 10 + k * HASH;
      }
    }
    const oids = new Uint8Array(count * HASH);
    const trees = new Uint8Array(count * HASH);
    const times = new Float64Array(count);
    let i = 0;
    for (const part of parts) {
      const view = new DataView(part.buffer, part.byteOffset, part.byteLength);
      for (let at = 0; at < part.byteLength; i++) {
        oids.set(part.subarray(at, at + HASH), i * HASH);
        trees.set(part.subarray(at + HASH, at + 2 * HASH), i * HASH);
        times[i] = view.getFloat64(at + 2 * HASH);
        at += 2 * HASH + 10 + view.getUint16(at + 2 * HASH + 8) * HASH;
      }
    }
    const find = (bytes: Uint8Array, from: number): number => {
      let lo = 0;
      let hi = count;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        let c = 0;
        for (let b = 0; b < HASH && c === 0; b++) c = oids[mid * HASH + b] - bytes[from + b];
        if (c === 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
      }
      return -1;
    };
    const parentStart = new Uint32Array(count + 1);
    const parents = new Uint32Array(Math.max(1, edges));
    const broken = new Uint8Array(count);
    let used = 0;
    i = 0;
    for (const part of parts) {
      const view = new DataView(part.buffer, part.byteOffset, part.byteLength);
      for (let at = 0; at < part.byteLength; i++) {
        const k = view.getUint16(at + 2 * HASH + 8);
        at += 2 * HASH + 10;
        parentStart[i] = used;
        for (let j = 0; j < k; j++, at += HASH) {
          const p = find(part, at);
          if (p < 0) broken[i] = 1;
          else parents[used++] = p;
        }
      }
    }
    parentStart[count] = used;
    const full = { count, oids, trees, times, parentStart, parents };
    return broken.some((b) => b) ? withoutBroken(full, broken) : full;
  }
}

/** Hex digit values by character code. */
const HEX = new Uint8Array(128);
for (let i = 0; i < 16; i++) {
  HEX["0123456789abcdef".charCodeAt(i)] = i;
  HEX["0123456789ABCDEF".charCodeAt(i)] = i;
}

function putHex(out: Uint8Array, at: number, hex: string): void {
  for (let i = 0; i < HASH; i++) out[at + i] = (HEX[hex.charCodeAt(2 * i)] << 4) | HEX[hex.charCodeAt(2 * i + 1)];
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
