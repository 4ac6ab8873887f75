// The GitHub REST subset through Octokit (`@octokit/rest` with `baseUrl` = /api/v3)
// against the real local server, as scripts, CI systems and bots call it: repositories
// (create, get, update, list), contents (read a file and a directory, create, update with
// sha, delete), git data (a blob, a tree and a commit made through the API, a branch moved
// to it, then `git clone` and `git fsck --strict`), branches, commits, compare,
// collaborators, and conditional requests; then a protected branch's way to a merge:
// commit statuses, branch protection, webhooks, a pull request with a review request and
// an approval by a writer, refused (405) until the required check and approval are there.
import { Octokit } from "@octokit/rest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, gitAuthEnv, signUp } from "./accounts";
import { git, gitRun, tempDir } from "./git";
import { LocalServer } from "./server";

const server = new LocalServer();
let owner: Account;
let friend: Account;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const gh = (a: Account) => new Octokit({ baseUrl: `${server.url}/api/v3`, auth: a.token, log: quiet });

async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    return ((await call) as { status: number }).status;
  } catch (e) {
    return (e as { status: number }).status;
  }
}

const text = (b64: string) => Buffer.from(b64, "base64").toString("utf8");
const b64 = (s: string) => Buffer.from(s).toString("base64");

beforeAll(async () => {
  await server.start();
  owner = await signUp(server.url, "octo-owner");
  friend = await signUp(server.url, "octo-friend");
});
afterAll(() => server.stop());

describe("Octokit against /api/v3", () => {
  it("creates, reads, updates, lists and deletes repositories", async () => {
    const o = gh(owner);
    const { data: me } = await o.rest.users.getAuthenticated();
    expect(me.login).toBe(owner.username);
    const { data: made, status } = await o.rest.repos.createForAuthenticatedUser({
      name: "scratch",
      description: "temporary",
      private: true,
    });
    expect(status).toBe(201);
    expect(made).toMatchObject({ name: "scratch", private: true, full_name: `${owner.username}/scratch` });
    const { data: updated } = await o.rest.repos.update({ owner: owner.username, repo: "scratch", description: "still temporary" });
    expect(updated.description).toBe("still temporary");
    const { data: got } = await o.rest.repos.get({ owner: owner.username, repo: "scratch" });
    expect(got).toMatchObject({ description: "still temporary", default_branch: "main", permissions: { admin: true } });
    for (let i = 0; i < 3; i++) await o.rest.repos.createForAuthenticatedUser({ name: `many-${i}` });
    // Octokit's paginate follows the Link header page by page.
    const all = await o.paginate(o.rest.repos.listForAuthenticatedUser, { per_page: 2 });
    expect(all.map((r) => r.name).sort()).toEqual(["many-0", "many-1", "many-2", "scratch"]);
    // The private one is not in what a stranger sees of the owner.
    const { data: seen } = await gh(friend).rest.repos.listForUser({ username: owner.username });
    expect(seen.map((r) => r.name).sort()).toEqual(["many-0", "many-1", "many-2"]);
    expect((await o.rest.repos.delete({ owner: owner.username, repo: "scratch" })).status).toBe(204);
    expect(await statusOf(o.rest.repos.get({ owner: owner.username, repo: "scratch" }))).toBe(404);
  });

  it("walks contents, git data, branches, commits, compare and collaborators, and clones the result", async () => {
    const o = gh(owner);
    const repo = { owner: owner.username, repo: "walk" };
    await o.rest.repos.createForAuthenticatedUser({ name: "walk" });

    // Contents: the first file makes main; then a directory, an update with the sha, a delete.
    const { data: first } = await o.rest.repos.createOrUpdateFileContents({
      ...repo,
      path: "README.md",
      message: "Start",
      content: b64("# Walk\n"),
    });
    expect(first.commit.parents).toEqual([]);
    await o.rest.repos.createOrUpdateFileContents({ ...repo, path: "src/a.txt", message: "Add a", content: b64("a\n") });
    await o.rest.repos.createOrUpdateFileContents({ ...repo, path: "src/b.txt", message: "Add b", content: b64("b\n") });
    const { data: file } = await o.rest.repos.getContent({ ...repo, path: "src/a.txt" });
    if (Array.isArray(file) || file.type !== "file") throw new Error("expected a file");
    expect(text(file.content)).toBe("a\n");
    const { data: dir } = await o.rest.repos.getContent({ ...repo, path: "src" });
    expect(Array.isArray(dir) && dir.map((e) => `${e.type}:${e.path}`)).toEqual(["file:src/a.txt", "file:src/b.txt"]);
    expect(
      await statusOf(
        o.rest.repos.createOrUpdateFileContents({
          ...repo,
          path: "src/a.txt",
          message: "Stale",
          content: b64("x"),
          sha: first.content!.sha!,
        }),
      ),
    ).toBe(409);
    const { data: edited } = await o.rest.repos.createOrUpdateFileContents({
      ...repo,
      path: "src/a.txt",
      message: "Edit a",
      content: b64("a, edited\n"),
      sha: file.sha,
    });
    const { data: b } = await o.rest.repos.getContent({ ...repo, path: "src/b.txt" });
    if (Array.isArray(b)) throw new Error("expected a file");
    await o.rest.repos.deleteFile({ ...repo, path: "src/b.txt", message: "Drop b", sha: b.sha });
    expect(await statusOf(o.rest.repos.getContent({ ...repo, path: "src/b.txt" }))).toBe(404);
    const { data: readme } = await o.rest.repos.getReadme(repo);
    expect(text(readme.content)).toBe("# Walk\n");

    // Git data: a blob, a tree on top of main's, a commit, and main moved to it.
    const { data: main } = await o.rest.git.getRef({ ...repo, ref: "heads/main" });
    expect((await o.rest.repos.getCommit({ ...repo, ref: "main" })).data.commit.message).toBe("Drop b");
    expect(main.object.sha).not.toBe(edited.commit.sha);
    const { data: parent } = await o.rest.git.getCommit({ ...repo, commit_sha: main.object.sha });
    const { data: blob } = await o.rest.git.createBlob({ ...repo, content: b64("made by the git data API\n"), encoding: "base64" });
    const { data: readBlob } = await o.rest.git.getBlob({ ...repo, file_sha: blob.sha });
    expect(text(readBlob.content)).toBe("made by the git data API\n");
    const { data: tree } = await o.rest.git.createTree({
      ...repo,
      base_tree: parent.tree.sha,
      tree: [
        { path: "data/made.txt", mode: "100644", type: "blob", sha: blob.sha },
        { path: "run.sh", mode: "100755", type: "blob", content: "#!/bin/sh\necho hi\n" },
      ],
    });
    const { data: commit } = await o.rest.git.createCommit({
      ...repo,
      message: "Made with the git data API",
      tree: tree.sha,
      parents: [main.object.sha],
      author: { name: "Octo Bot", email: "bot@example.com", date: "2025-01-02T03:04:05Z" },
    });
    const { data: moved } = await o.rest.git.updateRef({ ...repo, ref: "heads/main", sha: commit.sha });
    expect(moved.object.sha).toBe(commit.sha);
    // Back to the parent is not a fast-forward; forced, it is allowed.
    const back = await o.rest.git.updateRef({ ...repo, ref: "heads/main", sha: main.object.sha }).catch((e) => e);
    expect(back.status).toBe(422);
    expect(back.response.data.message).toBe("Update is not a fast forward");
    await o.rest.git.createRef({ ...repo, ref: "refs/heads/side", sha: main.object.sha });
    const { data: refs } = await o.rest.git.listMatchingRefs({ ...repo, ref: "heads/" });
    expect(refs.map((r) => r.ref)).toEqual(["refs/heads/main", "refs/heads/side"]);
    const { data: recursive } = await o.rest.git.getTree({ ...repo, tree_sha: tree.sha, recursive: "1" });
    expect(recursive.tree.map((e) => e.path)).toEqual(["README.md", "data", "data/made.txt", "run.sh", "src", "src/a.txt"]);

    // The result clones with C git and passes fsck --strict.
    const clone = tempDir("gitflare-octo-");
    const r = await gitRun(clone, ["clone", "-q", `${server.url}/${owner.username}/walk.git`, "w"], gitAuthEnv(owner.auth));
    expect(r.code, r.stderr).toBe(0);
    const w = `${clone}/w`;
    expect((await git(w, "rev-parse", "HEAD")).trim()).toBe(commit.sha);
    expect(await git(w, "fsck", "--strict", "--no-dangling")).toBe("");
    expect((await git(w, "log", "-1", "--format=%an <%ae> %aI")).trim()).toBe("Octo Bot <bot@example.com> 2025-01-02T03:04:05+00:00");
    expect((await git(w, "ls-files", "-s", "run.sh")).startsWith("100755")).toBe(true);
    await o.rest.git.deleteRef({ ...repo, ref: "heads/side" });

    const { data: branches } = await o.rest.repos.listBranches(repo);
    expect(branches.map((b) => b.name)).toEqual(["main"]);

    // Commits: the list by page and by path, one with its files, and a comparison.
    const history = await o.paginate(o.rest.repos.listCommits, { ...repo, per_page: 2 });
    expect(history.map((c) => c.commit.message)).toEqual(["Made with the git data API", "Drop b", "Edit a", "Add b", "Add a", "Start"]);
    const { data: ofA } = await o.rest.repos.listCommits({ ...repo, path: "src/a.txt" });
    expect(ofA.map((c) => c.commit.message)).toEqual(["Edit a", "Add a"]);
    const { data: one } = await o.rest.repos.getCommit({ ...repo, ref: commit.sha });
    expect(one.files!.map((f) => [f.filename, f.status]).sort()).toEqual([
      ["data/made.txt", "added"],
      ["run.sh", "added"],
    ]);
    expect(one.stats).toMatchObject({ additions: 3, deletions: 0, total: 3 });
    const { data: cmp } = await o.rest.repos.compareCommitsWithBasehead({ ...repo, basehead: `${history[3].sha}...main` });
    expect(cmp).toMatchObject({ status: "ahead", ahead_by: 3, behind_by: 0 });
    expect(cmp.merge_base_commit.sha).toBe(history[3].sha);
    expect(cmp.commits.map((c) => c.commit.message)).toEqual(["Edit a", "Drop b", "Made with the git data API"]);

    // Collaborators: added, listed, their permission, and what it lets them do.
    expect((await o.rest.repos.addCollaborator({ ...repo, username: friend.username, permission: "push" })).status).toBe(201);
    const { data: people } = await o.rest.repos.listCollaborators(repo);
    expect(people.map((p) => p.login)).toEqual([owner.username, friend.username]);
    const { data: perm } = await o.rest.repos.getCollaboratorPermissionLevel({ ...repo, username: friend.username });
    expect(perm.permission).toBe("write");
    const f = gh(friend);
    await f.rest.repos.createOrUpdateFileContents({ ...repo, path: "friend.txt", message: "From a friend", content: b64("hi\n") });
    expect(await statusOf(f.rest.repos.update({ ...repo, description: "no" }))).toBe(403);
    await o.rest.repos.removeCollaborator({ ...repo, username: friend.username });
    expect(await statusOf(f.rest.repos.createOrUpdateFileContents({ ...repo, path: "again.txt", message: "x", content: b64("x") }))).toBe(
      403,
    );
  });

  it("protects a branch, records statuses and hooks, and merges a pull request once checked and approved", async () => {
    const o = gh(owner);
    const repo = { owner: owner.username, repo: "gated" };
    await o.rest.repos.createForAuthenticatedUser({ name: "gated" });
    const { data: start } = await o.rest.repos.createOrUpdateFileContents({
      ...repo,
      path: "README.md",
      message: "Start",
      content: b64("# Gated\n"),
    });
    await o.rest.git.createRef({ ...repo, ref: "refs/heads/feature", sha: start.commit.sha! });
    const { data: work } = await o.rest.repos.createOrUpdateFileContents({
      ...repo,
      path: "feature.txt",
      message: "The feature",
      content: b64("feature\n"),
      branch: "feature",
    });
    const head = work.commit.sha!;
    await o.rest.repos.addCollaborator({ ...repo, username: friend.username, permission: "push" });

    // Protection: one approval and a passing "ci/test", for admins too.
    const { data: rule } = await o.rest.repos.updateBranchProtection({
      ...repo,
      branch: "main",
      required_status_checks: { strict: false, contexts: ["ci/test"] },
      enforce_admins: true,
      required_pull_request_reviews: { required_approving_review_count: 1, dismiss_stale_reviews: true },
      restrictions: null,
    });
    expect(rule.required_status_checks).toMatchObject({ strict: false, contexts: ["ci/test"] });
    expect(rule.required_pull_request_reviews).toMatchObject({ required_approving_review_count: 1, dismiss_stale_reviews: true });
    expect(rule.enforce_admins?.enabled).toBe(true);
    expect((await o.rest.repos.getBranchProtection({ ...repo, branch: "main" })).data).toEqual(rule);

    // A hook is saved whether or not its receiver answers (this one is not reachable from here).
    const { data: hook, status: hookStatus } = await o.rest.repos.createWebhook({
      ...repo,
      config: { url: "https://ci.example.com/hook", content_type: "json", secret: "shh" },
      events: ["pull_request", "status"],
    });
    expect(hookStatus).toBe(201);
    expect(hook).toMatchObject({
      active: true,
      events: ["pull_request", "status"],
      config: { url: "https://ci.example.com/hook", secret: "********" },
    });
    const { data: hooks } = await o.rest.repos.listWebhooks(repo);
    expect(hooks.map((h) => [h.id, h.config.url])).toEqual([[hook.id, "https://ci.example.com/hook"]]);

    // The pull request, a review asked of the friend, and a merge refused for want of an approval.
    const { data: pr } = await o.rest.pulls.create({ ...repo, title: "Feature", head: "feature", base: "main" });
    expect(pr).toMatchObject({ number: 1, state: "open", head: { ref: "feature", sha: head }, base: { ref: "main" } });
    const { data: asked } = await o.rest.pulls.requestReviewers({ ...repo, pull_number: pr.number, reviewers: [friend.username] });
    expect(asked.requested_reviewers?.map((u) => u.login)).toEqual([friend.username]);
    const refusal = async () => {
      const e = await o.rest.pulls.merge({ ...repo, pull_number: pr.number }).catch((err) => err);
      return { status: e.status, message: e.response?.data?.message };
    };
    expect(await refusal()).toEqual({ status: 405, message: "At least 1 approving review is required by reviewers with write access." });

    // The friend, a writer, approves; the check is still missing.
    const f = gh(friend);
    const { data: review } = await f.rest.pulls.createReview({ ...repo, pull_number: pr.number, event: "APPROVE", body: "Looks good" });
    expect(review).toMatchObject({ state: "APPROVED", body: "Looks good", commit_id: head, user: { login: friend.username } });
    const { data: reviews } = await o.rest.pulls.listReviews({ ...repo, pull_number: pr.number });
    expect(reviews.map((r) => [r.id, r.state, r.user?.login])).toEqual([[review.id, "APPROVED", friend.username]]);
    expect((await o.rest.pulls.get({ ...repo, pull_number: pr.number })).data.requested_reviewers).toEqual([]);
    expect(await refusal()).toEqual({ status: 405, message: 'Required status check "ci/test" is expected.' });

    // CI reports on the head: pending, then success.
    const { data: pending, status: posted } = await o.rest.repos.createCommitStatus({
      ...repo,
      sha: head,
      state: "pending",
      context: "ci/test",
      target_url: "https://ci.example.com/runs/1",
    });
    expect(posted).toBe(201);
    expect(pending).toMatchObject({
      state: "pending",
      context: "ci/test",
      target_url: "https://ci.example.com/runs/1",
      creator: { login: owner.username },
    });
    expect(await refusal()).toEqual({ status: 405, message: 'Required status check "ci/test" is pending.' });
    await o.rest.repos.createCommitStatus({ ...repo, sha: head, state: "success", context: "ci/test", description: "all green" });
    const { data: combined } = await o.rest.repos.getCombinedStatusForRef({ ...repo, ref: "feature" });
    expect(combined).toMatchObject({ state: "success", sha: head, total_count: 1, repository: { full_name: `${owner.username}/gated` } });
    expect(combined.statuses.map((s) => [s.context, s.state, s.description])).toEqual([["ci/test", "success", "all green"]]);
    const { data: statuses } = await o.rest.repos.listCommitStatusesForRef({ ...repo, ref: head });
    expect(statuses.map((s) => s.state)).toEqual(["success", "pending"]);

    const { data: merged } = await o.rest.pulls.merge({ ...repo, pull_number: pr.number, merge_method: "merge" });
    expect(merged).toMatchObject({ merged: true, message: "Pull Request successfully merged" });
    expect((await o.rest.git.getRef({ ...repo, ref: "heads/main" })).data.object.sha).toBe(merged.sha);
    expect((await o.rest.repos.getCommit({ ...repo, ref: merged.sha })).data.parents.map((p) => p.sha)).toEqual([start.commit.sha, head]);
    expect((await o.rest.pulls.get({ ...repo, pull_number: pr.number })).data).toMatchObject({ merged: true, state: "closed" });

    expect((await o.rest.repos.deleteWebhook({ ...repo, hook_id: hook.id })).status).toBe(204);
    expect((await o.rest.repos.listWebhooks(repo)).data).toEqual([]);
    expect((await o.rest.repos.deleteBranchProtection({ ...repo, branch: "main" })).status).toBe(204);
    expect(await statusOf(o.rest.repos.getBranchProtection({ ...repo, branch: "main" }))).toBe(404);
  });

  it("answers an unchanged GET with 304 to a client that sends its ETag", async () => {
    const o = gh(owner);
    await o.rest.repos.createForAuthenticatedUser({ name: "etag" });
    const res = await fetch(`${server.url}/api/v3/repos/${owner.username}/etag`, { headers: { Authorization: owner.auth } });
    const tag = res.headers.get("etag");
    await res.arrayBuffer();
    expect(tag).toMatch(/^W\//);
    const again = await o
      .request("GET /repos/{owner}/{repo}", { owner: owner.username, repo: "etag", headers: { "if-none-match": tag! } })
      .catch((e) => e);
    expect(again.status).toBe(304);
  });
});
