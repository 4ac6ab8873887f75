// Commit objects as git writes them: `tree`, `parent`s, `author`, `committer`, a blank line
// and the message, which ends in one newline. Identities are cleaned as git's ident.c does,
// so no name or email can break the header line (fsck --strict checks it). Pull-request
// merges (../repo/pulls/) and the browser editor (../repo/editor.ts) both write with it.
import { ObjectFormatError } from "./object/object";

export interface Identity {
  name: string;
  email: string;
}

/** A point in time as a commit header writes it. */
export interface When {
  /** Seconds since the epoch. */
  seconds: number;
  /** `+hhmm` or `-hhmm`; +0000 when absent. */
  timezone?: string;
}

const isCrud = (c: string) => c <= " " || ".,:;<>\"\\'".includes(c);

/** ident.c's strbuf_addstr_without_crud: no crud at the ends, no `<`, `>` or newline inside. */
function withoutCrud(s: string): string {
  let from = 0;
  let to = s.length;
  while (from < to && isCrud(s[from])) from++;
  while (to > from && isCrud(s[to - 1])) to--;
  return s.slice(from, to).replace(/[<>\n]/g, "");
}

export function identLine(who: Identity, when: When): string {
  const name = withoutCrud(who.name);
  const email = withoutCrud(who.email);
  if (!name) throw new ObjectFormatError("empty ident name not allowed");
  const tz = when.timezone ?? "+0000";
  if (!/^[+-]\d{4}$/.test(tz)) throw new ObjectFormatError(`bad timezone ${tz}`);
  if (!Number.isSafeInteger(when.seconds) || when.seconds < 0) throw new ObjectFormatError(`bad time ${when.seconds}`);
  return `${name} <${email}> ${when.seconds} ${tz}`;
}

/**
 * git stripspace (the cleanup `git commit -m` applies): trailing whitespace off every
 * line, runs of blank lines made one, none at either end, a final newline. A message
 * typed in a browser form comes with CRLF line ends, which become LF.
 */
export function stripspace(text: string): string {
  const lines = text
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .map((l) => l.replace(/\s+$/, ""));
  const out: string[] = [];
  for (const l of lines) {
    if (l === "" && (out.length === 0 || out[out.length - 1] === "")) continue;
    out.push(l);
  }
  while (out.length && out[out.length - 1] === "") out.pop();
  return out.length ? `${out.join("\n")}\n` : "";
}

export interface CommitFields {
  tree: string;
  parents: string[];
  /** The identity line after `author `: text, or a replayed commit's bytes as stored. */
  author: string | Uint8Array;
  committer: string;
  /** Headers after `committer`, as bytes (a replayed commit's `encoding`). */
  extra?: Uint8Array[];
  /** The message, written exactly as given. */
  message: Uint8Array;
}

const enc = new TextEncoder();
const NL = Uint8Array.of(0x0a);

export function commitBytes(c: CommitFields): Uint8Array {
  const lines: Uint8Array[] = [enc.encode(`tree ${c.tree}`), ...c.parents.map((p) => enc.encode(`parent ${p}`))];
  lines.push(concat([enc.encode("author "), typeof c.author === "string" ? enc.encode(c.author) : c.author]));
  lines.push(enc.encode(`committer ${c.committer}`), ...(c.extra ?? []));
  return concat([...lines.flatMap((l) => [l, NL]), NL, c.message]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface RawCommit {
  tree: string;
  parents: string[];
  /** The author line after `author `, as stored. */
  author: Uint8Array;
  /** The `encoding` header line as stored, if any. */
  encoding: Uint8Array | null;
  /** The message bytes as stored. */
  message: Uint8Array;
  /** The first line of the message (UTF-8 decoded). */
  subject: string;
}

const utf8 = new TextDecoder();
const ascii = (b: Uint8Array) => String.fromCharCode(...b.subarray(0, 64));

/** A stored commit, split into byte ranges rather than decoded, for replaying it as it is. */
export function readRawCommit(data: Uint8Array): RawCommit {
  let tree = "";
  let author: Uint8Array | null = null;
  let encoding: Uint8Array | null = null;
  const parents: string[] = [];
  let at = 0;
  let message: Uint8Array = new Uint8Array(0);
  while (at < data.length) {
    let nl = data.indexOf(0x0a, at);
    if (nl < 0) nl = data.length;
    if (nl === at) {
      message = data.subarray(at + 1);
      break;
    }
    const line = data.subarray(at, nl);
    const key = ascii(line);
    if (key.startsWith("tree ") && !tree) tree = key.slice(5, 45);
    else if (key.startsWith("parent ")) parents.push(key.slice(7, 47));
    else if (key.startsWith("author ") && author === null) author = line.subarray(7);
    else if (key.startsWith("encoding ")) encoding = line;
    at = nl + 1;
  }
  if (!tree || author === null) throw new ObjectFormatError("malformed commit");
  return { tree, parents, author, encoding, message, subject: utf8.decode(message).split("\n", 1)[0].trim() };
}

/** The message as text, for listing it in a squash commit's message. */
export function messageText(c: RawCommit): string {
  return utf8.decode(c.message);
}
