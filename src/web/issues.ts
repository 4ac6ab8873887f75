// Issue pages in GitHub's URL shapes: the list with its filter box (`/:o/:r/issues`),
// a new issue (`/issues/new`), an issue's conversation (`/issues/:n`), and the forms
// those pages post: comment, close and reopen, edit, labels, assignees, editing and
// deleting comments. Every route passes the one access check through `openRepository`;
// who may change what is src/access/issues.ts. Forms carry CSRF tokens (./forms.ts).
import { emitComment, emitIssue } from "../api/v3/hook-events";
import { Hono, type Context } from "hono";
import type { Env } from "../util/env";
import {
  type Participant,
  assignable,
  participant,
  requireAuthorOrWriter,
  requireWriter,
  resolveAssignees,
  spendCreation,
} from "../access/issues";
import type { Refused } from "../repo/collab";
import { MAX_BODY, MAX_TITLE, bodyProblem, commentProblem, titleProblem } from "../repo/collab/validate";
import { RateLimited, callerOf } from "../auth/caller";
import { HttpError, NotFound } from "../http/responses";
import { type Html, csrfField, html, page } from "./layout";
import { type Form, readForm } from "./forms";
import { pageError } from "./errors";
import { type Repo, openRepository, repoHeader } from "./routes";
import { DEFAULT_Q, parseSearch, withState } from "./issue-query";
import { ISSUE_CSS, issueRow, labelChip, stateDot } from "./issue-html";
import { issuePage } from "./issue-page";

export const issuesWeb = new Hono<{ Bindings: Env }>();
issuesWeb.onError(pageError);
type C = Context<{ Bindings: Env }>;

const PER_PAGE = 25;

const errorNotice = (message: string) => html`<div class="error" role="alert">${message}</div>`;
const actor = (p: Participant) => ({ id: p.id, login: p.login });

function issueNumber(c: C, name = "number"): number {
  const v = c.req.param(name) ?? "";
  if (!/^\d{1,9}$/.test(v)) throw new NotFound("No such issue.");
  return Number(v);
}

/** The values of the form's checkboxes named `prefix<something>`. */
const checked = (form: Form, prefix: string) =>
  Object.entries(form)
    .filter(([k]) => k.startsWith(prefix))
    .map(([, v]) => v);

/** Runs a creation against the account's quota; null when the quota is used up (the message). */
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

issuesWeb.get("/:owner/:repo/issues", async (c) => {
  const repo = await openRepository(c);
  const q = c.req.query("q") ?? DEFAULT_Q;
  const pageNo = Math.max(1, Math.floor(Number(c.req.query("page") ?? 1)) || 1);
  const list = (await repo.stub.listIssues({ ...parseSearch(q), offset: (pageNo - 1) * PER_PAGE, limit: PER_PAGE })) ?? {
    items: [],
    total: 0,
    open: 0,
    closed: 0,
  };
  const state = parseSearch(q).state;
  const href = (query: string, p = 1) => `${repo.base}/issues?q=${encodeURIComponent(query)}${p > 1 ? `&page=${p}` : ""}`;
  const current = (s: string) => (state === s ? html` aria-current="true"` : "");
  const pages = Math.ceil(list.total / PER_PAGE);
  return c.html(
    page(
      c,
      `Issues · ${repo.owner}/${repo.name}`,
      html`${ISSUE_CSS}${repoHeader(repo, "issues")}
<form method="get" action="${repo.base}/issues" class="filter"><input type="text" name="q" value="${q}" aria-label="Filter issues"><button type="submit">Filter</button>
<a class="btn" href="${repo.base}/labels">Labels</a> <a class="btn" href="${repo.base}/issues/new">New issue</a></form>
<div class="box"><div class="head counts"><a href="${href(withState(q, "open"))}"${current("open")}>${stateDot("open")}${list.open} Open</a><a href="${href(withState(q, "closed"))}"${current("closed")}>${stateDot("closed")}${list.closed} Closed</a></div>
<table class="list">${list.items.length ? list.items.map((i) => issueRow(repo.base, i)) : html`<tr><td class="notice">No issues match this search.</td></tr>`}</table></div>
<p>${pageNo > 1 ? html`<a class="btn" href="${href(q, pageNo - 1)}">Previous</a>` : ""} ${pageNo < pages ? html`<a class="btn" href="${href(q, pageNo + 1)}">Next</a>` : ""}</p>`,
    ),
  );
});

// ---- a new issue --------------------------------------------------------------------

async function newIssuePage(c: C, repo: Repo, p: Participant, form: Form = {}, notice?: Html, status: 200 | 400 | 422 | 429 = 200) {
  const [labels, people] = p.triage ? await Promise.all([repo.stub.labels(), assignable(c.env, repo.grant)]) : [[], []];
  const box = (name: string, value: string, label: Html) =>
    html`<label class="check"><input type="checkbox" name="${name}" value="${value}"${form[name] ? html` checked` : ""}> ${label}</label>`;
  return c.html(
    page(
      c,
      `New issue · ${repo.owner}/${repo.name}`,
      html`${ISSUE_CSS}${repoHeader(repo, "issues")}${notice ?? ""}<div class="box"><form method="post" action="${repo.base}/issues" class="stack" style="max-width:none">${csrfField(c, await callerOf(c))}
<label>Title <input type="text" name="title" value="${form.title ?? ""}" maxlength="${MAX_TITLE}" required autofocus></label>
<label>Description <textarea name="body" maxlength="${MAX_BODY}" placeholder="Markdown: task lists, #123, @user, commit ids">${form.body ?? ""}</textarea></label>
${labels?.length ? html`<fieldset><legend>Labels</legend>${labels.map((l) => box(`label_${l.id}`, l.name, labelChip(l)))}</fieldset>` : ""}
${people.length ? html`<fieldset><legend>Assignees</legend>${people.map((a) => box(`assignee_${a.id}`, a.login, html`${a.login}`))}</fieldset>` : ""}
<button type="submit">Submit new issue</button></form></div>`,
    ),
    status,
  );
}

issuesWeb.get("/:owner/:repo/issues/new", async (c) => {
  const repo = await openRepository(c);
  return newIssuePage(c, repo, participant(repo.grant));
});

issuesWeb.post("/:owner/:repo/issues", async (c) => {
  const repo = await openRepository(c);
  const { form } = await readForm(c);
  const p = participant(repo.grant);
  const title = form.title ?? "";
  const body = form.body ?? "";
  const problem = titleProblem(title) ?? bodyProblem(body);
  if (problem) return newIssuePage(c, repo, p, form, errorNotice(problem.message), 422);
  const { people } = p.triage ? await resolveAssignees(c.env, repo.grant, checked(form, "assignee_")) : { people: [] };
  const limited = await withinQuota(c, p);
  if (limited) return newIssuePage(c, repo, p, form, errorNotice(limited), 429);
  const r = await repo.stub.createIssue(actor(p), { title, body, labels: p.triage ? checked(form, "label_") : [], assignees: people });
  if (!r) throw new NotFound();
  if (!r.ok) return newIssuePage(c, repo, p, form, errorNotice(r.message), 422);
  await emitIssue(c, repo.grant, actor(p), null, r.value);
  return c.redirect(`${repo.base}/issues/${r.value.number}`, 303);
});

// ---- an issue -----------------------------------------------------------------------

issuesWeb.get("/:owner/:repo/issues/:number", async (c) => issuePage(c, await openRepository(c), issueNumber(c)));

/** The repository, the posted form, the participant and the issue a form post is about. */
async function posted(c: C) {
  const repo = await openRepository(c);
  const { form } = await readForm(c);
  const p = participant(repo.grant);
  const number = issueNumber(c);
  const issue = await repo.stub.issue(number);
  if (!issue) throw new NotFound("No such issue.");
  return { repo, form, p, number, issue };
}

const refusedStatus = (r: Refused) => (r.code === "not-found" ? 404 : 422);

issuesWeb.post("/:owner/:repo/issues/:number/comments", async (c) => {
  const { repo, form, p, number, issue } = await posted(c);
  const body = form.body ?? "";
  const action = form.action ?? "comment";
  if (action !== "comment") requireAuthorOrWriter(repo.grant, p, issue.author);
  let anchor = "";
  if (body.trim() || action === "comment") {
    const problem = commentProblem(body);
    if (problem) return issuePage(c, repo, number, { notice: errorNotice(problem.message), draft: body, status: 422 });
    const limited = await withinQuota(c, p);
    if (limited) return issuePage(c, repo, number, { notice: errorNotice(limited), draft: body, status: 429 });
    const r = await repo.stub.addIssueComment(number, actor(p), body);
    if (!r?.ok) return issuePage(c, repo, number, { notice: errorNotice(r?.message ?? "No such issue."), draft: body, status: 422 });
    anchor = `#issuecomment-${r.value.id}`;
    await emitComment(c, repo.grant, actor(p), "created", r.value);
  }
  if (action === "close" || action === "close-not-planned" || action === "reopen") {
    const r = await repo.stub.updateIssue(number, actor(p), {
      state: action === "reopen" ? "open" : "closed",
      stateReason: action === "close-not-planned" ? "not_planned" : action === "close" ? "completed" : "reopened",
    });
    if (!r?.ok) throw new HttpError(r ? refusedStatus(r) : 404, r?.message ?? "No such issue.");
    await emitIssue(c, repo.grant, actor(p), issue, r.value);
  }
  return c.redirect(`${repo.base}/issues/${number}${anchor}`, 303);
});

issuesWeb.post("/:owner/:repo/issues/:number/edit", async (c) => {
  const { repo, form, p, number, issue } = await posted(c);
  requireAuthorOrWriter(repo.grant, p, issue.author);
  const r = await repo.stub.updateIssue(number, actor(p), { title: form.title ?? issue.title, body: form.body ?? issue.body });
  if (!r?.ok) return issuePage(c, repo, number, { notice: errorNotice(r?.message ?? "No such issue."), edit: "issue", status: 422 });
  await emitIssue(c, repo.grant, actor(p), issue, r.value);
  return c.redirect(`${repo.base}/issues/${number}`, 303);
});

issuesWeb.post("/:owner/:repo/issues/:number/labels", async (c) => {
  const { repo, form, p, number, issue } = await posted(c);
  requireWriter(repo.grant, p);
  const r = await repo.stub.updateIssue(number, actor(p), { labels: checked(form, "label_") });
  if (!r?.ok) return issuePage(c, repo, number, { notice: errorNotice(r?.message ?? "No such issue."), status: 422 });
  await emitIssue(c, repo.grant, actor(p), issue, r.value);
  return c.redirect(`${repo.base}/issues/${number}`, 303);
});

issuesWeb.post("/:owner/:repo/issues/:number/assignees", async (c) => {
  const { repo, form, p, number } = await posted(c);
  requireWriter(repo.grant, p);
  const { people, invalid } = await resolveAssignees(c.env, repo.grant, checked(form, "assignee_"));
  if (invalid.length) return issuePage(c, repo, number, { notice: errorNotice(`'${invalid[0]}' cannot be assigned here.`), status: 422 });
  const r = await repo.stub.updateIssue(number, actor(p), { assignees: people });
  if (!r?.ok) return issuePage(c, repo, number, { notice: errorNotice(r?.message ?? "No such issue."), status: 422 });
  return c.redirect(`${repo.base}/issues/${number}`, 303);
});

// ---- comments -----------------------------------------------------------------------

/** The comment a form post is about; its author or a writer may change it. */
async function postedComment(c: C) {
  const repo = await openRepository(c);
  const { form } = await readForm(c);
  const p = participant(repo.grant);
  const comment = await repo.stub.issueComment(issueNumber(c, "id"));
  if (!comment) throw new NotFound("No such comment.");
  requireAuthorOrWriter(repo.grant, p, comment.author);
  return { repo, form, comment, p };
}

issuesWeb.post("/:owner/:repo/issues/comments/:id/edit", async (c) => {
  const { repo, form, comment, p } = await postedComment(c);
  const r = await repo.stub.editIssueComment(comment.id, form.body ?? "");
  if (r?.ok && r.value.body !== comment.body) await emitComment(c, repo.grant, actor(p), "edited", r.value, comment.body);
  if (!r?.ok)
    return issuePage(c, repo, comment.issueNumber, {
      notice: errorNotice(r?.message ?? "No such comment."),
      edit: String(comment.id),
      status: 422,
    });
  return c.redirect(`${repo.base}/issues/${comment.issueNumber}#issuecomment-${comment.id}`, 303);
});

issuesWeb.post("/:owner/:repo/issues/comments/:id/delete", async (c) => {
  const { repo, comment, p } = await postedComment(c);
  if ((await repo.stub.deleteIssueComment(comment.id))?.ok) await emitComment(c, repo.grant, actor(p), "deleted", comment);
  return c.redirect(`${repo.base}/issues/${comment.issueNumber}`, 303);
});
