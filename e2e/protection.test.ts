// Protected branches and commit statuses against the real local server with the real git
// client: a protected main refuses a direct push (git prints the rule), an atomic push of
// two refs is refused whole, force pushes and deletions are refused where ruled, and a pull
// request whose required check is missing, then pending, is refused with 405 until CI posts
// `success` on its head; the merge then moves main, which the same commit pushed directly
// could not.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, gitAuthEnv, signUp } from "./accounts";
import { commitFile, git, gitRun, tempDir } from "./git";
import { LocalServer } from "./server";

const server = new LocalServer();
let owner: Account;

beforeAll(async () => {
  await server.start();
  owner = await signUp(server.url, "prot-owner");
  const res = await fetch(`${server.url}/api/repos/${owner.username}/guarded`, {
    method: "POST",
    headers: { Authorization: owner.auth, "Content-Type": "application/json" },
    body: JSON.stringify({ private: true }),
  });
  expect(res.status).toBe(201);
});
afterAll(() => server.stop());

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/api/v3/repos/${owner.username}/guarded${path}`, {
    method,
    headers: { Authorization: owner.auth, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : {} };
}

const protect = (branch: string, rule: Record<string, unknown>) =>
  api("PUT", `/branches/${encodeURIComponent(branch)}/protection`, {
    required_status_checks: null,
    enforce_admins: true,
    required_pull_request_reviews: null,
    restrictions: null,
    ...rule,
  });

describe("protected branches with C git", () => {
  it("refuses direct, atomic, forced and deleting pushes, and merges a pull request once its check passes", async () => {
    const url = `${server.url}/${owner.username}/guarded.git`;
    const auth = gitAuthEnv(owner.auth);
    const push = (dir: string, ...args: string[]) => gitRun(dir, ["push", url, ...args], auth);
    const remote = async (dir: string) => (await gitRun(dir, ["ls-remote", url], auth)).stdout;

    const dir = tempDir("gitflare-protect-");
    await git(dir, "init", "-q", "-b", "main");
    const base = await commitFile(dir, "a.txt", "one\n", "Start");
    await git(dir, "branch", "release/1");
    expect((await push(dir, "main", "release/1")).code).toBe(0);

    expect(
      (
        await protect("main", {
          required_status_checks: { strict: false, contexts: ["ci"] },
          required_pull_request_reviews: { required_approving_review_count: 0 },
        })
      ).status,
    ).toBe(200);
    expect((await protect("release/*", {})).status).toBe(200);

    // A direct push: git prints the rule for the ref.
    const direct = await commitFile(dir, "a.txt", "two\n", "Direct");
    const refused = await push(dir, "main");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("! [remote rejected] main -> main (protected branch: changes must be made through a pull request)");
    expect(await remote(dir)).toContain(`${base}\trefs/heads/main`);

    // Atomic: an unprotected new branch in the same push is refused with it.
    await git(dir, "branch", "side");
    const atomic = await push(dir, "--atomic", "main", "side");
    expect(atomic.code).not.toBe(0);
    expect(atomic.stderr).toContain("! [remote rejected] main -> main (protected branch: changes must be made through a pull request)");
    expect(atomic.stderr).toContain("! [remote rejected] side -> side (atomic push failed)");
    expect(await remote(dir)).not.toContain("refs/heads/side");

    // release/* forbids force pushes and deletion, and nothing else.
    await git(dir, "checkout", "-q", "release/1");
    const ff = await commitFile(dir, "r.txt", "release fix\n", "Fix");
    expect((await push(dir, "release/1")).code).toBe(0);
    await git(dir, "reset", "-q", "--hard", base);
    await commitFile(dir, "r.txt", "rewritten\n", "Rewrite");
    const forced = await push(dir, "--force", "release/1");
    expect(forced.code).not.toBe(0);
    expect(forced.stderr).toContain("! [remote rejected] release/1 -> release/1 (protected branch: cannot force-push to this branch)");
    const deleted = await push(dir, ":release/1");
    expect(deleted.code).not.toBe(0);
    expect(deleted.stderr).toContain("! [remote rejected] release/1 (protected branch: cannot delete this branch)");
    expect(await remote(dir)).toContain(`${ff}\trefs/heads/release/1`);

    // A pull request from a feature branch: the required check gates the merge.
    await git(dir, "checkout", "-q", "-b", "feature", direct);
    const head = await commitFile(dir, "b.txt", "feature\n", "Feature");
    expect((await push(dir, "feature")).code).toBe(0);
    // The same commits pushed straight to main are refused.
    const straight = await push(dir, "feature:main");
    expect(straight.stderr).toContain("(protected branch: changes must be made through a pull request)");

    const pr = await api("POST", "/pulls", { title: "Feature", head: "feature", base: "main" });
    expect(pr.status).toBe(201);
    const number = pr.json.number as number;
    const merge = () => api("PUT", `/pulls/${number}/merge`, { merge_method: "merge" });
    let m = await merge();
    expect(m.status).toBe(405);
    expect(m.json.message).toBe('Required status check "ci" is expected.');

    expect(
      (await api("POST", `/statuses/${head}`, { state: "pending", context: "ci", target_url: "https://ci.example/run/1" })).status,
    ).toBe(201);
    m = await merge();
    expect(m.status).toBe(405);
    expect(m.json.message).toBe('Required status check "ci" is pending.');
    const combined = await api("GET", "/commits/feature/status");
    expect(combined.json).toMatchObject({ state: "pending", sha: head, total_count: 1 });

    expect((await api("POST", `/statuses/${head}`, { state: "success", context: "ci", description: "all green" })).status).toBe(201);
    expect((await api("GET", `/commits/${head}/status`)).json.state).toBe("success");
    m = await merge();
    expect(m.status).toBe(200);
    expect(m.json.merged).toBe(true);
    expect(await remote(dir)).toContain(`${m.json.sha}\trefs/heads/main`);

    const clone = tempDir("gitflare-protect-clone-");
    expect((await gitRun(clone, ["clone", "-q", url, "."], auth)).code).toBe(0);
    expect((await git(clone, "rev-parse", "HEAD^2")).trim()).toBe(head);
    expect((await gitRun(clone, ["fsck", "--strict"])).code).toBe(0);

    // Branches through the API say which are protected.
    const branches = (await api("GET", "/branches")).json as unknown as { name: string; protected: boolean }[];
    expect(branches.map((b) => [b.name, b.protected])).toEqual([
      ["feature", false],
      ["main", true],
      ["release/1", true],
    ]);
  });
});
