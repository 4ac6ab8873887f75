// GitHub's git data API on the object side: reading blobs, trees, commits and tags by
// id, writing new ones (stored before any ref names them, ../git/ref-transaction.ts's
// storeObjects), and creating, moving and deleting refs through the one place refs move,
// with `actor.via = "api"` so that a ref policy (protected branches) can tell it apart.
// A move that is not a fast-forward is refused unless forced, as GitHub refuses it.
// Also the reads the contents, commits and tags endpoints need that the web views lack.
import type { Dofs } from "../fs/dofs";
import type { Browser, CommitSummary } from "../git/browse";
import { type Identity, type When, commitBytes, identLine } from "../git/commit-writer";
import {
  OBJ_COMMIT,
  ObjectFormatError,
  type ObjectType,
  ZERO_OID,
  hashObject,
  isOid,
  parseCommit,
  parseTag,
  parseTree,
} from "../git/object/object";
import { type NewObject, type RefPolicy, applyRefTransaction, storeObjects } from "../git/ref-transaction";
import { type RefStore, refNameProblem } from "../git/refs";
import type { ObjectStore } from "../git/store/object-store";
import { type TreeEdit, TreeEditError, editTree } from "../git/tree-edit";

export interface GitDataHost {
  fs: Dofs;
  store: ObjectStore;
  refs: RefStore;
  browser: Browser;
  policy?: RefPolicy | null;
}

/** A refusal in GitHub's terms: the status and message its API answers with. */
export type GitDataRefusal = { ok: false; status: 403 | 404 | 409 | 422 | 507; message: string };
export type GitDataResult<T> = ({ ok: true } & T) | GitDataRefusal;

const refuse = (status: GitDataRefusal["status"], message: string): GitDataRefusal => ({ ok: false, status, message });

/** Largest blob the API hands out or takes in one piece (GitHub: 100 MB; our JSON bodies are smaller). */
export const API_BLOB_MAX = 10 * 1024 * 1024;
/** Entries a recursive tree lists before it says `truncated`, as GitHub caps it. */
const TREE_MAX_ENTRIES = 100_000;

export interface ApiTreeEntry {
  path: string;
  mode: string;
  type: "blob" | "tree" | "commit";
  sha: string;
  size?: number;
}

export interface ApiCommit {
  sha: string;
  tree: string;
  parents: string[];
  author: { name: string; email: string; timestamp: number; timezone: string };
  committer: { name: string; email: string; timestamp: number; timezone: string };
  message: string;
}

export interface NewTreeEntry {
  path: string;
  mode: string;
  /** null removes the path (with a base tree). */
  sha: string | null;
  /** Text for a new blob, instead of `sha`. */
  content?: string;
}

export interface NewCommit {
  message: string;
  tree: string;
  parents: string[];
  author: Identity & { when: When };
  committer: Identity & { when: When };
}

const enc = new TextEncoder();
const typeOfMode = (mode: string): ApiTreeEntry["type"] =>
  mode === "40000" || mode === "040000" ? "tree" : mode === "160000" ? "commit" : "blob";
const FILE_MODES = new Set(["100644", "100755", "120000", "160000"]);

export class GitData {
  constructor(private readonly host: GitDataHost) {}

  private typeOf(oid: string): ObjectType | null {
    return isOid(oid) ? (this.host.store.info(oid)?.type ?? null) : null;
  }

  // ---- reading objects -----------------------------------------------------------

  async blob(oid: string): Promise<{ sha: string; size: number; data: Uint8Array | null } | null> {
    if (this.typeOf(oid) !== "blob") return null;
    const size = this.host.store.info(oid)!.size;
    if (size > API_BLOB_MAX) return { sha: oid, size, data: null };
    return { sha: oid, size, data: (await this.host.store.read(oid)).data };
  }

  async tree(oid: string, recursive: boolean): Promise<{ sha: string; entries: ApiTreeEntry[]; truncated: boolean } | null> {
    if (this.typeOf(oid) !== "tree") return null;
    const entries: ApiTreeEntry[] = [];
    let truncated = false;
    const walk = async (tree: string, base: string) => {
      for (const e of parseTree((await this.host.store.read(tree)).data)) {
        if (entries.length >= TREE_MAX_ENTRIES) {
          truncated = true;
          return;
        }
        const type = typeOfMode(e.mode);
        const path = base ? `${base}/${e.name}` : e.name;
        entries.push({
          path,
          mode: e.mode === "40000" ? "040000" : e.mode,
          type,
          sha: e.oid,
          ...(type === "blob" ? { size: this.host.store.info(e.oid)?.size ?? 0 } : {}),
        });
        if (recursive && type === "tree" && this.host.store.has(e.oid)) await walk(e.oid, path);
      }
    };
    await walk(oid, "");
    return { sha: oid, entries, truncated };
  }

  async commit(oid: string): Promise<ApiCommit | null> {
    if (this.typeOf(oid) !== "commit") return null;
    const c = parseCommit((await this.host.store.read(oid)).data);
    return { sha: oid, tree: c.tree, parents: c.parents, author: c.author, committer: c.committer, message: c.message };
  }

  async tag(oid: string) {
    if (this.typeOf(oid) !== "tag") return null;
    return { sha: oid, ...parseTag((await this.host.store.read(oid)).data) };
  }

  // ---- writing objects -----------------------------------------------------------

  private async store(objects: NewObject[]): Promise<GitDataRefusal | null> {
    const r = await storeObjects(this.host, objects);
    return r.kind === "quota" ? refuse(507, r.message) : null;
  }

  async createBlob(data: Uint8Array): Promise<GitDataResult<{ sha: string }>> {
    if (data.length > API_BLOB_MAX) return refuse(422, "The blob is too large.");
    const stored = await this.store([{ type: "blob", data }]);
    return stored ?? { ok: true, sha: hashObject("blob", data) };
  }

  /** A tree from entries, on top of `baseTree` if given: git's index and write-tree, as GitHub's POST git/trees. */
  async createTree(baseTree: string | null, entries: NewTreeEntry[]): Promise<GitDataResult<{ sha: string }>> {
    if (baseTree !== null && this.typeOf(baseTree) !== "tree") return refuse(422, "base_tree is not a valid tree oid");
    const blobs: NewObject[] = [];
    const edits: TreeEdit[] = [];
    for (const e of entries) {
      if (!FILE_MODES.has(e.mode)) {
        return refuse(
          422,
          e.mode === "040000" ? "Subtree entries are not supported; give the files under it." : `Invalid tree mode ${e.mode}`,
        );
      }
      if (e.content !== undefined) {
        const data = enc.encode(e.content);
        blobs.push({ type: "blob", data });
        edits.push({ path: e.path, entry: { mode: e.mode, oid: hashObject("blob", data) } });
      } else if (e.sha === null) {
        edits.push({ path: e.path, entry: null });
      } else {
        const want = e.mode === "160000" ? null : "blob";
        if (want && this.typeOf(e.sha) !== want) return refuse(422, `Must supply a valid tree.sha: ${e.sha} is not a blob here`);
        if (!want && !isOid(e.sha)) return refuse(422, `Invalid submodule sha ${e.sha}`);
        edits.push({ path: e.path, entry: { mode: e.mode, oid: e.sha } });
      }
    }
    let made: { tree: string; objects: NewObject[] };
    try {
      made = await editTree(this.host.store, baseTree, edits);
    } catch (e) {
      if (e instanceof TreeEditError) return refuse(422, e.message);
      throw e;
    }
    const stored = await this.store([...blobs, ...made.objects]);
    return stored ?? { ok: true, sha: made.tree };
  }

  async createCommit(c: NewCommit): Promise<GitDataResult<{ sha: string }>> {
    if (this.typeOf(c.tree) !== "tree") return refuse(422, "Tree SHA does not exist");
    for (const p of c.parents) if (this.typeOf(p) !== "commit") return refuse(422, "Parent SHA does not exist or is not a commit object");
    let author: string;
    let committer: string;
    try {
      author = identLine(c.author, c.author.when);
      committer = identLine(c.committer, c.committer.when);
    } catch (e) {
      if (e instanceof ObjectFormatError) return refuse(422, `Invalid identity: ${e.message}`);
      throw e;
    }
    // The message as given, ending in a newline as git writes it; not cleaned, as GitHub keeps it.
    const message = c.message.endsWith("\n") ? c.message : `${c.message}\n`;
    const data = commitBytes({ tree: c.tree, parents: c.parents, author, committer, message: enc.encode(message) });
    const stored = await this.store([{ type: "commit", data }]);
    return stored ?? { ok: true, sha: hashObject("commit", data) };
  }

  // ---- refs --------------------------------------------------------------------

  /** Refs whose full names start with `prefix` (`refs/heads/fe` matches refs/heads/feature), with their objects' types. */
  matchingRefs(prefix: string): { ref: string; sha: string; type: ObjectType }[] {
    const out: { ref: string; sha: string; type: ObjectType }[] = [];
    for (const [name, oid] of this.host.refs.list()) {
      if (name.startsWith(prefix)) out.push({ ref: name, sha: oid, type: this.typeOf(oid) ?? "commit" });
    }
    return out;
  }

  /**
   * Creates (`old` null), moves or deletes (`sha` null) a ref by compare-and-swap, through
   * the ref policy. A move must be a fast-forward unless `force`.
   */
  async updateRef(
    name: string,
    sha: string | null,
    options: { create: boolean; force: boolean; user?: string; admin?: boolean },
  ): Promise<GitDataResult<object>> {
    const { refs } = this.host;
    if (!name.startsWith("refs/") || name.split("/").length < 3 || refNameProblem(name)) return refuse(422, "Reference name is not valid");
    const current = refs.resolve(name);
    if (options.create && current) return refuse(422, "Reference already exists");
    if (!options.create && !current) return refuse(422, "Reference does not exist");
    if (sha !== null) {
      const type = this.typeOf(sha);
      if (!type) return refuse(422, "Object does not exist");
      if (name.startsWith("refs/heads/") && type !== "commit") return refuse(422, "A branch must point at a commit");
      if (current && current !== sha && !options.force && !this.fastForward(current, sha))
        return refuse(422, "Update is not a fast forward");
    }
    if (current === sha) return { ok: true };
    const outcome = applyRefTransaction(this.host, {
      updates: [{ name, old: current ?? ZERO_OID, new: sha ?? ZERO_OID }],
      atomic: true,
      actor: { via: "api", user: options.user, admin: options.admin },
    });
    if (outcome.kind === "quota") return refuse(507, outcome.message);
    if (outcome.kind === "applied") return { ok: true };
    if (refs.resolve(name) !== current) return refuse(409, "Reference moved meanwhile; try again");
    const failed = outcome.results.find((r) => !r.ok);
    return refuse(422, failed && !failed.ok ? failed.reason : "Reference update refused");
  }

  /** Whether `to` has `from` in its history (both commits, or peeled tags of them). */
  private fastForward(from: string, to: string): boolean {
    const a = this.host.store.peel(from) ?? from;
    const b = this.host.store.peel(to) ?? to;
    if (this.host.store.typeOf(a) !== OBJ_COMMIT || this.host.store.typeOf(b) !== OBJ_COMMIT) return false;
    return this.host.browser.mergeBase(a, b) === a;
  }

  // ---- what the contents, commits and tags endpoints read -----------------------

  /** The commit `ref` names (a branch, tag, commit id; the default branch when empty). */
  resolveRef(ref: string): string | null {
    const at = this.host.browser.resolve(ref ? ref.split("/") : ["HEAD"]);
    return at && !at.path ? at.commit : null;
  }

  /** The file or directory at `path` in the commit `ref` names. */
  async contents(
    ref: string,
    path: string,
  ): Promise<
    | { kind: "dir"; commit: string; sha: string; entries: { name: string; path: string; sha: string; mode: string; size: number }[] }
    | { kind: "file" | "symlink" | "submodule"; commit: string; path: string; sha: string; size: number; data: Uint8Array | null }
    | null
  > {
    const commit = this.resolveRef(ref);
    if (!commit) return null;
    const { browser, store } = this.host;
    const clean = path.replace(/^\/+|\/+$/g, "");
    const entry = await browser.entry(commit, clean);
    if (!entry) return null;
    if (entry.kind === "tree") {
      const items = await browser.tree(entry.oid, clean);
      return {
        kind: "dir",
        commit,
        sha: entry.oid,
        entries: items
          .sort((a, b) => (a.name < b.name ? -1 : 1))
          .map((i) => ({ name: i.name, path: i.path, sha: i.oid, mode: i.mode, size: i.kind === "tree" ? 0 : browser.blobSize(i.oid) })),
      };
    }
    if (entry.kind === "submodule") return { kind: "submodule", commit, path: clean, sha: entry.oid, size: 0, data: null };
    const size = browser.blobSize(entry.oid);
    const data = size <= API_BLOB_MAX ? (await store.read(entry.oid)).data : null;
    return { kind: entry.kind === "symlink" ? "symlink" : "file", commit, path: clean, sha: entry.oid, size, data };
  }

  /** The README at the root (or `dir`) of the commit `ref` names. */
  async readme(ref: string, dir: string) {
    const listing = await this.contents(ref, dir);
    if (listing?.kind !== "dir") return null;
    const found = listing.entries.find((e) => typeOfMode(e.mode) === "blob" && /^readme(\.[a-z0-9]+)?$/i.test(e.name));
    return found ? this.contents(ref, found.path) : null;
  }

  /** History from the commit `ref` names, newest first, optionally of `path`; one more than `limit` tells of a next page. */
  async log(ref: string, path: string | undefined, skip: number, limit: number): Promise<CommitSummary[] | null> {
    const commit = this.resolveRef(ref);
    if (!commit) return null;
    return this.host.browser.log(commit, { path: path || undefined, skip, limit });
  }

  /** Commits only `head` has and only `base` has. */
  aheadBehind(base: string, head: string): { ahead: number; behind: number } {
    return this.host.browser.aheadBehind(base, head);
  }

  /** Tags, newest name last as git lists them, with the commit each peels to. */
  tags(): { name: string; sha: string; commit: string | null }[] {
    const out: { name: string; sha: string; commit: string | null }[] = [];
    for (const [name, oid] of this.host.refs.list()) {
      if (!name.startsWith("refs/tags/")) continue;
      const peeled = this.host.store.peel(oid) ?? oid;
      out.push({ name: name.slice(10), sha: oid, commit: this.host.store.typeOf(peeled) === OBJ_COMMIT ? peeled : null });
    }
    return out;
  }
}
