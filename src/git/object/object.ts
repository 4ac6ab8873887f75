// Git objects: ids, types, and parsers for the object kinds the server reads.
import { createHash } from "node:crypto";
import { SMALL_HASH_BYTES, sha1Hex } from "../../util/sha1";

export type ObjectType = "commit" | "tree" | "blob" | "tag";

export const OBJ_COMMIT = 1;
export const OBJ_TREE = 2;
export const OBJ_BLOB = 3;
export const OBJ_TAG = 4;
export const OBJ_OFS_DELTA = 6;
export const OBJ_REF_DELTA = 7;

export const ZERO_OID = "0000000000000000000000000000000000000000";

const TYPE_NAMES: Record<number, ObjectType> = { 1: "commit", 2: "tree", 3: "blob", 4: "tag" };
const TYPE_CODES: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };

export function typeName(code: number): ObjectType {
  const name = TYPE_NAMES[code];
  if (!name) throw new Error(`unknown object type ${code}`);
  return name;
}

export function typeCode(name: ObjectType): number {
  return TYPE_CODES[name];
}

export function isOid(s: string): boolean {
  return /^[0-9a-f]{40}$/.test(s);
}

const HEXES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const HEX_CODES = Uint16Array.from(HEXES.join(""), (c) => c.charCodeAt(0));
const ID_CODES = new Uint16Array(40);

export function toHex(bytes: Uint8Array): string {
  const n = bytes.byteLength;
  if (n > 32) {
    let s = "";
    for (let i = 0; i < n; i++) s += HEXES[bytes[i]];
    return s;
  }
  // An id is made as one string from its codes: joined from pieces, it left a chain of
  // partial strings per id for the collector, and the indexer reads ids by the hundred thousand.
  const codes = n === 20 ? ID_CODES : new Uint16Array(2 * n);
  for (let i = 0; i < n; i++) {
    codes[2 * i] = HEX_CODES[2 * bytes[i]];
    codes[2 * i + 1] = HEX_CODES[2 * bytes[i] + 1];
  }
  return String.fromCharCode.apply(null, codes as unknown as number[]);
}

/** Nibble values by character code; 0 for what is not a hex digit (as `parseInt` gave NaN, stored as 0). */
const NIBBLE = new Uint8Array(128);
for (let i = 0; i < 10; i++) NIBBLE[48 + i] = i;
for (let i = 0; i < 6; i++) NIBBLE[65 + i] = NIBBLE[97 + i] = 10 + i;

export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  fromHexInto(hex, out, 0);
  return out;
}

/** Writes the bytes of `hex` into `out` at `at`, without a new array: for tables of many ids. */
export function fromHexInto(hex: string, out: Uint8Array, at: number): void {
  const n = hex.length >> 1;
  for (let i = 0; i < n; i++) out[at + i] = (NIBBLE[hex.charCodeAt(2 * i) & 127] << 4) | NIBBLE[hex.charCodeAt(2 * i + 1) & 127];
}

const decoder = new TextDecoder();

export function hashObject(type: ObjectType, data: Uint8Array): string {
  const head = `${type} ${data.byteLength}\0`;
  if (data.byteLength <= SMALL_HASH_BYTES) return sha1Hex(head, data);
  return createHash("sha1").update(head).update(data).digest("hex");
}

export interface Signature {
  name: string;
  email: string;
  timestamp: number;
  timezone: string;
}

export interface Commit {
  tree: string;
  parents: string[];
  author: Signature;
  committer: Signature;
  message: string;
}

export interface TreeEntry {
  mode: string;
  name: string;
  oid: string;
}

export interface Tag {
  object: string;
  type: ObjectType;
  tag: string;
  tagger?: Signature;
  message: string;
}

export class ObjectFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ObjectFormatError";
  }
}

export function parseSignature(s: string): Signature {
  const m = /^(.*?) ?<([^>]*)> (-?\d+) ([+-]\d{4})$/.exec(s);
  if (!m) return { name: s, email: "", timestamp: 0, timezone: "+0000" };
  return { name: m[1], email: m[2], timestamp: Number(m[3]), timezone: m[4] };
}

/** Splits the header lines (continuations folded in) from the message. */
function headersOf(data: Uint8Array): { headers: [string, string][]; message: string } {
  const text = decoder.decode(data);
  const split = text.indexOf("\n\n");
  const head = split < 0 ? text : text.slice(0, split);
  const message = split < 0 ? "" : text.slice(split + 2);
  const headers: [string, string][] = [];
  for (const line of head.split("\n")) {
    if (line.startsWith(" ") && headers.length) {
      headers[headers.length - 1][1] += "\n" + line.slice(1);
      continue;
    }
    const sp = line.indexOf(" ");
    if (sp < 0) continue;
    headers.push([line.slice(0, sp), line.slice(sp + 1)]);
  }
  return { headers, message };
}

export function parseCommit(data: Uint8Array): Commit {
  const { headers, message } = headersOf(data);
  let tree = "";
  const parents: string[] = [];
  let author: Signature | undefined;
  let committer: Signature | undefined;
  for (const [k, v] of headers) {
    if (k === "tree" && !tree) tree = v;
    else if (k === "parent") parents.push(v);
    else if (k === "author" && !author) author = parseSignature(v);
    else if (k === "committer" && !committer) committer = parseSignature(v);
  }
  if (!isOid(tree)) throw new ObjectFormatError("commit without a valid tree");
  for (const p of parents) if (!isOid(p)) throw new ObjectFormatError("commit with an invalid parent");
  const none = { name: "", email: "", timestamp: 0, timezone: "+0000" };
  return { tree, parents, author: author ?? none, committer: committer ?? author ?? none, message };
}

export function parseTag(data: Uint8Array): Tag {
  const { headers, message } = headersOf(data);
  const get = (k: string) => headers.find(([h]) => h === k)?.[1];
  const object = get("object") ?? "";
  const type = get("type") as ObjectType;
  if (!isOid(object) || !TYPE_CODES[type]) throw new ObjectFormatError("tag without a valid object");
  const tagger = get("tagger");
  return { object, type, tag: get("tag") ?? "", tagger: tagger ? parseSignature(tagger) : undefined, message };
}

export function parseTree(data: Uint8Array): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let i = 0;
  while (i < data.byteLength) {
    const sp = data.indexOf(32, i);
    const nul = sp < 0 ? -1 : data.indexOf(0, sp);
    if (sp < 0 || nul < 0 || nul + 21 > data.byteLength) throw new ObjectFormatError("truncated tree entry");
    entries.push({
      mode: decoder.decode(data.subarray(i, sp)),
      name: decoder.decode(data.subarray(sp + 1, nul)),
      oid: toHex(data.subarray(nul + 1, nul + 21)),
    });
    i = nul + 21;
  }
  return entries;
}

/**
 * Ids a tree refers to, without decoding names: the hot path of connectivity checks
 * and object enumeration. Gitlinks (mode 160000, submodules) are skipped, as git does.
 */
export function treeChildren(data: Uint8Array): { oid: string; isTree: boolean }[] {
  const out: { oid: string; isTree: boolean }[] = [];
  let i = 0;
  while (i < data.byteLength) {
    const sp = data.indexOf(32, i);
    const nul = sp < 0 ? -1 : data.indexOf(0, sp);
    if (sp < 0 || nul < 0 || nul + 21 > data.byteLength) throw new ObjectFormatError("truncated tree entry");
    // Modes: 40000 tree, 160000 gitlink, anything else a blob.
    const isTree = sp - i === 5 && data[i] === 52;
    const isGitlink = sp - i === 6 && data[i] === 49 && data[i + 1] === 54;
    if (!isGitlink) out.push({ oid: toHex(data.subarray(nul + 1, nul + 21)), isTree });
    i = nul + 21;
  }
  return out;
}

export class MissingObjectError extends Error {
  constructor(readonly oid: string) {
    super(`object ${oid} is missing`);
    this.name = "MissingObjectError";
  }
}
