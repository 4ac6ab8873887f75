// Pull requests through the GitHub-shaped API with Octokit against the real local server,
// with branches pushed by the real git client: the push output's link to open a pull
// request, an issue closed by `Fixes #1`, mergeability, the three merge methods checked
// with C git (`git merge-tree --write-tree`, parents, replayed commits), a conflicting pull
// request refused with 405, a stale sha refused with 409, and fsck --strict on a fresh clone.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Octokit } from "@octokit/rest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, gitAuthEnv, signUp } from "./accounts";
import { git, gitRun, tempDir } from "./git";
import { LocalServer } from "./server";

const server = new LocalServer();
let owner: Account;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

const lines = (n: number, change: Record<number, string> = {}) =>
  Array.from({ length: n }, (_, i) => change[i] ?? `line ${i + 1}`).join("\n") + "\n";

async function commit(dir: string, files: Record<string, string>, message: string): Promise<string> {
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  await git(dir, "add", "-A");
  await git(dir, "commit", "-q", "-m", message);
  return (await git(dir, "rev-parse", "HEAD")).trim();
}

async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (e) {
    return (e as { status: number }).status;
  }
}

beforeAll(async () => {
  await server.start();
  owner = await signUp(server.url, "pr-owner");
  const res = await fetch(`${server.url}/api/repos/${owner.username}/prs`, {
    method: "POST",
    headers: { Authorization: owner.auth, "Content-Type": "application/json" },
    body: JSON.stringify({ private: false }),
  });
  expect(res.status).toBe(201);
});
afterAll(() => server.stop());

describe("pull requests with Octokit and C git", () => {
  it("opens, checks and merges pull requests by each method, as git would", async () => {
    const auth = gitAuthEnv(owner.auth);
    const url = `${server.url}/${owner.username}/prs.git`;
    const run = async (dir: string, ...args: string[]) => {
      const r = await gitRun(dir, args, auth);
      if (r.code !== 0) throw new Error(`git ${args.join(" ")} failed:\n${r.stderr}`);
      return r;
    };
    const dir = tempDir("gitflare-prs-");
    await git(dir, "init", "-q", "-b", "main");
    await commit(dir, { "a.txt": lines(12), "b.txt": lines(5) }, "Start");
    await run(dir, "push", "-q", url, "main");

    await git(dir, "checkout", "-q", "-b", "feat-merge", "main");
    await commit(dir, { "a.txt": lines(12, { 4: "line 5 from feat-merge" }), "m.txt": "merged\n" }, "Add m");
    await git(dir, "checkout", "-q", "-b", "feat-squash", "main");
    await commit(dir, { "b.txt": lines(5, { 1: "squash one" }) }, "Squash one");
    await commit(dir, { "b.txt": lines(5, { 1: "squash one", 3: "squash two" }) }, "Squash two");
    await git(dir, "checkout", "-q", "-b", "feat-rebase", "main");
    const rebaseFirst = await commit(dir, { "r.txt": "rebased\n" }, "Rebase one");
    await commit(dir, { "a.txt": lines(12, { 10: "line 11 from feat-rebase" }) }, "Rebase two");
    await git(dir, "checkout", "-q", "-b", "feat-conflict", "main");
    await commit(dir, { "a.txt": lines(12, { 0: "line 1 from feat-conflict" }) }, "Conflict");
    await git(dir, "checkout", "-q", "main");
    await commit(dir, { "a.txt": lines(12, { 0: "line 1 on main" }) }, "Main moves on");

    // The push of a new branch says where to open a pull request, as GitHub's does.
    const pushed = await run(dir, "push", url, "main", "feat-merge");
    expect(pushed.stderr).toContain("remote: Create a pull request for 'feat-merge' on Gitflare by visiting:");
    expect(pushed.stderr).toContain(`remote:      ${server.url}/${owner.username}/prs/pull/new/feat-merge`);
    expect(pushed.stderr).not.toContain("for 'main'");
    await run(dir, "push", "-q", url, "feat-squash", "feat-rebase", "feat-conflict");

    const gh = new Octokit({ baseUrl: `${server.url}/api/v3`, auth: owner.token, log: quiet });
    const repo = { owner: owner.username, repo: "prs" };
    const { data: issue } = await gh.rest.issues.create({ ...repo, title: "m.txt is missing" });
    await gh.rest.issues.createComment({ ...repo, issue_number: issue.number, body: "A PR is coming" });

    const open = async (head: string, body = "") =>
      (await gh.rest.pulls.create({ ...repo, title: `The ${head} change`, head: `${owner.username}:${head}`, base: "main", body })).data;
    const byMerge = await open("feat-merge", `Fixes #${issue.number}`);
    expect(byMerge).toMatchObject({ number: 2, state: "open", head: { ref: "feat-merge" }, base: { ref: "main" } });
    const bySquash = await open("feat-squash");
    const byRebase = await open("feat-rebase");
    const conflicting = await open("feat-conflict");
    const { data: issuePull } = await gh.rest.issues.get({ ...repo, issue_number: byMerge.number });
    expect(issuePull.pull_request?.url).toContain(`/pulls/${byMerge.number}`);
    const { data: commits } = await gh.rest.pulls.listCommits({ ...repo, pull_number: bySquash.number });
    expect(commits.map((c) => c.commit.message)).toEqual(["Squash one", "Squash two"]);
    const { data: files } = await gh.rest.pulls.listFiles({ ...repo, pull_number: byMerge.number });
    expect(files.map((f) => [f.filename, f.status, f.additions, f.deletions])).toEqual([
      ["a.txt", "modified", 1, 1],
      ["m.txt", "added", 1, 0],
    ]);

    /** Mergeability, read until the server knows it. */
    const mergeable = async (n: number) => {
      for (;;) {
        const { data } = await gh.rest.pulls.get({ ...repo, pull_number: n });
        if (data.mergeable !== null) return data;
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const fetchMain = async () => {
      await run(dir, "fetch", "-q", url, "+refs/heads/*:refs/remotes/origin/*");
      return (await git(dir, "rev-parse", "origin/main")).trim();
    };
    const treeOf = async (rev: string) => (await git(dir, "rev-parse", `${rev}^{tree}`)).trim();
    const parentsOf = async (rev: string) => (await git(dir, "rev-list", "--parents", "-n", "1", rev)).trim().split(" ").slice(1);

    // Merge commit: two parents, the tree git merge-tree writes, GitHub's message.
    expect(await mergeable(byMerge.number)).toMatchObject({ mergeable: true, mergeable_state: "clean" });
    let base = await fetchMain();
    const merged = await gh.rest.pulls.merge({ ...repo, pull_number: byMerge.number, merge_method: "merge", sha: byMerge.head.sha });
    expect(merged.data).toMatchObject({ merged: true, message: "Pull Request successfully merged" });
    expect(await fetchMain()).toBe(merged.data.sha);
    expect(await parentsOf(merged.data.sha)).toEqual([base, byMerge.head.sha]);
    expect(await treeOf(merged.data.sha)).toBe((await git(dir, "merge-tree", "--write-tree", base, byMerge.head.sha)).trim());
    expect(await git(dir, "log", "-1", "--format=%B", merged.data.sha)).toBe(
      `Merge pull request #${byMerge.number} from ${owner.username}/feat-merge\n\nThe feat-merge change\n\n`,
    );
    expect((await gh.rest.pulls.checkIfMerged({ ...repo, pull_number: byMerge.number })).status).toBe(204);
    expect(await statusOf(gh.rest.pulls.checkIfMerged({ ...repo, pull_number: bySquash.number }))).toBe(404);
    const { data: closedIssue } = await gh.rest.issues.get({ ...repo, issue_number: issue.number });
    expect(closedIssue).toMatchObject({ state: "closed", state_reason: "completed" });
    const { data: after } = await gh.rest.pulls.get({ ...repo, pull_number: byMerge.number });
    expect(after).toMatchObject({ state: "closed", merged: true, merge_commit_sha: merged.data.sha });

    // Squash: one commit, one parent, the same tree as merging.
    base = await fetchMain();
    const squashed = await gh.rest.pulls.merge({ ...repo, pull_number: bySquash.number, merge_method: "squash" });
    expect(await fetchMain()).toBe(squashed.data.sha);
    expect(await parentsOf(squashed.data.sha)).toEqual([base]);
    expect(await treeOf(squashed.data.sha)).toBe((await git(dir, "merge-tree", "--write-tree", base, bySquash.head.sha)).trim());

    // Rebase: a stale sha is refused; then each commit replayed onto the base, authors kept.
    expect(await statusOf(gh.rest.pulls.merge({ ...repo, pull_number: byRebase.number, merge_method: "rebase", sha: rebaseFirst }))).toBe(
      409,
    );
    base = await fetchMain();
    const rebased = await gh.rest.pulls.merge({ ...repo, pull_number: byRebase.number, merge_method: "rebase", sha: byRebase.head.sha });
    const tip = await fetchMain();
    expect(tip).toBe(rebased.data.sha);
    const replayed = (await git(dir, "rev-list", "--reverse", `${base}..${tip}`)).trim().split("\n");
    expect(replayed).toHaveLength(2);
    expect(await parentsOf(replayed[0])).toEqual([base]);
    expect(await parentsOf(replayed[1])).toEqual([replayed[0]]);
    expect(await git(dir, "log", "--format=%s|%an", `${base}..${tip}`)).toBe("Rebase two|Test Author\nRebase one|Test Author\n");
    expect(await treeOf(tip)).toBe((await git(dir, "merge-tree", "--write-tree", base, byRebase.head.sha)).trim());

    // A conflicting pull request: not mergeable, and the merge is refused.
    expect(await mergeable(conflicting.number)).toMatchObject({ mergeable: false, mergeable_state: "dirty" });
    const conflictMerge = await gitRun(dir, ["merge-tree", "--write-tree", tip, conflicting.head.sha]);
    expect(conflictMerge.code).toBe(1);
    expect(await statusOf(gh.rest.pulls.merge({ ...repo, pull_number: conflicting.number }))).toBe(405);
    expect(await fetchMain()).toBe(tip);

    // The repository C git clones afresh is whole and strict.
    const clone = tempDir("gitflare-prs-clone-");
    await run(clone, "clone", "-q", url, ".");
    const fsck = await gitRun(clone, ["fsck", "--strict"]);
    expect(fsck.code, fsck.stderr).toBe(0);
  });
});
