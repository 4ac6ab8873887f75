// Fork pages: the form that forks a repository into the visitor's account
// (`/:owner/:repo/fork`) and the fork network (`/:owner/:repo/forks`). Forking needs read
// access (the one access check) and a signed-in session.
import { Hono, type Context } from "hono";
import type { Env } from "../util/env";
import { ForkError, forkRepository, pullHeadFork } from "../access/forks";
import { viewer } from "../access/issues";
import { pullForm } from "./pull-form";
import { listForks } from "../access/repos";
import { callerOf, userOf } from "../auth/caller";
import { HttpError, NotFound, Unauthenticated } from "../http/responses";
import { type Html, csrfField, html, page, relativeTime } from "./layout";
import { readForm } from "./forms";
import { type Repo, openRepository, repoHeader } from "./routes";
import { pageError } from "./errors";

export const forksWeb = new Hono<{ Bindings: Env }>();
forksWeb.onError(pageError);
type C = Context<{ Bindings: Env }>;

async function forkForm(c: C, repo: Repo, notice: Html = html``, status: 200 | 400 | 401 | 403 | 409 | 422 = 200, name = repo.name) {
  const caller = await callerOf(c);
  const user = userOf(caller);
  if (!user) throw new Unauthenticated();
  return c.html(
    page(
      c,
      `Fork ${repo.owner}/${repo.name}`,
      html`${repoHeader(repo, "code")}<h2>Create a fork</h2>${notice}<div class="box"><form method="post" action="${repo.base}/fork" class="stack">${csrfField(c, caller)}
<label>Owner <input type="text" value="${user.username}" disabled></label>
<label>Repository name <input type="text" name="name" value="${name}" required maxlength="100"></label>
<p class="muted">A fork is a copy of the repository's branches and tags as they are now, in your account${repo.record.isPrivate ? html`; a fork of a private repository stays private` : ""}.</p>
<button type="submit">Create fork</button></form></div>`,
    ),
    status,
  );
}

forksWeb.get("/:owner/:repo/fork", async (c) => forkForm(c, await openRepository(c)));

forksWeb.post("/:owner/:repo/fork", async (c) => {
  const repo = await openRepository(c);
  const { form } = await readForm(c);
  try {
    const { fork } = await forkRepository(c.env, repo.grant, form.name ?? "");
    return c.redirect(`/${fork.owner}/${fork.name}`, 303);
  } catch (e) {
    if (!(e instanceof ForkError)) throw e;
    if (e.status === 401) throw new Unauthenticated();
    if (e.status === 403) throw new HttpError(403, e.message);
    return forkForm(c, repo, html`<div class="error" role="alert">${e.message}</div>`, e.status, form.name ?? repo.name);
  }
});

forksWeb.get("/:owner/:repo/forks", async (c) => {
  const repo = await openRepository(c);
  const viewer = userOf(await callerOf(c));
  const forks = await listForks(c.env.DB, repo.record.id, viewer, { offset: 0, limit: 100 });
  return c.html(
    page(
      c,
      `Forks · ${repo.owner}/${repo.name}`,
      html`${repoHeader(repo, "code")}${comparePicker(
        repo,
        forks.map((f) => f.owner),
      )}<div class="box"><div class="head">Forks of ${repo.owner}/${repo.name}</div><table class="list">${
        forks.length
          ? forks.map(
              (f) =>
                html`<tr><td class="name"><a href="/${f.owner}/${f.name}">${f.owner}/${f.name}</a>${f.isPrivate ? html` <span class="badge">Private</span>` : ""}</td><td class="age">forked ${relativeTime(f.createdAt / 1000)}</td></tr>`,
            )
          : html`<tr><td class="notice">No forks yet.</td></tr>`
      }</table></div>`,
    ),
  );
});

/** The form that picks a fork's branch as a pull request's head: `forkowner:branch` into a branch here. */
function comparePicker(repo: Repo, owners: string[]): Html {
  if (!owners.length || !repo.summary.branches.length) return html``;
  return html`<div class="box"><form method="get" action="${repo.base}/forks/compare" class="stack"><b>Open a pull request from a fork</b>
<label>Base <select name="base">${repo.summary.branches.map((b) => html`<option${b === repo.summary.defaultBranch ? html` selected` : ""}>${b}</option>`)}</select></label>
<label>Head (<code>forkowner:branch</code>) <input type="text" name="head" value="${owners[0]}:" required></label>
<button type="submit">Compare</button></form></div>`;
}

forksWeb.get("/:owner/:repo/forks/compare", async (c) => {
  const repo = await openRepository(c);
  const base = c.req.query("base") ?? "";
  const head = c.req.query("head") ?? "";
  if (!base || !head.includes(":")) throw new HttpError(400, "Choose a base branch and a head as forkowner:branch.");
  return c.redirect(`${repo.base}/compare/${encodeURIComponent(base)}...${head.split("/").map(encodeURIComponent).join("/")}`, 302);
});

/**
 * The comparison with a head in a fork (`/compare/base...forkowner:branch`): the fork's
 * branch and the form that opens the pull request. Other comparisons are the code pages'.
 */
forksWeb.get("/:owner/:repo/compare/*", async (c, next) => {
  const prefix = `/${c.req.param("owner")}/${c.req.param("repo")}/compare/`;
  let path: string;
  try {
    path = decodeURIComponent(new URL(c.req.url).pathname);
  } catch {
    // A malformed escape names no fork: the code pages answer it.
    return next();
  }
  const [base, head] = path.startsWith(prefix) ? path.slice(prefix.length).split("...") : [];
  const colon = head?.indexOf(":") ?? -1;
  if (!base || colon <= 0) return next();
  const repo = await openRepository(c);
  const fork = await pullHeadFork(c.env, repo.grant, head.slice(0, colon));
  if (!fork) throw new NotFound(`No fork of ${repo.owner}/${repo.name} owned by ${head.slice(0, colon)} that you can see.`);
  const branch = head.slice(colon + 1);
  const me = viewer(repo.grant);
  const caller = await callerOf(c);
  return c.html(
    page(
      c,
      `Compare ${base}...${head}`,
      html`${repoHeader(repo, "pulls")}<h2>Comparing <code>${base}</code>...<code>${head}</code></h2>
<p class="muted">The head is the branch <a href="/${fork.fullName}/tree/${encodeURIComponent(branch)}"><code>${branch}</code></a> of the fork <a href="/${fork.fullName}">${fork.fullName}</a>; its commits come here when the pull request is opened.</p>
${me ? pullForm(repo.base, csrfField(c, caller), { base, head, title: branch, body: "" }) : html`<p><a href="/login?next=${encodeURIComponent(path)}">Sign in</a> to open a pull request.</p>`}`,
    ),
  );
});
