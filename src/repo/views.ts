// View models for the web UI, computed inside the Repository Durable Object (next to
// the data) and returned over RPC as plain objects.
import { Browser, type Change, type CommitSummary, type TreeItem, isBinary, textDiff } from "../git/browse";
import type { ObjectStore } from "../git/store/object-store";
import type { RefStore } from "../git/refs";
import { ByteLru, approxBytes } from "../util/lru";

export const MAX_RENDER_BYTES = 512 * 1024;
/** How much of a diff a page shows: a first view, and "show everything" on request. */
const DIFF_LIMITS = { normal: { files: 300, lines: 3000 }, full: { files: 5000, lines: 100_000 } };

export interface Listing {
  items: (TreeItem & { size?: number; last?: CommitSummary })[];
  readme: { path: string; text: string } | null;
}

export interface DiffFile extends Change {
  binary: boolean;
  tooLarge: boolean;
  hunks: { oldStart: number; oldLines: number; newStart: number; newLines: number; lines: string[] }[];
  additions: number;
  deletions: number;
}

export type Resolved = { ref: string; commit: string; path: string };

export class Views {
  readonly browser: Browser;
  /** Answers about immutable commits (history walks) are kept: the same page again is cheap. */
  private readonly lastCommitCache = new ByteLru<string, Map<string, CommitSummary>>(2 * 1024 * 1024, (m) => approxBytes(m));
  private readonly results = new ByteLru<string, { value: unknown }>(4 * 1024 * 1024, (r) => approxBytes(r.value));

  private async memo<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const hit = this.results.get(key);
    if (hit) return hit.value as T;
    const value = await compute();
    this.results.set(key, { value });
    return value;
  }

  constructor(
    private readonly store: ObjectStore,
    private readonly refs: RefStore,
    private readonly readDescription: () => string = () => "",
  ) {
    this.browser = new Browser(store, refs);
  }

  summary() {
    const refs = this.refs.list();
    const branches = [...refs.keys()].filter((r) => r.startsWith("refs/heads/")).map((r) => r.slice(11));
    const tags = [...refs.keys()].filter((r) => r.startsWith("refs/tags/")).map((r) => r.slice(10));
    const head = this.refs.head();
    const description = this.readDescription().trim();
    return {
      // git init's placeholder text is no description.
      description: description.startsWith("Unnamed repository") ? "" : description,
      empty: head.oid === null && branches.length === 0,
      defaultBranch: this.browser.defaultBranch(),
      headCommit: head.oid,
      branches,
      tags,
    };
  }

  resolve(parts: string[]): Resolved | null {
    return this.browser.resolve(parts);
  }

  async listing(at: Resolved, withLastCommits: boolean): Promise<Listing | null> {
    const entry = await this.browser.entry(at.commit, at.path);
    if (entry?.kind !== "tree") return null;
    const items: Listing["items"] = await this.browser.tree(entry.oid, at.path);
    for (const item of items) if (item.kind === "blob") item.size = this.browser.blobSize(item.oid);
    if (withLastCommits) {
      const key = `${at.commit}:${at.path}`;
      let last = this.lastCommitCache.get(key);
      if (!last) {
        last = await this.browser.lastCommits(
          at.commit,
          at.path,
          items.map((i) => i.name),
        );
        this.lastCommitCache.set(key, last);
      }
      for (const item of items) item.last = last.get(item.name);
    }
    const readmeItem = items.find((i) => i.kind === "blob" && /^readme(\.(md|markdown|txt))?$/i.test(i.name));
    let readme: Listing["readme"] = null;
    if (readmeItem && (readmeItem.size ?? 0) <= MAX_RENDER_BYTES) {
      readme = { path: readmeItem.path, text: new TextDecoder().decode(await this.browser.blob(readmeItem.oid)) };
    }
    return { items, readme };
  }

  async home(): Promise<{ ref: string; commit: CommitSummary; count: number; listing: Listing } | null> {
    const branch = this.browser.defaultBranch();
    const at = branch ? this.resolve(branch.split("/")) : null;
    if (!at) return null;
    const listing = await this.listing(at, true);
    if (!listing) return null;
    return { ref: at.ref, commit: await this.browser.commit(at.commit), count: this.browser.countCommits(at.commit), listing };
  }

  async blob(at: Resolved): Promise<{ oid: string; size: number; binary: boolean; text: string | null; mode: string } | null> {
    const entry = await this.browser.entry(at.commit, at.path);
    if (!entry || entry.kind === "tree") return null;
    const size = this.browser.blobSize(entry.oid);
    if (entry.kind === "submodule") return { oid: entry.oid, size: 0, binary: true, text: null, mode: entry.mode };
    if (size > MAX_RENDER_BYTES) return { oid: entry.oid, size, binary: false, text: null, mode: entry.mode };
    const data = await this.browser.blob(entry.oid);
    const binary = isBinary(data);
    return { oid: entry.oid, size, binary, text: binary ? null : new TextDecoder().decode(data), mode: entry.mode };
  }

  /** The blob's bytes for raw download, up to `limit`. */
  async raw(at: Resolved, limit: number): Promise<{ data: Uint8Array; size: number } | null> {
    const entry = await this.browser.entry(at.commit, at.path);
    if (!entry || (entry.kind !== "blob" && entry.kind !== "symlink")) return null;
    const size = this.browser.blobSize(entry.oid);
    if (size > limit) return { data: new Uint8Array(0), size };
    return { data: await this.browser.blob(entry.oid), size };
  }

  log(at: Resolved, path: string | undefined, page: number, perPage = 30) {
    return this.memo(`log:${at.commit}:${path ?? ""}:${page}`, () =>
      this.browser.log(at.commit, { path: path || undefined, skip: page * perPage, limit: perPage + 1 }),
    );
  }

  async diff(base: string | null, head: string, full = false): Promise<{ files: DiffFile[]; truncated: boolean }> {
    const limits = full ? DIFF_LIMITS.full : DIFF_LIMITS.normal;
    const baseTree = base ? this.store.commit(base).tree : null;
    const changes = await this.browser.diffTrees(baseTree, this.store.commit(head).tree);
    const files: DiffFile[] = [];
    let lines = 0;
    for (const ch of changes.slice(0, limits.files)) {
      const f: DiffFile = { ...ch, binary: false, tooLarge: false, hunks: [], additions: 0, deletions: 0 };
      const sizes = [ch.oldOid, ch.newOid].map((o) => (o ? this.browser.blobSize(o) : 0));
      if (ch.oldMode === "160000" || ch.newMode === "160000" || sizes.some((s) => s > MAX_RENDER_BYTES) || lines > limits.lines) {
        f.tooLarge = true;
      } else {
        const [a, b] = await Promise.all(
          [ch.oldOid, ch.newOid].map((o) => (o ? this.browser.blob(o) : Promise.resolve(new Uint8Array(0)))),
        );
        if (isBinary(a) || isBinary(b)) f.binary = true;
        else {
          f.hunks = textDiff(new TextDecoder().decode(a), new TextDecoder().decode(b));
          for (const h of f.hunks) {
            for (const l of h.lines) {
              if (l.startsWith("+")) f.additions++;
              else if (l.startsWith("-")) f.deletions++;
            }
            lines += h.lines.length;
          }
        }
      }
      files.push(f);
    }
    return { files, truncated: changes.length > limits.files || lines > limits.lines };
  }

  async commit(oid: string, full = false) {
    if (this.store.typeOf(oid) !== 1) return null;
    const commit = await this.browser.commit(oid);
    const parent = commit.parents[0] && this.store.has(commit.parents[0]) ? commit.parents[0] : null;
    return { commit, ...(await this.diff(parent, oid, full)) };
  }

  async compare(baseParts: string[], headParts: string[], full = false) {
    const base = this.resolve(baseParts);
    const head = this.resolve(headParts);
    if (!base || !head) return null;
    return this.memo(`compare:${base.commit}:${head.commit}:${full}`, async () => {
      const mergeBase = this.browser.mergeBase(base.commit, head.commit);
      const between = await this.browser.between(base.commit, head.commit);
      return { base, head, mergeBase, ...between, ...(await this.diff(mergeBase, head.commit, full)) };
    });
  }

  private branchCache: { key: string; value: Awaited<ReturnType<Views["computeBranches"]>> } | null = null;

  /** Branches with ahead/behind; recomputed only when some ref or HEAD changed. */
  async branches() {
    const key = JSON.stringify([this.refs.head().symref, ...this.refs.list()]);
    if (this.branchCache?.key !== key) this.branchCache = { key, value: await this.computeBranches() };
    return this.branchCache.value;
  }

  private async computeBranches() {
    const def = this.browser.defaultBranch();
    const defOid = def ? this.refs.resolve(`refs/heads/${def}`) : null;
    const out: { name: string; commit: CommitSummary; ahead: number; behind: number; isDefault: boolean }[] = [];
    for (const [name, oid] of this.refs.list()) {
      if (!name.startsWith("refs/heads/")) continue;
      const counts = defOid ? this.browser.aheadBehind(defOid, oid) : { ahead: 0, behind: 0 };
      out.push({ name: name.slice(11), commit: await this.browser.commit(oid), ...counts, isDefault: name === `refs/heads/${def}` });
    }
    return out.sort((a, b) => b.commit.committer.timestamp - a.commit.committer.timestamp);
  }

  async tags() {
    const out: { name: string; commit: CommitSummary | null }[] = [];
    for (const [name, oid] of this.refs.list()) {
      if (!name.startsWith("refs/tags/")) continue;
      const target = this.store.peel(oid) ?? oid;
      out.push({ name: name.slice(10), commit: this.store.typeOf(target) === 1 ? await this.browser.commit(target) : null });
    }
    return out.sort((a, b) => (b.commit?.committer.timestamp ?? 0) - (a.commit?.committer.timestamp ?? 0));
  }

  /** When `rev` is an id prefix shared by several commits: those commits, for a page to list. */
  async ambiguity(rev: string): Promise<{ oid: string; type: "commit" | "tag"; commit: CommitSummary }[] | null> {
    const named = this.browser.commitsNamed(rev);
    if (named.length < 2) return null;
    return Promise.all(named.map(async (n) => ({ oid: n.oid, type: n.type, commit: await this.browser.commit(n.commit) })));
  }

  blame(at: Resolved) {
    return this.browser.blame(at.commit, at.path);
  }
}
