// The pull request pages inside workerd, driven as a browser without JavaScript would:
// opening one from the compare page, the conversation with its mergeability box (can be
// merged, conflicts with their paths), comments, the merge buttons with the head the page
// showed (a stale one refused), Fixes #N, deleting the merged branch, the list, the
// commits and files tabs, the issue/pull redirects, and who may do what.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { pktLine } from "../src/git/protocol/pkt-line";
import { concatBytes } from "../src/util/bytes";
import { Browserless } from "../e2e/accounts";
import { accountAuth, fromBase64 } from "./helpers";
import { buildPack } from "./pack-builder";

const BASE = "http://gitflare.test";
const fx = inject("pullFixture");
const ZERO = "0".repeat(40);
let seq = 0;

async function signedIn(username: string): Promise<Browserless> {
  const b = new Browserless(BASE, (url, init) => SELF.fetch(url, init));
  const res = await b.post("/signup", { username, email: `${username}@example.com`, password: "correct horse" }, { from: "/signup" });
  expect(res.status).toBe(303);
  return b;
}

async function receive(owner: string, path: string, commands: string[], pack: Uint8Array): Promise<string> {
  const lines = commands.map((c, i) => pktLine(i === 0 ? `${c}\0report-status atomic\n` : `${c}\n`));
  const res = await SELF.fetch(`${BASE}/${path}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request", Authorization: await accountAuth(owner) },
    body: concatBytes([...lines, new TextEncoder().encode("0000"), pack]),
  });
  return new TextDecoder().decode(new Uint8Array(await res.arrayBuffer()));
}

/** A public repository of `owner` with the fixture's branches and issue #1. */
async function repository(owner: string): Promise<string> {
  const path = `${owner}/prpages${seq++}`;
  const report = await receive(
    owner,
    path,
    Object.entries(fx.refs).map(([ref, oid]) => `${ZERO} ${oid} ${ref}`),
    fromBase64(fx.pack),
  );
  expect(report).toContain("unpack ok");
  const open = await SELF.fetch(`${BASE}/api/repos/${path}`, {
    method: "PATCH",
    headers: { Authorization: await accountAuth(owner), "Content-Type": "application/json" },
    body: JSON.stringify({ private: false }),
  });
  expect(open.status).toBe(200);
  await open.text();
  const issue = await SELF.fetch(`${BASE}/api/v3/repos/${path}/issues`, {
    method: "POST",
    headers: { Authorization: await accountAuth(owner), "Content-Type": "application/json" },
    body: JSON.stringify({ title: "A bug to fix", body: "" }),
  });
  expect(issue.status).toBe(201);
  await issue.text();
  return path;
}

/** Opens a pull request from the compare page's form; its number. */
async function openFromCompare(b: Browserless, path: string, head: string, body = ""): Promise<number> {
  const compare = await b.get(`/${path}/compare/main...${head}`);
  const html = await compare.text();
  expect(html).toContain("Create pull request");
  const res = await b.post(
    `/${path}/pulls`,
    { base: "main", head, title: `The ${head} change`, body },
    { from: `/${path}/compare/main...${head}` },
  );
  expect(res.status).toBe(303);
  const m = /\/pull\/(\d+)$/.exec(res.headers.get("Location") ?? "");
  expect(m).not.toBeNull();
  return Number(m?.[1]);
}

let owner: Browserless;
const OWNER = "prpager";

beforeAll(async () => {
  await accountAuth("site-admin");
  owner = await signedIn(OWNER);
});

describe("pull request pages", () => {
  it("open from the compare page, show mergeability, take comments, merge with the head shown, close Fixes #N", async () => {
    const path = await repository(OWNER);
    const n = await openFromCompare(owner, path, "clean", "Fixes #1");
    expect(n).toBe(2);
    // The compare page now links to the open one instead of offering a second.
    expect(await (await owner.get(`/${path}/compare/main...clean`)).text()).toContain(`/${path}/pull/${n}`);

    const page = await (await owner.get(`/${path}/pull/${n}`)).text();
    expect(page).toContain("This branch can be merged");
    expect(page).toContain(`name="sha" value="${fx.branches.clean.oid}"`);
    for (const label of ["Create a merge commit", "Squash and merge", "Rebase and merge"]) expect(page).toContain(label);
    expect(page).toContain("Pull requests (1)");

    // A comment is an issue comment on the same number.
    const commented = await owner.post(
      `/${path}/pull/${n}/comments`,
      { body: "Looks **good**", action: "comment" },
      { from: `/${path}/pull/${n}` },
    );
    expect(commented.status).toBe(303);
    expect(commented.headers.get("Location")).toMatch(new RegExp(`/pull/${n}#issuecomment-\\d+$`));
    expect(await (await owner.get(`/${path}/pull/${n}`)).text()).toContain("<strong>good</strong>");

    // Tabs: the commits and the files.
    const commits = await (await owner.get(`/${path}/pull/${n}/commits`)).text();
    expect(commits).toContain("Add the feature");
    expect(commits).toContain(`Commits (${fx.branches.clean.commits.length})`);
    const files = await (await owner.get(`/${path}/pull/${n}/files`)).text();
    expect(files).toContain("feature.txt");
    expect(files).toContain("+a new feature");

    // A stale head: nothing merged, a clear message.
    const stale = await owner.post(`/${path}/pull/${n}/merge`, { method: "merge", sha: fx.main }, { from: `/${path}/pull/${n}` });
    expect(stale.status).toBe(409);
    expect(await stale.text()).toContain("The head branch moved since this page was loaded");
    const bad = await owner.post(
      `/${path}/pull/${n}/merge`,
      { method: "octopus", sha: fx.branches.clean.oid },
      { from: `/${path}/pull/${n}` },
    );
    expect(bad.status).toBe(422);
    await bad.text();

    const merged = await owner.post(
      `/${path}/pull/${n}/merge`,
      { method: "squash", sha: fx.branches.clean.oid },
      { from: `/${path}/pull/${n}` },
    );
    expect(merged.status).toBe(303);
    const after = await (await owner.get(`/${path}/pull/${n}`)).text();
    expect(after).toContain("Pull request successfully merged and closed");
    expect(after).toContain('class="state merged"');
    expect(after).toContain("Delete branch");
    expect(after).not.toContain("Squash and merge");
    const issue = await (await owner.get(`/${path}/issues/1`)).text();
    expect(issue).toContain("closed this as completed in");
    expect(issue).toContain(`/${path}/pull/${n}`);

    // Delete the branch with the commit the page showed.
    const del = await owner.post(`/${path}/pull/${n}/delete-branch`, { oid: fx.branches.clean.oid }, { from: `/${path}/pull/${n}` });
    expect(del.status).toBe(303);
    const branches = await (await owner.get(`/${path}/branches`)).text();
    expect(branches).not.toContain(`/tree/clean"`);
    expect(await (await owner.get(`/${path}/pull/${n}`)).text()).toContain("branch is gone");

    // The list: merged, closed and open pull requests.
    const list = await (await owner.get(`/${path}/pulls?q=${encodeURIComponent("is:pr is:closed")}`)).text();
    expect(list).toContain("The clean change");
    expect(list).toContain("Merged");
    const open = await (await owner.get(`/${path}/pulls`)).text();
    expect(open).toContain("0 Open");
    expect(open).toContain("1 Closed");
  });

  it("shows the conflicting paths and offers no merge; refuses a merge anyway", async () => {
    const path = await repository(OWNER);
    const n = await openFromCompare(owner, path, "conflict");
    const page = await (await owner.get(`/${path}/pull/${n}`)).text();
    expect(page).toContain("This branch has conflicts that must be resolved");
    expect(fx.branches.conflict.merge.conflicts.length).toBeGreaterThan(0);
    for (const p of fx.branches.conflict.merge.conflicts) expect(page).toContain(`<li>${p}</li>`);
    expect(page).not.toContain("Create a merge commit");
    const forced = await owner.post(
      `/${path}/pull/${n}/merge`,
      { method: "merge", sha: fx.branches.conflict.oid },
      { from: `/${path}/pull/${n}` },
    );
    expect(forced.status).toBe(405);
    expect(await forced.text()).toContain("not mergeable");

    // A push to the head that resolves the conflict (here: the head moved to main's own
    // history plus a clean commit) changes what the page says.
    const report = await receive(
      OWNER,
      path,
      [`${fx.branches.conflict.oid} ${fx.branches.unicode.oid} refs/heads/conflict`],
      buildPack([]),
    );
    expect(report).toContain("ok refs/heads/conflict");
    const moved = await (await owner.get(`/${path}/pull/${n}`)).text();
    expect(moved).toContain("This branch can be merged");
    expect(moved).toContain(`name="sha" value="${fx.branches.unicode.oid}"`);
    expect(moved).toContain("force-pushed the branch");

    // Close and reopen from the comment form.
    const closed = await owner.post(`/${path}/pull/${n}/comments`, { body: "", action: "close" }, { from: `/${path}/pull/${n}` });
    expect(closed.status).toBe(303);
    const closedPage = await (await owner.get(`/${path}/pull/${n}`)).text();
    expect(closedPage).toContain("Closed with unmerged commits");
    expect(closedPage).toContain("Reopen pull request");
    const reopened = await owner.post(`/${path}/pull/${n}/comments`, { body: "", action: "reopen" }, { from: `/${path}/pull/${n}` });
    expect(reopened.status).toBe(303);
    expect(await (await owner.get(`/${path}/pull/${n}`)).text()).toContain('class="state open"');
  });

  it("redirects between an issue's and a pull request's addresses, and /pull/new/:branch to the compare page", async () => {
    const path = await repository(OWNER);
    const n = await openFromCompare(owner, path, "merges");
    const toPull = await owner.get(`/${path}/issues/${n}?page=1`, { redirect: "manual" });
    expect(toPull.status).toBe(301);
    expect(toPull.headers.get("Location")).toBe(`/${path}/pull/${n}?page=1`);
    const toIssue = await owner.get(`/${path}/pull/1`, { redirect: "manual" });
    expect(toIssue.status).toBe(301);
    expect(toIssue.headers.get("Location")).toBe(`/${path}/issues/1`);
    expect((await owner.get(`/${path}/pull/99`, { redirect: "manual" })).status).toBe(404);
    const fresh = await owner.get(`/${path}/pull/new/unicode`, { redirect: "manual" });
    expect(fresh.status).toBe(302);
    expect(fresh.headers.get("Location")).toBe(`/${path}/compare/main...unicode`);
    // The issue list does not list pull requests; the pull list does.
    expect(await (await owner.get(`/${path}/issues`)).text()).not.toContain("The merges change");
    expect(await (await owner.get(`/${path}/pulls`)).text()).toContain("The merges change");
  });

  it("offers opening and merging only to writers; readers may comment", async () => {
    const path = await repository(OWNER);
    const n = await openFromCompare(owner, path, "clean");
    const reader = await signedIn(`prreader${seq++}`);
    expect(await (await reader.get(`/${path}/compare/main...replay-conflict`)).text()).not.toContain("Create pull request");
    const page = await (await reader.get(`/${path}/pull/${n}`)).text();
    expect(page).toContain("Only those with write access to this repository can merge pull requests.");
    expect(page).not.toContain("Squash and merge");
    expect(page).not.toContain("Close pull request");
    const merge = await reader.post(
      `/${path}/pull/${n}/merge`,
      { method: "merge", sha: fx.branches.clean.oid },
      { from: `/${path}/pull/${n}` },
    );
    expect(merge.status).toBe(403);
    await merge.text();
    const create = await reader.post(`/${path}/pulls`, { base: "main", head: "merges", title: "Mine" }, { from: `/${path}/pull/${n}` });
    expect(create.status).toBe(403);
    await create.text();
    const close = await reader.post(`/${path}/pull/${n}/comments`, { body: "", action: "close" }, { from: `/${path}/pull/${n}` });
    expect(close.status).toBe(403);
    await close.text();
    const comment = await reader.post(
      `/${path}/pull/${n}/comments`,
      { body: "A reader's comment", action: "comment" },
      { from: `/${path}/pull/${n}` },
    );
    expect(comment.status).toBe(303);
    // Without a CSRF token: refused, nothing merged.
    const forged = await owner.post(`/${path}/pull/${n}/merge`, { method: "merge", sha: fx.branches.clean.oid }, { csrf: null });
    expect(forged.status).toBe(403);
    await forged.text();
    const still = await (await owner.get(`/${path}/pull/${n}`)).text();
    expect(still).toContain("A reader&#39;s comment");
    expect(still).toContain("This branch can be merged");
    // Anonymous visitors see the page of a public repository, without forms.
    const anon = await SELF.fetch(`${BASE}/${path}/pull/${n}`);
    expect(anon.status).toBe(200);
    expect(await anon.text()).toContain("to comment.");
  });
});
