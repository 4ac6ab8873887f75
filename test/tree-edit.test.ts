// Tree editing (src/git/tree-edit.ts) against C git: each batch of edits applied to a base
// tree gives the tree id `git update-index --index-info` + `git write-tree` gave for the
// same batch (test/tree-edit-fixtures.ts), and the batches the editor refuses are refused
// for the right reason. Also the line ends a browser's textarea sends, put back as the file
// had them.
import { describe, expect, inject, it } from "vitest";
import { hashObject, parseTree } from "../src/git/object/object";
import { type TreeEdit, TreeEditError, editTree, entryAt, pathProblem } from "../src/git/tree-edit";
import { usesCrlf, withLineEnds } from "../src/repo/editor";
import { fromBase64 } from "./helpers";

const fx = inject("treeEditFixture");
const utf8 = (s: string) => new TextEncoder().encode(s);

/** The base trees as C git stored them; reading anything else is a bug in the editor. */
const trees = new Map(fx.trees.map((t) => [t.oid, fromBase64(t.data)]));
const source = {
  async read(oid: string) {
    const data = trees.get(oid);
    if (!data) throw new Error(`read of ${oid}, which is not a base tree`);
    return { type: "tree" as const, data };
  },
};

function editsOf(c: (typeof fx.cases)[number]): TreeEdit[] {
  return c.edits.map((e) => ({
    path: e.path,
    entry: e.content === null ? null : { mode: e.mode ?? "100644", oid: hashObject("blob", utf8(e.content)) },
  }));
}

describe("tree editing agrees with git write-tree", () => {
  const valid = fx.cases.filter((c) => "tree" in c.expect);
  it("has many cases", () => {
    expect(valid.length).toBeGreaterThanOrEqual(70);
    expect(fx.cases.length - valid.length).toBeGreaterThanOrEqual(30);
  });

  for (const c of valid) {
    it(c.name, async () => {
      const result = await editTree(source, fx.base, editsOf(c));
      expect(result.tree).toBe((c.expect as { tree: string }).tree);
      // Every tree it wrote is a well-formed tree named by its own hash, and the root is among them.
      for (const o of result.objects) {
        expect(o.type).toBe("tree");
        parseTree(o.data);
      }
      const ids = result.objects.map((o) => hashObject("tree", o.data));
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toContain(result.tree);
      // Only trees on edited paths are written: never more than one per directory touched.
      const touched = new Set(
        c.edits.flatMap((e) =>
          e.path
            .split("/")
            .slice(0, -1)
            .map((_, i, a) => a.slice(0, i + 1).join("/")),
        ),
      );
      expect(result.objects.length).toBeLessThanOrEqual(touched.size + 1);
    });
  }
});

describe("tree editing refuses", () => {
  for (const c of fx.cases.filter((c) => "problem" in c.expect)) {
    it(c.name, async () => {
      const problem = (c.expect as { problem: string }).problem;
      const err = await editTree(source, fx.base, editsOf(c)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TreeEditError);
      expect((err as TreeEditError).problem).toBe(problem);
      expect((err as TreeEditError).message.length).toBeGreaterThan(5);
    });
  }

  it("says why a path is invalid, and accepts ordinary ones", () => {
    expect(pathProblem("a/../b")).toMatch(/\.\./);
    expect(pathProblem(".git/hooks/pre-commit")).toMatch(/\.git/);
    expect(pathProblem("a//b")).toMatch(/\/\//);
    expect(pathProblem("x\0y")).toMatch(/control/);
    expect(pathProblem(`${"n".repeat(256)}.txt`)).toMatch(/255/);
    for (const ok of ["a.txt", "src/main.ts", ".github/workflows/ci.yml", ".gitignore", "a..b", "...", "dir/.gitattributes", "zoë/ü.txt"]) {
      expect(pathProblem(ok), ok).toBeNull();
    }
  });
});

describe("reading a path in a tree", () => {
  it("finds files, directories and nothing", async () => {
    expect(await entryAt(source, fx.base, "dir/sub/deep.txt")).toEqual({ mode: "100644", oid: hashObject("blob", utf8("deep\n")) });
    expect((await entryAt(source, fx.base, "dir"))?.mode).toBe("40000");
    expect((await entryAt(source, fx.base, "run.sh"))?.mode).toBe("100755");
    expect(await entryAt(source, fx.base, "a.txt/x")).toBeNull();
    expect(await entryAt(source, fx.base, "missing")).toBeNull();
    expect(await entryAt(source, null, "a.txt")).toBeNull();
  });

  it("edits an empty tree: a first commit's tree", async () => {
    const r = await editTree(source, null, [{ path: "README.md", entry: { mode: "100644", oid: hashObject("blob", utf8("# Base\n")) } }]);
    expect(r.objects).toHaveLength(1);
    expect(parseTree(r.objects[0].data)).toEqual([{ mode: "100644", name: "README.md", oid: hashObject("blob", utf8("# Base\n")) }]);
  });
});

describe("line ends from a textarea", () => {
  it("go back to LF for a file that has LF, to CRLF for a file that has CRLF", () => {
    const posted = "one\r\ntwo\r\nthree\r\n";
    expect(withLineEnds(posted, usesCrlf(utf8("a\nb\n")))).toBe("one\ntwo\nthree\n");
    expect(withLineEnds(posted, usesCrlf(utf8("a\r\nb\r\n")))).toBe(posted);
    // Lines typed with LF into a CRLF file (a script filled the field) get CRLF too.
    expect(withLineEnds("one\ntwo", true)).toBe("one\r\ntwo");
    // No trailing newline stays that way; a file with no line ends is LF.
    expect(withLineEnds("last line", false)).toBe("last line");
    expect(usesCrlf(utf8("no newline"))).toBe(false);
    // Mixed: the majority decides.
    expect(usesCrlf(utf8("a\r\nb\r\nc\n"))).toBe(true);
    expect(usesCrlf(utf8("a\r\nb\nc\n"))).toBe(false);
  });
});
