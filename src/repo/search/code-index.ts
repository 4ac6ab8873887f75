// The code search index of a repository's default branch (and of other branches people
// search, up to a few): kept up to date by maintenance, off the push path, in slices
// bounded by work like compaction's. An update compares the tree it indexed with the
// branch's new tree, level by level, so only changed blobs are read and (re)indexed; a
// blob shared by several paths or branches is indexed once. What a slice has left to do
// is saved in search_queue, so an evicted object resumes where it stopped.
import type { ObjectStore } from "../../git/store/object-store";
import type { RefStore } from "../../git/refs";
import { MissingObjectError, parseTree } from "../../git/object/object";
import { ensureSearchSchema } from "./schema";
import { type CodeQuery, termPattern } from "./query";
import { ByteLru, approxBytes } from "../../util/lru";

export interface IndexConfig {
  /** Files larger than this are not indexed (GitHub: 384 KB). */
  maxFileBytes: number;
  /**
   * Work per slice: trees and blobs looked at, blob bytes read, and the distinct
   * trigrams of each text indexed, summed. The last is what FTS5 pays for: source code
   * has few per byte, random or encoded text (base64, minified data) up to ten times
   * more, and 8 MiB of it took 10 s in one slice.
   */
  sliceEntries: number;
  sliceBytes: number;
  sliceTrigrams: number;
  /** Branches other than the default one kept indexed, the most recently searched. */
  extraBranches: number;
}

export const DEFAULT_INDEX: IndexConfig = {
  maxFileBytes: 384 * 1024,
  // About half a second of inflating and indexing on a quiet machine (bench/search.ts):
  // a clone or push that arrives during a slice waits it out (see ../git-first.ts).
  sliceEntries: 4000,
  sliceBytes: 4 * 1024 * 1024,
  // About as long: 4 MiB of source code has about as many (20 files of 200 KB).
  sliceTrigrams: 250_000,
  extraBranches: 4,
};

export interface IndexSlice {
  more: boolean;
  /** Blobs added to the index and files removed from it in this slice. */
  indexed: number;
  removed: number;
  bytes: number;
  /** Distinct trigrams of the texts indexed, each text counted apart (estimated), plus each text's fixed cost. */
  trigrams: number;
}

export interface MatchLine {
  number: number;
  text: string;
  /** [start, end) of each match in `text`, in UTF-16 code units. */
  ranges: number[][];
}

export interface CodeHit {
  path: string;
  sha: string;
  /** The first matching lines (at most MAX_LINES), and how many lines match in all. */
  lines: MatchLine[];
  matchingLines: number;
}

export interface CodeResults {
  branch: string;
  total: number;
  hits: CodeHit[];
  /** The commit the results come from, and the branch's tip; they differ while the index is behind. */
  indexed: string | null;
  head: string | null;
}

const MAX_LINES = 10;
/** Results that can be paged to (GitHub: 1,000). */
const MAX_RESULTS = 1000;
/** Matching lines are cut to this many characters around the first match. */
const MAX_LINE_CHARS = 400;

type QueueRow = { id: number; branch: string; path: string; old: string | null; new: string | null; tree: number };
type BranchRow = { name: string; indexed: string | null; indexed_tree: string | null; target: string | null; dropping: number };

export class CodeIndex {
  private running = false;
  /** Bumped whenever a slice may have changed the index: the key of `recent`. */
  private generation = 0;
  /** Recent queries' matching files, by generation and query. */
  private readonly recent = new ByteLru<string, { total: number; rows: { path: string; oid: string; id: number }[] }>(
    4 * 1024 * 1024,
    (found) => approxBytes(found.rows),
  );

  private readonly sql: SqlStorage;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly store: ObjectStore,
    private readonly refs: RefStore,
    private config: IndexConfig = DEFAULT_INDEX,
  ) {
    this.sql = storage.sql;
    ensureSearchSchema(this.sql);
  }

  private defaultBranch(): string | null {
    return this.refs.head().symref?.replace(/^refs\/heads\//, "") ?? null;
  }

  /** The commit `branch` points at; `refs` saves listing them again for each of several branches. */
  private tip(branch: string, refs = this.refs.list()): string | null {
    const oid = refs.get(`refs/heads/${branch}`);
    return oid ? (this.store.peel(oid) ?? oid) : null;
  }

  private branches(): BranchRow[] {
    return this.sql.exec<BranchRow>("SELECT name, indexed, indexed_tree, target, dropping FROM search_branch ORDER BY name").toArray();
  }

  private closed = false;

  /**
   * Stops this index for good: the repository is being erased, and a slice that resumes
   * after an await must not write into the storage that replaces it.
   */
  close(): void {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error("the search index was closed");
  }

  /** A slice is running. */
  get busy(): boolean {
    return this.running;
  }

  /** Whether an indexed branch is behind its tip, being dropped, or the default branch is not indexed yet. */
  needsWork(): boolean {
    const rows = this.branches();
    const main = this.defaultBranch();
    const refs = this.refs.list();
    if (main && this.tip(main, refs) && !rows.some((r) => r.name === main)) return true;
    return rows.some((r) => r.dropping === 1 || r.target !== null || r.indexed !== this.tip(r.name, refs));
  }

  /** Starts indexing `branch` (if it exists) on its next slice; at most `extraBranches` besides the default. */
  track(branch: string, now = Date.now()): void {
    if (!this.tip(branch)) return;
    const known = this.sql.exec<{ dropping: number }>("SELECT dropping FROM search_branch WHERE name = ?", branch).toArray()[0];
    if (known && !known.dropping) {
      this.sql.exec("UPDATE search_branch SET searched_at = ? WHERE name = ?", now, branch);
      return;
    }
    if (known) return; // still being dropped; it comes back once the drop is done
    this.sql.exec("INSERT INTO search_branch (name, searched_at) VALUES (?, ?)", branch, now);
    const main = this.defaultBranch();
    const extra = this.sql
      .exec<{ name: string }>("SELECT name FROM search_branch WHERE dropping = 0 AND name != ? ORDER BY searched_at DESC", main ?? "")
      .toArray();
    for (const old of extra.slice(this.config.extraBranches))
      this.sql.exec("UPDATE search_branch SET dropping = 1 WHERE name = ?", old.name);
  }

  /** One bounded slice of index work; `overrides` change the configuration for this slice only. */
  async slice(overrides: Partial<IndexConfig> = {}): Promise<IndexSlice> {
    const report: IndexSlice = { more: false, indexed: 0, removed: 0, bytes: 0, trigrams: 0 };
    if (this.running || this.closed) return { ...report, more: !this.closed };
    this.running = true;
    this.generation++;
    const configured = this.config;
    this.config = { ...configured, ...overrides };
    try {
      const main = this.defaultBranch();
      if (main) this.track(main);
      let budget = this.config.sliceEntries;
      for (const branch of this.branches()) {
        if (budget <= 0 || this.spent(report)) break;
        if (branch.dropping) budget -= this.dropSome(branch.name, budget, report);
        else budget = await this.update(branch, budget, report);
      }
      report.more = this.needsWork();
      return report;
    } finally {
      // Searches that ran while this slice awaited saw a half-changed index.
      this.generation++;
      this.config = configured;
      this.running = false;
    }
  }

  /** Removes up to `limit` files of a branch no longer indexed; the branch row goes with its last file. */
  private dropSome(branch: string, limit: number, report: IndexSlice): number {
    const paths = this.sql
      .exec<{ path: string }>("SELECT path FROM search_file WHERE branch = ? LIMIT ?", branch, limit)
      .toArray()
      .map((r) => r.path);
    this.sql.exec("DELETE FROM search_queue WHERE branch = ?", branch);
    for (const path of paths) this.removeFile(branch, path);
    report.removed += paths.length;
    if (paths.length < limit) this.sql.exec("DELETE FROM search_branch WHERE name = ?", branch);
    return paths.length + 1;
  }

  /** Whether a slice has used its bytes or its trigrams. */
  private spent(report: IndexSlice): boolean {
    return report.bytes >= this.config.sliceBytes || report.trigrams >= this.config.sliceTrigrams;
  }

  /** Moves a branch's index toward its tip; returns the budget left. */
  private async update(branch: BranchRow, budget: number, report: IndexSlice): Promise<number> {
    const tip = this.tip(branch.name);
    if (!tip) {
      this.sql.exec("UPDATE search_branch SET dropping = 1 WHERE name = ?", branch.name);
      return budget;
    }
    if (branch.target === null) {
      if (branch.indexed === tip) return budget;
      const tree = this.store.commit(tip).tree;
      // Compare with the tree the index holds, so that only what changed is read.
      this.sql.exec(
        "INSERT INTO search_queue (branch, path, old, new, tree) VALUES (?, '', ?, ?, 1)",
        branch.name,
        branch.indexed_tree,
        tree,
      );
      this.sql.exec("UPDATE search_branch SET target = ? WHERE name = ?", tip, branch.name);
      branch = { ...branch, target: tip };
    }
    try {
      while (budget > 0 && !this.spent(report)) {
        const step = this.sql
          .exec<QueueRow>("SELECT id, branch, path, old, new, tree FROM search_queue WHERE branch = ? ORDER BY id LIMIT 1", branch.name)
          .toArray()[0];
        if (!step) {
          const orphans = this.sql.exec<{ blob: number }>("SELECT blob FROM search_orphan LIMIT ?", budget).toArray();
          if (orphans.length) {
            budget -= orphans.length;
            for (const { blob } of orphans) this.collect(blob);
            continue;
          }
          const target = branch.target as string;
          this.sql.exec(
            "UPDATE search_branch SET indexed = ?, indexed_tree = ?, target = NULL WHERE name = ?",
            target,
            this.store.commit(target).tree,
            branch.name,
          );
          return budget;
        }
        budget--;
        if (step.tree) await this.compareTrees(step);
        else await this.indexBlob(step, report);
      }
    } catch (e) {
      // An object the update needed is gone (a force push, then a prune): index the tip afresh.
      if (!(e instanceof MissingObjectError)) throw e;
      this.sql.exec("DELETE FROM search_queue WHERE branch = ?", branch.name);
      for (const { path } of this.sql.exec<{ path: string }>("SELECT path FROM search_file WHERE branch = ?", branch.name).toArray())
        this.removeFile(branch.name, path);
      this.sql.exec("UPDATE search_branch SET indexed = NULL, indexed_tree = NULL, target = NULL WHERE name = ?", branch.name);
    }
    return budget;
  }

  /** Queues the differences between two trees at `step.path`, one level deep. */
  private async compareTrees(step: QueueRow): Promise<void> {
    const read = async (oid: string | null) => (oid ? parseTree((await this.store.read(oid)).data) : []);
    const [left, right] = await Promise.all([read(step.old), read(step.new)]);
    this.checkOpen();
    const before = new Map(left.map((e) => [e.name, e]));
    const after = new Map(right.map((e) => [e.name, e]));
    const isTree = (mode: string) => mode === "40000" || mode === "040000";
    const isFile = (mode: string) => mode.startsWith("100");
    this.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM search_queue WHERE id = ?", step.id);
      for (const name of new Set([...before.keys(), ...after.keys()])) {
        const l = before.get(name);
        const r = after.get(name);
        if (l && r && l.oid === r.oid && l.mode === r.mode) continue;
        const path = step.path ? `${step.path}/${name}` : name;
        const lTree = l && isTree(l.mode) ? l.oid : null;
        const rTree = r && isTree(r.mode) ? r.oid : null;
        if (lTree || rTree) this.queue(step.branch, path, lTree, rTree, 1);
        const lFile = l && isFile(l.mode) ? l.oid : null;
        const rFile = r && isFile(r.mode) ? r.oid : null;
        if (lFile || rFile) this.queue(step.branch, path, lFile, rFile, 0);
      }
    });
  }

  private queue(branch: string, path: string, old: string | null, now: string | null, tree: number): void {
    this.sql.exec("INSERT INTO search_queue (branch, path, old, new, tree) VALUES (?, ?, ?, ?, ?)", branch, path, old, now, tree);
  }

  /** Adds, replaces or removes one file of a branch. */
  private async indexBlob(step: QueueRow, report: IndexSlice): Promise<void> {
    let text: string | null = null;
    let known: number | null = null;
    if (step.new) {
      known = this.sql.exec<{ id: number }>("SELECT id FROM search_blob WHERE oid = ?", step.new).toArray()[0]?.id ?? null;
      const size = this.store.info(step.new)?.size ?? 0;
      if (known === null && size <= this.config.maxFileBytes) {
        const data = (await this.store.read(step.new)).data;
        report.bytes += data.byteLength;
        if (!isBinary(data)) {
          text = new TextDecoder().decode(data);
          report.trigrams += distinctTrigrams(text) + TEXT_TRIGRAMS;
        }
      }
    }
    this.checkOpen();
    this.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM search_queue WHERE id = ?", step.id);
      this.removeFile(step.branch, step.path, true);
      let blob = known;
      if (blob === null && text !== null && step.new) {
        blob = this.sql
          .exec<{ id: number }>("INSERT INTO search_blob (oid, size) VALUES (?, ?) RETURNING id", step.new, text.length)
          .one().id;
        this.sql.exec("INSERT INTO search_text (rowid, body) VALUES (?, ?)", blob, text);
      }
      if (blob !== null) {
        this.sql.exec("INSERT INTO search_file (branch, path, blob) VALUES (?, ?, ?)", step.branch, step.path, blob);
        report.indexed++;
      } else if (!step.new) report.removed++;
    });
  }

  /**
   * Removes a file from a branch's index, and its text when no other file has it; during
   * an update (`deferred`) only at the update's end, as the file may reappear elsewhere.
   */
  private removeFile(branch: string, path: string, deferred = false): void {
    const gone = this.sql
      .exec<{ blob: number }>("DELETE FROM search_file WHERE branch = ? AND path = ? RETURNING blob", branch, path)
      .toArray()[0];
    if (!gone) return;
    if (deferred) this.sql.exec("INSERT OR IGNORE INTO search_orphan (blob) VALUES (?)", gone.blob);
    else this.collect(gone.blob);
  }

  /** Drops a blob's text when no file has it. */
  private collect(blob: number): void {
    this.sql.exec("DELETE FROM search_orphan WHERE blob = ?", blob);
    if (this.sql.exec("SELECT 1 FROM search_file WHERE blob = ? LIMIT 1", blob).toArray().length) return;
    this.sql.exec("DELETE FROM search_blob WHERE id = ?", blob);
    this.sql.exec("DELETE FROM search_text WHERE rowid = ?", blob);
  }

  /** Which commit a branch's index holds, and the branch's tip. */
  status(branch: string): { indexed: string | null; head: string | null } {
    const row = this.sql.exec<{ indexed: string | null }>("SELECT indexed FROM search_branch WHERE name = ?", branch).toArray()[0];
    return { indexed: row?.indexed ?? null, head: this.tip(branch) };
  }

  /** The files of `branch` that match, best first, `offset`/`limit` of them. */
  search(branch: string, query: CodeQuery, offset: number, limit: number): CodeResults {
    this.track(branch);
    const match = query.terms.map((t) => `"${t.replaceAll('"', '""')}"`).join(" AND ");
    const where: string[] = ["search_text MATCH ?", "f.branch = ?"];
    const args: (string | number)[] = [match, branch];
    if (query.paths.length) {
      where.push(`(${query.paths.map(() => "f.path LIKE ? ESCAPE '\\'").join(" OR ")})`);
      for (const p of query.paths) args.push(p.startsWith("/") ? `${like(p.slice(1))}%` : `%${like(p)}%`);
    }
    if (query.extensions.length) {
      where.push(`(${query.extensions.map(() => "f.path LIKE ? ESCAPE '\\'").join(" OR ")})`);
      for (const e of query.extensions) args.push(`%.${like(e)}`);
    }
    // One pass over the full-text index gives the count and every page: the same query
    // again (the next page, a reload) comes from memory until the index changes.
    // As on GitHub, only the first MAX_RESULTS can be paged to; past that only counted.
    const key = JSON.stringify([this.generation, args]);
    let found = this.recent.get(key);
    if (!found) {
      const from = `FROM search_text JOIN search_blob b ON b.id = search_text.rowid JOIN search_file f ON f.blob = b.id WHERE ${where.join(" AND ")}`;
      const rows = this.sql
        .exec<{ path: string; oid: string; id: number }>(
          `SELECT f.path, b.oid, b.id ${from} ORDER BY f.path LIMIT ?`,
          ...args,
          MAX_RESULTS + 1,
        )
        .toArray();
      const total = rows.length > MAX_RESULTS ? this.sql.exec<{ n: number }>(`SELECT count(*) AS n ${from}`, ...args).one().n : rows.length;
      found = { total, rows: rows.slice(0, MAX_RESULTS) };
      this.recent.set(key, found);
    }
    const { total } = found;
    const rows = found.rows.slice(offset, offset + limit);
    const pattern = termPattern(query.terms);
    const hits = rows.map((r) => {
      const body = this.sql.exec<{ body: string }>("SELECT body FROM search_text WHERE rowid = ?", r.id).one().body;
      return { path: r.path, sha: r.oid, ...matchingLines(body, pattern) };
    });
    return { branch, total, hits, ...this.status(branch) };
  }
}

function like(s: string): string {
  return s.replace(/[\\%_]/g, "\\$&");
}

/** NUL in the first 8000 bytes: binary, as git decides. */
/**
 * What a text costs besides its trigrams (its transaction and rows), in trigrams' worth:
 * 760 texts of 2.6 KB, 250,000 trigrams, took a second, twice what their trigrams alone do.
 */
const TEXT_TRIGRAMS = 500;

const TRIGRAM_MAX_BITS = 1 << 20;
const trigramSeen = new Uint32Array(TRIGRAM_MAX_BITS / 32);

/**
 * About how many distinct trigrams `text` has (of UTF-16 units, case kept: a little
 * over what the case-folding tokenizer sees), by linear counting over a bit map of
 * about four bits per character, at most 2^20: a few milliseconds for the largest file
 * indexed, against FTS5's quarter second for its 140,000 trigrams of random base64.
 */
export function distinctTrigrams(text: string): number {
  let bits = 1024;
  while (bits < TRIGRAM_MAX_BITS && bits < text.length * 4) bits *= 2;
  const shift = 32 - Math.log2(bits);
  trigramSeen.fill(0, 0, bits / 32);
  let set = 0;
  for (let i = 0; i + 2 < text.length; i++) {
    let h =
      Math.imul(text.charCodeAt(i), 0x9e3779b1) ^
      Math.imul(text.charCodeAt(i + 1), 0x85ebca6b) ^
      Math.imul(text.charCodeAt(i + 2), 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
    const bit = h >>> shift;
    const mask = 1 << (bit & 31);
    if ((trigramSeen[bit >>> 5] & mask) === 0) {
      trigramSeen[bit >>> 5] |= mask;
      set++;
    }
  }
  if (set === 0) return 0;
  if (set >= bits) return text.length;
  return Math.round(-bits * Math.log(1 - set / bits));
}

function isBinary(data: Uint8Array): boolean {
  const n = Math.min(data.byteLength, 8000);
  for (let i = 0; i < n; i++) if (data[i] === 0) return true;
  return false;
}

/** The lines of `body` that `pattern` matches, with where. */
export function matchingLines(body: string, pattern: RegExp): { lines: MatchLine[]; matchingLines: number } {
  const lines: MatchLine[] = [];
  let count = 0;
  let number = 0;
  for (const raw of body.split("\n")) {
    number++;
    pattern.lastIndex = 0;
    if (!pattern.test(raw)) continue;
    count++;
    if (lines.length >= MAX_LINES) continue;
    pattern.lastIndex = 0;
    let text = raw.replace(/\r$/, "");
    let shift = 0;
    if (text.length > MAX_LINE_CHARS) {
      const first = pattern.exec(text)?.index ?? 0;
      shift = Math.max(0, first - MAX_LINE_CHARS / 4);
      text = text.slice(shift, shift + MAX_LINE_CHARS);
      pattern.lastIndex = 0;
    }
    const ranges: number[][] = [];
    for (const m of text.matchAll(pattern)) ranges.push([m.index, m.index + m[0].length]);
    lines.push({ number, text, ranges });
  }
  return { lines, matchingLines: count };
}
