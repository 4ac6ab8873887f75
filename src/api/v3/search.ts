// GitHub's search API:
//   GET /search/code?q=...+repo:owner/name   (the repository's default branch; text_matches
//                                             with Accept: application/vnd.github.text-match+json)
//   GET /search/repositories?q=...           (names and descriptions)
//   GET /search/issues?q=...                 (issue and pull request titles and bodies)
// Code search goes through the one access check for the repository it names; the
// site-wide searches filter by what the caller may read inside their SQL
// (src/access/search.ts), so private repositories and their issues never show.
import { type Context, Hono } from "hono";
import { checkAccess } from "../../access/check";
import { searchIssues, searchRepos } from "../../access/search";
import { callerOf } from "../../auth/caller";
import type { CodeHit } from "../../repo/search/code-index";
import { parseCodeQuery } from "../../repo/search/query";
import type { Env } from "../../util/env";
import { GitHubError } from "./errors";
import { linkHeader, paging } from "./paging";
import { repoJson } from "./pull-shapes";
import { type Where, userJson } from "./shapes";

export const search = new Hono<{ Bindings: Env }>();

/** GitHub answers this for a repo: qualifier naming nothing the caller may search, private or missing alike. */
const CANNOT_SEARCH =
  "The listed users and repositories cannot be searched either because the resources do not exist or you do not have permission to view them.";

function invalidQuery(message: string): GitHubError {
  return new GitHubError(422, "Validation Failed", [{ resource: "Search", field: "q", code: "invalid", message }]);
}

const time = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"));

function whereFor(c: Context, owner: string, name: string, id: number): Where {
  const origin = new URL(c.req.url).origin;
  const api = `${origin}/api/v3`;
  return { origin, api, repo: `${api}/repos/${owner}/${name}`, html: `${origin}/${owner}/${name}`, repoId: id };
}

search.get("/search/code", async (c) => {
  const parsed = parseCodeQuery(c.req.query("q") ?? "");
  if (!parsed.ok) throw invalidQuery(parsed.message);
  const { query } = parsed;
  if (!query.repos.length) throw invalidQuery("Must include at least one user, organization, or repository");
  if (query.repos.length > 1) throw invalidQuery("Search one repository at a time: give one repo: qualifier.");
  const [owner, repo, extra] = query.repos[0].split("/");
  const access = owner && repo && extra === undefined ? await checkAccess(c, "read", { owner, repo }) : null;
  if (!access?.ok) throw invalidQuery(CANNOT_SEARCH);
  const p = paging(c);
  const results = await access.stub.codeSearch(null, query, p.offset, p.perPage);
  const w = whereFor(c, access.repo.owner, access.repo.name, access.repo.id);
  const repository = repoJson(w, {
    id: access.repo.id,
    owner: { id: access.repo.ownerId, login: access.repo.owner },
    name: access.repo.name,
    isPrivate: access.repo.isPrivate,
  });
  const textMatches = (c.req.header("Accept") ?? "").includes("text-match");
  const item = (h: CodeHit, commit: string) => ({
    name: h.path.slice(h.path.lastIndexOf("/") + 1),
    path: h.path,
    sha: h.sha,
    url: `${w.repo}/contents/${encodePath(h.path)}?ref=${commit}`,
    git_url: `${w.repo}/git/blobs/${h.sha}`,
    html_url: `${w.html}/blob/${commit}/${encodePath(h.path)}`,
    repository,
    score: 1,
    ...(textMatches
      ? {
          text_matches: h.lines.map((l) => ({
            object_url: `${w.repo}/git/blobs/${h.sha}`,
            object_type: "FileContent",
            property: "content",
            fragment: l.text,
            matches: l.ranges.map(([s, e]) => ({ text: l.text.slice(s, e), indices: [s, e] })),
          })),
        }
      : {}),
  });
  const total = results?.total ?? 0;
  linkHeader(c, p, Math.min(total, 1000));
  return c.json({
    total_count: total,
    // The index follows pushes in the background: until it has caught up, the results come from an older commit.
    incomplete_results: !!results && results.indexed !== results.head,
    items: results?.indexed ? results.hits.map((h) => item(h, results.indexed as string)) : [],
  });
});

function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

search.get("/search/repositories", async (c) => {
  const q = (c.req.query("q") ?? "").trim();
  if (!q) throw invalidQuery("Search for some text.");
  const p = paging(c);
  const found = await searchRepos(c.env.DB, await callerOf(c), q, p.offset, p.perPage);
  if (!found.ok) throw invalidQuery(found.message);
  linkHeader(c, p, Math.min(found.total, 1000));
  return c.json({
    total_count: found.total,
    incomplete_results: false,
    items: found.items.map((r) => {
      const w = whereFor(c, r.owner, r.name, r.id);
      return {
        ...repoJson(w, { id: r.id, owner: { id: r.ownerId, login: r.owner }, name: r.name, isPrivate: r.isPrivate }),
        description: r.description || null,
        created_at: time(r.createdAt),
        pushed_at: time(r.pushedAt),
        score: 1,
      };
    }),
  });
});

search.get("/search/issues", async (c) => {
  const q = (c.req.query("q") ?? "").trim();
  if (!q) throw invalidQuery("Search for some text.");
  const p = paging(c);
  const found = await searchIssues(c.env.DB, await callerOf(c), q, p.offset, p.perPage);
  if (!found.ok) throw invalidQuery(found.message);
  linkHeader(c, p, Math.min(found.total, 1000));
  return c.json({
    total_count: found.total,
    incomplete_results: false,
    items: found.items.map((i) => {
      const w = whereFor(c, i.owner, i.name, i.repoId);
      const kind = i.isPull ? "pull" : "issues";
      return {
        url: `${w.repo}/issues/${i.number}`,
        repository_url: w.repo,
        html_url: `${w.html}/${kind}/${i.number}`,
        number: i.number,
        title: i.title,
        body: i.body,
        state: i.state,
        user: userJson(w, { id: i.authorId, login: i.authorLogin }),
        created_at: time(i.createdAt),
        updated_at: time(i.updatedAt),
        ...(i.isPull ? { pull_request: { url: `${w.repo}/pulls/${i.number}`, html_url: `${w.html}/pull/${i.number}` } } : {}),
        score: 1,
      };
    }),
  });
});
