// Refs: loose ref files under refs/ (and packed-refs, when present) in DOFS.
// Every update is a compare-and-swap on the old id, inside one SQLite transaction,
// so a failed update or push leaves every ref as it was (DESIGN invariant 2).
import { createHash } from "node:crypto";
import type { Dofs } from "../fs/dofs";
import { FsError, isFsError } from "../fs/errors";
import { ZERO_OID, isOid } from "./object/object";

/** Why `name` is not a valid ref name under git-check-ref-format, or null if it is. */
export function refNameProblem(name: string): string | null {
  if (!name.startsWith("refs/")) return "ref names must start with refs/";
  if (name.length > 1024) return "ref name too long";
  if (name.endsWith("/")) return "ref name ends with /";
  if (name.endsWith(".")) return "ref name ends with .";
  if (name.includes("..")) return "ref name contains ..";
  if (name.includes("@{")) return "ref name contains @{";
  if (name.includes("//")) return "ref name contains //";
  if (name === "@") return "ref name is @";
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return "ref name contains a control character";
    if (" ~^:?*[\\".includes(name[i])) return `ref name contains '${name[i]}'`;
  }
  for (const part of name.split("/")) {
    if (part === "") return "ref name has an empty component";
    if (part.startsWith(".")) return "ref name component starts with .";
    if (part.endsWith(".lock")) return "ref name component ends with .lock";
  }
  return null;
}

export interface RefUpdate {
  name: string;
  old: string;
  new: string;
}

export type RefUpdateResult = { name: string; ok: true } | { name: string; ok: false; reason: string };

const HEAD_PATH = "/HEAD";
const PACKED = "/packed-refs";

export class RefStore {
  private cache: Map<string, string> | null = null;

  constructor(private readonly fs: Dofs) {
    fs.onRollback(() => {
      this.cache = null;
    });
  }

  /** What HEAD points at: a symbolic ref name (possibly unborn), or a detached id. */
  head(): { symref: string | null; oid: string | null } {
    if (!this.fs.exists(HEAD_PATH)) return { symref: null, oid: null };
    const text = new TextDecoder().decode(this.fs.readFile(HEAD_PATH)).trim();
    if (text.startsWith("ref: ")) {
      const symref = text.slice(5).trim();
      return { symref, oid: this.resolve(symref) };
    }
    return { symref: null, oid: isOid(text) ? text : null };
  }

  setHead(refName: string): void {
    this.fs.writeFile(HEAD_PATH, `ref: ${refName}\n`);
  }

  /** All refs under refs/, sorted by name, peeled values not included. */
  list(): Map<string, string> {
    if (this.cache) return this.cache;
    const refs = new Map<string, string>();
    for (const [name, oid] of this.packed()) refs.set(name, oid);
    for (const f of this.fs.listFiles("/refs")) {
      const text = new TextDecoder().decode(this.fs.readFile(f.path)).trim();
      if (isOid(text)) refs.set(f.path.slice(1), text);
    }
    this.cache = sortedRefs(refs);
    return this.cache;
  }

  /** A digest of every ref and its value: equal digests, equal refs. */
  digest(): string {
    const h = createHash("sha1");
    for (const [name, oid] of this.list()) h.update(`${oid} ${name}\n`);
    return h.digest("hex");
  }

  resolve(name: string): string | null {
    if (name === "HEAD") return this.head().oid;
    return this.list().get(name) ?? null;
  }

  /**
   * Applies updates by compare-and-swap. With `atomic`, any failure fails them all.
   * Synchronous, so no other request can run between the checks and the writes.
   */
  update(updates: RefUpdate[], atomic: boolean): RefUpdateResult[] {
    const results: RefUpdateResult[] = [];
    const current = new Map(this.list());
    const run = () => {
      for (const u of updates) {
        const problem = this.check(u, current);
        if (problem) {
          results.push({ name: u.name, ok: false, reason: problem });
          if (atomic) throw new AtomicAbort();
          continue;
        }
        if (u.new === ZERO_OID) this.remove(u.name);
        else this.write(u.name, u.new);
        if (u.new === ZERO_OID) current.delete(u.name);
        else current.set(u.name, u.new);
        results.push({ name: u.name, ok: true });
      }
    };
    try {
      this.fs.transaction(run);
    } catch (e) {
      this.cache = null;
      if (!(e instanceof AtomicAbort)) throw e;
      const failed = new Map(results.filter((r) => !r.ok).map((r) => [r.name, r]));
      return updates.map((u) => failed.get(u.name) ?? { name: u.name, ok: false as const, reason: "atomic push failed" });
    }
    // The new refs are known. Re-reading every ref file after each push was, with peeling
    // tags a query each, most of an incremental fetch's server time at 1,248 refs. A
    // transaction around this one that rolls back clears the cache.
    this.cache = sortedRefs(current);
    return results;
  }

  private check(u: RefUpdate, current: Map<string, string>): string | null {
    const problem = refNameProblem(u.name);
    if (problem) return `funny refname (${problem})`;
    const have = current.get(u.name) ?? ZERO_OID;
    if (have !== u.old) {
      return u.old === ZERO_OID ? "reference already exists" : "failed to update ref: stale old value (fetch first)";
    }
    if (u.new !== ZERO_OID) {
      for (const other of current.keys()) {
        if (other === u.name) continue;
        if (other.startsWith(u.name + "/") || u.name.startsWith(other + "/")) {
          return `cannot lock ref '${u.name}': '${other}' exists; cannot create '${u.name}'`;
        }
      }
    }
    return null;
  }

  private write(name: string, oid: string): void {
    const path = "/" + name;
    const dir = path.slice(0, path.lastIndexOf("/"));
    // A directory left behind by deleted refs would block this name: clear it.
    if (this.fs.exists(path) && this.fs.stat(path).isDirectory()) this.removeEmptyDirs(path, true);
    this.fs.mkdir(dir, { recursive: true });
    this.fs.writeFile(path, `${oid}\n`);
  }

  private remove(name: string): void {
    const path = "/" + name;
    try {
      this.fs.unlink(path);
    } catch (e) {
      if (!isFsError(e, "ENOENT")) throw e;
    }
    const packed = this.packed();
    if (packed.has(name)) {
      packed.delete(name);
      this.writePacked(packed);
    }
    this.removeEmptyDirs(path.slice(0, path.lastIndexOf("/")), false);
  }

  /** Removes empty directories up to (not including) refs/heads, refs/tags, refs/. */
  private removeEmptyDirs(dir: string, recursive: boolean): void {
    const keep = new Set(["/refs", "/refs/heads", "/refs/tags"]);
    if (recursive) {
      for (const child of this.fs.readdir(dir)) {
        const p = `${dir}/${child}`;
        if (this.fs.stat(p).isDirectory()) this.removeEmptyDirs(p, true);
      }
    }
    let d = dir;
    while (d.startsWith("/refs/") && !keep.has(d)) {
      try {
        this.fs.rmdir(d);
      } catch (e) {
        if (e instanceof FsError && (e.code === "ENOTEMPTY" || e.code === "ENOENT")) return;
        throw e;
      }
      d = d.slice(0, d.lastIndexOf("/"));
    }
  }

  private packed(): Map<string, string> {
    const out = new Map<string, string>();
    if (!this.fs.exists(PACKED)) return out;
    for (const line of new TextDecoder().decode(this.fs.readFile(PACKED)).split("\n")) {
      if (!line || line.startsWith("#") || line.startsWith("^")) continue;
      const [oid, name] = line.split(" ");
      if (isOid(oid) && name) out.set(name, oid);
    }
    return out;
  }

  private writePacked(refs: Map<string, string>): void {
    const lines = ["# pack-refs with: sorted "];
    for (const [name, oid] of [...refs].sort(([a], [b]) => (a < b ? -1 : 1))) lines.push(`${oid} ${name}`);
    this.fs.writeFile(PACKED, lines.join("\n") + "\n");
  }
}

class AtomicAbort extends Error {}

function sortedRefs(refs: Map<string, string>): Map<string, string> {
  return new Map([...refs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
