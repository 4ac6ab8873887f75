// Runs in Node before the workerd tests: makes packs and indexes with C git, so tests
// inside workerd can compare our output with git's byte for byte.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { type MergeFixture, buildMergeFixture } from "./merge-fixtures";
import { type PullFixture, buildPullFixture } from "./pull-fixtures";
import { type TreeEditFixture, buildTreeEditFixture } from "./tree-edit-fixtures";

function git(cwd: string, args: string[], input?: string | Buffer): Buffer {
  return execFileSync("git", args, {
    cwd,
    input,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "Fixture",
      GIT_AUTHOR_EMAIL: "fixture@example.com",
      GIT_COMMITTER_NAME: "Fixture",
      GIT_COMMITTER_EMAIL: "fixture@example.com",
      GIT_AUTHOR_DATE: "2024-01-01T00:00:00Z",
      GIT_COMMITTER_DATE: "2024-01-01T00:00:00Z",
    },
    maxBuffer: 256 * 1024 * 1024,
  });
}

export interface PackFixture {
  pack: string;
  idx: string;
}

function packOf(dir: string, revs: string, extra: string[] = []): PackFixture {
  const pack = git(dir, ["pack-objects", "--revs", "--stdout", ...extra], revs);
  const path = join(dir, `fixture-${Math.random().toString(36).slice(2)}.pack`);
  writeFileSync(path, pack);
  git(dir, ["index-pack", "--stdin", "--fix-thin", "-o", path.replace(/\.pack$/, ".idx")], pack);
  const idx = readFileSync(path.replace(/\.pack$/, ".idx"));
  return { pack: pack.toString("base64"), idx: idx.toString("base64") };
}

export default function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), "gitflare-fixture-"));
  try {
    git(dir, ["init", "-q", "-b", "main"]);
    // Files edited a few lines at a time, so that pack-objects makes deltas.
    const lines = Array.from({ length: 400 }, (_, i) => `line ${i} of a file that changes slowly`);
    for (let c = 0; c < 12; c++) {
      lines[(c * 37) % lines.length] = `edited in commit ${c}`;
      writeFileSync(join(dir, "a.txt"), lines.join("\n") + "\n");
      writeFileSync(join(dir, `b${c % 3}.txt`), lines.slice(c).join("\n"));
      git(dir, ["add", "-A"]);
      git(dir, ["commit", "-q", "-m", `commit ${c}`]);
    }
    git(dir, ["tag", "-a", "v1", "-m", "version one"]);
    const head = git(dir, ["rev-parse", "HEAD"]).toString().trim();
    const base = git(dir, ["rev-parse", "HEAD~3"]).toString().trim();
    project.provide("fixtures", {
      ofsPack: packOf(dir, "HEAD\nrefs/tags/v1\n", ["--delta-base-offset"]),
      refPack: packOf(dir, "HEAD\nrefs/tags/v1\n"),
      basePack: packOf(dir, `${base}\n`, ["--delta-base-offset"]),
      thinPack: {
        pack: git(dir, ["pack-objects", "--revs", "--thin", "--stdout", "--delta-base-offset"], `${head}\n^${base}\n`).toString("base64"),
        idx: "",
      },
      head,
      base,
    });
    project.provide("mergeFixture", buildMergeFixture(Number(process.env.MERGE_SEED ?? 20260713), 10, 40));
    project.provide("pullFixture", buildPullFixture());
    project.provide("treeEditFixture", buildTreeEditFixture());
    project.provide("fuzz", {
      iterations: Number(process.env.FUZZ_ITERATIONS ?? 150),
      seed: Number(process.env.FUZZ_SEED ?? 20261125),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

declare module "vitest" {
  export interface ProvidedContext {
    fixtures: {
      ofsPack: PackFixture;
      refPack: PackFixture;
      basePack: PackFixture;
      thinPack: PackFixture;
      head: string;
      base: string;
    };
    fuzz: { iterations: number; seed: number };
    mergeFixture: MergeFixture;
    pullFixture: PullFixture;
    treeEditFixture: TreeEditFixture;
  }
}
