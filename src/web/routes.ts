// The web UI: server-rendered pages with GitHub's URL shapes. Every repository page
// goes through `openRepository`, which passes the one access check; raw files are
// served so that nothing from a repository is ever active content on this origin.
// Routes refuse by throwing (NotFound, AccessRefused...); `pageError` answers.
import { Hono, type Context } from "hono";
import type { Env } from "../util/env";
import type { CommitSummary } from "../git/browse";
import type { DiffFile } from "../repo/views";
import { isValidOwner } from "../util/names";
import { requireAccess } from "../access/check";
import { allows, type Permission } from "../access/roles";
import { visibleRepos } from "../access/repos";
import { findUserByName } from "../auth/accounts";
import { callerOf, userOf } from "../auth/caller";
import { NotFound } from "../http/responses";
import { plainText } from "../http/responses";
import { CSS, JS, type Html, formatBytes, html, page, raw, relativeTime } from "./layout";
import { CHECKS_CSS, type Combined, checksBox, statusIcon } from "./checks";
import { pageError } from "./errors";
import { highlightLines } from "./highlight";
import { renderMarkdown } from "./markdown";
import { parseLfsPointer } from "../git/lfs-pointer";
import { lfsFileBody } from "./lfs";
import { download } from "../http/smart-http";
import { pullOffer } from "./pull-form";
import { REF_SELECTOR_CSS, REF_SELECTOR_JS, matchRefs, refSelector as selector } from "./ref-selector";

export const web = new Hono<{ Bindings: Env }>();
web.onError(pageError);

// A page's URL with a trailing slash (`/:owner/:repo/`, `/:owner/:repo/branches/`) is that
// page, as on GitHub: one redirect to the URL without it serves every page route, those
// of other files too. Not for the API, static files, raw files and archives (whose names
// are exact); git's own paths never end with a slash. No empty segment, so the target
// can never read as `//host`.
const SLASHED = /^(\/[^/]+(?:\/[^/]+)*)\/+$/;
const EXACT_PATHS = /^\/(api|static)\/|^\/[^/]+\/[^/]+\/(raw|archive)\//;
web.use("*", async (c, next) => {
  const url = new URL(c.req.url);
  const slashed = c.req.method === "GET" || c.req.method === "HEAD" ? SLASHED.exec(url.pathname) : null;
  if (!slashed || EXACT_PATHS.test(url.pathname)) return next();
  return c.redirect(slashed[1] + url.search, 301);
});

const RAW_LIMIT = 25 * 1024 * 1024;
const IMAGE_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  ico: "image/x-icon",
  bmp: "image/bmp",
};

type C = Context<{ Bindings: Env }>;

/**
 * The repository a page is about, after the access check; throws AccessRefused when
 * the check refuses (a 404, sign-in, 403, or a redirect after a rename).
 */
export async function openRepository(c: C, need: Permission = "read") {
  const access = await requireAccess(c, need);
  const [summary, issueCounts] = await Promise.all([access.stub.summary(), access.stub.issueCounts()]);
  const { repo: record, stub, base, role } = access;
  const empty = { empty: true, branches: [] as string[], tags: [] as string[], defaultBranch: null as string | null, description: "" };
  const openIssues = issueCounts?.open ?? 0;
  const openPulls = issueCounts?.openPulls ?? 0;
  return {
    owner: record.owner,
    name: record.name,
    record,
    role,
    stub,
    summary: summary ?? empty,
    base,
    grant: access,
    openIssues,
    openPulls,
  };
}

export type Repo = Awaited<ReturnType<typeof openRepository>>;

/** The URL path after `/:owner/:repo/<kind>/`, split and decoded. */
function restOf(c: C, kind: string): string[] {
  const prefix = `/${c.req.param("owner")}/${c.req.param("repo")}/${kind}/`;
  const path = new URL(c.req.url).pathname;
  if (!path.startsWith(prefix)) return [];
  return path
    .slice(prefix.length)
    .split("/")
    .filter(Boolean)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        // A malformed %-escape is taken literally; the lookup then finds nothing.
        return p;
      }
    });
}

const enc = (p: string) => p.split("/").map(encodeURIComponent).join("/");

/**
 * When `rev` is an abbreviated id that several commits share, the page that lists them
 * (each linked through `link`) with 300 Multiple Choices, as git's "short object ID is
 * ambiguous" does; otherwise null.
 */
async function ambiguityPage(c: C, repo: Repo, rev: string, link: (oid: string) => string): Promise<Response | null> {
  const candidates = /^[0-9a-fA-F]{4,39}$/.test(rev) ? await repo.stub.ambiguityView(rev) : null;
  if (!candidates) return null;
  return c.html(
    page(
      c,
      `${rev} is ambiguous`,
      html`${repoHeader(repo, "code")}<div class="box"><div class="head">The short id <code>${rev}</code> names ${candidates.length} commits; choose one</div>
<table class="list">${candidates.map(
        (k) =>
          html`<tr><td class="name"><a href="${link(k.commit.oid)}"><code>${k.oid}</code></a>${k.type === "tag" ? html` <span class="muted">tag</span>` : ""}</td><td class="msg">${k.commit.subject}</td><td class="age">${k.commit.author.name} · ${relativeTime(k.commit.committer.timestamp)}</td></tr>`,
      )}</table></div>`,
    ),
    300,
  );
}

/** The same page as `/:owner/:repo/<kind>/<parts>`, at another commit. */
function atCommit(c: C, repo: Repo, kind: string, parts: string[]): (oid: string) => string {
  const search = new URL(c.req.url).search;
  return (oid) => `${repo.base}/${kind}/${[oid, ...parts.slice(1)].map(encodeURIComponent).join("/")}${search}`;
}

/** What a page whose view found nothing answers: the ambiguity page, or a 404 with `message`. */
async function missingAt(c: C, repo: Repo, kind: string, parts: string[], message: string): Promise<Response> {
  const choices = await ambiguityPage(c, repo, parts[0] ?? "", atCommit(c, repo, kind, parts));
  if (choices) return choices;
  throw new NotFound(message);
}

export function repoHeader(repo: Repo, tab: string): Html {
  const tabs = [
    ["code", repo.base, "Code"],
    ["issues", `${repo.base}/issues`, `Issues (${repo.openIssues})`],
    ["pulls", `${repo.base}/pulls`, `Pull requests (${repo.openPulls})`],
    ["commits", `${repo.base}/commits/${enc(repo.summary.defaultBranch ?? "main")}`, "Commits"],
    ["branches", `${repo.base}/branches`, `Branches (${repo.summary.branches.length})`],
    ["tags", `${repo.base}/tags`, `Tags (${repo.summary.tags.length})`],
    ["search", `${repo.base}/search`, "Search"],
  ];
  if (allows(repo.role, "admin")) tabs.push(["settings", `${repo.base}/settings`, "Settings"]);
  const parent = repo.record.parent;
  return html`<h1><a href="/${repo.owner}">${repo.owner}</a> / <a href="${repo.base}">${repo.name}</a> <span class="badge">${repo.record.isPrivate ? "Private" : "Public"}</span>
<span class="forks"><a class="btn" href="${repo.base}/fork">Fork</a> <a href="${repo.base}/forks">${repo.record.forksCount}</a></span></h1>${parent ? html`<p class="muted forked">forked from <a href="/${parent.fullName}">${parent.fullName}</a></p>` : ""}${repo.record.description ? html`<p class="muted">${repo.record.description}</p>` : ""}
<nav class="tabs">${tabs.map(([id, href, label]) => html`<a href="${href}"${id === tab ? raw(' aria-current="page" style="font-weight:600"') : ""}>${label}</a>`)}</nav>`;
}

function refSelector(repo: Repo, current: string, kind: string, path: string): Html {
  return selector({ base: repo.base, branches: repo.summary.branches, tags: repo.summary.tags }, current, kind, path);
}

function crumbs(repo: Repo, ref: string, path: string): Html {
  const parts = path.split("/").filter(Boolean);
  return html`<span class="crumbs"><a href="${repo.base}/tree/${enc(ref)}">${repo.name}</a>${parts.map(
    (p, i) =>
      html` / ${i === parts.length - 1 ? html`<span>${p}</span>` : html`<a href="${repo.base}/tree/${enc(ref)}/${enc(parts.slice(0, i + 1).join("/"))}">${p}</a>`}`,
  )}</span>`;
}

export function commitLine(repo: Repo, c: CommitSummary): Html {
  return html`<a href="${repo.base}/commit/${c.oid}">${c.subject}</a> <span class="muted">${c.author.name} · ${relativeTime(c.committer.timestamp)} · <code>${c.oid.slice(0, 7)}</code></span>`;
}

async function fileList(
  repo: Repo,
  ref: string,
  listing: { items: { name: string; path: string; kind: string; size?: number; last?: CommitSummary }[] },
): Promise<Html> {
  return html`<table class="list">${listing.items.map(
    (
      i,
    ) => html`<tr><td class="name"><span class="icon ${i.kind}" aria-hidden="true"></span><a href="${repo.base}/${i.kind === "tree" ? "tree" : "blob"}/${enc(ref)}/${enc(i.path)}">${i.name}</a></td>
<td class="msg">${i.last ? html`<a href="${repo.base}/commit/${i.last.oid}">${i.last.subject}</a>` : ""}</td><td class="age">${i.last ? relativeTime(i.last.committer.timestamp) : ""}</td></tr>`,
  )}</table>`;
}

function readmeBox(repo: Repo, ref: string, readme: { path: string; text: string } | null): Html {
  if (!readme) return html``;
  const dir = readme.path.includes("/") ? readme.path.slice(0, readme.path.lastIndexOf("/")) : "";
  const body = /\.(md|markdown)$/i.test(readme.path)
    ? raw(renderMarkdown(readme.text, { blob: `${repo.base}/blob/${enc(ref)}`, raw: `${repo.base}/raw/${enc(ref)}`, dir }))
    : html`<pre>${readme.text}</pre>`;
  return html`<div class="box"><div class="head">${readme.path}</div><div class="markdown">${body}</div></div>`;
}

// ---- static ------------------------------------------------------------------

web.get("/static/app.css", (c) =>
  c.body(CSS + REF_SELECTOR_CSS, 200, { "Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=300" }),
);
web.get("/static/app.js", (c) =>
  c.body(JS + REF_SELECTOR_JS, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "public, max-age=300" }),
);

// ---- home and owner -------------------------------------------------------------

function repoRows(_c: C, repos: Awaited<ReturnType<typeof visibleRepos>>, withOwner: boolean): Html {
  return html`${repos.map(
    (
      r,
    ) => html`<tr><td class="name"><a href="/${r.owner}/${r.name}">${withOwner ? `${r.owner}/${r.name}` : r.name}</a>${r.isPrivate ? html` <span class="badge">Private</span>` : ""}</td>
<td class="msg">${r.description}</td><td class="age">${r.pushedAt ? `updated ${relativeTime(r.pushedAt / 1000)}` : `created ${relativeTime(r.createdAt / 1000)}`}</td></tr>`,
  )}`;
}

web.get("/", async (c) => {
  const viewer = userOf(await callerOf(c));
  const repos = await visibleRepos(c.env.DB, viewer, { limit: 50 });
  const host = new URL(c.req.url).host;
  const empty = viewer
    ? html`<tr><td class="notice">No repositories yet. <a href="/new">Create one</a>, or push one: <code>git push http://${host}/${viewer.username}/project.git main</code></td></tr>`
    : html`<tr><td class="notice">No public repositories yet. <a href="/signup">Sign up</a> to push one.</td></tr>`;
  return c.html(
    page(
      c,
      "Home",
      html`<h1>Recently updated repositories</h1><div class="box"><table class="list">${repos.length ? repoRows(c, repos, true) : empty}</table></div>`,
    ),
  );
});

web.get("/:owner", async (c) => {
  const name = c.req.param("owner");
  if (!isValidOwner(name)) throw new NotFound();
  const owner = await findUserByName(c.env.DB, name);
  if (!owner) throw new NotFound("No such user.");
  const repos = await visibleRepos(c.env.DB, userOf(await callerOf(c)), { ownerId: owner.id });
  return c.html(
    page(
      c,
      owner.username,
      html`<h1>${owner.username}</h1><div class="box"><table class="list">${repos.length ? repoRows(c, repos, false) : html`<tr><td class="notice">No repositories to show.</td></tr>`}</table></div>`,
    ),
  );
});

// ---- repository home, tree, blob ----------------------------------------------------

web.get("/:owner/:repo", async (c) => {
  const repo = await openRepository(c);
  const url = new URL(c.req.url);
  const cloneUrl = `${url.protocol}//${url.host}${repo.base}.git`;
  const clone = html`<div class="clone"><input readonly value="${cloneUrl}" aria-label="Clone URL"><button type="button" data-copy="${cloneUrl}">Copy</button></div>`;
  const home = repo.summary.empty ? null : await repo.stub.homeView();
  if (!home) {
    return c.html(
      page(
        c,
        `${repo.owner}/${repo.name}`,
        html`${repoHeader(repo, "code")}${clone}<div class="box"><div class="head">This repository is empty.</div><div class="markdown">
<p>Push an existing repository:</p><pre class="cmd">git remote add origin ${cloneUrl}
git push -u origin main</pre><p>Or start a new one:</p><pre class="cmd">git init
git commit --allow-empty -m "First commit"
git branch -M main
git remote add origin ${cloneUrl}
git push -u origin main</pre>${allows(repo.role, "write") && repo.summary.defaultBranch ? html`<p>Or <a href="${repo.base}/new/${enc(repo.summary.defaultBranch)}">create a new file</a> in the browser.</p>` : ""}</div></div>`,
      ),
    );
  }
  const { ref, commit, count, listing } = home;
  return c.html(
    page(
      c,
      `${repo.owner}/${repo.name}`,
      html`${repoHeader(repo, "code")}
<div class="box"><div class="head">${refSelector(repo, ref, "tree", "")} <a href="${repo.base}/commits/${enc(ref)}"><b>${count}</b> commits</a>
<a href="${repo.base}/branches"><b>${repo.summary.branches.length}</b> branches</a> <a href="${repo.base}/tags"><b>${repo.summary.tags.length}</b> tags</a>
<span style="margin-left:auto">${clone}</span>${addFile(repo, ref, "")}</div>
<div class="head">${commitLine(repo, commit)}</div>${await fileList(repo, ref, listing)}</div>
${readmeBox(repo, ref, listing.readme)}
<p class="muted">Download: <a href="${repo.base}/archive/${enc(ref)}.tar.gz">tar.gz</a> · <a href="${repo.base}/archive/${enc(ref)}.zip">zip</a></p>`,
    ),
  );
});

web.get("/:owner/:repo/tree/*", async (c) => {
  const repo = await openRepository(c);
  const parts = restOf(c, "tree");
  const view = await repo.stub.treeView(parts);
  if (!view) return missingAt(c, repo, "tree", parts, "No such ref or directory.");
  const { at, listing } = view;
  return c.html(
    page(
      c,
      `${at.path || repo.name} at ${at.ref}`,
      html`${repoHeader(repo, "code")}<div class="box"><div class="head">${refSelector(repo, at.ref, "tree", at.path)} ${crumbs(repo, at.ref, at.path)}
<a style="margin-left:auto" href="${repo.base}/commits/${enc(at.ref)}${at.path ? `?path=${encodeURIComponent(at.path)}` : ""}">History</a>${addFile(repo, at.ref, at.path)}</div>${await fileList(repo, at.ref, listing)}</div>${readmeBox(repo, at.ref, listing.readme)}`,
    ),
  );
});

// The browser editor's entry points (./editor.ts), for people who may write.
function addFile(repo: Repo, ref: string, dir: string): Html {
  if (!allows(repo.role, "write")) return html``;
  return html` <a class="btn" href="${repo.base}/new/${enc(ref)}${dir ? `/${enc(dir)}` : ""}">Add file</a>`;
}

function fileActions(repo: Repo, at: { ref: string; path: string }, blob: { binary: boolean; mode: string }): Html {
  if (!allows(repo.role, "write")) return html``;
  const editable = !blob.binary && (blob.mode === "100644" || blob.mode === "100755");
  return html`${editable ? html` · <a href="${repo.base}/edit/${enc(at.ref)}/${enc(at.path)}">Edit</a>` : ""} · <a href="${repo.base}/delete/${enc(at.ref)}/${enc(at.path)}">Delete</a>`;
}

function codeTable(lines: string[]): Html {
  return html`<div class="code"><table>${lines.map((l, i) => html`<tr id="L${i + 1}"><td class="ln"><a href="#L${i + 1}">${i + 1}</a></td><td class="src">${raw(l)}</td></tr>`)}</table></div>`;
}

web.get("/:owner/:repo/blob/*", async (c) => {
  const repo = await openRepository(c);
  const parts = restOf(c, "blob");
  const view = await repo.stub.blobView(parts);
  if (!view) return missingAt(c, repo, "blob", parts, "No such ref or file.");
  const { at, blob } = view;
  const rawUrl = `${repo.base}/raw/${enc(at.ref)}/${enc(at.path)}`;
  const ext = at.path.slice(at.path.lastIndexOf(".") + 1).toLowerCase();
  const showSource = c.req.query("plain") === "1";
  let body: Html;
  const pointer = blob.text === null ? null : parseLfsPointer(blob.text);
  if (pointer) body = lfsFileBody(repo.base, pointer, at.path);
  else if (IMAGE_TYPES[ext]) body = html`<div class="preview"><img src="${rawUrl}" alt="${at.path}"></div>`;
  else if (blob.text === null && blob.binary)
    body = html`<div class="notice">Binary file not shown. <a href="${rawUrl}">Download</a></div>`;
  else if (blob.text === null)
    body = html`<div class="notice">This file is too large to display (${formatBytes(blob.size)}). <a href="${rawUrl}">View raw</a></div>`;
  else if (/\.(md|markdown)$/i.test(at.path) && !showSource) {
    const dir = at.path.includes("/") ? at.path.slice(0, at.path.lastIndexOf("/")) : "";
    body = html`<div class="markdown">${raw(renderMarkdown(blob.text, { blob: `${repo.base}/blob/${enc(at.ref)}`, raw: `${repo.base}/raw/${enc(at.ref)}`, dir }))}</div>`;
  } else body = codeTable(highlightLines(blob.text, at.path));
  const toggle = /\.(md|markdown)$/i.test(at.path)
    ? html`<a href="?plain=${showSource ? "0" : "1"}">${showSource ? "Preview" : "Source"}</a>`
    : "";
  return c.html(
    page(
      c,
      `${at.path} at ${at.ref}`,
      html`${repoHeader(repo, "code")}<div class="box"><div class="head">${refSelector(repo, at.ref, "blob", at.path)} ${crumbs(repo, at.ref, at.path)}
<span class="muted">${formatBytes(pointer?.size ?? blob.size)}</span><span style="margin-left:auto">${toggle} <a href="${rawUrl}">Raw</a> · <a href="${repo.base}/blame/${enc(at.ref)}/${enc(at.path)}">Blame</a> · <a href="${repo.base}/commits/${enc(at.ref)}?path=${encodeURIComponent(at.path)}">History</a>${fileActions(repo, at, blob)}</span></div>${body}</div>`,
    ),
  );
});

web.get("/:owner/:repo/raw/*", async (c) => {
  const repo = await openRepository(c);
  const parts = restOf(c, "raw");
  const view = await repo.stub.rawView(parts, RAW_LIMIT);
  if (!view) return (await ambiguityPage(c, repo, parts[0] ?? "", atCommit(c, repo, "raw", parts))) ?? plainText(404, "Not found");
  if (view.size > RAW_LIMIT) return plainText(413, `File too large to serve (${view.size} bytes); clone the repository instead.`);
  const name = view.at.path.slice(view.at.path.lastIndexOf("/") + 1);
  const ext = name.slice(name.lastIndexOf(".") + 1).toLowerCase();
  const text = !view.data.subarray(0, 8000).includes(0);
  // Never active content here: text is text/plain, images are images, anything else
  // is a download, and a sandbox CSP covers whatever a browser might still try.
  const headers: Record<string, string> = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
    "Cache-Control": "no-cache",
  };
  if (IMAGE_TYPES[ext]) headers["Content-Type"] = IMAGE_TYPES[ext];
  else if (text) headers["Content-Type"] = "text/plain; charset=utf-8";
  else {
    headers["Content-Type"] = "application/octet-stream";
    headers["Content-Disposition"] = `attachment; filename="${name.replace(/["\\\r\n]/g, "_")}"`;
  }
  return new Response(view.data, { headers });
});

web.get("/:owner/:repo/blame/*", async (c) => {
  const repo = await openRepository(c);
  const parts = restOf(c, "blame");
  const view = await repo.stub.blameView(parts);
  if (!view?.lines.length) return missingAt(c, repo, "blame", parts, "No such ref or file.");
  const { at, lines } = view;
  const hl = highlightLines(lines.map((l) => l.line).join("\n") + "\n", at.path);
  return c.html(
    page(
      c,
      `Blame ${at.path}`,
      html`${repoHeader(repo, "code")}<div class="box"><div class="head">Blame ${crumbs(repo, at.ref, at.path)}</div><div class="code"><table>${lines.map(
        (l, i) =>
          html`<tr id="L${i + 1}"><td class="blame">${i === 0 || lines[i - 1].commit.oid !== l.commit.oid ? html`<a href="${repo.base}/commit/${l.commit.oid}" title="${l.commit.subject}">${l.commit.oid.slice(0, 7)}</a> ${l.commit.author.name}` : ""}</td><td class="ln"><a href="#L${i + 1}">${i + 1}</a></td><td class="src">${raw(hl[i] ?? "")}</td></tr>`,
      )}</table></div></div>`,
    ),
  );
});

// ---- history, commits, compare ---------------------------------------------------------

web.get("/:owner/:repo/commits/*", async (c) => {
  const repo = await openRepository(c);
  const path = c.req.query("path");
  const pageNo = Math.max(0, Number(c.req.query("page") ?? 0) || 0);
  const parts = restOf(c, "commits");
  const view = await repo.stub.logView(parts, path, pageNo);
  if (!view) return missingAt(c, repo, "commits", parts, "No such ref.");
  const ci: Record<string, Combined> = (await repo.stub.combinedStatuses(view.commits.map((cm) => cm.oid))) ?? {};
  const q = (p: number) => `?${path ? `path=${encodeURIComponent(path)}&` : ""}page=${p}`;
  return c.html(
    page(
      c,
      `Commits · ${repo.name}`,
      html`${CHECKS_CSS}${repoHeader(repo, "commits")}<div class="box"><div class="head">${refSelector(repo, view.at.ref, "commits", "")} ${path ? html`History of <b>${path}</b>` : ""}</div>
<table class="list">${view.commits.map((cm) => html`<tr><td>${commitLine(repo, cm)}${statusIcon(ci[cm.oid])}</td><td class="age"><a href="${repo.base}/tree/${cm.oid}">Browse</a></td></tr>`)}</table></div>
<p>${pageNo > 0 ? html`<a class="btn" href="${q(pageNo - 1)}">Newer</a>` : ""} ${view.more ? html`<a class="btn" href="${q(pageNo + 1)}">Older</a>` : ""}</p>`,
    ),
  );
});

/** Diffs longer than this are shown without syntax highlighting, to keep pages fast. */
const HIGHLIGHT_DIFF_LINES = 1000;

export function diffView(repo: Repo, ref: string, files: DiffFile[], truncated: boolean): Html {
  const adds = files.reduce((s, f) => s + f.additions, 0);
  const dels = files.reduce((s, f) => s + f.deletions, 0);
  const highlight = adds + dels <= HIGHLIGHT_DIFF_LINES;
  const line = (l: string, path: string) => (highlight ? raw(highlightLines(l.slice(1), path)[0] ?? "") : l.slice(1));
  return html`<p><span class="stat">${files.length} files changed</span><span class="stat add">+${adds}</span><span class="stat del">−${dels}</span></p>
${files.map(
  (
    f,
  ) => html`<div class="box"><div class="head"><b>${f.path}</b> <span class="muted">${f.status}</span> <span class="add">+${f.additions}</span> <span class="del">−${f.deletions}</span>
${f.newOid ? html`<a style="margin-left:auto" href="${repo.base}/blob/${enc(ref)}/${enc(f.path)}">View file</a>` : ""}</div>
${
  f.binary
    ? html`<div class="notice">Binary file changed.</div>`
    : f.tooLarge
      ? html`<div class="notice">Diff too large to show. <a href="${repo.base}/blob/${enc(ref)}/${enc(f.path)}">View the file</a></div>`
      : html`<div class="code"><table>${f.hunks.map(
          (h) =>
            html`<tr class="hunk"><td class="ln"></td><td class="src">@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@</td></tr>${h.lines.map(
              (l) =>
                html`<tr class="${l.startsWith("+") ? "add" : l.startsWith("-") ? "del" : ""}"><td class="ln"></td><td class="src">${l.slice(0, 1)}${line(l, f.path)}</td></tr>`,
            )}`,
        )}</table></div>`
}</div>`,
)}
${truncated ? html`<div class="notice">This diff is too large to show at once. <a href="?full=1">Show the whole diff</a> (or clone the repository).</div>` : ""}`;
}

web.get("/:owner/:repo/commit/*", async (c) => {
  const repo = await openRepository(c);
  const parts = restOf(c, "commit");
  const view = await repo.stub.commitView(parts.join("/"), c.req.query("full") === "1");
  if (!view) return missingAt(c, repo, "commit", parts, "No such commit.");
  const cm = view.commit;
  const checks = await repo.stub.combinedStatusOf(cm.oid);
  return c.html(
    page(
      c,
      cm.subject,
      html`${CHECKS_CSS}${repoHeader(repo, "commits")}<div class="box"><div class="head"><b>${cm.subject}</b>${statusIcon(checks)}</div><div class="markdown"><pre>${cm.message}</pre>
<p class="muted">Author: ${cm.author.name} &lt;${cm.author.email}&gt; · ${new Date(cm.author.timestamp * 1000).toISOString()}<br>
Committer: ${cm.committer.name} &lt;${cm.committer.email}&gt; · ${new Date(cm.committer.timestamp * 1000).toISOString()}<br>
Commit <code>${cm.oid}</code>${cm.parents.map((p) => html` · parent <a href="${repo.base}/commit/${p}"><code>${p.slice(0, 7)}</code></a>`)} · <a href="${repo.base}/tree/${cm.oid}">Browse files</a></p></div></div>
${checksBox(checks)}${diffView(repo, cm.oid, view.files, view.truncated)}`,
    ),
  );
});

web.get("/:owner/:repo/compare/*", async (c) => {
  const repo = await openRepository(c);
  const spec = restOf(c, "compare").join("/");
  const [baseSpec, headSpec] = spec.split("...");
  if (!baseSpec || !headSpec) throw new NotFound("Compare two refs as /compare/base...head.");
  const view = await repo.stub.compareView(baseSpec.split("/"), headSpec.split("/"), c.req.query("full") === "1");
  if (!view) {
    // Whichever side is an ambiguous id gets the list, each candidate in its place.
    const search = new URL(c.req.url).search;
    const at = (b: string, h: string) => `${repo.base}/compare/${enc(b)}...${enc(h)}${search}`;
    const choices =
      (await ambiguityPage(c, repo, baseSpec, (oid) => at(oid, headSpec))) ??
      (await ambiguityPage(c, repo, headSpec, (oid) => at(baseSpec, oid)));
    if (choices) return choices;
    throw new NotFound("No such refs.");
  }
  return c.html(
    page(
      c,
      `Compare ${baseSpec}...${headSpec}`,
      html`${repoHeader(repo, "commits")}<h2>Comparing <code>${view.base.ref}</code>...<code>${view.head.ref}</code></h2>
${await pullOffer(c, repo, baseSpec, headSpec, view.total)}
<div class="box"><div class="head">${view.total} commits</div><table class="list">${view.commits.map((cm) => html`<tr><td>${commitLine(repo, cm)}</td></tr>`)}</table></div>
${diffView(repo, view.head.commit, view.files, view.truncated)}`,
    ),
  );
});

// ---- refs and archives ----------------------------------------------------------------

web.get("/:owner/:repo/branches", async (c) => {
  const repo = await openRepository(c);
  const branches = (await repo.stub.branchesView()) ?? [];
  const ci: Record<string, Combined> = (await repo.stub.combinedStatuses(branches.map((b) => b.commit.oid))) ?? {};
  const guarded = new Set(((await repo.stub.branchList()) ?? []).filter((b) => b.protected).map((b) => b.name));
  return c.html(
    page(
      c,
      `Branches · ${repo.name}`,
      html`${CHECKS_CSS}${repoHeader(repo, "branches")}<div class="box"><table class="list">${branches.map(
        (
          b,
        ) => html`<tr><td class="name"><a href="${repo.base}/tree/${enc(b.name)}">${b.name}</a> ${b.isDefault ? html`<span class="muted">default</span>` : ""}${guarded.has(b.name) ? html` <span class="protected" title="A branch protection rule covers this branch">protected</span>` : ""}${statusIcon(ci[b.commit.oid])}</td>
<td class="msg">${b.commit.subject}</td><td class="age">${b.isDefault ? "" : html`<a href="${repo.base}/compare/${enc(repo.summary.defaultBranch ?? "")}...${enc(b.name)}">${b.ahead} ahead, ${b.behind} behind</a> · `}${relativeTime(b.commit.committer.timestamp)}</td></tr>`,
      )}</table></div>`,
    ),
  );
});

web.get("/:owner/:repo/tags", async (c) => {
  const repo = await openRepository(c);
  const tags = (await repo.stub.tagsView()) ?? [];
  return c.html(
    page(
      c,
      `Tags · ${repo.name}`,
      html`${repoHeader(repo, "tags")}<div class="box"><table class="list">${
        tags.length
          ? tags.map(
              (
                t,
              ) => html`<tr><td class="name"><a href="${repo.base}/tree/${enc(t.name)}">${t.name}</a></td><td class="msg">${t.commit?.subject ?? ""}</td>
<td class="age">${t.commit ? relativeTime(t.commit.committer.timestamp) : ""} · <a href="${repo.base}/archive/${enc(t.name)}.tar.gz">tar.gz</a> · <a href="${repo.base}/archive/${enc(t.name)}.zip">zip</a></td></tr>`,
            )
          : html`<tr><td class="notice">No tags yet.</td></tr>`
      }</table></div>`,
    ),
  );
});

// The selector's names on demand (./ref-selector.ts), behind the pages' access check.
web.get("/:owner/:repo/refs.json", async (c) => {
  const repo = await openRepository(c);
  return c.json(matchRefs(repo.summary, c.req.query("q") ?? ""));
});

web.get("/:owner/:repo/archive/*", async (c) => {
  const repo = await openRepository(c);
  const spec = restOf(c, "archive").join("/");
  const m = /^(.+)\.(tar\.gz|zip)$/.exec(spec);
  if (!m) return plainText(404, "Not found");
  const archive = await repo.stub.archive(m[1], m[2], repo.name);
  if (archive.kind === "refused" && archive.status === 404) {
    const choices = await ambiguityPage(c, repo, m[1], (oid) => `${repo.base}/archive/${oid}.${m[2]}`);
    if (choices) return choices;
  }
  return download(archive);
});
