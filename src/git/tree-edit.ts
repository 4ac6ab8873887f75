// Rewriting a tree at a few paths without a working tree or an index: what
// `git update-index` and `git write-tree` do for the browser editor and the contents API.
// Only the trees on the edited paths are read and rewritten; every other entry keeps its
// bytes (mode text and name as stored). New trees are sorted as git sorts them and a tree
// left empty by a removal disappears from its parent, as git drops empty directories.
//
// Paths are checked as git's verify_path and fsck do, a little stricter: no `.`, `..` or
// `.git` component (nor the spellings HFS+ and NTFS read as `.git`), no empty component,
// no NUL or other control character, no backslash.
import { type ObjectType, fromHex, hashObject, toHex } from "./object/object";
import type { NewObject } from "./ref-transaction";

export interface TreeSource {
  read(oid: string): Promise<{ type: ObjectType; data: Uint8Array }>;
}

/** Sets `path` to an entry (adding or replacing a file), or removes it (`entry: null`). */
export interface TreeEdit {
  path: string;
  entry: { mode: string; oid: string } | null;
}

export type TreeEditProblem =
  /** The path is not one git accepts. */
  | "invalid-path"
  /** A component before the last names a file (or symlink, or submodule). */
  | "not-a-directory"
  /** The last component names a directory. */
  | "is-a-directory"
  /** Nothing to remove at the path. */
  | "missing";

export class TreeEditError extends Error {
  constructor(
    readonly problem: TreeEditProblem,
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = "TreeEditError";
  }
}

export const TREE_MODE = "40000";
export const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
const MAX_NAME_BYTES = 255;
const MAX_PATH_BYTES = 4096;

const utf8 = new TextEncoder();

/** Names are kept as latin1 strings, one char per byte, so they compare as git's memcmp. */
function bytesToName(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

function nameToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const isTreeMode = (mode: string) => (Number.parseInt(mode, 8) & 0o170000) === 0o040000;

// Code points HFS+ ignores when it compares names (git's is_hfs_dotgit): ".g\u200cit" is ".git" there.
const HFS_IGNORED = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;

/** Whether a path component is `.git` on some filesystem git protects (is_hfs_dotgit, is_ntfs_dotgit). */
function isDotGit(name: string): boolean {
  let n = name.replace(HFS_IGNORED, "").toLowerCase();
  // NTFS: an alternate data stream (".git::$INDEX_ALLOCATION"), then trailing dots and spaces.
  const colon = n.indexOf(":");
  if (colon >= 0) n = n.slice(0, colon);
  n = n.replace(/[. ]+$/, "");
  return n === ".git" || n === "git~1";
}

/** Why `path` cannot be a path in a tree, or null. */
export function pathProblem(path: string): string | null {
  if (path === "") return "The path is empty.";
  const bytes = utf8.encode(path).length;
  if (bytes > MAX_PATH_BYTES) return `The path is longer than ${MAX_PATH_BYTES} bytes.`;
  if (/[\u0000-\u001f\u007f]/.test(path)) return "A path may not contain control characters.";
  if (path.includes("\\")) return "A path may not contain a backslash.";
  if (/[\ud800-\udfff]/.test(path.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ""))) return "The path is not valid Unicode.";
  for (const part of path.split("/")) {
    if (part === "") return "A path may not start or end with / or contain //.";
    if (part === "." || part === "..") return `A path may not contain a ${part} component.`;
    if (isDotGit(part)) return "A path may not contain a .git component.";
    if (utf8.encode(part).length > MAX_NAME_BYTES) return `A file or directory name is longer than ${MAX_NAME_BYTES} bytes.`;
  }
  return null;
}

/** The components of a valid path as latin1 byte strings; throws TreeEditError otherwise. */
function components(path: string): string[] {
  const problem = pathProblem(path);
  if (problem) throw new TreeEditError("invalid-path", path, problem);
  return path.split("/").map((p) => bytesToName(utf8.encode(p)));
}

interface Entry {
  /** The mode as stored (untouched entries keep a non-canonical spelling). */
  mode: string;
  oid: string;
  /** A subtree being edited. */
  node?: Node;
}

interface Node {
  entries: Map<string, Entry>;
}

function parseEntries(data: Uint8Array): Map<string, Entry> {
  const out = new Map<string, Entry>();
  let at = 0;
  while (at < data.length) {
    const sp = data.indexOf(0x20, at);
    const nul = sp < 0 ? -1 : data.indexOf(0, sp);
    if (sp < 0 || nul < 0 || nul + 21 > data.length) throw new Error("malformed tree object");
    out.set(bytesToName(data.subarray(sp + 1, nul)), {
      mode: bytesToName(data.subarray(at, sp)),
      oid: toHex(data.subarray(nul + 1, nul + 21)),
    });
    at = nul + 21;
  }
  return out;
}

/** git's base_name_compare: bytewise, a tree's name compared as if it ended in `/`. */
function compareEntries(a: [string, Entry], b: [string, Entry]): number {
  const an = isTreeMode(a[1].mode) ? `${a[0]}/` : a[0];
  const bn = isTreeMode(b[1].mode) ? `${b[0]}/` : b[0];
  return an < bn ? -1 : an > bn ? 1 : 0;
}

function serialize(entries: Map<string, Entry>): Uint8Array {
  const sorted = [...entries].sort(compareEntries);
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const [name, e] of sorted) {
    const head = nameToBytes(`${e.mode} ${name}\0`);
    parts.push(head, fromHex(e.oid));
    size += head.length + 20;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** What the path names in a tree, or null; throws TreeEditError for an invalid path. */
export async function entryAt(source: TreeSource, tree: string | null, path: string): Promise<{ mode: string; oid: string } | null> {
  const parts = components(path);
  let oid = tree;
  let mode = TREE_MODE;
  for (const part of parts) {
    if (oid === null || !isTreeMode(mode)) return null;
    const found = parseEntries((await readTree(source, oid)).data).get(part);
    if (!found) return null;
    ({ oid, mode } = found);
  }
  return oid === null ? null : { mode, oid };
}

async function readTree(source: TreeSource, oid: string): Promise<{ data: Uint8Array }> {
  const o = await source.read(oid);
  if (o.type !== "tree") throw new Error(`${oid} is not a tree`);
  return o;
}

function isEmpty(node: Node): boolean {
  for (const e of node.entries.values()) if (!e.node || !isEmpty(e.node)) return false;
  return true;
}

export interface EditedTree {
  /** The new root tree. */
  tree: string;
  /** The trees written for it, each once; some may be stored already. */
  objects: NewObject[];
}

/**
 * Applies the edits in order to `tree` (null: an empty tree) and writes the trees that
 * changed. Throws TreeEditError when an edit cannot apply; nothing is kept then.
 */
export async function editTree(source: TreeSource, tree: string | null, edits: TreeEdit[]): Promise<EditedTree> {
  const load = async (oid: string | null): Promise<Node> => ({
    entries: oid === null ? new Map() : parseEntries((await readTree(source, oid)).data),
  });
  const root = await load(tree);
  for (const edit of edits) {
    const parts = components(edit.path);
    if (edit.entry && isTreeMode(edit.entry.mode)) throw new TreeEditError("invalid-path", edit.path, "Only files can be written.");
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const at = parts[i];
      let e = node.entries.get(at);
      if (!e) {
        if (!edit.entry) throw new TreeEditError("missing", edit.path, `${edit.path} does not exist.`);
        e = { mode: TREE_MODE, oid: EMPTY_TREE, node: { entries: new Map() } };
        node.entries.set(at, e);
      } else if (!isTreeMode(e.mode)) {
        const prefix = edit.path
          .split("/")
          .slice(0, i + 1)
          .join("/");
        throw new TreeEditError("not-a-directory", edit.path, `${prefix} is a file, not a directory.`);
      }
      e.node ??= await load(e.oid);
      node = e.node;
    }
    const name = parts[parts.length - 1];
    const existing = node.entries.get(name);
    // A directory this batch emptied is gone already, as it would be from git's index.
    if (existing && isTreeMode(existing.mode) && !(existing.node && isEmpty(existing.node)))
      throw new TreeEditError("is-a-directory", edit.path, `${edit.path} is a directory.`);
    if (edit.entry) node.entries.set(name, { mode: edit.entry.mode, oid: edit.entry.oid });
    else if (existing) node.entries.delete(name);
    else throw new TreeEditError("missing", edit.path, `${edit.path} does not exist.`);
  }

  const written = new Map<string, NewObject>();
  // Bottom up: a subtree left empty is dropped from its parent; the root may be empty.
  const write = (node: Node, isRoot: boolean): string | null => {
    for (const [name, e] of [...node.entries]) {
      if (!e.node) continue;
      const oid = write(e.node, false);
      if (oid === null) node.entries.delete(name);
      else node.entries.set(name, { mode: e.mode, oid });
    }
    if (!isRoot && node.entries.size === 0) return null;
    const data = serialize(node.entries);
    const oid = hashObject("tree", data);
    if (!written.has(oid)) written.set(oid, { type: "tree", data });
    return oid;
  };
  const oid = write(root, true)!;
  return { tree: oid, objects: [...written.values()] };
}
