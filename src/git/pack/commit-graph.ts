// The commit-graph file (gitformat-commit-graph(5)), version 1 with SHA-1: every commit's
// tree, parents, committer time and generation number (topological level) in flat arrays,
// so that C git, given an exported repository, walks history without inflating commits.
//
// We write what `git -c commitGraph.generationVersion=1 commit-graph write` writes for the
// same commits: the OIDF, OIDL, CDAT and (for octopus merges) EDGE chunks, no GDA2 and no
// changed-path filters. The reader is for our own use and for tests.
import { createHash } from "node:crypto";

const SIGNATURE = 0x43475048; // "CGPH"
const CHUNK_OIDF = 0x4f494446;
const CHUNK_OIDL = 0x4f49444c;
const CHUNK_CDAT = 0x43444154;
const CHUNK_EDGE = 0x45444745;
const HASH = 20;
const PARENT_NONE = 0x70000000;
const PARENT_EXTRA = 0x80000000;
/** Topological levels above this are stored as this (GENERATION_NUMBER_V1_MAX). */
const GENERATION_MAX = 0x3fffffff;

export class CommitGraphError extends Error {
  override name = "CommitGraphError";
}

/**
 * The commits of a graph, by position: `oids` holds `count` 20-byte names in ascending
 * order; commit i's parents are `parents[parentStart[i] .. parentStart[i + 1])`, as
 * positions, in the commit's own order.
 */
export interface GraphCommits {
  count: number;
  oids: Uint8Array;
  trees: Uint8Array;
  times: Float64Array;
  parentStart: Uint32Array;
  parents: Uint32Array;
}

/**
 * Topological levels: 1 for a root, else one more than the highest parent's. Iterative,
 * since histories are deeper than any call stack.
 */
export function topologicalLevels(g: GraphCommits): Uint32Array {
  const level = new Uint32Array(g.count);
  // Each edge pushes at most once: a commit seen again has all it pushed settled.
  const stack = new Uint32Array(g.parentStart[g.count] + 1);
  for (let start = 0; start < g.count; start++) {
    if (level[start]) continue;
    let top = 0;
    stack[top++] = start;
    while (top > 0) {
      const c = stack[top - 1];
      if (level[c]) {
        top--;
        continue;
      }
      let max = 0;
      let pending = false;
      for (let k = g.parentStart[c]; k < g.parentStart[c + 1]; k++) {
        const p = g.parents[k];
        if (!level[p]) {
          stack[top++] = p;
          pending = true;
        } else if (level[p] > max) max = level[p];
      }
      if (pending) continue;
      level[c] = Math.min(max + 1, GENERATION_MAX);
      top--;
    }
  }
  return level;
}

/** The file's bytes, trailer included. */
export function writeCommitGraph(g: GraphCommits): Uint8Array {
  const n = g.count;
  const level = topologicalLevels(g);
  let extra = 0;
  for (let i = 0; i < n; i++) {
    const k = g.parentStart[i + 1] - g.parentStart[i];
    if (k > 2) extra += k - 1;
  }
  const chunks: [number, number][] = [
    [CHUNK_OIDF, 256 * 4],
    [CHUNK_OIDL, n * HASH],
    [CHUNK_CDAT, n * (HASH + 16)],
  ];
  if (extra) chunks.push([CHUNK_EDGE, extra * 4]);
  const lookup = 8 + (chunks.length + 1) * 12;
  const body = lookup + chunks.reduce((s, [, len]) => s + len, 0);
  const out = new Uint8Array(body + HASH);
  const view = new DataView(out.buffer);

  view.setUint32(0, SIGNATURE);
  out[4] = 1; // version
  out[5] = 1; // SHA-1
  out[6] = chunks.length;
  out[7] = 0; // no base graphs
  let at = lookup;
  const starts: number[] = [];
  chunks.forEach(([id, len], i) => {
    view.setUint32(8 + i * 12, id);
    view.setBigUint64(8 + i * 12 + 4, BigInt(at));
    starts.push(at);
    at += len;
  });
  view.setBigUint64(8 + chunks.length * 12 + 4, BigInt(at));

  const [fanout, oidl, cdat, edge] = starts;
  for (let i = 0, b = 0; b < 256; b++) {
    while (i < n && g.oids[i * HASH] === b) i++;
    view.setUint32(fanout + b * 4, i);
  }
  out.set(g.oids.subarray(0, n * HASH), oidl);
  let edges = 0;
  for (let i = 0; i < n; i++) {
    const row = cdat + i * (HASH + 16);
    out.set(g.trees.subarray(i * HASH, (i + 1) * HASH), row);
    const first = g.parentStart[i];
    const k = g.parentStart[i + 1] - first;
    view.setUint32(row + HASH, k > 0 ? g.parents[first] : PARENT_NONE);
    if (k <= 1) view.setUint32(row + HASH + 4, PARENT_NONE);
    else if (k === 2) view.setUint32(row + HASH + 4, g.parents[first + 1]);
    else {
      view.setUint32(row + HASH + 4, PARENT_EXTRA | edges);
      for (let j = 1; j < k; j++) {
        const last = j === k - 1 ? PARENT_EXTRA : 0;
        view.setUint32(edge + edges * 4, (g.parents[first + j] | last) >>> 0);
        edges++;
      }
    }
    // 30 bits of level, then 34 bits of time: its top two bits share the level's word.
    const time = Math.max(0, Math.floor(g.times[i]));
    const high = Math.floor(time / 2 ** 32) & 3;
    view.setUint32(row + HASH + 8, ((level[i] << 2) | high) >>> 0);
    view.setUint32(row + HASH + 12, time >>> 0);
  }
  out.set(createHash("sha1").update(out.subarray(0, body)).digest(), body);
  return out;
}

/** A commit as a parsed graph holds it. */
export interface GraphEntry {
  tree: string;
  parents: string[];
  time: number;
  generation: number;
}

/** Reads a graph written as above; checks the header, the chunk table and the trailer. */
export class CommitGraph {
  readonly count: number;
  private readonly view: DataView;
  private readonly oidl: number;
  private readonly cdat: number;
  private readonly edge: number;

  constructor(private readonly bytes: Uint8Array) {
    if (bytes.byteLength < 8 + 12 + HASH) throw new CommitGraphError("commit-graph: too short");
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (this.view.getUint32(0) !== SIGNATURE) throw new CommitGraphError("commit-graph: bad signature");
    if (bytes[4] !== 1 || bytes[5] !== 1) throw new CommitGraphError("commit-graph: unsupported version or hash");
    const body = bytes.byteLength - HASH;
    const sum = createHash("sha1").update(bytes.subarray(0, body)).digest();
    if (!sum.equals(bytes.subarray(body))) throw new CommitGraphError("commit-graph: checksum mismatch");
    const found = new Map<number, number>();
    for (let i = 0; i < bytes[6]; i++) found.set(this.view.getUint32(8 + i * 12), Number(this.view.getBigUint64(12 + i * 12)));
    const need = (id: number) => {
      const at = found.get(id);
      if (at === undefined || at > body) throw new CommitGraphError("commit-graph: missing chunk");
      return at;
    };
    const fanout = need(CHUNK_OIDF);
    this.count = this.view.getUint32(fanout + 255 * 4);
    this.oidl = need(CHUNK_OIDL);
    this.cdat = need(CHUNK_CDAT);
    this.edge = found.get(CHUNK_EDGE) ?? -1;
  }

  /** The position of a commit, by binary search, or -1. */
  position(oid: string): number {
    const want = Buffer.from(oid, "hex");
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = Buffer.compare(this.bytes.subarray(this.oidl + mid * HASH, this.oidl + (mid + 1) * HASH), want);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  oidAt(i: number): string {
    return Buffer.from(this.bytes.subarray(this.oidl + i * HASH, this.oidl + (i + 1) * HASH)).toString("hex");
  }

  /** Commit i's parents, as positions, in the commit's own order. */
  parentsAt(i: number): number[] {
    const row = this.cdat + i * (HASH + 16);
    const p1 = this.view.getUint32(row + HASH);
    const p2 = this.view.getUint32(row + HASH + 4);
    if (p1 === PARENT_NONE) return [];
    if (p2 === PARENT_NONE) return [p1];
    if (!(p2 & PARENT_EXTRA)) return [p1, p2];
    if (this.edge < 0) throw new CommitGraphError("commit-graph: octopus merge without EDGE chunk");
    const parents = [p1];
    for (let k = p2 & ~PARENT_EXTRA; ; k++) {
      const e = this.view.getUint32(this.edge + k * 4);
      parents.push(e & ~PARENT_EXTRA);
      if (e & PARENT_EXTRA) break;
    }
    return parents;
  }

  /** Commit i's committer time. */
  timeAt(i: number): number {
    const row = this.cdat + i * (HASH + 16);
    return (this.view.getUint32(row + HASH + 8) & 3) * 2 ** 32 + this.view.getUint32(row + HASH + 12);
  }

  entry(i: number): GraphEntry {
    const row = this.cdat + i * (HASH + 16);
    const parents: string[] = [];
    const p1 = this.view.getUint32(row + HASH);
    const p2 = this.view.getUint32(row + HASH + 4);
    if (p1 !== PARENT_NONE) parents.push(this.oidAt(p1));
    if (p2 !== PARENT_NONE && !(p2 & PARENT_EXTRA)) parents.push(this.oidAt(p2));
    else if (p2 !== PARENT_NONE) {
      if (this.edge < 0) throw new CommitGraphError("commit-graph: octopus merge without EDGE chunk");
      for (let k = p2 & ~PARENT_EXTRA; ; k++) {
        const e = this.view.getUint32(this.edge + k * 4);
        parents.push(this.oidAt(e & ~PARENT_EXTRA));
        if (e & PARENT_EXTRA) break;
      }
    }
    const word = this.view.getUint32(row + HASH + 8);
    return {
      tree: Buffer.from(this.bytes.subarray(row, row + HASH)).toString("hex"),
      parents,
      time: (word & 3) * 2 ** 32 + this.view.getUint32(row + HASH + 12),
      generation: word >>> 2,
    };
  }
}
