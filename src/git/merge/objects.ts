// The little of git's object model the merge engine needs, kept here rather than imported,
// so the engine depends only on the MergeObjects interface its caller provides.
import { createHash } from "node:crypto";

export type ObjectType = "blob" | "tree" | "commit" | "tag";

export interface MergeObjects {
  read(oid: string): Promise<{ type: ObjectType; data: Uint8Array }>;
  /** Stores an object and returns its oid, hashed as git hashes it. */
  write(type: ObjectType, data: Uint8Array): Promise<string>;
}

export const NULL_OID = "0".repeat(40);
export const EMPTY_BLOB = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391";
export const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
export const S_IFGITLINK = 0o160000;

export const isReg = (mode: number) => (mode & S_IFMT) === S_IFREG;
export const isDir = (mode: number) => (mode & S_IFMT) === S_IFDIR;
export const isLink = (mode: number) => (mode & S_IFMT) === S_IFLNK;
export const isGitlink = (mode: number) => (mode & S_IFMT) === S_IFGITLINK;

/** tree-walk.c's canon_mode: what git reads any tree entry's mode as. */
export function canonMode(mode: number): number {
  if (isReg(mode)) return S_IFREG | (mode & 0o111 ? 0o755 : 0o644);
  if (isLink(mode)) return S_IFLNK;
  if (isDir(mode)) return S_IFDIR;
  return S_IFGITLINK;
}

const enc = new TextEncoder();
/**
 * Paths and names are kept as latin1 strings: one char per byte, so they sort as git's strcmp.
 * Not TextDecoder("latin1"), which is windows-1252 and turns bytes 0x80-0x9f (in many UTF-8
 * names: "€" is e2 82 ac) into other characters, which nameToBytes cannot give back.
 */
export function bytesToName(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

export function nameToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** A latin1 path as the UTF-8 text a caller expects. */
export function displayPath(s: string): string {
  return new TextDecoder().decode(nameToBytes(s));
}

export function hashObject(type: ObjectType, data: Uint8Array): string {
  return createHash("sha1")
    .update(enc.encode(`${type} ${data.length}\0`))
    .update(data)
    .digest("hex");
}

export interface TreeEntry {
  mode: number;
  name: string;
  oid: string;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

export function parseTree(data: Uint8Array): TreeEntry[] {
  const out: TreeEntry[] = [];
  let at = 0;
  while (at < data.length) {
    const sp = data.indexOf(0x20, at);
    const nul = data.indexOf(0, sp);
    if (sp < 0 || nul < 0 || nul + 21 > data.length) throw new Error("malformed tree object");
    const mode = canonMode(Number.parseInt(bytesToName(data.subarray(at, sp)), 8));
    out.push({ mode, name: bytesToName(data.subarray(sp + 1, nul)), oid: hex(data.subarray(nul + 1, nul + 21)) });
    at = nul + 21;
  }
  return out;
}

/** base_name_compare: names compare as bytes, a directory as if it ended in "/". */
export function baseNameCompare(a: TreeEntry, b: TreeEntry): number {
  const an = isDir(a.mode) ? `${a.name}/` : a.name;
  const bn = isDir(b.mode) ? `${b.name}/` : b.name;
  const len = Math.min(a.name.length, b.name.length);
  for (let i = 0; i < len; i++) if (an.charCodeAt(i) !== bn.charCodeAt(i)) return an.charCodeAt(i) - bn.charCodeAt(i);
  const c1 = len < an.length ? an.charCodeAt(len) : 0;
  const c2 = len < bn.length ? bn.charCodeAt(len) : 0;
  return c1 - c2;
}

export function serializeTree(entries: TreeEntry[]): Uint8Array {
  const sorted = [...entries].sort(baseNameCompare);
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const e of sorted) {
    const head = nameToBytes(`${e.mode.toString(8)} ${e.name}\0`);
    const oid = new Uint8Array(20);
    for (let i = 0; i < 20; i++) oid[i] = Number.parseInt(e.oid.slice(2 * i, 2 * i + 2), 16);
    parts.push(head, oid);
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

export interface CommitInfo {
  tree: string;
  parents: string[];
  /** The committer timestamp, which git orders merge-base walks by. */
  date: number;
}

export function parseCommit(data: Uint8Array): CommitInfo {
  const text = bytesToName(data);
  const headerEnd = text.indexOf("\n\n");
  const header = headerEnd < 0 ? text : text.slice(0, headerEnd);
  let tree = "";
  const parents: string[] = [];
  let date = 0;
  for (const line of header.split("\n")) {
    if (line.startsWith("tree ")) tree = line.slice(5, 45);
    else if (line.startsWith("parent ")) parents.push(line.slice(7, 47));
    else if (line.startsWith("committer ")) {
      const m = />\s*(\d+)/.exec(line.slice(line.lastIndexOf(">")));
      date = m ? Number(m[1]) : 0;
    }
  }
  if (!tree) throw new Error("malformed commit object");
  return { tree, parents, date };
}
