// Runs in Node (from global-setup): builds seeded random histories with C git, records what
// `git merge-tree --write-tree` makes of each pair of branches, and hands the repository's
// objects (as they were before any merge) and the expected outcomes to the workerd tests.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mulberry32 } from "../src/util/prng";

export interface MergeCase {
  name: string;
  category: string;
  ours: string;
  theirs: string;
  labels: { ours: string; theirs: string };
  expected: { clean: boolean; tree: string; conflicts: string[]; bases: string[] };
}

export interface MergeFixture {
  objects: { oid: string; type: string; data: string }[];
  cases: MergeCase[];
}

interface File {
  mode: string;
  data: Buffer;
}
type Tree = Map<string, File>;

const WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"];

class Gen {
  rand: () => number;
  constructor(seed: number) {
    this.rand = mulberry32(seed);
  }
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  line(): string {
    return `${this.pick(WORDS)} ${this.pick(WORDS)} ${this.int(100)}`;
  }
  text(n = 6 + this.int(12)): Buffer {
    return Buffer.from(Array.from({ length: n }, () => `${this.line()}\n`).join(""));
  }
  name(): string {
    return `${this.pick(["a", "b", "c", "d", "e", "f"])}${this.int(10)}.txt`;
  }
  path(tree: Tree): string {
    for (;;) {
      const depth = this.int(3);
      const dirs = Array.from({ length: depth }, () => this.pick(["src", "lib", "doc", "x", "y"]));
      const p = [...dirs, this.name()].join("/");
      if (!conflictsWithTree(tree, p)) return p;
    }
  }
}

function conflictsWithTree(tree: Tree, p: string): boolean {
  if (tree.has(p)) return true;
  for (const k of tree.keys()) if (k.startsWith(`${p}/`) || p.startsWith(`${k}/`)) return true;
  return false;
}

function lines(b: Buffer): string[] {
  return b.toString("latin1").split(/(?<=\n)/);
}

/** Edits a few lines; `region` keeps each side's edits in its own part of the file. */
function editText(g: Gen, data: Buffer, region?: [number, number]): Buffer {
  const ls = lines(data);
  const [from, to] = region ?? [0, 1];
  const lo = Math.floor(ls.length * from);
  const hi = Math.max(lo + 1, Math.floor(ls.length * to));
  const edits = 1 + g.int(2);
  for (let e = 0; e < edits; e++) {
    const at = lo + g.int(Math.max(1, Math.min(hi, ls.length) - lo));
    const kind = g.int(4);
    if (kind === 0) ls.splice(at, 0, `${g.line()}\n`);
    else if (kind === 1 && ls.length > 2) ls.splice(at, 1);
    else ls[at] = `${g.line()}\n`;
  }
  return Buffer.from(ls.join(""), "latin1");
}

function binary(g: Gen): Buffer {
  const b = Buffer.alloc(40 + g.int(40));
  for (let i = 0; i < b.length; i++) b[i] = g.int(256);
  b[3] = 0;
  return b;
}

const clone = (t: Tree): Tree => new Map([...t].map(([k, v]) => [k, { ...v }]));

function randomTree(g: Gen, files = 3 + g.int(6)): Tree {
  const t: Tree = new Map();
  for (let i = 0; i < files; i++) t.set(g.path(t), { mode: "100644", data: g.text() });
  return t;
}

function textFiles(t: Tree): string[] {
  return [...t].filter(([, f]) => f.mode === "100644" || f.mode === "100755").map(([p]) => p);
}

type Op = (g: Gen, t: Tree, side: 0 | 1, shared: { path?: string; other?: string }) => void;

const ops: Record<string, Op> = {
  edit: (g, t, _side, s) => {
    const p = s.path ?? g.pick(textFiles(t));
    const f = t.get(p);
    if (f) f.data = editText(g, f.data);
  },
  editApart: (g, t, side, s) => {
    const f = t.get(s.path!);
    if (f) f.data = editText(g, f.data, side === 0 ? [0, 0.4] : [0.6, 1]);
  },
  editOwn: (g, t) => {
    const p = g.pick(textFiles(t));
    t.get(p)!.data = editText(g, t.get(p)!.data);
  },
  add: (g, t) => {
    t.set(g.path(t), { mode: "100644", data: g.text() });
  },
  addSame: (_g, t, _side, s) => {
    t.set(s.path!, { mode: "100644", data: Buffer.from(`shared ${s.path}\n`) });
  },
  addDifferent: (g, t, _side, s) => {
    t.set(s.path!, { mode: "100644", data: g.text() });
  },
  delete: (g, t, _side, s) => {
    t.delete(s.path ?? g.pick([...t.keys()]));
  },
  rename: (g, t, side, s) => {
    const from = s.path ?? g.pick(textFiles(t));
    const f = t.get(from);
    if (!f) return;
    t.delete(from);
    const to = side === 1 && s.other ? s.other : g.path(t);
    t.set(to, f);
  },
  renameEdit: (g, t, _side, s) => {
    const from = s.path ?? g.pick(textFiles(t));
    const f = t.get(from);
    if (!f) return;
    t.delete(from);
    t.set(g.path(t), { ...f, data: editText(g, f.data) });
  },
  renameSameBasename: (g, t, _side, s) => {
    const from = s.path ?? g.pick(textFiles(t));
    const f = t.get(from);
    if (!f) return;
    t.delete(from);
    const dir = g.pick(["moved", "new/place", "x/y"]);
    t.set(`${dir}/${from.slice(from.lastIndexOf("/") + 1)}`, { ...f, data: g.int(2) ? editText(g, f.data) : f.data });
  },
  chmod: (g, t, _side, s) => {
    const f = t.get(s.path ?? g.pick(textFiles(t)));
    if (f) f.mode = f.mode === "100644" ? "100755" : "100644";
  },
  fileToDir: (g, t, _side, s) => {
    const p = s.path ?? g.pick(textFiles(t));
    t.delete(p);
    t.set(`${p}/inner.txt`, { mode: "100644", data: g.text() });
  },
  dirAtPath: (g, t, _side, s) => {
    t.set(`${s.path}/under.txt`, { mode: "100644", data: g.text() });
  },
  fileAtPath: (g, t, _side, s) => {
    t.set(s.path!, { mode: "100644", data: g.text() });
  },
  symlink: (g, t, _side, s) => {
    t.set(s.path!, { mode: "120000", data: Buffer.from(`target-${g.int(1000)}`) });
  },
  toSymlink: (g, t, _side, s) => {
    const p = s.path ?? g.pick(textFiles(t));
    t.set(p, { mode: "120000", data: Buffer.from(`link-${g.int(1000)}`) });
  },
  binary: (g, t, _side, s) => {
    t.set(s.path!, { mode: "100644", data: binary(g) });
  },
  gitlink: (g, t, _side, s) => {
    t.set(s.path!, { mode: "160000", data: Buffer.from(Array.from({ length: 40 }, () => "0123456789abcdef"[g.int(16)]).join("")) });
  },
  crlf: (g, t, _side, s) => {
    const f = t.get(s.path!);
    if (f) f.data = Buffer.from(editText(g, f.data).toString("latin1").replace(/\r?\n/g, "\r\n"), "latin1");
  },
};

interface Scenario {
  category: string;
  build(g: Gen): { base: Tree; ours: Tree; theirs: Tree };
}

function twoSided(
  category: string,
  prepare: (g: Gen, base: Tree) => { path?: string; other?: string },
  mine: string[],
  theirs: string[],
): Scenario {
  return {
    category,
    build(g) {
      const base = randomTree(g);
      const shared = prepare(g, base);
      const ours = clone(base);
      const th = clone(base);
      for (const op of mine) ops[op](g, ours, 0, shared);
      for (const op of theirs) ops[op](g, th, 1, shared);
      return { base, ours, theirs: th };
    },
  };
}

const anyText = (g: Gen, base: Tree) => ({ path: g.pick(textFiles(base)) });
/** Long files of few distinct lines, where diffs have many equally good alignments. */
const repetitive = (g: Gen, base: Tree) => {
  const path = g.pick(textFiles(base));
  const n = 100 + g.int(300);
  const text = Array.from({ length: n }, () => g.pick(["}\n", "\n", "x = 1;\n", "return;\n"])).join("");
  base.set(path, { mode: "100644", data: Buffer.from(text) });
  return { path };
};
const fresh = (g: Gen, base: Tree) => ({ path: g.path(base) });

const SCENARIOS: Scenario[] = [
  twoSided("same file, apart", anyText, ["editApart"], ["editApart"]),
  twoSided("same file, anywhere", anyText, ["edit"], ["edit"]),
  twoSided("different files", () => ({}), ["editOwn"], ["editOwn"]),
  twoSided("adds", () => ({}), ["add", "editOwn"], ["add"]),
  twoSided("add/add same", fresh, ["addSame"], ["addSame"]),
  twoSided("add/add different", fresh, ["addDifferent"], ["addDifferent"]),
  twoSided("deletes", () => ({}), ["delete"], ["editOwn"]),
  twoSided("modify/delete", anyText, ["edit"], ["delete"]),
  twoSided("file/directory", anyText, ["fileToDir"], ["edit"]),
  twoSided("file/directory add", fresh, ["dirAtPath"], ["fileAtPath"]),
  twoSided("exact rename", anyText, ["rename"], ["edit"]),
  twoSided("exact rename both", anyText, ["rename"], ["rename"]),
  twoSided("rename/delete", anyText, ["rename"], ["delete"]),
  twoSided("inexact rename", anyText, ["renameEdit"], ["edit"]),
  twoSided("rename same basename", anyText, ["renameSameBasename"], ["editApart"]),
  twoSided("mode change", anyText, ["chmod"], ["edit"]),
  twoSided("mode change both", anyText, ["chmod"], ["chmod", "edit"]),
  twoSided("symlinks", fresh, ["symlink"], ["symlink"]),
  twoSided("file to symlink", anyText, ["toSymlink"], ["edit"]),
  twoSided("binary", fresh, ["binary"], ["binary"]),
  twoSided("gitlinks", fresh, ["gitlink"], ["gitlink"]),
  twoSided("crlf", anyText, ["crlf"], ["editApart"]),
  twoSided("repetitive lines", repetitive, ["edit", "edit"], ["edit", "edit"]),
  twoSided("mixed", () => ({}), ["editOwn", "add", "renameEdit"], ["editOwn", "delete", "add"]),
];

function git(cwd: string, args: string[], input?: string | Buffer): Buffer {
  return execFileSync("git", args, { cwd, input, maxBuffer: 256 * 1024 * 1024 });
}

/** A fast-import stream that writes each commit's whole tree. */
class Stream {
  parts: Buffer[] = [];
  mark = 0;
  time = 1_700_000_000;
  commit(ref: string, tree: Tree, parents: number[], message: string): number {
    const m = ++this.mark;
    const when = this.time++;
    const head = [`commit ${ref}`, `mark :${m}`, `author A <a@example.com> ${when} +0000`, `committer C <c@example.com> ${when} +0000`];
    this.parts.push(Buffer.from(`${head.join("\n")}\ndata ${Buffer.byteLength(message)}\n${message}\n`));
    for (const [i, p] of parents.entries()) this.parts.push(Buffer.from(`${i === 0 ? "from" : "merge"} :${p}\n`));
    this.parts.push(Buffer.from("deleteall\n"));
    for (const [path, f] of [...tree].sort()) {
      if (f.mode === "160000") this.parts.push(Buffer.from(`M 160000 ${f.data.toString()} ${path}\n`));
      else this.parts.push(Buffer.from(`M ${f.mode} inline ${path}\ndata ${f.data.length}\n`), f.data, Buffer.from("\n"));
    }
    this.parts.push(Buffer.from("\n"));
    return m;
  }
}

function crissCross(g: Gen): { base: Tree; a1: Tree; b1: Tree; a2: Tree; b2: Tree; ours: Tree; theirs: Tree } {
  const base = randomTree(g, 4 + g.int(4));
  const files = textFiles(base);
  const target = g.pick(files);
  const a1 = clone(base);
  const b1 = clone(base);
  a1.get(target)!.data = editText(g, a1.get(target)!.data, [0, 0.5]);
  b1.get(target)!.data = editText(g, b1.get(target)!.data, [0.5, 1]);
  if (g.int(2)) ops.add(g, a1, 0, {});
  if (g.int(3) === 0) ops.edit(g, b1, 1, { path: target });
  // The two criss-cross merges resolve their (possible) conflict differently.
  const a2 = clone(g.int(2) ? a1 : b1);
  const b2 = clone(g.int(2) ? b1 : a1);
  for (const [p, f] of b1) if (!a2.has(p)) a2.set(p, { ...f });
  for (const [p, f] of a1) if (!b2.has(p)) b2.set(p, { ...f });
  if (g.int(2)) a2.get(target)!.data = editText(g, a2.get(target)!.data);
  const ours = clone(a2);
  const theirs = clone(b2);
  if (g.int(2)) ops.editOwn(g, ours, 0, {});
  if (g.int(2)) ops.editOwn(g, theirs, 1, {});
  if (g.int(4) === 0) ops.renameEdit(g, theirs, 1, {});
  return { base, a1, b1, a2, b2, ours, theirs };
}

function parseMergeTree(out: Buffer): { tree: string; conflicts: string[] } {
  const [head] = out.toString("latin1").split("\0\0");
  const [tree, ...names] = head.split("\0").filter((x) => x !== "");
  return { tree, conflicts: names.map((n) => Buffer.from(n, "latin1").toString("utf8")) };
}

export function buildMergeFixture(seed: number, perScenario: number, crissCrosses: number): MergeFixture {
  const dir = mkdtempSync(join(tmpdir(), "gitflare-merge-"));
  try {
    git(dir, ["init", "-q", "--bare"]);
    const g = new Gen(seed);
    const stream = new Stream();
    const planned: { name: string; category: string }[] = [];
    let n = 0;
    for (const sc of SCENARIOS) {
      for (let i = 0; i < perScenario; i++) {
        const { base, ours, theirs } = sc.build(g);
        const name = `c${n++}`;
        const b = stream.commit(`refs/heads/${name}-base`, base, [], `base ${name}`);
        stream.commit(`refs/heads/${name}-ours`, ours, [b], `ours ${name}`);
        stream.commit(`refs/heads/${name}-theirs`, theirs, [b], `theirs ${name}`);
        planned.push({ name, category: sc.category });
      }
    }
    for (let i = 0; i < crissCrosses; i++) {
      const h = crissCross(g);
      const name = `c${n++}`;
      const b = stream.commit(`refs/heads/${name}-base`, h.base, [], `base ${name}`);
      const a1 = stream.commit(`refs/heads/${name}-a1`, h.a1, [b], "a1");
      const b1 = stream.commit(`refs/heads/${name}-b1`, h.b1, [b], "b1");
      const a2 = stream.commit(`refs/heads/${name}-a2`, h.a2, [a1, b1], "a2");
      const b2 = stream.commit(`refs/heads/${name}-b2`, h.b2, [b1, a1], "b2");
      stream.commit(`refs/heads/${name}-ours`, h.ours, [a2], `ours ${name}`);
      stream.commit(`refs/heads/${name}-theirs`, h.theirs, [b2], `theirs ${name}`);
      planned.push({ name, category: "criss-cross" });
    }
    git(dir, ["fast-import", "--quiet"], Buffer.concat(stream.parts));
    const objects = readAllObjects(dir);
    const oids = new Map<string, string>();
    for (const line of git(dir, ["for-each-ref", "--format=%(refname:short) %(objectname)"]).toString().trim().split("\n")) {
      const [ref, oid] = line.split(" ");
      oids.set(ref, oid);
    }
    const cases: MergeCase[] = planned.map(({ name, category }) => {
      const labels = { ours: `${name}-ours`, theirs: `${name}-theirs` };
      const r = spawnSync("git", ["merge-tree", "--write-tree", "-z", "--name-only", labels.ours, labels.theirs], { cwd: dir });
      if (r.status !== 0 && r.status !== 1) throw new Error(`git merge-tree failed: ${r.stderr}`);
      const bases = git(dir, ["merge-base", "--all", labels.ours, labels.theirs]).toString().trim().split("\n");
      const expected = { clean: r.status === 0, ...parseMergeTree(r.stdout), bases };
      return { name, category, ours: oids.get(labels.ours)!, theirs: oids.get(labels.theirs)!, labels, expected };
    });
    return { objects, cases };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readAllObjects(dir: string): MergeFixture["objects"] {
  const out = git(dir, ["cat-file", "--batch-all-objects", "--batch"], "");
  const objects: MergeFixture["objects"] = [];
  let at = 0;
  while (at < out.length) {
    const nl = out.indexOf(0x0a, at);
    const [oid, type, size] = out.subarray(at, nl).toString().split(" ");
    const start = nl + 1;
    const end = start + Number(size);
    objects.push({ oid, type, data: out.subarray(start, end).toString("base64") });
    at = end + 1;
  }
  return objects;
}
