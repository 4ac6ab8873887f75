// The web UI in real Chromium (playwright-core driving the headless Chromium that the
// @sparticuz/chromium npm package ships) against the real local server, with a pushed
// repository that includes hostile files. Screenshots go to e2e/out/screenshots;
// `npm run docs` copies them to docs/screenshots.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalServer } from "./server";
import { commitFile, git, gitEnv, gitRun, makeRepo, tempDir } from "./git";
import { signUp } from "./accounts";
import { screenshotsDir as shots } from "./generated";
import { launchChromium } from "./chromium";

const server = new LocalServer();
let browser: Browser;
let page: Page;
let src: string;
let base: string;
const dialogs: string[] = [];

// A 1x1 PNG.
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");

/** The names of the files (not directories) in a zip archive, from its central directory. */
function zipEntries(zip: Buffer): string[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error("not a zip archive: no end of central directory");
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`bad central directory entry ${i}`);
    const nameLength = zip.readUInt16LE(at + 28);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLength);
    if (!name.endsWith("/")) names.push(name);
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return names;
}

/** Makes a repository public through the API, so anonymous pages can show it. */
async function publish(name: string): Promise<void> {
  const res = await server.fetch(`/api/repos/acme/${name}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: '{"private":false}',
  });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  await server.start();
  await server.signUpAndUse("acme");
  src = await makeRepo(4);
  mkdirSync(join(src, "src"), { recursive: true });
  mkdirSync(join(src, "docs"), { recursive: true });
  writeFileSync(
    join(src, "src/app.ts"),
    "export function greet(name: string): string {\n  return `Hello, ${name}`;\n}\n\nconst answer = 42;\n",
  );
  writeFileSync(join(src, "docs/logo.png"), PNG);
  writeFileSync(join(src, "docs/guide.md"), "# Guide\n\nSee [the app](../src/app.ts).\n");
  writeFileSync(
    join(src, "README.md"),
    [
      "# Demo project",
      "",
      "A **demo** with a [guide](docs/guide.md) and a logo:",
      "",
      "![logo](docs/logo.png)",
      "",
      "<script>alert('readme script')</script>",
      '<img src="x" onerror="alert(\'readme onerror\')">',
      "[click me](javascript:alert('readme link'))",
      '<iframe src="javascript:alert(1)"></iframe>',
      "",
    ].join("\n"),
  );
  writeFileSync(join(src, "evil.html"), "<html><body><script>alert('evil html')</script></body></html>\n");
  writeFileSync(
    join(src, "evil.svg"),
    '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(\'evil svg\')"><script>alert("svg script")</script></svg>\n',
  );
  writeFileSync(join(src, "data.bin"), Buffer.from([0, 1, 2, 3, 0, 255, 0]));
  await git(src, "add", "-A");
  await git(src, "commit", "-q", "-m", "Add app, docs and a README");
  await git(src, "tag", "-a", "v1.0", "-m", "first release");
  await git(src, "checkout", "-q", "-b", "feature/login");
  await commitFile(
    src,
    "src/app.ts",
    "export function greet(name: string): string {\n  return `Hi, ${name}!`;\n}\n\nconst answer = 42;\n",
    "Friendlier greeting",
  );
  await git(src, "checkout", "-q", "main");
  base = `${server.url}/acme/demo`;
  await git(src, "push", "-q", `${base}.git`, "main", "feature/login", "v1.0");
  await publish("demo");

  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on("dialog", async (d) => {
    dialogs.push(d.message());
    await d.dismiss();
  });
  mkdirSync(shots, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server.stop();
});

async function shot(name: string, on: Page = page) {
  await on.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

describe("web UI in Chromium", () => {
  it("lists the repository on the home page and opens it", async () => {
    await page.goto(server.url + "/");
    await page.click("text=acme/demo");
    await page.waitForURL(`${base}`);
    await expect(page.locator("main > h1").textContent()).resolves.toContain("demo");
    await expect(page.locator(".markdown h1").textContent()).resolves.toBe("Demo project");
    const body = await page.content();
    expect(body).toContain("commits");
    expect(await page.locator('input[aria-label="Clone URL"]').inputValue()).toBe(`${base}.git`);
    // The README's relative image and link resolve to the repository's files.
    expect(await page.locator(".markdown img").first().getAttribute("src")).toBe("/acme/demo/raw/main/docs/logo.png");
    expect(await page.locator(".markdown a", { hasText: "guide" }).getAttribute("href")).toBe("/acme/demo/blob/main/docs/guide.md");
    // File list with last commits.
    expect(await page.locator("td.msg").count()).toBeGreaterThan(3);
    await shot("repository");
  });

  it("runs nothing from a malicious README", async () => {
    await page.goto(base);
    const html = await page.locator(".markdown").innerHTML();
    expect(html).not.toContain("<script");
    expect(html).not.toContain("onerror");
    expect(html).not.toMatch(/(href|src)="\s*javascript:/i);
    expect(html).not.toContain("<iframe");
    expect(await page.locator(".markdown a[href^='javascript']").count()).toBe(0);
    await page.waitForTimeout(300);
    expect(dialogs).toEqual([]);
  });

  it("browses a tree with breadcrumbs, then a highlighted blob with a line range", async () => {
    await page.goto(base);
    await page.click("td.name >> text=src");
    await page.waitForURL(`${base}/tree/main/src`);
    expect(await page.locator(".crumbs").textContent()).toContain("src");
    await page.click("td.name >> text=app.ts");
    await page.waitForURL(`${base}/blob/main/src/app.ts`);
    expect(await page.locator(".code .hljs-keyword").count()).toBeGreaterThan(0);
    await page.goto(`${base}/blob/main/src/app.ts#L2-L3`);
    await page.waitForSelector("tr.hl");
    expect(await page.locator("tr.hl").count()).toBe(2);
    await shot("blob");
  });

  it("renders Markdown files with a source toggle, images, and binary placeholders", async () => {
    await page.goto(`${base}/blob/main/docs/guide.md`);
    expect(await page.locator(".markdown h1").textContent()).toBe("Guide");
    await page.click("text=Source");
    expect(await page.locator(".code").textContent()).toContain("# Guide");
    await page.goto(`${base}/blob/main/docs/logo.png`);
    expect(await page.locator(".preview img").count()).toBe(1);
    await page.goto(`${base}/blob/main/data.bin`);
    expect(await page.locator(".notice").textContent()).toContain("Binary file");
  });

  it("serves raw files as inert content, never as HTML or SVG", async () => {
    for (const file of ["evil.html", "evil.svg"]) {
      const res = await page.goto(`${base}/raw/main/${file}`);
      expect(res!.headers()["content-type"]).toBe("text/plain; charset=utf-8");
      expect(res!.headers()["content-security-policy"]).toContain("sandbox");
      expect(res!.headers()["x-content-type-options"]).toBe("nosniff");
    }
    await page.goto(`${base}/blob/main/evil.svg`);
    await page.goto(`${base}/blob/main/evil.html`);
    await page.waitForTimeout(300);
    expect(dialogs).toEqual([]);
  });

  it("shows history, a commit with its diff, and file history", async () => {
    await page.goto(`${base}/commits/main`);
    expect(await page.locator("table.list tr").count()).toBe(5);
    await shot("commits");
    await page.click("text=Add app, docs and a README");
    expect(await page.locator(".box .head b").first().textContent()).toBe("Add app, docs and a README");
    expect(await page.locator("tr.add").count()).toBeGreaterThan(5);
    // Diff lines are highlighted by file type too.
    expect(await page.locator("tr.add .hljs-keyword").count()).toBeGreaterThan(0);
    await shot("commit");
    await page.goto(`${base}/commits/main?path=src/app.ts`);
    expect(await page.locator("table.list tr").count()).toBe(1);
  });

  it("resolves a branch name with a slash, compares it, and shows branches with ahead/behind", async () => {
    await page.goto(`${base}/blob/feature/login/src/app.ts`);
    expect(await page.locator(".code").textContent()).toContain("Hi, ${name}!");
    await page.goto(`${base}/branches`);
    expect(await page.locator("text=1 ahead, 0 behind").count()).toBe(1);
    await page.click("text=1 ahead, 0 behind");
    await page.waitForURL(`${base}/compare/main...feature/login`);
    expect(await page.locator("h2").textContent()).toContain("feature/login");
    expect(await page.locator("tr.add").count()).toBe(1);
    await shot("compare");
    await page.goto(`${base}/tags`);
    expect(await page.locator("td.name").textContent()).toBe("v1.0");
  });

  it("switches branches from a selector that loads the names on demand, and without JavaScript", async () => {
    await page.goto(`${base}/blob/main/src/app.ts`);
    const names = page.locator("details.refs [data-ref-list] a");
    // The page carries no names: they come when the selector opens.
    expect(await names.count()).toBe(0);
    await page.click("details.refs > summary");
    await names.first().waitFor();
    expect(await names.allTextContents()).toEqual(["main", "feature/login", "v1.0"]);
    await shot("ref-selector");
    await page.fill("details.refs [data-ref-filter]", "LOGIN");
    await expect.poll(() => names.allTextContents()).toEqual(["feature/login"]);
    await names.first().click();
    await page.waitForURL(`${base}/blob/feature/login/src/app.ts`);
    expect(await page.locator("details.refs > summary").textContent()).toContain("feature/login");

    const noScript = await browser.newContext({ javaScriptEnabled: false });
    const plain = await noScript.newPage();
    await plain.goto(`${base}/tree/main/src`);
    await plain.click("details.refs > summary");
    await plain.click("details.refs >> text=All branches");
    await plain.waitForURL(`${base}/branches`);
    expect(await plain.locator("td.name a", { hasText: "feature/login" }).count()).toBe(1);
    await noScript.close();
  });

  it("blames a file line by line", async () => {
    await page.goto(`${base}/blame/feature/login/src/app.ts`);
    const cells = await page.locator("td.blame").allTextContents();
    expect(cells.filter((t) => t.trim()).length).toBeGreaterThanOrEqual(2);
    expect((await page.locator("td.src").nth(1).textContent())?.trim()).toBe("return `Hi, ${name}!`;");
    await shot("blame");
  });

  it("downloads archives with the same content as git archive", async () => {
    await page.goto(base);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("text=tar.gz")]);
    const dir = tempDir();
    const file = join(dir, "ours.tar.gz");
    await download.saveAs(file);
    const list = (args: string[]) =>
      execFileSync("tar", args, { cwd: dir, env: gitEnv })
        .toString()
        .split("\n")
        .filter((l) => l && !l.endsWith("/"))
        .map((l) => l.replace(/^[^/]+\//, ""))
        .sort();
    execFileSync("git", ["archive", "--format=tar.gz", "--prefix=demo-main/", "-o", join(dir, "theirs.tar.gz"), "main"], {
      cwd: src,
      env: gitEnv,
    });
    expect(list(["-tzf", "ours.tar.gz"])).toEqual(list(["-tzf", "theirs.tar.gz"]));
    // Same bytes and modes, file by file.
    for (const [d, f] of [
      ["x", "ours.tar.gz"],
      ["y", "theirs.tar.gz"],
    ]) {
      mkdirSync(join(dir, d));
      execFileSync("tar", ["-xzf", `../${f}`, "--strip-components=1"], { cwd: join(dir, d) });
    }
    expect(execFileSync("diff", ["-r", "x", "y"], { cwd: dir }).toString()).toBe("");
    const modes = (d: string) => execFileSync("sh", ["-c", "find . -type f -printf '%m %p\\n' | sort"], { cwd: join(dir, d) }).toString();
    expect(modes("x")).toBe(modes("y"));
    const zip = await page.request.get(`${base}/archive/v1.0.zip`);
    expect(zip.headers()["content-type"]).toBe("application/zip");
    writeFileSync(join(dir, "ours.zip"), await zip.body());
    const unzip = zipEntries(readFileSync(join(dir, "ours.zip")))
      .map((n) => n.replace(/^[^/]+\//, ""))
      .sort();
    expect(unzip).toEqual(list(["-tzf", "theirs.tar.gz"]));
  });

  it("explains an empty repository and 404s what does not exist", async () => {
    await server.fetch(`/api/repos/acme/empty`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: '{"private":false}',
    });
    await page.goto(`${server.url}/acme/empty`);
    expect(await page.locator("pre.cmd").first().textContent()).toContain("git push -u origin main");
    await shot("empty");
    for (const path of [
      "/acme/nothing",
      "/acme/demo/tree/nobranch",
      "/acme/demo/blob/main/missing.txt",
      "/acme/demo/commit/" + "0".repeat(40),
    ]) {
      const res = await page.goto(server.url + path);
      expect(res!.status()).toBe(404);
    }
    // As people type and paste them: a trailing slash, an abbreviated id, a branch name.
    const short = (await git(src, "rev-parse", "--short=7", "HEAD")).trim();
    for (const [path, landing] of [
      ["/acme/demo/", "/acme/demo"],
      ["/acme/demo/branches/", "/acme/demo/branches"],
      [`/acme/demo/commit/${short}`, `/acme/demo/commit/${short}`],
      [`/acme/demo/tree/${short}/src`, `/acme/demo/tree/${short}/src`],
      ["/acme/demo/commit/main", "/acme/demo/commit/main"],
    ]) {
      const res = await page.goto(server.url + path);
      expect(res!.status(), path).toBe(200);
      expect(new URL(page.url()).pathname, path).toBe(landing);
    }
  });

  it("cuts very large diffs off cleanly, with a link to the whole diff", async () => {
    const big = await makeRepo(1);
    mkdirSync(join(big, "many"));
    for (let i = 0; i < 320; i++) writeFileSync(join(big, "many", `f${i}.txt`), `file ${i}\n`);
    await git(big, "add", "-A");
    await git(big, "commit", "-q", "-m", "Add 320 files");
    const sha = (await git(big, "rev-parse", "HEAD")).trim();
    await git(big, "push", "-q", `${server.url}/acme/big.git`, "main");
    await publish("big");
    await page.goto(`${server.url}/acme/big/commit/${sha}`);
    expect(await page.locator(".box .head b").count()).toBe(301);
    await page.click("text=Show the whole diff");
    await page.waitForURL(/full=1/);
    expect(await page.locator(".box .head b").count()).toBe(321);
  });

  it("works on a phone-width screen and in the dark theme", async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, colorScheme: "dark" });
    await phone.goto(base);
    const width = Number(await phone.evaluate("document.documentElement.scrollWidth"));
    expect(width).toBeLessThanOrEqual(400);
    await phone.screenshot({ path: join(shots, "phone-dark.png") });
    await phone.close();
  });
});

describe("accounts and access in Chromium", () => {
  it("signs up, creates a private repository, makes a token, pushes with git, adds a collaborator and flips visibility", async () => {
    // A collaborator-to-be, and a browser each for the owner, the collaborator and a visitor.
    const erin = await signUp(server.url, "erin");
    const dana = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const visitor = await browser.newContext();
    const me = await dana.newPage();
    const anon = await visitor.newPage();

    await me.goto(server.url + "/");
    await me.click("text=Sign up");
    await me.fill("input[name=username]", "dana");
    await me.fill("input[name=email]", "dana@example.com");
    await me.fill("input[name=password]", "a long enough password");
    await shot("signup", me);
    await me.click("button:has-text('Sign up')");
    await me.waitForURL(server.url + "/");
    expect(await me.locator("nav.user").textContent()).toContain("dana");

    await me.click("text=New repository");
    await me.fill("input[name=name]", "notes");
    await me.fill("input[name=description]", "Dana's notes");
    await me.check("input[value=private]");
    await me.click("button:has-text('Create repository')");
    await me.waitForURL(`${server.url}/dana/notes`);
    expect(await me.locator("h1 .badge").textContent()).toBe("Private");
    expect(await me.locator("pre.cmd").first().textContent()).toContain("git push -u origin main");

    await me.goto(`${server.url}/settings/tokens`);
    await me.fill("input[name=name]", "laptop");
    await me.check("input[name=scope][value=write]");
    await me.click("button:has-text('Generate token')");
    const token = await me.locator("#new-token").inputValue();
    expect(token).toMatch(/^gfp_/);
    await shot("token", me);

    // The real git client, with the token as the password.
    const work = await makeRepo(2);
    await commitFile(work, "README.md", "# Notes\n\nPrivate for now.\n", "Add README");
    const push = await gitRun(work, ["push", "-q", `http://dana:${token}@127.0.0.1:${server.port}/dana/notes.git`, "main"]);
    expect(push.code, push.stderr).toBe(0);
    // This file's git runs carry the site admin's token; the visitor's must not.
    const noAuth = { GIT_CONFIG_COUNT: "0" };
    const anonClone = await gitRun(tempDir(), ["clone", "-q", `${server.url}/dana/notes.git`, "c"], noAuth);
    expect(anonClone.code).not.toBe(0);

    await me.goto(`${server.url}/dana/notes`);
    expect(await me.locator(".markdown h1").textContent()).toBe("Notes");
    expect((await anon.goto(`${server.url}/dana/notes`))!.status()).toBe(404);
    expect((await anon.goto(`${server.url}/dana/notes/raw/main/README.md`))!.status()).toBe(404);

    await me.click("nav.tabs >> text=Settings");
    await me.fill("form[action$='/collaborators'] input[name=username]", "erin");
    await me.selectOption("form[action$='/collaborators'] select[name=role]", "read");
    await me.click("button:has-text('Add collaborator')");
    expect(await me.locator("[role=status]").textContent()).toContain("erin now has read access");
    await shot("settings", me);

    // The collaborator sees it; the visitor still does not.
    const erinView = await erin.web.get("/dana/notes");
    expect(erinView.status).toBe(200);
    expect((await anon.goto(`${server.url}/dana/notes`))!.status()).toBe(404);

    await me.check("input[name=visibility][value=public]");
    await me.click("button:has-text('Save')");
    expect(await me.locator("[role=status]").textContent()).toContain("Settings saved");
    expect((await anon.goto(`${server.url}/dana/notes`))!.status()).toBe(200);
    expect(await anon.locator(".markdown h1").textContent()).toBe("Notes");
    expect(await anon.locator("nav.user").textContent()).toContain("Sign in");
    expect((await gitRun(tempDir(), ["clone", "-q", `${server.url}/dana/notes.git`, "c"], noAuth)).code).toBe(0);

    // And back: private again hides it from the visitor at once.
    await me.check("input[name=visibility][value=private]");
    await me.click("button:has-text('Save')");
    expect((await anon.goto(`${server.url}/dana/notes`))!.status()).toBe(404);
    expect(dialogs).toEqual([]);
    await dana.close();
    await visitor.close();
  });
});
