// Pull requests in real Chromium against the real local server, with branches pushed by
// the real git client: open one from the compare page, comment, see "can be merged",
// merge it with a merge commit from the page (Fixes #N closes the issue), delete the
// branch; a conflicting one shows its paths and offers no merge until a push resolves
// it, then squash it; rebase a third. Afterwards C git checks what the server wrote:
// `fsck --strict`, the merge commit's parents and tree (`git merge-tree --write-tree`),
// the squash's one parent, the replayed commits.
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./chromium";
import { LocalServer } from "./server";
import type { Account } from "./accounts";
import { commitFile, git, makeRepo, tempDir } from "./git";

const server = new LocalServer();
let browser: Browser;
let page: Page;
let account: Account;
let src: string;
let base: string;
let remote: string;
/** What C git makes of merging feature into main, before the server does it. */
let expectedTree: string;
let mainBefore: string;
let featureTip: string;

beforeAll(async () => {
  await server.start();
  account = await server.signUpAndUse("pr-owner");
  src = await makeRepo(2);
  const fork = (await git(src, "rev-parse", "HEAD")).trim();
  await git(src, "checkout", "-q", "-b", "feature");
  await commitFile(src, "feature.txt", "a new feature\n", "Add the feature");
  featureTip = (await git(src, "rev-parse", "HEAD")).trim();
  await git(src, "checkout", "-q", "-b", "clash", fork);
  await commitFile(src, "file0.txt", "the clash branch's version\n", "Rewrite file0 on clash");
  await git(src, "checkout", "-q", "-b", "replay", fork);
  await commitFile(src, "replay-a.txt", "first\n", "Replay one");
  await commitFile(src, "replay-b.txt", "second\n", "Replay two");
  await git(src, "checkout", "-q", "main");
  await commitFile(src, "file0.txt", "main's version\n", "Rewrite file0 on main");
  mainBefore = (await git(src, "rev-parse", "HEAD")).trim();
  expectedTree = (await git(src, "merge-tree", "--write-tree", "main", "feature")).trim();
  base = `/${account.username}/flow`;
  remote = `${server.url}${base}.git`;
  await git(src, "push", "-q", remote, "main", "feature", "clash", "replay");
  // Issue #1, which the first pull request fixes.
  const issue = await server.fetch(`/api/v3/repos/${account.username}/flow/issues`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ title: "Feature missing", body: "" }),
  });
  expect(issue.status).toBe(201);

  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(`${server.url}/login`);
  await page.fill('input[name="login"]', account.username);
  await page.fill('input[name="password"]', account.password);
  await page.click('form.stack button[type="submit"]');
  await page.waitForURL(`${server.url}/`);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server.stop();
});

/** Opens a pull request from the compare page's form; its number. */
async function openPull(head: string, title: string, body: string): Promise<number> {
  await page.goto(`${server.url}${base}/compare/main...${head}`);
  await page.fill('#new-pull input[name="title"]', title);
  await page.fill('#new-pull textarea[name="body"]', body);
  await page.click("text=Create pull request");
  await page.waitForURL(new RegExp(`${base}/pull/\\d+$`));
  return Number(page.url().split("/").pop());
}

describe("pull requests in Chromium", () => {
  it("opens, comments and merges a pull request with a merge commit; Fixes #1 closes the issue", async () => {
    const n = await openPull("feature", "Add the feature", "Fixes #1");
    expect(n).toBe(2);
    expect(await page.locator(".merge-box").textContent()).toContain("This branch can be merged");
    await page.fill('form.comment textarea[name="body"]', "Ready to **go**");
    await page.click('button[value="comment"]');
    await page.waitForURL(new RegExp(`${base}/pull/2#issuecomment-\\d+$`));
    expect(await page.locator(".markdown strong", { hasText: "go" }).count()).toBe(1);

    await page.click("text=Files changed");
    expect(await page.locator(".box .head b", { hasText: "feature.txt" }).count()).toBe(1);
    await page.click("text=Conversation");

    await page.click("text=Create a merge commit");
    await page.waitForURL(`${server.url}${base}/pull/2`);
    expect(await page.locator(".merge-box").textContent()).toContain("Pull request successfully merged and closed");
    await page.goto(`${server.url}${base}/issues/1`);
    expect(await page.locator(".state").first().textContent()).toBe("Closed");

    // Delete the merged branch from the page.
    await page.goto(`${server.url}${base}/pull/2`);
    await page.click("text=Delete branch");
    await page.waitForURL(`${server.url}${base}/pull/2`);
    expect(await page.locator(".merge-box").textContent()).toContain("branch is gone");
    expect(await git(src, "ls-remote", remote, "refs/heads/feature")).toBe("");
  });

  it("shows a conflict's paths and no merge, until a push resolves it; then squashes it", async () => {
    const n = await openPull("clash", "Rewrite file0", "");
    const box = page.locator(".merge-box");
    expect(await box.textContent()).toContain("This branch has conflicts that must be resolved");
    expect(await box.locator("ul.conflicts li").allTextContents()).toEqual(["file0.txt"]);
    expect(await page.locator("text=Create a merge commit").count()).toBe(0);

    // Resolve on the branch (main merged in, keeping the branch's side) and push.
    await git(src, "checkout", "-q", "clash");
    await git(src, "fetch", "-q", remote, "main");
    await git(src, "merge", "-q", "-X", "ours", "-m", "Merge main into clash", "FETCH_HEAD");
    await git(src, "push", "-q", remote, "clash");
    await page.reload();
    expect(await box.textContent()).toContain("This branch can be merged");
    expect(await page.locator(".event", { hasText: "pushed" }).count()).toBeGreaterThan(0);

    await page.click("text=Squash and merge");
    await page.waitForURL(`${server.url}${base}/pull/${n}`);
    expect(await page.locator(".state").first().textContent()).toBe("Merged");
  });

  it("rebases a pull request: each commit replayed onto the base", async () => {
    const n = await openPull("replay", "Two replays", "");
    expect(await page.locator(".merge-box").textContent()).toContain("This branch can be merged");
    await page.click("text=Rebase and merge");
    await page.waitForURL(`${server.url}${base}/pull/${n}`);
    expect(await page.locator(".state").first().textContent()).toBe("Merged");
  });

  it("leaves a repository C git accepts, with the merges it would make", async () => {
    const clone = join(tempDir("gitflare-prclone-"), "flow");
    await git(tmpdir(), "clone", "-q", remote, clone);
    await git(clone, "fsck", "--strict");
    // main: the two replayed commits (one parent each, subjects kept) on the squash (one
    // parent) on the merge commit (two parents: main, feature).
    expect((await git(clone, "log", "-2", "--format=%s", "main")).trim().split("\n")).toEqual(["Replay two", "Replay one"]);
    for (const c of ["main", "main~1"]) expect((await git(clone, "rev-list", "--parents", "-n", "1", c)).trim().split(" ")).toHaveLength(2);
    expect((await git(clone, "show", "main:replay-b.txt")).trim()).toBe("second");
    const squash = (await git(clone, "rev-list", "--parents", "-n", "1", "main~2")).trim().split(" ");
    expect(squash).toHaveLength(2);
    const merge = (await git(clone, "rev-list", "--parents", "-n", "1", `${squash[1]}`)).trim().split(" ");
    expect(merge.slice(1)).toEqual([mainBefore, featureTip]);
    expect((await git(clone, "rev-parse", `${merge[0]}^{tree}`)).trim()).toBe(expectedTree);
    expect(await git(clone, "log", "-1", "--format=%s", merge[0])).toContain("Merge pull request #2 from");
    expect(await git(clone, "show", "main:file0.txt")).toBe("the clash branch's version\n");
  });
});
