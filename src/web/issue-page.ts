// An issue's page: its title and state, the description and the conversation
// (comments and events), the comment form with close and reopen, and, for writers, the
// label and assignee controls. Without JavaScript: editing is `?edit=issue` or
// `?edit=<comment id>`, which shows that text in a form.
import type { Context } from "hono";
import type { Env } from "../util/env";
import { type Participant, assignable, mayEdit, viewer } from "../access/issues";
import type { Actor, Issue, Label, TimelineItem } from "../repo/collab";
import { MAX_BODY, MAX_TITLE } from "../repo/collab/validate";
import { existingLogins } from "../auth/accounts";
import { callerOf } from "../auth/caller";
import { NotFound } from "../http/responses";
import { type Html, csrfField, html, page } from "./layout";
import { ISSUE_CSS, commentBox, eventLine, labelChip, markdown, stateBadge } from "./issue-html";
import { type References, mentions } from "./references";
import { type Repo, repoHeader } from "./routes";

type C = Context<{ Bindings: Env }>;

/** Items of the conversation per page. */
export const THREAD_PAGE = 100;

export interface PageState {
  /** An error or notice above the conversation. */
  notice?: Html;
  /** What the visitor typed into the comment form, to show again after an error. */
  draft?: string;
  /** The edit form to show: "issue", or a comment id. */
  edit?: string;
  status?: 200 | 400 | 403 | 404 | 422 | 429;
}

export interface View {
  repo: Repo;
  issue: Issue;
  me: Participant | null;
  refs: References;
  csrf: Html;
  labels: Label[];
  people: Actor[];
}

export function descriptionBox(v: View, edit: boolean): Html {
  const { issue, repo, me } = v;
  if (edit && mayEdit(me, issue.author))
    return html`<div class="box" id="issue-body"><form method="post" action="${repo.base}/issues/${issue.number}/edit" class="comment">${v.csrf}
<label>Title <input type="text" name="title" value="${issue.title}" maxlength="${MAX_TITLE}" required style="width:100%"></label>
<textarea name="body" maxlength="${MAX_BODY}" aria-label="Description">${issue.body}</textarea>
<div class="buttons"><a class="btn" href="${repo.base}/issues/${issue.number}">Cancel</a><button type="submit">Save</button></div></form></div>`;
  return commentBox({
    id: "issue-body",
    author: issue.author.login,
    at: issue.createdAt,
    edited: false,
    body: markdown(issue.body, v.refs),
    actions: mayEdit(me, issue.author) ? html`<a href="?edit=issue#issue-body">Edit</a>` : undefined,
  });
}

export function commentItem(v: View, cm: Extract<TimelineItem, { type: "comment" }>, edit: boolean): Html {
  const { repo, me } = v;
  const id = `issuecomment-${cm.id}`;
  const may = mayEdit(me, cm.author);
  if (edit && may)
    return html`<div class="box" id="${id}"><form method="post" action="${repo.base}/issues/comments/${cm.id}/edit" class="comment">${v.csrf}
<textarea name="body" maxlength="${MAX_BODY}" aria-label="Comment" required>${cm.body}</textarea>
<div class="buttons"><a class="btn" href="${repo.base}/issues/${cm.issueNumber}#${id}">Cancel</a><button type="submit">Update comment</button></div></form></div>`;
  return commentBox({
    id,
    author: cm.author.login,
    at: cm.createdAt,
    edited: cm.updatedAt > cm.createdAt,
    body: markdown(cm.body, v.refs),
    actions: may
      ? html`<a href="?edit=${cm.id}#${id}">Edit</a> <form method="post" action="${repo.base}/issues/comments/${cm.id}/delete" class="inline">${v.csrf}<button type="submit" class="danger">Delete</button></form>`
      : undefined,
  });
}

function commentForm(v: View, draft: string): Html {
  const { repo, issue, me } = v;
  if (!me)
    return html`<div class="box"><div class="notice"><a href="/login?next=${encodeURIComponent(`${repo.base}/issues/${issue.number}`)}">Sign in</a> to comment.</div></div>`;
  const closer = mayEdit(me, issue.author);
  const buttons =
    issue.state === "open"
      ? html`<button type="submit" name="action" value="close">Close issue</button><button type="submit" name="action" value="close-not-planned">Close as not planned</button>`
      : html`<button type="submit" name="action" value="reopen">Reopen issue</button>`;
  return html`<div class="box"><form method="post" action="${repo.base}/issues/${issue.number}/comments" class="comment">${v.csrf}
<textarea name="body" maxlength="${MAX_BODY}" placeholder="Leave a comment (Markdown)" aria-label="Comment">${draft}</textarea>
<div class="buttons">${closer ? buttons : ""}<button type="submit" name="action" value="comment">Comment</button></div></form></div>`;
}

export function sidebar(v: View): Html {
  const { repo, issue, me } = v;
  const checkbox = (name: string, value: string, checked: boolean, label: Html) =>
    html`<label class="check"><input type="checkbox" name="${name}" value="${value}"${checked ? html` checked` : ""}> ${label}</label>`;
  const assignees = me?.triage
    ? html`<form method="post" action="${repo.base}/issues/${issue.number}/assignees" class="stack" style="padding:0">${v.csrf}
${v.people.map((p) =>
  checkbox(
    `assignee_${p.id}`,
    p.login,
    issue.assignees.some((a) => a.id === p.id),
    html`${p.login}`,
  ),
)}<button type="submit">Set assignees</button></form>`
    : html`${issue.assignees.length ? issue.assignees.map((a) => html`<div><a href="/${a.login}">${a.login}</a></div>`) : html`<span class="muted">No one assigned</span>`}`;
  const labels = me?.triage
    ? html`<form method="post" action="${repo.base}/issues/${issue.number}/labels" class="stack" style="padding:0">${v.csrf}
${
  v.labels.length
    ? v.labels.map((l) =>
        checkbox(
          `label_${l.id}`,
          l.name,
          issue.labels.some((x) => x.id === l.id),
          labelChip(l),
        ),
      )
    : html`<span class="muted">No labels yet.</span>`
}
<button type="submit">Set labels</button></form><a href="${repo.base}/labels">Edit labels</a>`
    : html`${issue.labels.length ? issue.labels.map((l) => labelChip(l, repo.base)) : html`<span class="muted">None yet</span>`}`;
  return html`<aside class="issue-side"><section><h3>Assignees</h3>${assignees}</section><section><h3>Labels</h3>${labels}</section></aside>`;
}

export function threadPager(base: string, number: number, at: number, total: number): Html {
  if (total <= THREAD_PAGE) return html``;
  const pages = Math.ceil(total / THREAD_PAGE);
  const link = (p: number, text: string) => html`<a class="btn" href="${base}/issues/${number}?page=${p}">${text}</a>`;
  return html`<p class="muted">Page ${at} of ${pages} of this conversation. ${at > 1 ? link(at - 1, "Earlier") : ""} ${at < pages ? link(at + 1, "Later") : ""}</p>`;
}

type Thread = NonNullable<Awaited<ReturnType<Repo["stub"]["issueThread"]>>>;

/** What the conversation's pieces need: the viewer, links for references, the CSRF field, labels and people. */
export async function threadView(c: C, repo: Repo, thread: Thread): Promise<View> {
  const { issue, timeline } = thread;
  const me = viewer(repo.grant);
  const texts = [issue.body, ...timeline.map((t) => (t.type === "comment" ? t.body : ""))];
  const [users, people] = await Promise.all([existingLogins(c.env.DB, mentions(texts)), me?.triage ? assignable(c.env, repo.grant) : []]);
  return {
    repo,
    issue,
    me,
    refs: { base: repo.base, last: thread.last, users, commits: new Set(thread.commits) },
    csrf: me ? csrfField(c, await callerOf(c)) : html``,
    labels: thread.labels,
    people,
  };
}

/** The issue's page, with `state` (a notice, a draft, an edit form) from a form post. */
export async function issuePage(c: C, repo: Repo, number: number, state: PageState = {}): Promise<Response> {
  const pageNo = Math.max(1, Math.floor(Number(c.req.query("page") ?? 1)) || 1);
  const thread = await repo.stub.issueThread(number, (pageNo - 1) * THREAD_PAGE, THREAD_PAGE);
  if (!thread) throw new NotFound("No such issue.");
  // A pull request's number shows its own page, as on GitHub.
  if (thread.issue.kind === "pull" && c.req.method === "GET")
    return c.redirect(`${repo.base}/pull/${number}${new URL(c.req.url).search}`, 301);
  const { issue, timeline } = thread;
  const v = await threadView(c, repo, thread);
  const edit = state.edit ?? c.req.query("edit");
  const items = timeline.map((t) => (t.type === "comment" ? commentItem(v, t, edit === String(t.id)) : eventLine(repo.base, t)));
  return c.html(
    page(
      c,
      `${issue.title} · Issue #${issue.number} · ${repo.owner}/${repo.name}`,
      html`${ISSUE_CSS}${repoHeader(repo, "issues")}
<h2>${issue.title} <span class="muted">#${issue.number}</span></h2>
<p>${stateBadge(issue)} <a href="/${issue.author.login}"><b>${issue.author.login}</b></a> <span class="muted">opened this issue · ${issue.comments} comment${issue.comments === 1 ? "" : "s"}</span>
<a class="btn" style="float:right" href="${repo.base}/issues/new">New issue</a></p>
${state.notice ?? ""}
<div class="issue-grid"><div class="issue-main">${pageNo === 1 ? descriptionBox(v, edit === "issue") : ""}${items}
${threadPager(repo.base, issue.number, pageNo, thread.total)}${commentForm(v, state.draft ?? "")}</div>${sidebar(v)}</div>`,
    ),
    state.status ?? 200,
  );
}
