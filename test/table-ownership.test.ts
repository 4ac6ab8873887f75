// DESIGN invariant 7: each layer owns its tables. Only the object store (src/git/store/)
// names `git_*` tables, only DOFS (src/fs/) names `dofs_*`, and only the collaboration
// store (src/repo/collab/) names `collab_*`, and only code search (src/repo/search/) names `search_*`; every other layer goes through their APIs. This reads the sources as text, so a query built anywhere else
// fails here, whether or not a test runs it.
import { describe, expect, it } from "vitest";

declare global {
  interface ImportMeta {
    /** Vite's glob import, which vitest expands when it loads this file. */
    glob(pattern: string, options: { query: "?raw"; import: "default"; eager: true }): Record<string, string>;
  }
}

const sources = import.meta.glob("../src/**/*.ts", { query: "?raw", import: "default", eager: true });

const OWNERS: { prefix: string; dir: string }[] = [
  { prefix: "git_", dir: "src/git/store/" },
  { prefix: "dofs_", dir: "src/fs/" },
  { prefix: "collab_", dir: "src/repo/collab/" },
  { prefix: "lfs_", dir: "src/repo/lfs/" },
  { prefix: "search_", dir: "src/repo/search/" },
];

/** GitHub's JSON field names (src/api/v3/), which look like table names but are none. */
const NOT_TABLES = new Set(["git_url", "git_refs_url"]);

/**
 * Each table name that `text` (the file at `path`) uses without owning it. Table names
 * are lower case; upper-case words such as GIT_PATH are settings, not tables.
 */
function trespasses(path: string, text: string): string[] {
  const found: string[] = [];
  for (const { prefix, dir } of OWNERS) {
    if (path.startsWith(dir)) continue;
    for (const m of text.matchAll(new RegExp(`\\b${prefix}[a-z0-9_]+`, "g"))) if (!NOT_TABLES.has(m[0])) found.push(`${path}: ${m[0]}`);
  }
  return found;
}

describe("table ownership", () => {
  it("finds the sources", () => {
    const paths = Object.keys(sources).map((p) => p.replace(/^\.\.\//, ""));
    expect(paths).toContain("src/repo/repository.ts");
    expect(paths).toContain("src/git/store/object-store.ts");
    expect(paths).toContain("src/fs/dofs.ts");
    expect(paths).toContain("src/repo/collab/schema.ts");
    expect(paths).toContain("src/repo/lfs/store.ts");
    expect(paths).toContain("src/repo/search/schema.ts");
  });

  it("catches a table named outside its owner", () => {
    expect(trespasses("src/repo/x.ts", 'sql.exec("SELECT name FROM git_pack")')).toEqual(["src/repo/x.ts: git_pack"]);
    expect(trespasses("src/git/store/x.ts", "DELETE FROM dofs_r2_trash")).toEqual(["src/git/store/x.ts: dofs_r2_trash"]);
    expect(trespasses("src/fs/x.ts", "SELECT tier FROM dofs_node")).toEqual([]);
    expect(trespasses("src/git/store/x.ts", "SELECT oid FROM git_object")).toEqual([]);
    expect(trespasses("src/repo/repository.ts", "SELECT * FROM collab_issue")).toEqual(["src/repo/repository.ts: collab_issue"]);
    expect(trespasses("src/repo/collab/issues.ts", "SELECT * FROM collab_issue")).toEqual([]);
    expect(trespasses("src/repo/repository.ts", "DELETE FROM search_file")).toEqual(["src/repo/repository.ts: search_file"]);
    expect(trespasses("src/repo/search/code-index.ts", "DELETE FROM search_file")).toEqual([]);
  });

  it("holds in src/", () => {
    const found = Object.entries(sources).flatMap(([p, text]) => trespasses(p.replace(/^\.\.\//, ""), text));
    expect(found).toEqual([]);
  });
});
