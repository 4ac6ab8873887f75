// Code review against the real local server, with branches pushed by the real git
// client: a review with line comments through the GitHub-shaped API (a reply, the
// author's own approval refused, an approval), then a push that changes a commented line
// (that comment outdated, with its original hunk; the other one still on its line); and
// in Chromium: a "+" on a line of the files page opens the form, the comment starts a
// pending review, "Review changes" approves with it, and after a reload the comment is
// shown inline under its line and in the conversation, the outdated one folded over its hunk.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./chromium";
import { LocalServer } from "./server";
import { type Account, signUp } from "./accounts";
import { commitFile, git, makeRepo } from "./git";

const server = new LocalServer();
let browser: Browser;
let page: Page;
let owner: Account;
let reviewer: Account;
let src: string;
let remote: string;
let repoPath: string;
let number: number;
let firstHead: string;

const feature = (third: string, second = "two") => ["one", second, third, "four", "five"].map((l) => `${l}\n`).join("");

async function api(who: Account, method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.url}/api/v3/repos/${repoPath}${path}`, {
    method,
    headers: { Authorization: who.auth, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: the API's answers, read field by field as the assertions need
  return { status: res.status, json: (text ? JSON.parse(text) : null) as any };
}

beforeAll(async () => {
  await server.start();
  owner = await server.signUpAndUse("rv-owner");
  reviewer = await signUp(server.url, "rv-reviewer");
  src = await makeRepo(2);
  await git(src, "checkout", "-q", "-b", "feature");
  firstHead = await commitFile(src, "feature.txt", feature("three"), "Add the feature");
  repoPath = `${owner.username}/review`;
  remote = `${server.url}/${repoPath}.git`;
  await git(src, "push", "-q", remote, "main", "feature");
  // Public, so that anyone signed in may review, as on GitHub.
  const made = await server.fetch(`/api/repos/${repoPath}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ private: false }),
  });
  expect(made.status).toBe(200);
  const pr = await api(owner, "POST", "/pulls", { title: "Add the feature", head: "feature", base: "main" });
  expect(pr.status).toBe(201);
  number = pr.json.number;

  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(`${server.url}/login`);
  await page.fill('input[name="login"]', reviewer.username);
  await page.fill('input[name="password"]', reviewer.password);
  await page.click('form.stack button[type="submit"]');
  await page.waitForURL(`${server.url}/`);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server.stop();
});

describe("code review", () => {
  it("takes a review with line comments through the API; a push outdates the comment whose line changed", async () => {
    const review = await api(reviewer, "POST", `/pulls/${number}/reviews`, {
      commit_id: firstHead,
      body: "A first look",
      event: "COMMENT",
      comments: [
        { path: "feature.txt", line: 2, side: "RIGHT", body: "Is two right?" },
        { path: "feature.txt", line: 4, side: "RIGHT", body: "Four is fine" },
      ],
    });
    expect(review.status).toBe(200);
    expect(review.json.state).toBe("COMMENTED");
    const [two, four] = (await api(reviewer, "GET", `/pulls/${number}/comments`)).json;
    expect(two).toMatchObject({ path: "feature.txt", line: 2, side: "RIGHT", commit_id: firstHead });
    expect(two.diff_hunk).toBe("@@ -0,0 +1,5 @@\n+one\n+two");

    const reply = await api(owner, "POST", `/pulls/${number}/comments`, { in_reply_to: two.id, body: "Yes" });
    expect(reply.status).toBe(201);
    expect(reply.json.in_reply_to_id).toBe(two.id);
    expect((await api(owner, "POST", `/pulls/${number}/reviews`, { event: "APPROVE" })).status).toBe(422);

    // A push changes line 2: that thread is outdated, line 4's is not.
    const next = await commitFile(src, "feature.txt", feature("three", "TWO"), "Capitalise two");
    await git(src, "push", "-q", remote, "feature");
    const after = (await api(reviewer, "GET", `/pulls/${number}/comments`)).json;
    const outdated = after.find((c: { id: number }) => c.id === two.id);
    const current = after.find((c: { id: number }) => c.id === four.id);
    expect(outdated).toMatchObject({ line: null, position: null, original_line: 2, original_commit_id: firstHead });
    expect(outdated.diff_hunk).toBe(two.diff_hunk);
    expect(current).toMatchObject({ line: 4, commit_id: next, original_commit_id: firstHead });
  });

  it("comments on a line from the files page in Chromium, approves, and shows the comment inline after a reload", async () => {
    const files = `${server.url}/${repoPath}/pull/${number}/files`;
    await page.goto(files);
    await page.click('summary[aria-label="Comment on feature.txt line 3"]');
    const form = page.locator('tr[data-line="RIGHT3"] form');
    await form.locator("textarea").fill("Three needs a **test**");
    await form.locator('button[value="review"]').click();
    await page.waitForURL(/\/files#discussion_r\d+$/);
    const id = page.url().split("#discussion_r")[1];
    const thread = page.locator(`tr[data-line="RIGHT3"] + tr.thread #discussion_r${id}`);
    expect(await thread.locator(".pending-tag").textContent()).toBe("Pending");

    // The review box is open while a review is pending: approve with the comment.
    const box = page.locator("#review-changes");
    await box.locator('textarea[name="body"]').fill("Looks good with the test");
    await box.locator('input[value="APPROVE"]').check();
    await box.locator('button[type="submit"]').click();
    await page.waitForURL(new RegExp(`/pull/${number}#pullrequestreview-\\d+$`));
    const approved = page.locator(".box", { hasText: "approved these changes" });
    expect(await approved.count()).toBe(1);
    expect(await approved.locator(`#discussion_r${id} strong`).textContent()).toBe("test");
    expect(await page.locator('#reviewers [data-reviewer="rv-reviewer"]').textContent()).toContain("approved");

    // The outdated comment from the API is folded with the hunk it was written on.
    const folded = page.locator("details.outdated", { hasText: "Outdated" });
    expect(await folded.count()).toBe(1);
    expect(await folded.locator("pre.hunk-context").isVisible()).toBe(false);
    await folded.locator(":scope > summary").click();
    expect(await folded.locator("pre.hunk-context").textContent()).toBe("@@ -0,0 +1,5 @@\n+one\n+two");
    expect(await folded.locator(".rc", { hasText: "Yes" }).count()).toBe(1);

    // After a reload, the comment sits under its line on the files page, no longer pending.
    await page.goto(files);
    await page.reload();
    const inline = page.locator(`tr[data-line="RIGHT3"] + tr.thread #discussion_r${id}`);
    expect(await inline.locator(".markdown").textContent()).toContain("Three needs a test");
    expect(await inline.locator(".pending-tag").count()).toBe(0);
    // Line 2's comment is outdated, so not on the files page; line 4's is.
    expect(await page.locator('tr[data-line="RIGHT2"] + tr.thread').count()).toBe(0);
    expect(await page.locator('tr[data-line="RIGHT4"] + tr.thread').textContent()).toContain("Four is fine");

    // The pull request list shows the review state.
    await page.goto(`${server.url}/${repoPath}/pulls`);
    expect(await page.locator(".review-state").textContent()).toBe("Approved");
  });
});
