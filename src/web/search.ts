// Search pages: a repository's code (`/:owner/:repo/search?q=`, the default branch or
// `ref=`), and the site-wide search (`/search?q=&type=repositories|issues`) over what
// the caller may read. Matching lines are escaped, with each match in <mark>, and link
// to the line in the blob.
import { type Context, Hono } from "hono";
import { searchIssues, searchRepos } from "../access/search";
import { callerOf } from "../auth/caller";
import { HttpError } from "../http/responses";
import type { CodeHit, CodeResults } from "../repo/search/code-index";
import { parseCodeQuery } from "../repo/search/query";
import type { Env } from "../util/env";
import { type Html, html, page, relativeTime } from "./layout";
import { pageError } from "./errors";
import { openRepository, repoHeader } from "./routes";

export const searchPages = new Hono<{ Bindings: Env }>();
searchPages.onError(pageError);

type C = Context<{ Bindings: Env }>;
const PER_PAGE = 20;
const enc = (p: string) => p.split("/").map(encodeURIComponent).join("/");

const CSS = html`<style>
.search-form{display:flex;gap:.5rem;margin:1rem 0}.search-form input[type=search]{flex:1}
.hit{margin-bottom:1rem}.hit table{border-collapse:collapse;width:100%;font-family:ui-monospace,monospace;font-size:12px}
.hit td.ln{width:1%;text-align:right;padding:0 .5rem;user-select:none}.hit td.ln a{color:inherit}
.hit td.code{white-space:pre-wrap;word-break:break-all}mark{background:#fff3a0;color:inherit}
.pager{display:flex;gap:1rem;margin:1rem 0}
</style>`;

function pageNumber(c: C): number {
  return Math.min(1000, Math.max(1, Math.floor(Number(c.req.query("page") ?? 1)) || 1));
}

/** `line` with each [start, end) range in <mark>, every part escaped. */
function marked(text: string, ranges: number[][]): Html {
  const parts: Html[] = [];
  let at = 0;
  for (const [start, end] of ranges) {
    if (start < at) continue;
    parts.push(html`${text.slice(at, start)}<mark>${text.slice(start, end)}</mark>`);
    at = end;
  }
  parts.push(html`${text.slice(at)}`);
  return html`${parts}`;
}

function hitBox(base: string, commit: string, h: CodeHit): Html {
  const blob = `${base}/blob/${commit}/${enc(h.path)}`;
  const more = h.matchingLines - h.lines.length;
  return html`<div class="box hit"><div class="head"><a href="${blob}">${h.path}</a></div><table>${h.lines.map(
    (l) =>
      html`<tr><td class="ln"><a href="${blob}#L${l.number}">${l.number}</a></td><td class="code">${marked(l.text, l.ranges)}</td></tr>`,
  )}</table>${more > 0 ? html`<div class="muted" style="padding:.25rem .5rem">${more} more matching line${more === 1 ? "" : "s"}</div>` : ""}</div>`;
}

function pager(c: C, total: number, at: number): Html {
  const last = Math.ceil(total / PER_PAGE);
  const link = (n: number) => {
    const url = new URL(c.req.url);
    url.searchParams.set("page", String(n));
    return url.pathname + url.search;
  };
  return html`<nav class="pager">${at > 1 ? html`<a href="${link(at - 1)}" rel="prev">Previous</a>` : ""}${at < last ? html`<a href="${link(at + 1)}" rel="next">Next</a>` : ""}</nav>`;
}

function notice(results: CodeResults): Html {
  if (!results.indexed) return html`<p class="notice">The branch ${results.branch} is being indexed for search; try again in a moment.</p>`;
  if (results.indexed !== results.head)
    return html`<p class="notice">The search index is catching up with the latest commit; these results are from <code>${results.indexed.slice(0, 7)}</code>.</p>`;
  return html``;
}

searchPages.get("/:owner/:repo/search", async (c) => {
  const repo = await openRepository(c);
  const q = (c.req.query("q") ?? "").trim();
  const ref = c.req.query("ref") || null;
  const form = html`<form class="search-form" method="get" action="${repo.base}/search"><input type="search" name="q" value="${q}" placeholder="Search this repository" aria-label="Search code">${ref ? html`<input type="hidden" name="ref" value="${ref}">` : ""}<button type="submit">Search</button></form>`;
  const title = `Search · ${repo.owner}/${repo.name}`;
  if (!q) return c.html(page(c, title, html`${CSS}${repoHeader(repo, "search")}${form}`));
  const parsed = parseCodeQuery(q);
  if (!parsed.ok)
    return c.html(page(c, title, html`${CSS}${repoHeader(repo, "search")}${form}<p class="notice">${parsed.message}</p>`), 422);
  const at = pageNumber(c);
  const results = await repo.stub.codeSearch(ref, parsed.query, (at - 1) * PER_PAGE, PER_PAGE);
  if (!results) throw new HttpError(404, ref ? `There is no branch ${ref}.` : "This repository is empty.");
  const commit = results.indexed ?? results.head ?? "";
  const body = html`${CSS}${repoHeader(repo, "search")}${form}${notice(results)}
<p><strong>${results.total}</strong> file${results.total === 1 ? "" : "s"} on <code>${results.branch}</code> match</p>
${results.hits.map((h) => hitBox(repo.base, commit, h))}${pager(c, results.total, at)}`;
  return c.html(page(c, title, body));
});

searchPages.get("/search", async (c) => {
  const q = (c.req.query("q") ?? "").trim();
  const type = c.req.query("type") === "issues" ? "issues" : "repositories";
  const at = pageNumber(c);
  const tab = (t: string, label: string) =>
    html`<a href="/search?q=${encodeURIComponent(q)}&type=${t}"${t === type ? html` aria-current="page" style="font-weight:600"` : ""}>${label}</a>`;
  const head = html`${CSS}<h1>Search</h1><form class="search-form" method="get" action="/search"><input type="search" name="q" value="${q}" placeholder="Search repositories and issues" aria-label="Search"><input type="hidden" name="type" value="${type}"><button type="submit">Search</button></form>
<nav class="tabs">${tab("repositories", "Repositories")}${tab("issues", "Issues and pull requests")}</nav>`;
  if (!q) return c.html(page(c, "Search", head));
  const caller = await callerOf(c);
  if (type === "repositories") {
    const found = await searchRepos(c.env.DB, caller, q, (at - 1) * PER_PAGE, PER_PAGE);
    if (!found.ok) return c.html(page(c, "Search", html`${head}<p class="notice">${found.message}</p>`), 422);
    const rows = found.items.map(
      (r) =>
        html`<tr><td class="name"><a href="/${r.owner}/${r.name}">${r.owner}/${r.name}</a>${r.isPrivate ? html` <span class="badge">Private</span>` : ""}</td><td class="msg">${r.description}</td></tr>`,
    );
    return c.html(
      page(
        c,
        "Search",
        html`${head}<p>${found.total} repositor${found.total === 1 ? "y" : "ies"}</p><div class="box"><table class="list">${rows}</table></div>${pager(c, found.total, at)}`,
      ),
    );
  }
  const found = await searchIssues(c.env.DB, caller, q, (at - 1) * PER_PAGE, PER_PAGE);
  if (!found.ok) return c.html(page(c, "Search", html`${head}<p class="notice">${found.message}</p>`), 422);
  const rows = found.items.map(
    (i) =>
      html`<tr><td class="name"><a href="/${i.owner}/${i.name}/${i.isPull ? "pull" : "issues"}/${i.number}">${i.title}</a> <span class="muted">${i.owner}/${i.name}#${i.number}</span></td><td class="msg">${i.isPull ? "Pull request" : "Issue"} · ${i.state}</td><td class="age">${relativeTime(i.updatedAt / 1000)}</td></tr>`,
  );
  return c.html(
    page(
      c,
      "Search",
      html`${head}<p>${found.total} result${found.total === 1 ? "" : "s"}</p><div class="box"><table class="list">${rows}</table></div>${pager(c, found.total, at)}`,
    ),
  );
});
