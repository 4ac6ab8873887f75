// The browser editor in real Chromium against the real local server: sign in, open a file
// from its page, edit it in the textarea, commit it to a new branch, follow the offer to
// open a pull request and open it with the compare page's form; edit a CRLF file on the
// branch itself; and a page left open while someone pushes is refused. Then the real git client clones the repository: the commits
// are there as written, line ends as the files had them, and `git fsck --strict` passes.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Account } from "./accounts";
import { launchChromium } from "./chromium";
import { screenshotsDir } from "./generated";
import { commitFile, git, gitRun, makeRepo, tempDir } from "./git";
import { LocalServer } from "./server";

const server = new LocalServer();
let browser: Browser;
let page: Page;
let account: Account;
let src: string;
let base: string;

beforeAll(async () => {
  await server.start();
  account = await server.signUpAndUse("edna");
  src = await makeRepo(2);
  writeFileSync(join(src, "README.md"), "# Project\n\nFirst version.\n");
  writeFileSync(join(src, "windows.txt"), "line one\r\nline two\r\n");
  await git(src, "add", "-A");
  await git(src, "commit", "-q", "-m", "Add README and a CRLF file");
  base = `${server.url}/edna/project`;
  await git(src, "push", "-q", `${base}.git`, "main");

  mkdirSync(screenshotsDir, { recursive: true });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(`${server.url}/login`);
  await page.fill("input[name=login]", account.username);
  await page.fill("input[name=password]", account.password);
  await page.click("button:has-text('Sign in')");
  await page.waitForURL(`${server.url}/`);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server.stop();
});

describe("the browser editor in Chromium", () => {
  it("edits a file, commits it to a new branch and opens a pull request from the compare page", async () => {
    await page.goto(`${base}/blob/main/README.md`);
    await page.click(`a[href="/edna/project/edit/main/README.md"]`);
    await page.waitForURL(`${base}/edit/main/README.md`);
    expect(await page.locator("textarea[name=content]").inputValue()).toBe("# Project\n\nFirst version.\n");
    await page.fill("textarea[name=content]", "# Project\n\nEdited in the browser.\n");
    await page.fill("input[name=message]", "Edit the README in the browser");
    await page.check("input[name=target][value=branch]");
    await page.fill("input[name=new_branch]", "readme-edit");
    await page.evaluate("window.scrollTo(0, 0)");
    await page.screenshot({ path: join(screenshotsDir, "editor.png") });
    await page.click("button:has-text('Commit changes')");
    await page.locator("[role=status]").waitFor();
    expect(await page.locator("[role=status]").textContent()).toContain("to the new branch readme-edit");
    await page.click("a:has-text('Open a pull request')");
    await page.waitForURL(`${base}/compare/main...readme-edit`);
    expect(await page.locator("h2").textContent()).toContain("readme-edit");
    expect(await page.locator("tr.add").allTextContents()).toEqual(["+Edited in the browser."]);
    // The compare page's form opens the pull request, with the new branch as its head.
    await page.fill('#new-pull input[name="title"]', "Edit the README in the browser");
    await page.click("button:has-text('Create pull request')");
    await page.waitForURL(new RegExp(`${base}/pull/\\d+$`));
    const number = Number(page.url().split("/").pop());
    expect(await page.locator("h2").first().textContent()).toContain("Edit the README in the browser");
    expect(await page.locator(`a[href="/edna/project/tree/readme-edit"] code`).textContent()).toBe("readme-edit");
    const pull = (await (
      await fetch(`${server.url}/api/v3/repos/edna/project/pulls/${number}`, { headers: { Authorization: account.auth } })
    ).json()) as { state: string; head: { ref: string }; base: { ref: string } };
    expect([pull.state, pull.head.ref, pull.base.ref]).toEqual(["open", "readme-edit", "main"]);
  });

  it("commits a CRLF file to the branch itself, keeping its line ends", async () => {
    await page.goto(`${base}/blob/main/windows.txt`);
    await page.click(`a[href="/edna/project/edit/main/windows.txt"]`);
    await page.waitForURL(`${base}/edit/main/windows.txt`);
    await page.fill("textarea[name=content]", "line one\nline two\nline three\n");
    await page.click("button:has-text('Commit changes')");
    await page.waitForURL(`${base}/blob/main/windows.txt`);
    expect(await page.locator(".code").textContent()).toContain("line three");
  });

  it("refuses a page opened before someone pushed, and commits nothing", async () => {
    await page.goto(`${base}/edit/main/README.md`);
    // Meanwhile, a push moves main.
    const work = tempDir();
    await git(work, "clone", "-q", `${base}.git`, "w");
    const pushed = await commitFile(join(work, "w"), "other.txt", "pushed meanwhile\n", "Pushed meanwhile");
    await git(join(work, "w"), "push", "-q", "origin", "main");
    await page.fill("textarea[name=content]", "# Project\n\nA stale edit.\n");
    await page.click("button:has-text('Commit changes')");
    await page.locator("[role=alert]").waitFor();
    expect(await page.locator("[role=alert]").textContent()).toContain("changed since you opened this page");
    // The text is still in the form.
    expect(await page.locator("textarea[name=content]").inputValue()).toBe("# Project\n\nA stale edit.\n");
    const remote = (await git(src, "ls-remote", `${base}.git`, "refs/heads/main")).split("\t")[0];
    expect(remote).toBe(pushed);
  });

  it("leaves commits that git clones and fsck --strict accepts", async () => {
    const dir = tempDir();
    await git(dir, "clone", "-q", `${base}.git`, "c");
    const c = join(dir, "c");
    const fsck = await gitRun(c, ["fsck", "--strict", "--no-dangling"]);
    expect(fsck.code, fsck.stderr).toBe(0);
    expect(fsck.stderr).toBe("");
    // The branch commit: one parent (main as the page showed it), the user as author and committer.
    const log = await git(c, "log", "-1", "--format=%P|%an <%ae>|%cn <%ce>|%s", "origin/readme-edit");
    const mainAtEdit = (await git(src, "rev-parse", "HEAD")).trim();
    expect(log.trim()).toBe(`${mainAtEdit}|edna <edna@example.com>|edna <edna@example.com>|Edit the README in the browser`);
    expect(await git(c, "show", "origin/readme-edit:README.md")).toBe("# Project\n\nEdited in the browser.\n");
    // main: the CRLF edit, then the push on top of it.
    expect(await git(c, "log", "--format=%s", "origin/main", "-3")).toBe(
      "Pushed meanwhile\nUpdate windows.txt\nAdd README and a CRLF file\n",
    );
    const crlf = (await gitRun(c, ["cat-file", "blob", "origin/main:windows.txt"])).stdout;
    expect(crlf).toBe("line one\r\nline two\r\nline three\r\n");
    expect(readFileSync(join(c, "README.md"), "utf8")).toBe("# Project\n\nFirst version.\n");
  });
});
