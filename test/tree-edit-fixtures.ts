// Runs in Node (from global-setup): a base tree made with C git, and for each batch of edits
// the tree C git writes after applying them to an index (`git read-tree`, then
// `git update-index --index-info`, then `git write-tree`). The workerd tests apply the same
// edits with src/git/tree-edit.ts and compare tree ids. Batches git would take but the
// editor refuses (a path through a file, a `.git` component...) carry the expected refusal.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mulberry32 } from "../src/util/prng";
import type { TreeEditProblem } from "../src/git/tree-edit";

/** One edit: a file's new content (and mode), or its removal (`content: null`). */
export interface FixtureEdit {
  path: string;
  content: string | null;
  mode?: string;
}

export interface TreeEditCase {
  name: string;
  edits: FixtureEdit[];
  expect: { tree: string } | { problem: TreeEditProblem };
}

export interface TreeEditFixture {
  /** The base tree and every tree under it, as C git stored them (base64). */
  trees: { oid: string; data: string }[];
  base: string;
  cases: TreeEditCase[];
}

const GITLINK = "1234567890abcdef1234567890abcdef12345678";

/** The base: files in directories of several depths, names that sort around `/`, non-ASCII names, a symlink, a submodule. */
const BASE_FILES: { path: string; content: string; mode?: string }[] = [
  { path: "README.md", content: "# Base\n" },
  { path: "a.txt", content: "a\n" },
  { path: "b.txt", content: "b\n" },
  { path: "run.sh", content: "#!/bin/sh\necho run\n", mode: "100755" },
  { path: "link", content: "a.txt", mode: "120000" },
  { path: "dir/one.txt", content: "one\n" },
  { path: "dir/two.txt", content: "two\n" },
  { path: "dir/sub/deep.txt", content: "deep\n" },
  { path: "only/lonely.txt", content: "lonely\n" },
  { path: "nested/x/y/z.txt", content: "z\n" },
  { path: "foo/inner.txt", content: "inner\n" },
  { path: "foo-bar", content: "dash\n" },
  { path: "foo.txt", content: "dot\n" },
  { path: "foo0", content: "zero\n" },
  { path: "zoë.txt", content: "umlaut\n" },
  { path: "é/file.txt", content: "accent\n" },
];

const put = (path: string, content: string, mode?: string): FixtureEdit => ({ path, content, mode });
const del = (path: string): FixtureEdit => ({ path, content: null });

/** Batches C git writes a tree for. */
const VALID: { name: string; edits: FixtureEdit[] }[] = [
  { name: "replace a file", edits: [put("a.txt", "a, changed\n")] },
  { name: "put a file back as it was", edits: [put("a.txt", "a\n")] },
  { name: "add a top-level file", edits: [put("new.txt", "new\n")] },
  { name: "add a file in an existing directory", edits: [put("dir/three.txt", "three\n")] },
  { name: "create nested directories", edits: [put("brand/new/dir/file.txt", "file\n")] },
  { name: "create a directory inside an existing one", edits: [put("dir/sub/deeper/x.txt", "x\n")] },
  { name: "delete a file, its directory stays", edits: [del("dir/two.txt")] },
  { name: "delete the last file of a directory", edits: [del("only/lonely.txt")] },
  { name: "delete the last file of a chain of directories", edits: [del("nested/x/y/z.txt")] },
  { name: "empty a subdirectory, keep its parent", edits: [del("dir/sub/deep.txt")] },
  { name: "rename into a new directory", edits: [del("a.txt"), put("moved/a.txt", "a\n")] },
  { name: "keep an executable's mode", edits: [put("run.sh", "#!/bin/sh\necho changed\n", "100755")] },
  { name: "make a file executable", edits: [put("b.txt", "b\n", "100755")] },
  { name: "replace a symlink with a file", edits: [put("link", "now a file\n")] },
  {
    name: "names that sort around a directory's /",
    edits: [put("foo.a", "1\n"), put("foo/a", "2\n"), put("foo-", "3\n"), put("foo1", "4\n")],
  },
  { name: "a file named like a directory plus a suffix", edits: [put("dir.txt", "d\n"), put("dir0/x", "e\n"), put("dir-x", "f\n")] },
  { name: "non-ASCII names", edits: [put("zoë.txt", "changed\n"), put("ünï/cødé.txt", "new\n"), put("é/ä.txt", "more\n")] },
  { name: "names with spaces and punctuation", edits: [put("with space.txt", "s\n"), put("dir/a,b;c (1).md", "p\n")] },
  { name: "a file next to a submodule", edits: [put("mod.txt", "m\n")] },
  { name: "empty a directory, then make a file of its name", edits: [del("only/lonely.txt"), put("only", "a file now\n")] },
  { name: "delete everything in a directory tree", edits: [del("dir/one.txt"), del("dir/two.txt"), del("dir/sub/deep.txt")] },
  { name: "create, then delete in the same batch", edits: [put("tmp/x.txt", "x\n"), del("tmp/x.txt")] },
  { name: "an empty file", edits: [put("empty.txt", "")] },
];

/** Batches the editor refuses, whatever git's index would make of them. */
const REFUSED: { name: string; edits: FixtureEdit[]; problem: TreeEditProblem }[] = [
  ...[
    "../x",
    "a/../b",
    "./a",
    "dir/./a",
    ".git/config",
    ".GIT/x",
    "dir/.git",
    ".git",
    ".git./x",
    ".git ",
    "git~1/x",
    "GIT~1",
    ".g\u200cit/x",
    ".git::$INDEX_ALLOCATION/x",
  ].map((path) => ({ name: `refuses ${JSON.stringify(path)}`, edits: [put(path, "x\n")], problem: "invalid-path" as const })),
  ...["", "/a", "a/", "a//b", "a\0b", "a\nb", "a\\b", "tab\there"].map((path) => ({
    name: `refuses ${JSON.stringify(path)}`,
    edits: [put(path, "x\n")],
    problem: "invalid-path" as const,
  })),
  { name: "refuses a path through a file", edits: [put("a.txt/b", "x\n")], problem: "not-a-directory" },
  { name: "refuses a path deep through a file", edits: [put("dir/one.txt/x/y", "x\n")], problem: "not-a-directory" },
  { name: "refuses a path through a symlink", edits: [put("link/x", "x\n")], problem: "not-a-directory" },
  { name: "refuses a path through a submodule", edits: [put("mod/x", "x\n")], problem: "not-a-directory" },
  { name: "refuses a file where a directory is", edits: [put("dir", "x\n")], problem: "is-a-directory" },
  {
    name: "refuses a file where a directory was made in the same batch",
    edits: [put("n/x", "x\n"), put("n", "y\n")],
    problem: "is-a-directory",
  },
  { name: "refuses removing a directory", edits: [del("dir")], problem: "is-a-directory" },
  { name: "refuses removing a missing file", edits: [del("missing.txt")], problem: "missing" },
  { name: "refuses removing under a missing directory", edits: [del("nope/x.txt")], problem: "missing" },
  {
    name: "refuses the whole batch when a later edit fails",
    edits: [put("fine.txt", "ok\n"), put("b.txt/x", "x\n")],
    problem: "not-a-directory",
  },
];

function gitIn(dir: string, index: string) {
  return (args: string[], input?: string | Buffer): string =>
    execFileSync("git", args, { cwd: dir, input, env: { ...process.env, GIT_INDEX_FILE: index } }).toString();
}

/** Random batches over a simulated file list, each valid, for breadth. */
function randomBatches(seed: number, count: number): { name: string; edits: FixtureEdit[] }[] {
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const out: { name: string; edits: FixtureEdit[] }[] = [];
  const dirs = ["", "dir/", "dir/sub/", "nested/x/", "foo/", "p/", "p/q/", "é/"];
  const names = ["a.txt", "b.txt", "c", "c.d", "c-d", "c0", "Z", "ö.md", "x y"];
  for (let n = 0; n < count; n++) {
    const files = new Map(BASE_FILES.map((f) => [f.path, f.mode ?? "100644"]));
    files.set("mod", "160000");
    const edits: FixtureEdit[] = [];
    for (let k = 1 + Math.floor(rand() * 4); k > 0; k--) {
      const existing = [...files.keys()].filter((p) => files.get(p) !== "160000");
      if (rand() < 0.35 && existing.length) {
        const path = pick(existing);
        files.delete(path);
        edits.push(del(path));
        continue;
      }
      const path = pick(dirs) + pick(names);
      const parts = path.split("/");
      const throughFile = parts.slice(0, -1).some((_, i) => files.has(parts.slice(0, i + 1).join("/")));
      const isDir = [...files.keys()].some((p) => p.startsWith(`${path}/`));
      if (throughFile || isDir) continue;
      const mode = rand() < 0.2 ? "100755" : "100644";
      files.set(path, mode);
      edits.push(put(path, `${path} ${n} ${Math.floor(rand() * 1000)}\n`, mode));
    }
    if (edits.length) out.push({ name: `random batch ${n}`, edits });
  }
  return out;
}

export function buildTreeEditFixture(seed = 20261201, randomCount = 60): TreeEditFixture {
  const dir = mkdtempSync(join(tmpdir(), "gitflare-tree-edit-"));
  try {
    const index = join(dir, "index");
    const git = gitIn(dir, index);
    git(["init", "-q", "--bare", "."]);
    const blob = (content: string) => git(["hash-object", "-w", "--stdin"], content).trim();
    const entry = (mode: string, oid: string, path: string) => `${mode} ${oid}\t${path}\n`;
    const lines = BASE_FILES.map((f) => entry(f.mode ?? "100644", blob(f.content), f.path)).join("") + entry("160000", GITLINK, "mod");
    git(["update-index", "--add", "--index-info"], lines);
    const base = git(["write-tree"]).trim();
    const trees = [
      base,
      ...git(["ls-tree", "-r", "-t", base])
        .split("\n")
        .filter((l) => l.includes(" tree "))
        .map((l) => l.split(/\s+/)[2]),
    ];
    const cases: TreeEditCase[] = [];
    for (const c of [...VALID, ...randomBatches(seed, randomCount)]) {
      git(["read-tree", base]);
      const info = c.edits
        .map((e) => (e.content === null ? entry("0", "0".repeat(40), e.path) : entry(e.mode ?? "100644", blob(e.content), e.path)))
        .join("");
      git(["update-index", "--index-info"], info);
      cases.push({ name: c.name, edits: c.edits, expect: { tree: git(["write-tree"]).trim() } });
    }
    for (const c of REFUSED) cases.push({ name: c.name, edits: c.edits, expect: { problem: c.problem } });
    return {
      trees: trees.map((oid) => ({ oid, data: execFileSync("git", ["cat-file", "tree", oid], { cwd: dir }).toString("base64") })),
      base,
      cases,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
