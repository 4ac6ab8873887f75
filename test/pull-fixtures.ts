// Runs in Node (from global-setup): a small repository with pull-request branches, made with C
// git, and what C git makes of merging each: `git merge-tree --write-tree main <branch>`, and
// for a rebase merge the tree of each commit `git cherry-pick`ed onto main in turn (git 2.39's
// merge-tree has no --merge-base; cherry-pick is the same merge, with the parent as base).
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PullBranch {
  oid: string;
  /** `git merge-tree --write-tree main <branch>`. */
  merge: { clean: boolean; tree: string; conflicts: string[] };
  /** The commits of `main..branch`, oldest first. */
  commits: string[];
  /** For each of those commits, the tree a cherry-pick onto the previous one gives (null: it conflicts). */
  rebaseTrees: (string | null)[];
  mergeBases: string[];
  behind: number;
}

export interface PullFixture {
  /** A pack of every object, base64, and the refs to create with it. */
  pack: string;
  refs: Record<string, string>;
  main: string;
  branches: Record<string, PullBranch>;
}

const ENV = {
  GIT_AUTHOR_NAME: "Fixture",
  GIT_AUTHOR_EMAIL: "fixture@example.com",
  GIT_COMMITTER_NAME: "Fixture",
  GIT_COMMITTER_EMAIL: "fixture@example.com",
};

let clock = 1_700_000_000;

function git(cwd: string, args: string[], env: Record<string, string> = {}, input?: Buffer | string): string {
  const when = `${clock++} +0100`;
  return execFileSync("git", args, {
    cwd,
    input,
    env: { ...process.env, ...ENV, GIT_AUTHOR_DATE: when, GIT_COMMITTER_DATE: when, ...env },
    maxBuffer: 64 * 1024 * 1024,
  }).toString();
}

const numbered = (n: number, tag = "") => Array.from({ length: n }, (_, i) => `line ${i + 1}${tag}\n`).join("");

function edit(dir: string, path: string, change: (lines: string[]) => void): void {
  const file = join(dir, path);
  const lines = readFileSync(file, "utf8").split(/(?<=\n)/);
  change(lines);
  writeFileSync(file, lines.join(""));
}

function commitAll(dir: string, message: string, env: Record<string, string> = {}): void {
  git(dir, ["add", "-A"]);
  git(dir, ["commit", "-q", "--allow-empty", "-m", message], env);
}

export function buildPullFixture(): PullFixture {
  const dir = mkdtempSync(join(tmpdir(), "gitflare-pulls-"));
  try {
    git(dir, ["init", "-q", "-b", "main"]);
    mkdirSync(join(dir, "dir"));
    writeFileSync(join(dir, "a.txt"), numbered(20));
    writeFileSync(join(dir, "b.txt"), numbered(10, " of b"));
    writeFileSync(join(dir, "dir/c.txt"), numbered(8, " of c"));
    writeFileSync(join(dir, "run.sh"), "#!/bin/sh\necho hi\n");
    chmodSync(join(dir, "run.sh"), 0o755);
    commitAll(dir, "Initial files");
    edit(dir, "b.txt", (l) => l.push("appended on main\n"));
    commitAll(dir, "Extend b");
    const fork = git(dir, ["rev-parse", "HEAD"]).trim();
    edit(dir, "a.txt", (l) => {
      l[1] = "line 2 changed on main\n";
    });
    edit(dir, "dir/c.txt", (l) => {
      l[0] = "line 1 of c, changed on main\n";
    });
    commitAll(dir, "Change a and c on main");
    const main = git(dir, ["rev-parse", "HEAD"]).trim();

    // Clean: other lines and files than main touched since the fork.
    git(dir, ["checkout", "-q", "-b", "clean", fork]);
    edit(dir, "a.txt", (l) => {
      l[16] = "line 17 changed on the branch\n";
    });
    commitAll(dir, "Change the end of a\n\nWith a body that says why.");
    writeFileSync(join(dir, "feature.txt"), "a new feature\n");
    commitAll(dir, "Add the feature", { GIT_AUTHOR_NAME: "Other Author", GIT_AUTHOR_EMAIL: "other@example.com" });
    chmodSync(join(dir, "run.sh"), 0o644);
    edit(dir, "b.txt", (l) => {
      l[0] = "line 1 of b, changed\n";
    });
    commitAll(dir, "Touch b, run.sh not executable");

    // Conflicting: the same lines as main.
    git(dir, ["checkout", "-q", "-b", "conflict", fork]);
    edit(dir, "a.txt", (l) => {
      l[1] = "line 2 changed on the branch\n";
    });
    edit(dir, "dir/c.txt", (l) => {
      l[0] = "line 1 of c, changed on the branch\n";
    });
    writeFileSync(join(dir, "other.txt"), "no conflict here\n");
    commitAll(dir, "Conflicting change");

    // With a merge commit: merges and squashes, but does not rebase.
    git(dir, ["checkout", "-q", "-b", "merges", fork]);
    writeFileSync(join(dir, "m1.txt"), "first\n");
    commitAll(dir, "Before merging main");
    git(dir, ["merge", "-q", "--no-edit", "main"]);
    writeFileSync(join(dir, "m2.txt"), "second\n");
    commitAll(dir, "After merging main");

    // Merges cleanly as a whole, but its first commit conflicts when replayed alone.
    git(dir, ["checkout", "-q", "-b", "replay-conflict", fork]);
    edit(dir, "a.txt", (l) => {
      l[1] = "line 2 changed for a while\n";
    });
    commitAll(dir, "Change line 2 for a while");
    edit(dir, "a.txt", (l) => {
      l[1] = "line 2\n";
    });
    writeFileSync(join(dir, "later.txt"), "later\n");
    commitAll(dir, "Put line 2 back");

    // Up to date with main, by someone whose name and message are not ASCII.
    git(dir, ["checkout", "-q", "-b", "unicode", main]);
    // UTF-8 names with bytes 0x80-0x9f ("€" is e2 82 ac), which windows-1252 decoding mangles.
    writeFileSync(join(dir, "zoë.txt"), "grüße\n");
    writeFileSync(join(dir, "preis — 5 €.txt"), "fünf\n");
    commitAll(dir, "Füge Grüße hinzu\n\nFixes #3, closes #4.", { GIT_AUTHOR_NAME: "Zoë Ünïcode", GIT_AUTHOR_EMAIL: "zoe@example.com" });
    edit(dir, "zoë.txt", (l) => l.push("und mehr\n"));
    commitAll(dir, "Mehr", { GIT_AUTHOR_NAME: "Zoë Ünïcode", GIT_AUTHOR_EMAIL: "zoe@example.com" });

    git(dir, ["checkout", "-q", "main"]);
    const names = ["clean", "conflict", "merges", "replay-conflict", "unicode"];
    const branches: Record<string, PullBranch> = {};
    for (const name of names) branches[name] = describeBranch(dir, name);
    const refs: Record<string, string> = { "refs/heads/main": main };
    for (const name of names) refs[`refs/heads/${name}`] = branches[name].oid;
    const pack = execFileSync("git", ["pack-objects", "--all", "--stdout"], { cwd: dir, input: "" });
    return { pack: pack.toString("base64"), refs, main, branches };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function mergeTree(dir: string, args: string[]): { clean: boolean; tree: string; conflicts: string[] } {
  const r = spawnSync("git", ["merge-tree", "--write-tree", "-z", "--name-only", ...args], { cwd: dir });
  if (r.status !== 0 && r.status !== 1) throw new Error(`git merge-tree failed: ${r.stderr}`);
  const [head] = r.stdout.toString("utf8").split("\0\0");
  const [tree, ...conflicts] = head.split("\0").filter((x) => x !== "");
  return { clean: r.status === 0, tree, conflicts };
}

function describeBranch(dir: string, name: string): PullBranch {
  const oid = git(dir, ["rev-parse", name]).trim();
  const commits = git(dir, ["rev-list", "--reverse", "--topo-order", `main..${name}`])
    .trim()
    .split("\n")
    .filter(Boolean);
  const rebaseTrees: (string | null)[] = [];
  git(dir, ["checkout", "-q", "--detach", "main"]);
  for (const c of commits) {
    const parents = git(dir, ["rev-list", "--parents", "-n", "1", c]).trim().split(" ").slice(1);
    if (parents.length !== 1) break;
    const r = spawnSync("git", ["cherry-pick", c], { cwd: dir, env: { ...process.env, ...ENV } });
    if (r.status !== 0) {
      git(dir, ["cherry-pick", "--abort"]);
      rebaseTrees.push(null);
      break;
    }
    rebaseTrees.push(git(dir, ["rev-parse", "HEAD^{tree}"]).trim());
  }
  git(dir, ["checkout", "-q", "main"]);
  return {
    oid,
    merge: mergeTree(dir, ["main", name]),
    commits,
    rebaseTrees,
    mergeBases: git(dir, ["merge-base", "--all", "main", name]).trim().split("\n"),
    behind: Number(git(dir, ["rev-list", "--count", `${name}..main`]).trim()),
  };
}
