// Editing files without a clone: the browser editor's create, edit (and rename) and delete,
// and later the contents API's PUT and DELETE. One commit on top of the commit the caller
// looked at: its tree rewritten at the changed paths (../git/tree-edit.ts), written as git
// writes commits (../git/commit-writer.ts), and the branch moved from that commit by
// compare-and-swap in the transaction that stores the new objects
// (../git/ref-transaction.ts). A branch that moved meanwhile refuses the commit, and
// nothing is written.
import type { Dofs } from "../fs/dofs";
import { type Browser, isBinary } from "../git/browse";
import { type Identity, type When, commitBytes, identLine, stripspace } from "../git/commit-writer";
import { OBJ_COMMIT, ObjectFormatError, ZERO_OID, hashObject, isOid } from "../git/object/object";
import { type NewObject, type RefPolicy, commitObjects } from "../git/ref-transaction";
import { type RefStore, refNameProblem } from "../git/refs";
import type { ObjectStore } from "../git/store/object-store";
import { type TreeEdit, TreeEditError, editTree, entryAt } from "../git/tree-edit";

/** Files larger than this are not edited in the browser. */
export const EDITOR_MAX_BYTES = 1024 * 1024;

export interface EditorHost {
  fs: Dofs;
  store: ObjectStore;
  refs: RefStore;
  policy?: RefPolicy | null;
}

/**
 * One file's change. Text `content` comes from a form: a textarea sends CRLF line ends,
 * which become the line ends of the file being replaced (LF for a new file or a file
 * whose lines mostly end in LF). Bytes are written exactly.
 */
export type FileChange =
  /** A new file; refused if the path exists. */
  | { kind: "create"; path: string; content: string | Uint8Array; executable?: boolean }
  /**
   * Replaces the file at `from` (default `path`), moving it to `path` when they differ.
   * `sha`: the blob the caller replaces (GitHub's contents API), checked when given.
   */
  | { kind: "update"; path: string; from?: string; content: string | Uint8Array; sha?: string }
  | { kind: "delete"; path: string; sha?: string };

export interface CommitFilesRequest {
  /** The commit the caller looked at, the new commit's parent; null for a first commit. */
  parent: string | null;
  /** The branch to commit to (a short name). */
  branch: string;
  /** Create `branch` at the new commit (refused if it exists), rather than move it from `parent`. */
  createBranch: boolean;
  changes: FileChange[];
  /** The message as typed; cleaned as `git commit` cleans it. */
  message: string;
  author: Identity;
  /** Defaults to the author. */
  committer?: Identity;
  when: When;
  /** When the author wrote it, if not `when` (the contents API's `author.date`). */
  authorWhen?: When;
  /** The account committing, for the ref policy. */
  user?: string;
  /** The account administers the repository, for rules that let admins bypass them. */
  admin?: boolean;
  actor?: "editor" | "api";
  /** The browser editor: only text files, at most `maxBytes`. */
  textOnly?: boolean;
  /** Largest file written or replaced; EDITOR_MAX_BYTES unless given. */
  maxBytes?: number;
}

export type CommitFilesRefusal = {
  ok: false;
  reason: "stale" | "branch-exists" | "not-found" | "invalid" | "exists" | "binary" | "too-large" | "no-changes" | "policy" | "quota";
  status: 403 | 404 | 409 | 413 | 422 | 507;
  message: string;
  /** For `stale`: where the branch is now (null: it was deleted). */
  current?: string | null;
};

export type CommitFilesResult =
  | {
      ok: true;
      commit: string;
      tree: string;
      branch: string;
      created: boolean;
      /** The blob now at each written path. */
      blobs: Record<string, string>;
    }
  | CommitFilesRefusal;

const STATUS: Record<CommitFilesRefusal["reason"], CommitFilesRefusal["status"]> = {
  stale: 409,
  "branch-exists": 409,
  "not-found": 404,
  invalid: 422,
  exists: 422,
  binary: 422,
  "too-large": 413,
  "no-changes": 422,
  policy: 403,
  quota: 507,
};

function refuse(reason: CommitFilesRefusal["reason"], message: string, extra: Partial<CommitFilesRefusal> = {}): CommitFilesRefusal {
  return { ok: false, reason, status: STATUS[reason], message, ...extra };
}

/** Why `name` cannot be a new branch's name (git check-ref-format --branch), or null. */
export function branchNameProblem(name: string): string | null {
  if (!name) return "Enter a branch name.";
  if (name === "HEAD" || name.startsWith("-")) return `${name} is not a valid branch name.`;
  const problem = refNameProblem(`refs/heads/${name}`);
  return problem ? `${name} is not a valid branch name: ${problem.replace(/^ref name /, "it ")}.` : null;
}

/** Whether most of a file's lines end in CRLF. */
export function usesCrlf(data: Uint8Array): boolean {
  let crlf = 0;
  let lf = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== 0x0a) continue;
    if (i > 0 && data[i - 1] === 0x0d) crlf++;
    else lf++;
  }
  return crlf > lf;
}

/** Text from a form with the line ends the file uses. */
export function withLineEnds(text: string, crlf: boolean): string {
  const lf = text.replace(/\r\n?/g, "\n");
  return crlf ? lf.replace(/\n/g, "\r\n") : lf;
}

const enc = new TextEncoder();
const REGULAR = new Set(["100644", "100755", "100664"]);

export class FileEditor {
  constructor(private readonly host: EditorHost) {}

  async commitFiles(req: CommitFilesRequest): Promise<CommitFilesResult> {
    const { store, refs } = this.host;
    const maxBytes = req.maxBytes ?? EDITOR_MAX_BYTES;
    if (!req.changes.length) return refuse("no-changes", "Nothing to commit.");

    const branchProblem = branchNameProblem(req.branch);
    if (branchProblem) return refuse("invalid", branchProblem);
    const ref = `refs/heads/${req.branch}`;
    const current = refs.resolve(ref);
    if (req.createBranch) {
      if (current) return refuse("branch-exists", `A branch named ${req.branch} already exists.`);
    } else if (current !== req.parent) {
      return refuse("stale", staleMessage(req.branch, current), { current });
    }
    if (req.parent !== null && (!isOid(req.parent) || store.typeOf(req.parent) !== OBJ_COMMIT)) {
      return refuse("not-found", `No commit ${req.parent} in this repository.`);
    }

    let author: string;
    let committer: string;
    try {
      author = identLine(req.author, req.authorWhen ?? req.when);
      committer = identLine(req.committer ?? req.author, req.when);
    } catch (e) {
      if (e instanceof ObjectFormatError) return refuse("invalid", `Invalid identity: ${e.message}`);
      throw e;
    }
    const message = stripspace(req.message);
    if (!message) return refuse("invalid", "Enter a commit message.");

    const baseTree = req.parent ? store.commit(req.parent).tree : null;
    const blobs = new Map<string, NewObject>();
    const written: Record<string, string> = {};
    const edits: TreeEdit[] = [];
    try {
      for (const change of req.changes) {
        const edit = await this.plan(baseTree, change, req.textOnly ?? false, maxBytes);
        if ("ok" in edit) return edit;
        for (const e of edit.edits) edits.push(e);
        if (edit.blob) {
          const oid = hashObject("blob", edit.blob);
          blobs.set(oid, { type: "blob", data: edit.blob });
          written[change.path] = oid;
        }
      }
    } catch (e) {
      if (e instanceof TreeEditError) return refuse("invalid", e.message);
      throw e;
    }

    let tree: string;
    let trees: NewObject[];
    try {
      ({ tree, objects: trees } = await editTree(store, baseTree, edits));
    } catch (e) {
      if (e instanceof TreeEditError) return refuse(e.problem === "missing" ? "not-found" : "invalid", e.message);
      throw e;
    }
    if (tree === baseTree) return refuse("no-changes", "No changes to commit: the files are as they were.");

    const data = commitBytes({ tree, parents: req.parent ? [req.parent] : [], author, committer, message: enc.encode(message) });
    const commit = hashObject("commit", data);
    // Blobs and trees are each listed once already; a file put back as it was elsewhere is stored.
    const objects = [...blobs.values(), ...trees, { type: "commit" as const, data }].filter((o) => !store.has(hashObject(o.type, o.data)));
    const outcome = await commitObjects(this.host, objects, {
      updates: [{ name: ref, old: req.createBranch || req.parent === null ? ZERO_OID : req.parent, new: commit }],
      atomic: true,
      actor: { via: req.actor ?? "editor", user: req.user, admin: req.admin },
    });
    if (outcome.kind === "quota") return refuse("quota", outcome.message);
    if (outcome.kind === "applied") return { ok: true, commit, tree, branch: req.branch, created: current === null, blobs: written };
    // Nothing moved: say why, from the refs as they are now.
    const now = refs.resolve(ref);
    if (req.createBranch && now) return refuse("branch-exists", `A branch named ${req.branch} already exists.`);
    if (!req.createBranch && now !== req.parent) return refuse("stale", staleMessage(req.branch, now), { current: now });
    const failed = outcome.results.find((r) => !r.ok);
    return refuse("policy", failed && !failed.ok ? failed.reason : `The branch ${req.branch} may not be updated.`);
  }

  /** The tree edits and new blob for one change, or why it cannot be made. */
  private async plan(
    baseTree: string | null,
    change: FileChange,
    textOnly: boolean,
    maxBytes: number,
  ): Promise<{ edits: TreeEdit[]; blob: Uint8Array | null } | CommitFilesRefusal> {
    const { store } = this.host;
    const at = (path: string) => entryAt(store, baseTree, path);
    if (change.kind === "delete") {
      const old = await at(change.path);
      if (!old) return refuse("not-found", `${change.path} does not exist.`);
      if (old.mode === "40000") return refuse("invalid", `${change.path} is a directory.`);
      if (change.sha !== undefined && change.sha !== old.oid) return refuse("stale", `${change.path} does not match ${change.sha}.`);
      return { edits: [{ path: change.path, entry: null }], blob: null };
    }

    let mode = change.kind === "create" && change.executable ? "100755" : "100644";
    let crlf = false;
    const from = change.kind === "update" ? (change.from ?? change.path) : null;
    if (from !== null && change.kind === "update") {
      const old = await at(from);
      if (!old) return refuse("not-found", `${from} does not exist.`);
      if (!REGULAR.has(old.mode)) {
        return refuse("invalid", `${from} is ${old.mode === "40000" ? "a directory" : "not a regular file"} and cannot be edited.`);
      }
      if (change.sha !== undefined && change.sha !== old.oid) return refuse("stale", `${from} does not match ${change.sha}.`);
      mode = old.mode === "100755" ? "100755" : "100644";
      const size = store.info(old.oid)?.size ?? 0;
      if (textOnly && size > maxBytes) return refuse("too-large", tooLarge(from, maxBytes));
      const data = (await store.read(old.oid)).data;
      if (textOnly && (isBinary(data) || utf8Text(data) === null)) return refuse("binary", notText(from));
      crlf = usesCrlf(data);
    }
    if (from === null || from !== change.path) {
      const there = await at(change.path);
      if (there) {
        return refuse("exists", `${there.mode === "40000" ? "A directory" : "A file"} named ${change.path} already exists.`);
      }
    }
    const blob = typeof change.content === "string" ? enc.encode(withLineEnds(change.content, crlf)) : change.content;
    if (blob.length > maxBytes) return refuse("too-large", tooLarge(change.path, maxBytes));
    if (textOnly && isBinary(blob)) return refuse("binary", "The new content is binary; upload binary files with git.");
    const edits: TreeEdit[] = [];
    if (from !== null && from !== change.path) edits.push({ path: from, entry: null });
    edits.push({ path: change.path, entry: { mode, oid: hashObject("blob", blob) } });
    return { edits, blob };
  }
}

/** The file as text, keeping a byte order mark; null when it is not UTF-8. */
function utf8Text(data: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(data);
  } catch {
    return null;
  }
}

function notText(path: string): string {
  return `${path} is a binary file (or not UTF-8 text) and cannot be edited in the browser.`;
}

function staleMessage(branch: string, now: string | null): string {
  return now === null
    ? `The branch ${branch} no longer exists. Nothing was committed; commit to a new branch instead.`
    : `The branch ${branch} changed since you opened this page (it is now at ${now.slice(0, 7)}). Nothing was committed; reload the page to edit the latest version, or commit to a new branch.`;
}

function tooLarge(path: string, max: number): string {
  return `${path} is larger than ${Math.round(max / 1024)} KiB and cannot be edited in the browser; clone the repository instead.`;
}

/** What an editor page shows: where it commits from, and the file or directory at the path. */
export interface EditorView {
  /** The ref as the URL names it (a branch, a tag or a commit id). */
  ref: string;
  /** The commit the page is at; null in an empty repository. */
  commit: string | null;
  path: string;
  /** The ref is a branch at this commit, so the page may commit to it directly. */
  branch: string | null;
  /** The branch a new branch would be proposed against (the ref's branch, else the default). */
  base: string | null;
  entry: { kind: "tree" | "blob" | "symlink" | "submodule"; mode: string; oid: string; size: number } | null;
  /** An editable file's text. */
  text?: string;
  /** Why the file cannot be edited here. */
  notEditable?: string;
}

/**
 * The page's view of URL parts: the ref they start with and the path after it; in an empty
 * repository, the default branch with no commit. Null when the ref names nothing.
 */
export async function editorView(browser: Browser, refs: RefStore, parts: string[], withText: boolean): Promise<EditorView | null> {
  const at = browser.resolve(parts);
  const def = browser.defaultBranch();
  if (!at) {
    const unborn = refs.list().size === 0 && def !== null && (parts.length === 0 || parts[0] === def);
    if (!unborn) return null;
    return { ref: def, commit: null, path: parts.slice(1).join("/"), branch: def, base: null, entry: null };
  }
  const branch = refs.resolve(`refs/heads/${at.ref}`) === at.commit ? at.ref : null;
  const found = at.path ? await browser.entry(at.commit, at.path) : null;
  const entry = found ? { ...found, size: found.kind === "tree" ? 0 : browser.blobSize(found.oid) } : null;
  const view: EditorView = { ref: at.ref, commit: at.commit, path: at.path, branch, base: branch ?? def, entry };
  if (withText && entry && entry.kind !== "tree") {
    if (!REGULAR.has(entry.mode))
      view.notEditable = `${at.path} is ${entry.kind === "symlink" ? "a symbolic link" : "a submodule"} and cannot be edited in the browser.`;
    else if (entry.size > EDITOR_MAX_BYTES) view.notEditable = tooLarge(at.path, EDITOR_MAX_BYTES);
    else {
      const data = await browser.blob(entry.oid);
      const text = isBinary(data) ? null : utf8Text(data);
      if (text === null) view.notEditable = notText(at.path);
      else view.text = text;
    }
  }
  return view;
}
