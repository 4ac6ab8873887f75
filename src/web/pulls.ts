// Pull request pages in GitHub's URL shapes: the list (`/:o/:r/pulls`, the issue list's
// filter box), opening one from the compare page (POST `/:o/:r/pulls`; `/pull/new/:branch`
// goes to that compare page, as the link git prints after a push), a pull request's
// conversation, commits and files (./pull-page.ts), and the forms that page posts:
// comment, close and reopen, merge (writers; the head the page showed guards it), delete
// the merged branch. Comments, labels and assignees are the issue's, on the same number,
// so their edit forms are the issue pages' own. Every route passes the one access check
// through `openRepository`; who may do what is src/access/issues.ts.
import { pullHeadFork } from "../access/forks";
import { allows } from "../access/roles";
import { emitComment, emitPull, moveOrigin } from "../api/v3/hook-events";
import { Hono, type Context } from "hono";
import type { Env } from "../util/env";
import { type Participant, participant, requireAuthorOrWriter, requireWriter, spendCreation } from "../access/issues";
import type { Issue, Pull } from "../repo/collab";
import type { MergeMethod } from "../repo/pulls";
import { bodyProblem, commentProblem, titleProblem } from "../repo/collab/validate";
import { RateLimited, callerOf, userOf } from "../auth/caller";
import { HttpError, NotFound } from "../http/responses";
import { type Html, csrfField, html, page, relativeTime } from "./layout";
import { readForm } from "./forms";
import { pageError } from "./errors";
import { type Repo, openRepository, repoHeader } from "./routes";
import { parseSearch, withState } from "./issue-query";
import { ISSUE_CSS, labelChip, stateDot } from "./issue-html";
import { type PullFields, pullForm } from "./pull-form";
import { PULL_CSS, pullCommitsPage, pullFilesPage, pullPage } from "./pull-page";
import { REVIEW_CSS, decisionChip } from "./review-html";

export const pullsWeb = new Hono<{ Bindings: Env }>();
pullsWeb.onError(pageError);
type C = Context<{ Bindings: Env }>;

const PER_PAGE = 25;
const DEFAULT_Q = "is:pr is:open";
const METHODS: MergeMethod[] = ["merge", "squash", "rebase"];

const errorNotice = (message: string, extra?: Html) => html`<div class="error" role="alert">${message}${extra ?? ""}</div>`;
const actor = (p: Participant) => ({ id: p.id, login: p.login });

function pullNumber(c: C): number {
  const v = c.req.param("number") ?? "";
  if (!/^\d{1,9}$/.test(v)) throw new NotFound("No such pull request.");
  return Number(v);
}

async function withinQuota(c: C, p: Participant): Promise<string | null> {
  try {
    await spendCreation(c.env, p);
    return null;
  } catch (e) {
    if (e instanceof RateLimited) return e.message;
    throw e;
  }
}

// ---- the list -----------------------------------------------------------------------

function pullRow(base: string, i: Issue, pull: Pull | undefined, decision?: string | null): Html {
  const state = pull?.merged ? "merged" : i.state === "open" ? "open" : "closed-pr";
  const when = pull?.merged
    ? html`merged ${relativeTime((pull.mergedAt ?? i.updatedAt) / 1000)}`
    : i.state === "open"
      ? html`opened ${relativeTime(i.createdAt / 1000)}`
      : html`closed ${relativeTime((i.closedAt ?? i.updatedAt) / 1000)}`;
  return html`<tr><td>${stateDot(state)}<a href="${base}/pull/${i.number}"><b>${i.title}</b></a> ${i.labels.map((l) => labelChip(l, base))}${i.state === "open" ? decisionChip(decision) : ""}
<div class="muted">#${i.number} ${when} by <a href="/${i.author.login}">${i.author.login}</a>${pull ? html` · <code>${pull.head}</code> → <code>${pull.base}</code>` : ""}</div></td>
<td class="age">${pull?.merged ? "Merged" : ""}${i.comments ? ` ${i.comments} comment${i.comments === 1 ? "" : "s"}` : ""}</td></tr>`;
}

pullsWeb.get("/:owner/:repo/pulls", async (c) => {
  const repo = await openRepository(c);
  const q = c.req.query("q") ?? DEFAULT_Q;
  const pageNo = Math.max(1, Math.floor(Number(c.req.query("page") ?? 1)) || 1);
  const filter = { ...parseSearch(q), kind: "pull" as const };
  const list = (await repo.stub.listIssues({ ...filter, offset: (pageNo - 1) * PER_PAGE, limit: PER_PAGE })) ?? {
    items: [],
    total: 0,
    open: 0,
    closed: 0,
  };
  const records = new Map(((await repo.stub.pullRecords(list.items.map((i) => i.number))) ?? []).map((p) => [p.issue.number, p]));
  const decisions: Record<number, string | null> = (await repo.stub.reviewDecisions(list.items.map((i) => i.number))) ?? {};
  const href = (query: string, p = 1) => `${repo.base}/pulls?q=${encodeURIComponent(query)}${p > 1 ? `&page=${p}` : ""}`;
  const current = (s: string) => (filter.state === s ? html` aria-current="true"` : "");
  const pages = Math.ceil(list.total / PER_PAGE);
  const def = repo.summary.defaultBranch;
  return c.html(
    page(
      c,
      `Pull requests · ${repo.owner}/${repo.name}`,
      html`${ISSUE_CSS}${PULL_CSS}${REVIEW_CSS}${repoHeader(repo, "pulls")}
<form method="get" action="${repo.base}/pulls" class="filter"><input type="text" name="q" value="${q}" aria-label="Filter pull requests"><button type="submit">Filter</button>
<a class="btn" href="${repo.base}/labels">Labels</a>${def ? html` <a class="btn" href="${repo.base}/branches">New pull request</a>` : ""}</form>
<div class="box"><div class="head counts"><a href="${href(withState(q, "open"))}"${current("open")}>${stateDot("open")}${list.open} Open</a><a href="${href(withState(q, "closed"))}"${current("closed")}>${stateDot("closed-pr")}${list.closed} Closed</a></div>
<table class="list">${list.items.length ? list.items.map((i) => pullRow(repo.base, i, records.get(i.number), decisions[i.number])) : html`<tr><td class="notice">No pull requests match this search. To open one, push a branch and compare it with <code>${def ?? "the default branch"}</code> from the <a href="${repo.base}/branches">branches</a> page.</td></tr>`}</table></div>
<p>${pageNo > 1 ? html`<a class="btn" href="${href(q, pageNo - 1)}">Previous</a>` : ""} ${pageNo < pages ? html`<a class="btn" href="${href(q, pageNo + 1)}">Next</a>` : ""}</p>`,
    ),
  );
});

// ---- opening one ----------------------------------------------------------------------

// The address git prints after pushing a new branch: the compare page with the form.
pullsWeb.get("/:owner/:repo/pull/new/*", async (c) => {
  const repo = await openRepository(c);
  const prefix = `/${c.req.param("owner")}/${c.req.param("repo")}/pull/new/`;
  const path = new URL(c.req.url).pathname;
  const branch = path.startsWith(prefix) ? path.slice(prefix.length) : "";
  const def = repo.summary.defaultBranch;
  if (!branch || !def) throw new NotFound("No such branch.");
  // In a fork, a pull request goes to the parent, as on GitHub.
  const parent = repo.record.parent;
  if (parent) return c.redirect(`/${parent.fullName}/compare/${encodeURIComponent(def)}...${repo.owner}:${branch}`, 302);
  return c.redirect(`${repo.base}/compare/${encodeURIComponent(def)}...${branch}`, 302);
});

async function newPullPage(c: C, repo: Repo, f: PullFields, notice: Html, status: 422 | 429) {
  return c.html(
    page(
      c,
      `Open a pull request · ${repo.owner}/${repo.name}`,
      html`${ISSUE_CSS}${repoHeader(repo, "pulls")}${notice}${pullForm(repo.base, csrfField(c, await callerOf(c)), f)}
<p><a href="${repo.base}/compare/${encodeURIComponent(f.base)}...${encodeURIComponent(f.head)}">Back to the comparison</a></p>`,
    ),
    status,
  );
}

pullsWeb.post("/:owner/:repo/pulls", async (c) => {
  const repo = await openRepository(c);
  const { form } = await readForm(c);
  const p = participant(repo.grant);
  const f: PullFields = { base: form.base ?? "", head: form.head ?? "", title: form.title ?? "", body: form.body ?? "" };
  // `forkowner:branch`: a head in a fork, which needs read on the fork rather than write here.
  const colon = f.head.indexOf(":");
  const fork = colon > 0 ? await pullHeadFork(c.env, repo.grant, f.head.slice(0, colon)) : null;
  if (colon > 0 && !fork) throw new NotFound("No such fork.");
  if (!fork) requireWriter(repo.grant, p);
  const problem = titleProblem(f.title) ?? bodyProblem(f.body);
  if (problem) return newPullPage(c, repo, f, errorNotice(problem.message), 422);
  const limited = await withinQuota(c, p);
  if (limited) return newPullPage(c, repo, f, errorNotice(limited), 429);
  const r = fork
    ? await repo.stub.createForkPull(actor(p), {
        title: f.title,
        body: f.body,
        base: f.base,
        headRepo: { ...fork, branch: f.head.slice(colon + 1) },
      })
    : await repo.stub.createPull(actor(p), f);
  if (!r) throw new NotFound();
  if (!r.ok) return newPullPage(c, repo, f, errorNotice(r.message), 422);
  await emitPull(c, repo.grant, actor(p), r.value.issue.number, [{ action: "opened" }]);
  return c.redirect(`${repo.base}/pull/${r.value.issue.number}`, 303);
});

// ---- a pull request -------------------------------------------------------------------

pullsWeb.get("/:owner/:repo/pull/:number", async (c) => pullPage(c, await openRepository(c), pullNumber(c)));
pullsWeb.get("/:owner/:repo/pull/:number/commits", async (c) => pullCommitsPage(c, await openRepository(c), pullNumber(c)));
pullsWeb.get("/:owner/:repo/pull/:number/files", async (c) => pullFilesPage(c, await openRepository(c), pullNumber(c)));

/** The repository, the posted form, the participant and the pull request a form post is about. */
async function posted(c: C) {
  const repo = await openRepository(c);
  const { form } = await readForm(c);
  const p = participant(repo.grant);
  const number = pullNumber(c);
  const pull = await repo.stub.pull(number);
  if (!pull) throw new NotFound("No such pull request.");
  return { repo, form, p, number, pull };
}

pullsWeb.post("/:owner/:repo/pull/:number/comments", async (c) => {
  const { repo, form, p, number, pull } = await posted(c);
  const body = form.body ?? "";
  const action = form.action ?? "comment";
  if (action !== "comment") requireAuthorOrWriter(repo.grant, p, pull.issue.author);
  let anchor = "";
  if (body.trim() || action === "comment") {
    const problem = commentProblem(body);
    if (problem) return pullPage(c, repo, number, { notice: errorNotice(problem.message), draft: body, status: 422 });
    const limited = await withinQuota(c, p);
    if (limited) return pullPage(c, repo, number, { notice: errorNotice(limited), draft: body, status: 429 });
    const r = await repo.stub.addIssueComment(number, actor(p), body);
    if (!r?.ok) return pullPage(c, repo, number, { notice: errorNotice(r?.message ?? "No such pull request."), draft: body, status: 422 });
    anchor = `#issuecomment-${r.value.id}`;
    await emitComment(c, repo.grant, actor(p), "created", r.value);
  }
  if (action === "close" || action === "reopen") {
    const r = await repo.stub.updatePull(number, actor(p), { state: action === "reopen" ? "open" : "closed" });
    if (!r) throw new NotFound("No such pull request.");
    if (!r.ok) return pullPage(c, repo, number, { notice: errorNotice(r.message), status: r.code === "not-found" ? 404 : 422 });
    if (pull.issue.state !== (action === "reopen" ? "open" : "closed"))
      await emitPull(c, repo.grant, actor(p), number, [{ action: action === "reopen" ? "reopened" : "closed" }]);
  }
  return c.redirect(`${repo.base}/pull/${number}${anchor}`, 303);
});

pullsWeb.post("/:owner/:repo/pull/:number/merge", async (c) => {
  const { repo, form, p, number, pull } = await posted(c);
  requireWriter(repo.grant, p);
  const method = form.method as MergeMethod;
  if (!METHODS.includes(method)) throw new HttpError(422, "Choose a merge method: merge, squash or rebase.");
  if (!/^[0-9a-f]{40}$/.test(form.sha ?? "")) throw new HttpError(422, "The form did not say which head commit to merge; reload the page.");
  const user = userOf(repo.grant.caller);
  const r = await repo.stub.mergePullRequest(
    number,
    actor(p),
    {
      method,
      sha: form.sha,
      committer: { name: p.login, email: user?.email ?? `${p.login}@users.noreply.gitflare` },
      when: { seconds: Math.floor(Date.now() / 1000), timezone: "+0000" },
      headLabel: pull.headRepo ? `${pull.head.replace(":", "/")}` : `${repo.owner}/${pull.head}`,
      admin: allows(repo.grant.role, "admin"),
    },
    moveOrigin(c, repo.grant),
  );
  if (!r) throw new NotFound("No such pull request.");
  if (r.merged) {
    await emitPull(c, repo.grant, actor(p), number, [{ action: "closed" }]);
    return c.redirect(`${repo.base}/pull/${number}`, 303);
  }
  const status = ([404, 405, 409, 422] as const).find((s) => s === r.status) ?? 422;
  const message =
    status === 409
      ? "The head branch moved since this page was loaded, so nothing was merged. Review the new commits below and merge again."
      : r.message;
  const conflicts = r.conflicts?.length ? html` Conflicting files: <code>${r.conflicts.join(", ")}</code>.` : undefined;
  return pullPage(c, repo, number, { notice: errorNotice(message, conflicts), status });
});

pullsWeb.post("/:owner/:repo/pull/:number/delete-branch", async (c) => {
  const { repo, form, p, number, pull } = await posted(c);
  requireWriter(repo.grant, p);
  if (pull.issue.state === "open")
    return pullPage(c, repo, number, { notice: errorNotice("Merge or close the pull request before deleting its branch."), status: 422 });
  const r = await repo.stub.deleteBranch(pull.head, form.oid ?? "", p.login, allows(repo.grant.role, "admin"));
  if (!r.ok) return pullPage(c, repo, number, { notice: errorNotice(r.message), status: r.status });
  return c.redirect(`${repo.base}/pull/${number}`, 303);
});
