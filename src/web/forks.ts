// Fork pages: the form that forks a repository into the visitor's account
// (`/:owner/:repo/fork`) and the fork network (`/:owner/:repo/forks`). Forking needs read
// access (the one access check) and a signed-in session.
import { Hono, type Context } from "hono";
import type { Env } from "../util/env";
import { ForkError, forkRepository } from "../access/forks";
import { listForks } from "../access/repos";
import { callerOf, userOf } from "../auth/caller";
import { HttpError, Unauthenticated } from "../http/responses";
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
      html`${repoHeader(repo, "code")}<div class="box"><div class="head">Forks of ${repo.owner}/${repo.name}</div><table class="list">${
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
