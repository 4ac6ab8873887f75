// Code search against the real local server on an express-sized generated repository
// (bench/generate.ts, as the benchmarks): the index catches up with a real `git push`,
// the API answers in GitHub's shape with line numbers that match the files, a second push
// that changes, removes and renames files is followed, a stranger cannot search the
// (private, push-created) repository, and in Chromium a search from the page shows the
// marked lines and links to the line in the blob.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRepo } from "../bench/generate";
import { type Account, signUp } from "./accounts";
import { launchChromium } from "./chromium";
import { git, tempDir } from "./git";
import { LocalServer } from "./server";

const server = new LocalServer();
let account: Account;
let wt: string;
let browser: Browser;
let page: Page;

type Item = {
  name: string;
  path: string;
  sha: string;
  html_url: string;
  text_matches: { fragment: string; matches: { text: string; indices: number[] }[] }[];
};
type Answer = { total_count: number; incomplete_results: boolean; items: Item[]; errors?: { message: string }[] };

async function search(q: string, extra = "", auth: string | null = account.auth) {
  const res = await fetch(`${server.url}/api/v3/search/code?q=${encodeURIComponent(`${q} repo:${account.username}/express`)}${extra}`, {
    headers: { Accept: "application/vnd.github.text-match+json", ...(auth ? { Authorization: auth } : {}) },
  });
  return { status: res.status, link: res.headers.get("Link"), json: (await res.json()) as Answer };
}

/** Waits until the index has caught up with the branch (it follows pushes in the background). */
async function caughtUp(q: string): Promise<Answer> {
  for (let i = 0; i < 1200; i++) {
    const r = await search(q);
    if (r.status === 200 && !r.json.incomplete_results && r.json.total_count > 0) return r.json;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the index did not catch up for ${q}`);
}

const read = (path: string) => readFileSync(join(wt, path), "utf8");

beforeAll(async () => {
  await server.start();
  account = await server.signUpAndUse("seeker");
  const source = join(tempDir("gitflare-search-src-"), "source.git");
  await generateRepo(source, { commits: 6000, binaryEvery: 400, binaryBytes: 1 << 20 });
  wt = join(tempDir("gitflare-search-wt-"), "wt");
  await git(tempDir(), "clone", "-q", "--no-local", source, wt);
  await git(wt, "checkout", "-q", "-B", "main");
  writeFileSync(join(wt, "change.js"), "const e2eChangeNeedle = 1;\n");
  writeFileSync(join(wt, "remove.md"), "The e2eRemoveNeedle is here.\n");
  writeFileSync(join(wt, "rename.py"), "e2eRenameNeedle = 'x'\n");
  writeFileSync(join(wt, "page.js"), "// a <b>tag</b> & e2ePageNeedle(here)\nlet other = 1;\ncallIt(e2ePageNeedle);\n");
  await git(wt, "add", "-A");
  await git(wt, "-c", "user.name=E2E", "-c", "user.email=e2e@example.com", "commit", "-qm", "needles");
  await git(wt, "push", "-q", `${server.url}/seeker/express.git`, "main");
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(`${server.url}/login`);
  await page.fill("input[name=login]", account.username);
  await page.fill("input[name=password]", account.password);
  await page.click("button:has-text('Sign in')");
  await page.waitForURL(`${server.url}/`);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server.stop();
});

describe("code search on an express-sized repository", () => {
  it("answers through the API with line numbers that match the files, paginated", async () => {
    const found = await caughtUp("which");
    expect(found.total_count).toBeGreaterThan(10);
    const head = (await git(wt, "rev-parse", "HEAD")).trim();
    for (const item of found.items) {
      expect(item.html_url).toBe(`${server.url}/seeker/express/blob/${head}/${item.path}`);
      const lines = read(item.path).split("\n");
      for (const m of item.text_matches) {
        // Each fragment is a line of the file, with the match where the indices say.
        expect(lines.some((l) => l.includes(m.fragment))).toBe(true);
        for (const hit of m.matches) expect(m.fragment.slice(hit.indices[0], hit.indices[1]).toLowerCase()).toBe("which");
      }
    }
    const second = await search("which", "&per_page=5&page=2");
    expect(second.json.items).toHaveLength(5);
    expect(second.link).toContain('rel="next"');
    expect(second.link).toContain('rel="first"');
    // Binary files are not indexed (the generator's are random bytes), nor is anything outside the branch.
    expect((await search("e2eRemoveNeedle")).json.items.map((i) => i.path)).toEqual(["remove.md"]);
    expect((await search("ab")).status).toBe(422);
  });

  it("follows a push that changes, removes and renames files", async () => {
    await caughtUp("e2eRenameNeedle");
    writeFileSync(join(wt, "change.js"), "const e2eChangedNeedle = 2;\n");
    await git(wt, "rm", "-q", "remove.md");
    await git(wt, "mv", "rename.py", "src/renamed.py");
    await git(wt, "-c", "user.name=E2E", "-c", "user.email=e2e@example.com", "commit", "-qam", "change, remove, rename");
    await git(wt, "push", "-q", `${server.url}/seeker/express.git`, "main");
    await caughtUp("e2eChangedNeedle");
    expect((await search("e2eChangeNeedle")).json.total_count).toBe(0);
    expect((await search("e2eRemoveNeedle")).json.total_count).toBe(0);
    expect((await search("e2eRenameNeedle")).json.items.map((i) => i.path)).toEqual(["src/renamed.py"]);
  });

  it("is not searchable by a stranger or anonymously", async () => {
    const stranger = await signUp(server.url, "stranger");
    for (const auth of [stranger.auth, null]) {
      const r = await search("e2ePageNeedle", "", auth);
      expect(r.status).toBe(422);
      expect(JSON.stringify(r.json)).not.toContain("page.js");
    }
    const res = await stranger.web.get("/seeker/express/search?q=e2ePageNeedle");
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain("e2ePageNeedle");
  });

  it("searches from the page in Chromium: marked, escaped lines that link to the line", async () => {
    await caughtUp("e2ePageNeedle");
    await page.goto(`${server.url}/seeker/express`);
    await page.click("nav.tabs a:has-text('Search')");
    await page.waitForURL(`${server.url}/seeker/express/search`);
    await page.fill("input[name=q]", "e2ePageNeedle path:page.js");
    await page.press("input[name=q]", "Enter");
    await page.waitForURL(/\/search\?q=/);
    const hit = page.locator(".hit").first();
    expect(await hit.locator(".head a").textContent()).toBe("page.js");
    const marks = await hit.locator("mark").allTextContents();
    expect(marks).toEqual(["e2ePageNeedle", "e2ePageNeedle"]);
    // The markup in the file is text on the page, not elements.
    expect(await hit.locator("td.code").first().textContent()).toBe("// a <b>tag</b> & e2ePageNeedle(here)");
    expect(await hit.locator("td.code b").count()).toBe(0);
    await hit.locator("td.ln a", { hasText: "3" }).click();
    await page.waitForURL(/\/blob\/[0-9a-f]{40}\/page\.js#L3$/);
    expect(await page.locator("body").textContent()).toContain("callIt(e2ePageNeedle);");
  });
});
