// Issues through the GitHub-shaped API with Octokit, unchanged but for `baseUrl`,
// against the real local server: create an issue, comment, label, list with filters,
// close, follow the Link header's pages; and what a stranger may and may not do.
import { Octokit } from "@octokit/rest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, signUp } from "./accounts";
import { LocalServer } from "./server";

const server = new LocalServer();
let owner: Account;
let stranger: Account;
let readOnly: Account;

// Refusals are expected here; Octokit would log each one.
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const octokit = (a: Account | null) => new Octokit({ baseUrl: `${server.url}/api/v3`, log: quiet, ...(a ? { auth: a.token } : {}) });

async function createRepo(name: string, isPrivate: boolean): Promise<void> {
  const res = await fetch(`${server.url}/api/repos/${owner.username}/${name}`, {
    method: "POST",
    headers: { Authorization: owner.auth, "Content-Type": "application/json" },
    body: JSON.stringify({ private: isPrivate }),
  });
  expect(res.status).toBe(201);
}

/** The HTTP status an Octokit call fails with (Octokit throws a RequestError). */
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
  owner = await signUp(server.url, "octo-owner");
  stranger = await signUp(server.url, "octo-stranger", "write");
  readOnly = await signUp(server.url, "octo-reader", "read");
  await createRepo("tracker", false);
  await createRepo("hidden", true);
});
afterAll(() => server.stop());

describe("issues with Octokit", () => {
  it("creates, comments, labels, lists with filters, closes and paginates", async () => {
    const gh = octokit(owner);
    const repo = { owner: owner.username, repo: "tracker" };
    const { data: created, status } = await gh.rest.issues.create({ ...repo, title: "Crash on start", body: "Steps:\n- [ ] reproduce" });
    expect(status).toBe(201);
    expect(created).toMatchObject({ number: 1, state: "open", title: "Crash on start", user: { login: owner.username } });
    expect(created.html_url).toBe(`${server.url}/${owner.username}/tracker/issues/1`);

    const { data: comment } = await gh.rest.issues.createComment({ ...repo, issue_number: 1, body: "Seen on v2 too" });
    expect(comment.body).toBe("Seen on v2 too");
    const { data: labels } = await gh.rest.issues.addLabels({ ...repo, issue_number: 1, labels: ["bug", "p1"] });
    expect(labels.map((l) => l.name)).toEqual(["bug", "p1"]);
    await gh.rest.issues.updateLabel({ ...repo, name: "bug", color: "d73a4a", description: "Something is broken" });
    const { data: label } = await gh.rest.issues.getLabel({ ...repo, name: "bug" });
    expect(label).toMatchObject({ name: "bug", color: "d73a4a", description: "Something is broken" });

    // A stranger opens an issue on a public repository and comments, but cannot label or close others' issues.
    const theirs = octokit(stranger);
    const { data: second } = await theirs.rest.issues.create({ ...repo, title: "Add dark mode", labels: ["dropped"] });
    expect(second.number).toBe(2);
    expect(second.labels).toEqual([]);
    await theirs.rest.issues.createComment({ ...repo, issue_number: 1, body: "Me too" });
    expect(await statusOf(theirs.rest.issues.addLabels({ ...repo, issue_number: 2, labels: ["bug"] }))).toBe(403);
    expect(await statusOf(theirs.rest.issues.update({ ...repo, issue_number: 1, state: "closed" }))).toBe(403);
    expect(await statusOf(octokit(readOnly).rest.issues.create({ ...repo, title: "read-only token" }))).toBe(403);
    expect(await statusOf(octokit(null).rest.issues.create({ ...repo, title: "anonymous" }))).toBe(401);

    const list = async (params: Record<string, string>) =>
      (await gh.rest.issues.listForRepo({ ...repo, ...params })).data.map((i) => i.number);
    expect(await list({})).toEqual([2, 1]);
    expect(await list({ labels: "bug" })).toEqual([1]);
    expect(await list({ creator: stranger.username })).toEqual([2]);
    const { data: fetched } = await gh.rest.issues.get({ ...repo, issue_number: 1 });
    expect(fetched.comments).toBe(2);

    const { data: closed } = await gh.rest.issues.update({ ...repo, issue_number: 1, state: "closed", state_reason: "completed" });
    expect(closed).toMatchObject({ state: "closed", state_reason: "completed" });
    expect(await list({})).toEqual([2]);
    expect(await list({ state: "closed" })).toEqual([1]);
    // The author may close their own.
    expect((await theirs.rest.issues.update({ ...repo, issue_number: 2, state: "closed", state_reason: "not_planned" })).data.state).toBe(
      "closed",
    );

    for (let i = 0; i < 5; i++) await gh.rest.issues.create({ ...repo, title: `bulk ${i}` });
    const first = await gh.rest.issues.listForRepo({ ...repo, state: "all", per_page: 3 });
    expect(first.data.map((i) => i.number)).toEqual([7, 6, 5]);
    expect(first.headers.link).toContain('rel="next"');
    expect(first.headers.link).toContain('rel="last"');
    const all = await gh.paginate(gh.rest.issues.listForRepo, { ...repo, state: "all", per_page: 3 });
    expect(all.map((i) => i.number)).toEqual([7, 6, 5, 4, 3, 2, 1]);
    const comments = await gh.paginate(gh.rest.issues.listComments, { ...repo, issue_number: 1, per_page: 1 });
    expect(comments.map((c) => c.body)).toEqual(["Seen on v2 too", "Me too"]);

    // The page shows what the API made.
    const page = await (await fetch(`${server.url}/${owner.username}/tracker/issues/1`)).text();
    expect(page).toContain("Crash on start");
    expect(page).toContain("Me too");
    expect(page).toContain("closed this as completed");
  });

  it("keeps a private repository's issues invisible to strangers and anonymous callers", async () => {
    const repo = { owner: owner.username, repo: "hidden" };
    await octokit(owner).rest.issues.create({ ...repo, title: "private matter" });
    for (const who of [stranger, null]) {
      expect(await statusOf(octokit(who).rest.issues.get({ ...repo, issue_number: 1 }))).toBe(404);
      expect(await statusOf(octokit(who).rest.issues.listForRepo(repo))).toBe(404);
      expect(await statusOf(octokit(who).rest.issues.createComment({ ...repo, issue_number: 1, body: "hi" }))).toBe(404);
    }
    const page = await fetch(`${server.url}/${owner.username}/hidden/issues/1`, { redirect: "manual" });
    expect(page.status).toBe(404);
    expect(await page.text()).not.toContain("private matter");
  });
});
