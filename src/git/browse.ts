// Reading a repository the way a browser wants it: trees and blobs at a path, history,
// diffs, blame, refs with ahead/behind. Everything goes through the ObjectStore, and
// commit walks use the commit table (no inflating of commits).
import { diffArrays, structuredPatch } from "diff";
import type { ObjectStore } from "./store/object-store";
import { type Commit, type Signature, type TreeEntry, parseCommit, parseTree } from "./object/object";
import type { RefStore } from "./refs";
import { CommitQueue } from "./walk";
import { ByteLru, approxBytes } from "../util/lru";

export interface TreeItem {
  name: string;
  path: string;
  mode: string;
  oid: string;
  kind: "tree" | "blob" | "submodule" | "symlink";
}

export interface CommitSummary {
  oid: string;
  parents: string[];
  tree: string;
  author: Signature;
  committer: Signature;
  message: string;
  subject: string;
}

export interface Change {
  path: string;
  status: "added" | "modified" | "deleted";
  oldOid: string | null;
  newOid: string | null;
  oldMode: string | null;
  newMode: string | null;
}

function kindOf(mode: string): TreeItem["kind"] {
  if (mode === "40000" || mode === "040000") return "tree";
  if (mode === "160000") return "submodule";
  if (mode === "120000") return "symlink";
  return "blob";
}

/** How many objects an abbreviated id is checked against; an ambiguity page lists at most these. */
const ABBREV_CANDIDATES = 50;

export class Browser {
  /** Parsed trees by id: history pages look the same trees up again and again. */
  private readonly trees = new ByteLru<string, TreeEntry[]>(4 * 1024 * 1024, (t) => approxBytes(t));

  constructor(
    private readonly store: ObjectStore,
    private readonly refs: RefStore,
  ) {}

  /** (tree, path) -> the id at that path: content-addressed, so valid forever. */
  private readonly paths = new ByteLru<string, string | null>(2 * 1024 * 1024, () => 200);

  /** The id at `path` under a tree, or null; memoized per subtree. */
  private async pathOid(tree: string, path: string): Promise<string | null> {
    const key = `${tree}:${path}`;
    const hit = this.paths.get(key);
    if (hit !== undefined) return hit;
    const slash = path.indexOf("/");
    const head = slash < 0 ? path : path.slice(0, slash);
    const entry = (await this.parsedTree(tree)).find((e) => e.name === head);
    let result: string | null = null;
    if (entry) result = slash < 0 ? entry.oid : kindOf(entry.mode) === "tree" ? await this.pathOid(entry.oid, path.slice(slash + 1)) : null;
    this.paths.set(key, result);
    return result;
  }

  private async parsedTree(oid: string): Promise<TreeEntry[]> {
    const hit = this.trees.get(oid);
    if (hit) return hit;
    const entries = parseTree((await this.store.read(oid)).data);
    this.trees.set(oid, entries);
    return entries;
  }

  defaultBranch(): string | null {
    const head = this.refs.head();
    return head.symref?.replace(/^refs\/heads\//, "") ?? null;
  }

  /**
   * Splits "feature/x/src/main.ts" into a ref and a path the way GitHub does: the
   * longest prefix that names a branch or tag wins. Then, as git's rev-parse goes on,
   * HEAD, and a commit id, full or abbreviated to a unique prefix of 4 or more hex
   * digits (an annotated tag's id names the commit it points at); a resolved id is
   * spelled out in full, as links built from it must not become ambiguous later.
   */
  resolve(parts: string[]): { ref: string; commit: string; path: string } | null {
    const refs = this.refs.list();
    for (let i = parts.length; i >= 1; i--) {
      const name = parts.slice(0, i).join("/");
      const path = parts.slice(i).join("/");
      for (const full of [`refs/heads/${name}`, `refs/tags/${name}`]) {
        const oid = refs.get(full);
        if (oid) {
          const commit = this.store.peel(oid) ?? oid;
          if (this.store.typeOf(commit) === 1) return { ref: name, commit, path };
        }
      }
    }
    if (!parts.length) return null;
    const path = parts.slice(1).join("/");
    if (parts[0] === "HEAD") {
      const oid = this.refs.head().oid;
      const commit = oid ? (this.store.peel(oid) ?? oid) : null;
      return commit && this.store.typeOf(commit) === 1 ? { ref: this.defaultBranch() ?? commit, commit, path } : null;
    }
    const named = this.commitsNamed(parts[0]);
    return named.length === 1 ? { ref: named[0].commit, commit: named[0].commit, path } : null;
  }

  /**
   * The commits that `rev`, read as a full or abbreviated object id, may name: what
   * git calls the commit-ish candidates (commits, and annotated tags peeled to commits;
   * trees and blobs with the same prefix do not count). More than one: ambiguous.
   */
  commitsNamed(rev: string, limit = ABBREV_CANDIDATES): { oid: string; type: "commit" | "tag"; commit: string }[] {
    if (!/^[0-9a-fA-F]{4,40}$/.test(rev)) return [];
    const out: { oid: string; type: "commit" | "tag"; commit: string }[] = [];
    const seen = new Set<string>();
    for (const o of this.store.withPrefix(rev.toLowerCase(), [1, 4], limit)) {
      const commit = o.type === 4 ? this.store.peel(o.oid) : o.type === 1 ? o.oid : null;
      if (!commit || this.store.typeOf(commit) !== 1) continue;
      // A tag whose commit is itself a candidate adds no ambiguity: both name one commit.
      if (seen.has(commit)) continue;
      seen.add(commit);
      out.push({ oid: o.oid, type: o.type === 4 ? "tag" : "commit", commit });
    }
    return out;
  }

  async commit(oid: string): Promise<CommitSummary> {
    const o = await this.store.read(oid);
    if (o.type !== "commit") throw new Error(`${oid} is not a commit`);
    return summarize(oid, parseCommit(o.data));
  }

  /** The tree entry at `path` in a commit, or null. The root is a tree entry too. */
  async entry(commit: string, path: string): Promise<{ oid: string; mode: string; kind: TreeItem["kind"] } | null> {
    let oid = this.store.commit(commit).tree;
    let mode = "40000";
    for (const part of path.split("/").filter(Boolean)) {
      if (kindOf(mode) !== "tree") return null;
      const found = (await this.parsedTree(oid)).find((e) => e.name === part);
      if (!found) return null;
      oid = found.oid;
      mode = found.mode;
    }
    return { oid, mode, kind: kindOf(mode) };
  }

  async tree(treeOid: string, base: string): Promise<TreeItem[]> {
    const items = (await this.parsedTree(treeOid)).map((e) => ({
      name: e.name,
      path: base ? `${base}/${e.name}` : e.name,
      mode: e.mode,
      oid: e.oid,
      kind: kindOf(e.mode),
    }));
    // Directories first, then files, each by name: what people expect from a file list.
    return items.sort((a, b) => ((a.kind === "tree") === (b.kind === "tree") ? (a.name < b.name ? -1 : 1) : a.kind === "tree" ? -1 : 1));
  }

  async blob(oid: string): Promise<Uint8Array> {
    return (await this.store.read(oid)).data;
  }

  blobSize(oid: string): number {
    return this.store.info(oid)?.size ?? 0;
  }

  /** History from `start`, newest first, optionally only commits that change `path`. */
  async log(start: string, options: { path?: string; skip?: number; limit?: number } = {}): Promise<CommitSummary[]> {
    const limit = options.limit ?? 30;
    let skip = options.skip ?? 0;
    const out: CommitSummary[] = [];
    const queue = new CommitQueue();
    const seen = new Set([start]);
    queue.push(start, this.store.commit(start).time);
    while (queue.size && out.length < limit) {
      const { oid } = queue.pop()!;
      const info = this.store.commit(oid);
      for (const p of info.parents) {
        if (!seen.has(p) && this.store.has(p)) {
          seen.add(p);
          queue.push(p, this.store.commit(p).time);
        }
      }
      if (options.path && !(await this.touches(oid, options.path))) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      out.push(await this.commit(oid));
    }
    return out;
  }

  /** Whether a commit changes `path` compared with its first parent (or creates it). */
  private async touches(commit: string, path: string): Promise<boolean> {
    const tree = this.store.commit(commit).tree;
    const parent = this.store.commit(commit).parents[0];
    const parentInfo = parent ? this.store.commitIfStored(parent) : null;
    const mine = await this.pathOid(tree, path);
    if (!parentInfo) return mine !== null;
    if (parentInfo.tree === tree) return false;
    return mine !== (await this.pathOid(parentInfo.tree, path));
  }

  countCommits(start: string): number {
    return this.ancestors(start).size;
  }

  /** For each entry of the directory at `dir`, the newest commit that changed it. */
  async lastCommits(commit: string, dir: string, names: string[], maxCommits = 20_000): Promise<Map<string, CommitSummary>> {
    const result = new Map<string, CommitSummary>();
    const pending = new Set(names);
    const entriesAt = async (c: string) => {
      const e = await this.entry(c, dir);
      if (e?.kind !== "tree") return new Map<string, string>();
      return new Map((await this.parsedTree(e.oid)).map((x) => [x.name, x.oid]));
    };
    let cur: string | undefined = commit;
    let mine = await entriesAt(commit);
    for (let n = 0; cur && pending.size && n < maxCommits; n++) {
      const parent: string | undefined = this.store.commit(cur).parents[0];
      const theirs = parent && this.store.has(parent) ? await entriesAt(parent) : new Map<string, string>();
      const changed = [...pending].filter((name) => mine.get(name) !== theirs.get(name));
      if (changed.length) {
        const summary = await this.commit(cur);
        for (const name of changed) {
          result.set(name, summary);
          pending.delete(name);
        }
      }
      cur = parent && this.store.has(parent) ? parent : undefined;
      mine = theirs;
    }
    return result;
  }

  /** Changes between two trees (either may be null), recursively, in path order. */
  async diffTrees(a: string | null, b: string | null, base = ""): Promise<Change[]> {
    const read = async (t: string | null) => (t ? await this.parsedTree(t) : []);
    const left = new Map((await read(a)).map((e) => [e.name, e]));
    const right = new Map((await read(b)).map((e) => [e.name, e]));
    const names = [...new Set([...left.keys(), ...right.keys()])].sort();
    const out: Change[] = [];
    for (const name of names) {
      const l = left.get(name);
      const r = right.get(name);
      const path = base ? `${base}/${name}` : name;
      if (l && r && l.oid === r.oid && l.mode === r.mode) continue;
      const lTree = l && kindOf(l.mode) === "tree";
      const rTree = r && kindOf(r.mode) === "tree";
      if (lTree || rTree) {
        out.push(...(await this.diffTrees(lTree ? l!.oid : null, rTree ? r!.oid : null, path)));
        if (l && !lTree) out.push({ path, status: "deleted", oldOid: l.oid, newOid: null, oldMode: l.mode, newMode: null });
        if (r && !rTree) out.push({ path, status: "added", oldOid: null, newOid: r.oid, oldMode: null, newMode: r.mode });
        continue;
      }
      out.push({
        path,
        status: !l ? "added" : !r ? "deleted" : "modified",
        oldOid: l?.oid ?? null,
        newOid: r?.oid ?? null,
        oldMode: l?.mode ?? null,
        newMode: r?.mode ?? null,
      });
    }
    return out;
  }

  /** Every stored commit reachable from `start`, itself included. */
  private ancestors(start: string): Set<string> {
    const out = new Set<string>();
    const stack = [start];
    while (stack.length) {
      const c = stack.pop()!;
      if (out.has(c) || !this.store.commitIfStored(c)) continue;
      out.add(c);
      stack.push(...this.store.commit(c).parents);
    }
    return out;
  }

  mergeBase(a: string, b: string): string | null {
    const ancestors = this.ancestors(a);
    const queue = new CommitQueue();
    const seen = new Set([b]);
    queue.push(b, this.store.commit(b).time);
    while (queue.size) {
      const { oid } = queue.pop()!;
      if (ancestors.has(oid)) return oid;
      for (const p of this.store.commit(oid).parents) {
        if (!seen.has(p) && this.store.has(p)) {
          seen.add(p);
          queue.push(p, this.store.commit(p).time);
        }
      }
    }
    return null;
  }

  /** Commits reachable from `head` but not from `base`, newest first. */
  async between(base: string, head: string, limit = 250): Promise<{ commits: CommitSummary[]; total: number }> {
    const excluded = this.ancestors(base);
    const found: string[] = [];
    const seen = new Set<string>();
    const todo = [head];
    while (todo.length) {
      const c = todo.pop()!;
      if (seen.has(c) || excluded.has(c) || !this.store.has(c)) continue;
      seen.add(c);
      found.push(c);
      todo.push(...this.store.commit(c).parents);
    }
    found.sort((x, y) => this.store.commit(y).time - this.store.commit(x).time);
    const commits: CommitSummary[] = [];
    for (const c of found.slice(0, limit)) commits.push(await this.commit(c));
    return { commits, total: found.length };
  }

  /**
   * Commits only `head` has (ahead) and only `base` has (behind), by painting both
   * histories newest first until every queued commit is reachable from both, as git's
   * ahead/behind does: the walk stops near the merge base instead of at the roots.
   */
  aheadBehind(base: string, head: string): { ahead: number; behind: number } {
    const BOTH = 3;
    const flags = new Map<string, number>();
    const queued = new Set<string>();
    const queue = new CommitQueue();
    // Distinct queued commits not yet known to be reachable from both sides.
    let live = 0;
    const paint = (oid: string, f: number) => {
      const old = flags.get(oid) ?? 0;
      const next = old | f;
      if (next === old || !this.store.commitIfStored(oid)) return;
      flags.set(oid, next);
      if (queued.has(oid)) {
        if (next === BOTH) live--;
        return;
      }
      queued.add(oid);
      if (next !== BOTH) live++;
      queue.push(oid, this.store.commit(oid).time);
    };
    paint(base, 1);
    paint(head, 2);
    while (queue.size) {
      if (live <= 0) {
        // Every queued commit is reachable from both sides. A commit still marked by one
        // side can only be reached by a newer commit, so stop once the queue is older
        // than all of them (equal commit times, common in scripted history, continue).
        let oldestSingle = Infinity;
        for (const [o, v] of flags) if (v !== BOTH) oldestSingle = Math.min(oldestSingle, this.store.commit(o).time);
        if (queue.peekTime() < oldestSingle) break;
      }
      const { oid } = queue.pop()!;
      queued.delete(oid);
      const f = flags.get(oid)!;
      if (f !== BOTH) live--;
      for (const p of this.store.commit(oid).parents) paint(p, f);
    }
    let ahead = 0;
    let behind = 0;
    for (const v of flags.values()) {
      if (v === 2) ahead++;
      else if (v === 1) behind++;
    }
    return { ahead, behind };
  }

  /** Line-by-line blame of `path` at `commit`, following first parents. */
  async blame(commit: string, path: string, maxCommits = 2000): Promise<{ line: string; commit: CommitSummary }[]> {
    const start = await this.entry(commit, path);
    if (start?.kind !== "blob") return [];
    const lines = splitLines(new TextDecoder().decode(await this.blob(start.oid)));
    const owner: (string | null)[] = lines.map(() => null);
    // Lines still unattributed: their index in the final file and in the version at `cur`.
    let tracked = lines.map((_, i) => ({ orig: i, pos: i }));
    let cur = commit;
    let curLines = lines;
    let curOid = start.oid;
    for (let n = 0; n < maxCommits && tracked.length; n++) {
      const parent = this.store.commit(cur).parents[0];
      const pEntry = parent && this.store.has(parent) ? await this.entry(parent, path) : null;
      if (pEntry?.kind !== "blob") break;
      if (pEntry.oid === curOid) {
        cur = parent!;
        continue;
      }
      const pLines = splitLines(new TextDecoder().decode(await this.blob(pEntry.oid)));
      // Unchanged lines map from cur's numbering to the parent's; added lines are cur's.
      const toParent = new Map<number, number>();
      let oldI = 0;
      let newI = 0;
      for (const part of diffArrays(pLines, curLines)) {
        const count = part.value.length;
        if (part.added) newI += count;
        else if (part.removed) oldI += count;
        else for (let k = 0; k < count; k++) toParent.set(newI++, oldI++);
      }
      const next: typeof tracked = [];
      for (const t of tracked) {
        const p = toParent.get(t.pos);
        if (p === undefined) owner[t.orig] = cur;
        else next.push({ orig: t.orig, pos: p });
      }
      tracked = next;
      cur = parent!;
      curLines = pLines;
      curOid = pEntry.oid;
    }
    for (const t of tracked) owner[t.orig] = cur;
    const summaries = new Map<string, CommitSummary>();
    const out: { line: string; commit: CommitSummary }[] = [];
    for (let i = 0; i < lines.length; i++) {
      const c = owner[i] ?? commit;
      if (!summaries.has(c)) summaries.set(c, await this.commit(c));
      out.push({ line: lines[i], commit: summaries.get(c)! });
    }
    return out;
  }
}

function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

function summarize(oid: string, c: Commit): CommitSummary {
  return {
    oid,
    parents: c.parents,
    tree: c.tree,
    author: c.author,
    committer: c.committer,
    message: c.message,
    subject: c.message.split("\n")[0],
  };
}

/** A unified diff of two texts as hunks, or null when either side is binary. */
export function textDiff(oldText: string, newText: string, context = 3) {
  return structuredPatch("a", "b", oldText, newText, "", "", { context }).hunks;
}

export function isBinary(data: Uint8Array): boolean {
  const n = Math.min(data.byteLength, 8000);
  for (let i = 0; i < n; i++) if (data[i] === 0) return true;
  return false;
}
