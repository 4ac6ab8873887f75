// Hostile names and Markdown in a real browser (issue 12): a repository whose file,
// directory, branch and tag names, commit message, description, README, issue, comment and
// label are made to run script, visited page by page in Chromium, runs none of it. Every
// payload calls `pwned(...)` (a binding the browser reports back) or `alert`; the pages
// are visited with the site's CSP, counting its violations (each one a payload the
// sanitizer let through), and again with CSP bypassed, so that escaping alone must hold.
// e2e/web.test.ts checks a malicious README and raw files.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import chromiumBinary from "@sparticuz/chromium";
import { type Browser, type BrowserContext, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eAuth } from "./accounts";
import { LocalServer } from "./server";
import { git, gitRun, makeRepo } from "./git";

const server = new LocalServer();
let browser: Browser;

/** Markdown and HTML that tries every way into a page we know of. */
const HOSTILE_MARKDOWN = [
  "# Hostile",
  "<script>pwned('md script')</script>",
  "<img src=x onerror=\"pwned('md onerror')\">",
  "<svg onload=\"pwned('md svg onload')\"><script>pwned('md svg script')</script></svg>",
  "<iframe src=\"javascript:pwned('md iframe')\"></iframe>",
  "<iframe srcdoc=\"<script>parent.pwned('md srcdoc')</script>\"></iframe>",
  "<a href=\"javascript:pwned('md a')\">a link</a>",
  "[a markdown link](javascript:pwned('md link'))",
  "[an uppercase link](JaVaScRiPt:pwned('md case'))",
  "<a href=\"&#106;avascript:pwned('md entity')\">entity</a>",
  "<a href=\" javascript:pwned('md space')\">space</a>",
  "[a data link](data:text/html;base64,PHNjcmlwdD5wYXJlbnQucHduZWQoJ2RhdGEnKTwvc2NyaXB0Pg==)",
  "![a data image](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9InB3bmVkKCdkYXRhIHN2ZycpIi8+)",
  "<style>body { display: none }</style>",
  "<div style=\"background:url(javascript:pwned('md style'))\">styled</div>",
  "<object data=\"javascript:pwned('md object')\"></object>",
  "<embed src=\"javascript:pwned('md embed')\">",
  "<form action=\"javascript:pwned('md form')\"><button>go</button></form>",
  "<math><mtext><table><mglyph><style><img src=x onerror=pwned('md mxss')>",
  "<details open ontoggle=\"pwned('md ontoggle')\">x</details>",
  "<input autofocus onfocus=\"pwned('md onfocus')\">",
  '<meta http-equiv="refresh" content="0;url=javascript:pwned(\'md meta\')">',
  "<base href=\"javascript:pwned('md base')//\">",
  "<noscript><p title=\"</noscript><img src=x onerror=pwned('md noscript')>\"></noscript>",
  "<!-- <img src=x onerror=pwned('md comment')> -->",
  "`<script>pwned('md code')</script>`",
  '<a href="#" onclick="pwned(\'md onclick\')" id="clickme">click</a>',
  "",
].join("\n\n");

const FILE_NAMES = [
  "\"quoted\" and 'single'.txt",
  "<img src=x onerror=pwned('file')>.txt",
  "\"><svg onload=pwned('svg name')>.md",
  "javascript:pwned('js name').txt",
  "evil\u202Etxt.exe",
];
const DIR = "dir\"><iframe src=javascript:pwned('dir')>";
const BRANCH = "x\"><img/src=x/onerror=pwned('branch')>";
const TAG = "<script>pwned('tag')</script>";
const MESSAGE = "<script>pwned('message')</script> <img src=x onerror=pwned('message img')>\n\nbody \"><svg onload=pwned('body')>";
const LABEL = "<img src=x onerror=pwned('label')>";
const seg = (s: string) => s.split("/").map(encodeURIComponent).join("/");

async function api(method: string, path: string, body: unknown): Promise<Response> {
  const res = await server.fetch(path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status, `${method} ${path}: ${await res.clone().text()}`).toBeLessThan(300);
  return res;
}

async function launchChromium(): Promise<Browser> {
  const executablePath = await chromiumBinary.executablePath();
  const env: Record<string, string> = {};
  if (!existsSync("/etc/fonts/fonts.conf") && !process.env.FONTCONFIG_PATH) env.FONTCONFIG_PATH = join(tmpdir(), "fonts");
  // As e2e/web.test.ts: none of the package's flags that weaken the same-origin policy.
  const unwanted = new Set(["--disable-web-security", "--allow-running-insecure-content", "--single-process"]);
  return chromium.launch({
    executablePath,
    args: [...chromiumBinary.args.filter((a) => !unwanted.has(a)), "--no-first-run", "--disable-background-networking", "--disable-gpu"],
    headless: true,
    env: { ...process.env, ...env },
  });
}

let base: string;
let head: string;

beforeAll(async () => {
  await server.start();
  await server.signUpAndUse("e2e");
  const src = await makeRepo(2);
  writeFileSync(join(src, "README.md"), HOSTILE_MARKDOWN);
  writeFileSync(join(src, "docs.md"), HOSTILE_MARKDOWN);
  for (const name of FILE_NAMES) writeFileSync(join(src, name), `${name}\n<script>pwned('content')</script>\n`);
  mkdirSync(join(src, DIR));
  writeFileSync(join(src, DIR, "inner<script>.txt"), "inside\n");
  await git(src, "add", "-A");
  const commit = await gitRun(src, ["commit", "-q", "-m", MESSAGE]);
  expect(commit.code, commit.stderr).toBe(0);
  head = (await git(src, "rev-parse", "HEAD")).trim();
  await git(src, "branch", BRANCH, "HEAD~1");
  await git(src, "tag", "-a", TAG, "-m", MESSAGE);
  base = `/e2e/hostile`;
  await git(src, "push", "-q", `${server.url}${base}.git`, "main", BRANCH, TAG);
  await api("PATCH", `/api/repos${base}`, {
    private: false,
    description: "<script>pwned('description')</script>\"><img src=x onerror=pwned('desc')>",
  });
  await api("POST", `/api/v3/repos${base}/labels`, {
    name: LABEL,
    color: "ff0000",
    description: "<script>pwned('label description')</script>",
  });
  await api("POST", `/api/v3/repos${base}/issues`, {
    title: "<script>pwned('issue title')</script>",
    body: HOSTILE_MARKDOWN,
    labels: [LABEL],
  });
  await api("POST", `/api/v3/repos${base}/issues/1/comments`, { body: HOSTILE_MARKDOWN });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server.stop();
});

/** Error pages that quote what was asked for. */
const ERROR_PAGES = [
  `/e2e/hostile/blob/main/${encodeURIComponent("<script>pwned('404')</script>")}`,
  `/e2e/hostile/tree/${encodeURIComponent("\"><img src=x onerror=pwned('404 ref')>")}`,
];

/** Every page that shows something the pusher or an issue's author wrote. */
function pages(): string[] {
  return [
    "/",
    "/e2e",
    base,
    `${base}/tree/main`,
    `${base}/tree/main/${seg(DIR)}`,
    ...FILE_NAMES.map((n) => `${base}/blob/main/${seg(n)}`),
    `${base}/blob/main/${seg(DIR)}/${seg("inner<script>.txt")}`,
    `${base}/blob/main/docs.md`,
    `${base}/blob/main/docs.md?plain=1`,
    `${base}/blame/main/${seg(FILE_NAMES[1])}`,
    `${base}/commits/main`,
    `${base}/commits/main?path=${encodeURIComponent(FILE_NAMES[1])}`,
    `${base}/commit/${head}`,
    `${base}/branches`,
    `${base}/tags`,
    `${base}/tree/${seg(BRANCH)}`,
    `${base}/commits/${seg(BRANCH)}`,
    `${base}/compare/main...${seg(BRANCH)}`,
    `${base}/compare/${seg(BRANCH)}...main`,
    `${base}/tree/${seg(TAG)}`,
    `${base}/issues`,
    `${base}/issues?q=${encodeURIComponent(`label:"${LABEL}"`)}`,
    `${base}/issues?q=${encodeURIComponent("<script>pwned('query')</script>")}`,
    `${base}/issues/1`,
    `${base}/labels`,
    `${base}/settings`,
    ...ERROR_PAGES,
    `/login?next=${encodeURIComponent("javascript:pwned('next')")}`,
  ];
}

/**
 * What a page holds that could run: event handlers, script URLs, scripts other than the
 * site's own, links that are not to web pages, frames and the like. (A `data:` image is
 * allowed: an image cannot run script. Handlers are found as attributes, so nothing needs
 * hovering or clicking.)
 */
// Run in the page, as source: these tests are typed without the DOM's types.
const UNSAFE_NODES = `(() => {
  const bad = [];
  for (const el of document.querySelectorAll("*")) {
    for (const a of el.attributes) {
      const value = a.value.replace(/[\\s\\u0000-\\u001f]/g, "").toLowerCase();
      const dataUrl = value.startsWith("data:") && !(el.tagName === "IMG" && a.name === "src");
      if (/^on/i.test(a.name) || value.startsWith("javascript:") || value.startsWith("vbscript:") || dataUrl)
        bad.push(el.tagName.toLowerCase() + " " + a.name + "=" + a.value.slice(0, 60));
    }
  }
  for (const s of document.scripts) if (s.src !== location.origin + "/static/app.js") bad.push("script " + (s.src || s.text.slice(0, 60)));
  for (const a of document.querySelectorAll("a[href]"))
    if (!["http:", "https:", "mailto:"].includes(a.protocol)) bad.push("link to " + a.href.slice(0, 60));
  for (const el of document.querySelectorAll("iframe, frame, object, embed, base, meta[http-equiv], body link, .markdown style"))
    bad.push(el.outerHTML.slice(0, 80));
  for (const el of document.querySelectorAll("style")) if (el.textContent.includes("display: none")) bad.push("the README's style");
  for (const f of document.forms) if (new URL(f.action, location.href).origin !== location.origin) bad.push("form to " + f.action.slice(0, 60));
  return bad;
})()`;

interface Run {
  executions: string[];
  violations: string[];
  unsafe: string[];
  visited: number;
  /** What the counters saw of a handler the test put in a page itself. */
  control: { executions: string[]; violations: string[] };
}

/** A frame and a timer: what a page queued on load (an image's error, a toggle) has run by then. */
const SETTLE = "new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)))";

/**
 * Visits every page in a new context (CSP bypassed or not), with the branch selector open,
 * then puts a handler in a page itself, to show that the counters see one.
 */
async function visitAll(bypassCSP: boolean): Promise<Run> {
  const run: Run = { executions: [], violations: [], unsafe: [], visited: 0, control: { executions: [], violations: [] } };
  let sink: { executions: string[]; violations: string[] } = run;
  // As the owner (the settings page needs it): everyone else sees the same user content.
  const context: BrowserContext = await browser.newContext({ bypassCSP, extraHTTPHeaders: { Authorization: e2eAuth.header } });
  try {
    await context.exposeBinding("pwned", (source, what: unknown) => sink.executions.push(`${source.page.url()}: ${String(what)}`));
    await context.exposeBinding("cspViolation", (source, what: unknown) => sink.violations.push(`${source.page.url()}: ${String(what)}`));
    await context.addInitScript(
      'document.addEventListener("securitypolicyviolation", (e) => cspViolation(e.violatedDirective + " " + e.blockedURI + " " + e.sample));',
    );
    const page = await context.newPage();
    page.on("dialog", async (d) => {
      sink.executions.push(`${page.url()}: dialog ${d.message()}`);
      await d.dismiss();
    });
    for (const path of pages()) {
      const res = await page.goto(server.url + path);
      expect(res, path).not.toBeNull();
      // Each page shows what it names, but for the two that quote a path that is not there.
      expect(res!.status(), path).toBe(ERROR_PAGES.includes(path) ? 404 : 200);
      run.visited++;
      // The branch selector fills itself from refs.json with the pushed names.
      if (await page.locator("details.refs > summary").count()) {
        await page.click("details.refs > summary");
        await page.locator("details.refs [data-ref-list] li").first().waitFor();
      }
      await page.evaluate(SETTLE);
      for (const item of (await page.evaluate(UNSAFE_NODES)) as string[]) run.unsafe.push(`${path}: ${item}`);
    }
    sink = run.control;
    await page.goto(server.url + "/");
    await page.evaluate(`document.body.insertAdjacentHTML("beforeend", '<img src="/nothing" onerror="pwned(\\'control\\')">')`);
    await expect.poll(() => sink.executions.length + sink.violations.length).toBeGreaterThan(0);
  } finally {
    await context.close();
  }
  return run;
}

describe("hostile names and Markdown in Chromium", () => {
  it("runs no script on any page that shows them, with CSP and with CSP bypassed", { timeout: 300_000 }, async () => {
    for (const bypassCSP of [false, true]) {
      const run = await visitAll(bypassCSP);
      expect(run.visited).toBe(pages().length);
      expect(run.executions, `executions (CSP bypassed: ${bypassCSP})`).toEqual([]);
      expect(run.violations, `CSP violations (CSP bypassed: ${bypassCSP})`).toEqual([]);
      expect(run.unsafe, `unsafe nodes (CSP bypassed: ${bypassCSP})`).toEqual([]);
      // The counters work: the handler the test put in ran only where CSP was bypassed.
      expect(run.control.executions.length).toBe(bypassCSP ? 1 : 0);
      expect(run.control.violations.length).toBe(bypassCSP ? 0 : 1);
    }
  });
});
