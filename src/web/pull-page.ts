// A pull request's pages: the conversation (`/pull/:n`: description, comments and events as
// on an issue's page, the mergeability box with the merge buttons, close and reopen, and
// "Delete branch" once merged), its commits (`/pull/:n/commits`) and the files it changes
// (`/pull/:n/files`, the compare page's diff). Mergeability comes from the repository
// object, computed for the current base and head when the page asks. Without JavaScript:
// the merge methods are three submit buttons of one form carrying the head the page showed.
import type { Context } from "hono";
import type { Env } from "../util/env";
import type { PullView } from "../repo/pull-requests";
import { MAX_BODY } from "../repo/collab/validate";
import { assignable, mayEdit, viewer } from "../access/issues";
import { NotFound } from "../http/responses";
import { type Html, html, page } from "./layout";
import { ISSUE_CSS, eventLine } from "./issue-html";
import { THREAD_PAGE, type View, commentItem, descriptionBox, sidebar, threadView } from "./issue-page";
import { type Repo, commitLine, repoHeader } from "./routes";
import { CHECKS_CSS, checksBox } from "./checks";
import { allows } from "../access/roles";
import { callerOf } from "../auth/caller";
import { csrfField } from "./layout";
import { REVIEW_CSS, type ReviewView, reviewBox, reviewDiff, reviewItem, reviewersBox } from "./review-html";

type C = Context<{ Bindings: Env }>;

export const PULL_CSS = html`<style>
.state.merged { background:#8250df; } .state.closed-pr { background:#cf222e; }
.dot.merged { background:#8250df; } .dot.closed-pr { background:#cf222e; }
.merge-box { border:1px solid var(--border); border-radius:6px; margin:0 0 16px; }
.merge-box > div { padding:12px 16px; border-top:1px solid var(--border); } .merge-box > div:first-child { border-top:none; }
.merge-box .good { border-left:4px solid #1a7f37; } .merge-box .bad { border-left:4px solid #cf222e; } .merge-box .wait { border-left:4px solid #bf8700; } .merge-box .done { border-left:4px solid #8250df; }
.merge-box form { display:flex; gap:8px; flex-wrap:wrap; align-items:center; margin:8px 0 0; }
.merge-box ul { margin:6px 0 0; padding-left:20px; font-family:ui-monospace,SFMono-Regular,Menlo,monospace; font-size:12px; }
.pr-tabs { display:flex; gap:16px; border-bottom:1px solid var(--border); margin:0 0 16px; padding-bottom:6px; }
.pr-tabs a[aria-current] { font-weight:600; color:var(--fg); }
</style>`;

export interface PullPageState {
  notice?: Html;
  draft?: string;
  edit?: string;
  status?: 200 | 400 | 403 | 404 | 405 | 409 | 422 | 429;
}

/** The head commit the page shows: the one its mergeability was computed for. */
export const shownHead = (pull: PullView) => pull.mergeableKey?.split(" ")[1] ?? pull.headSha;

function badge(pull: PullView): Html {
  if (pull.merged) return html`<span class="state merged">Merged</span>`;
  if (pull.issue.state === "closed") return html`<span class="state closed-pr">Closed</span>`;
  return html`<span class="state open">Open</span>`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** The title, the state, who wants what merged where, and the three tabs. */
function pullHeader(repo: Repo, pull: PullView, tab: "conversation" | "commits" | "files"): Html {
  const n = pull.issue.number;
  const who = pull.merged ? (pull.mergedBy?.login ?? "ghost") : pull.issue.author.login;
  const verb = pull.merged ? "merged" : "wants to merge";
  const link = (id: string, href: string, label: string) =>
    html`<a href="${href}"${id === tab ? html` aria-current="page"` : ""}>${label}</a>`;
  return html`${ISSUE_CSS}${PULL_CSS}${CHECKS_CSS}${REVIEW_CSS}${repoHeader(repo, "pulls")}
<h2>${pull.issue.title} <span class="muted">#${n}</span></h2>
<p>${badge(pull)} <a href="/${who}"><b>${who}</b></a> ${verb} ${plural(pull.commits, "commit")} into <a href="${repo.base}/tree/${encodeURIComponent(pull.base)}"><code>${pull.base}</code></a> from <a href="${pull.headRepo ? `/${pull.headRepo.fullName}/tree/${encodeURIComponent(pull.headRepo.branch)}` : `${repo.base}/tree/${encodeURIComponent(pull.head)}`}"><code>${pull.head}</code></a></p>
<nav class="pr-tabs">${link("conversation", `${repo.base}/pull/${n}`, "Conversation")}${link("commits", `${repo.base}/pull/${n}/commits`, `Commits (${pull.commits})`)}${link("files", `${repo.base}/pull/${n}/files`, "Files changed")}</nav>`;
}

/** What a protected base asks of the pull request now (the repository's `pullGate`). */
export interface Gate {
  blockers: string[];
  rule: { pattern: string; enforceAdmins: boolean } | null;
  checks: { context: string; state: string }[];
  approvals: { required: number; given: string[] };
}

/** The rules of the base branch: what blocks the merge, and whether this caller may bypass it. */
function protectionPart(gate: Gate | null, admin: boolean): { html: Html; blocked: boolean } {
  if (!gate?.rule) return { html: html``, blocked: false };
  const bypass = admin && !gate.rule.enforceAdmins;
  if (!gate.blockers.length)
    return {
      html: html`<div class="good"><b>Branch protection requirements are met</b><p class="muted">The rule for <code>${gate.rule.pattern}</code> allows this merge.</p></div>`,
      blocked: false,
    };
  return {
    html: html`<div class="bad" id="merge-blockers"><b>Merging is blocked</b><ul>${gate.blockers.map((b) => html`<li>${b}</li>`)}</ul>${
      bypass ? html`<p class="muted">As an administrator you may merge without waiting for the requirements.</p>` : ""
    }</div>`,
    blocked: !bypass,
  };
}

/** What can happen to the branch: merged, closed, checking, conflicts, or the merge buttons. */
function mergeBox(v: View, pull: PullView, headAlive: boolean, gate: Gate | null = null, admin = false): Html {
  const { repo, me } = v;
  const n = pull.issue.number;
  if (pull.merged) {
    const del =
      me?.triage && headAlive && pull.head !== repo.summary.defaultBranch
        ? html`<form method="post" action="${repo.base}/pull/${n}/delete-branch" class="inline">${v.csrf}<input type="hidden" name="oid" value="${pull.headSha}"><button type="submit" class="danger">Delete branch</button></form>`
        : "";
    return html`<div class="merge-box" id="merge"><div class="done"><b>Pull request successfully merged and closed</b>
<p class="muted">${pull.mergeCommitSha ? html`Merged as <a href="${repo.base}/commit/${pull.mergeCommitSha}"><code>${pull.mergeCommitSha.slice(0, 7)}</code></a>. ` : ""}${
      headAlive ? html`The <code>${pull.head}</code> branch can be safely deleted.` : html`The <code>${pull.head}</code> branch is gone.`
    }</p>${del}</div></div>`;
  }
  if (pull.issue.state === "closed")
    return html`<div class="merge-box" id="merge"><div class="bad"><b>Closed with unmerged commits</b><p class="muted">This pull request is closed, but the <code>${pull.head}</code> branch has unmerged commits.</p></div></div>`;
  let status: Html;
  let mergeable = false;
  switch (pull.mergeableState) {
    case "clean":
      mergeable = true;
      status = html`<div class="good"><b>This branch has no conflicts with the base branch</b><p class="muted">This branch can be merged: merging can be performed automatically.</p></div>`;
      break;
    case "dirty":
      status = html`<div class="bad"><b>This branch has conflicts that must be resolved</b><p class="muted">Conflicting files:</p>
<ul class="conflicts">${pull.conflicts.map((p) => html`<li>${p}</li>`)}</ul><p class="muted">Merge <code>${pull.base}</code> into <code>${pull.head}</code> locally, resolve the conflicts and push.</p></div>`;
      break;
    case "unknown":
      status = html`<div class="wait"><b>Checking mergeability…</b><p class="muted">Git is checking whether this branch can be merged. <a href="${repo.base}/pull/${n}">Reload</a> in a moment.</p></div>`;
      break;
    default:
      status = html`<div class="bad"><b>This branch cannot be merged automatically</b><p class="muted">${pull.mergeableMessage ?? "Merge it locally and push."}</p></div>`;
  }
  const guard = protectionPart(gate, admin);
  const off = guard.blocked ? html` disabled` : "";
  const buttons = !me?.triage
    ? html`<div class="muted">Only those with write access to this repository can merge pull requests.</div>`
    : mergeable
      ? html`<div><form method="post" action="${repo.base}/pull/${n}/merge">${v.csrf}<input type="hidden" name="sha" value="${shownHead(pull)}">
<button type="submit" name="method" value="merge"${off}>Create a merge commit</button><button type="submit" name="method" value="squash"${off}>Squash and merge</button><button type="submit" name="method" value="rebase"${off}>Rebase and merge</button></form></div>`
      : "";
  return html`<div class="merge-box" id="merge">${guard.html}${status}${buttons}</div>`;
}

function pullCommentForm(v: View, pull: PullView, draft: string): Html {
  const { repo, me } = v;
  const n = pull.issue.number;
  if (!me)
    return html`<div class="box"><div class="notice"><a href="/login?next=${encodeURIComponent(`${repo.base}/pull/${n}`)}">Sign in</a> to comment.</div></div>`;
  const closer = mayEdit(me, pull.issue.author) && !pull.merged;
  const button =
    pull.issue.state === "open"
      ? html`<button type="submit" name="action" value="close">Close pull request</button>`
      : html`<button type="submit" name="action" value="reopen">Reopen pull request</button>`;
  return html`<div class="box"><form method="post" action="${repo.base}/pull/${n}/comments" class="comment">${v.csrf}
<textarea name="body" maxlength="${MAX_BODY}" placeholder="Leave a comment (Markdown)" aria-label="Comment">${draft}</textarea>
<div class="buttons">${closer ? button : ""}<button type="submit" name="action" value="comment">Comment</button></div></form></div>`;
}

/** The pull request, or a redirect to the issue page when `number` is an issue. */
async function loadPull(c: C, repo: Repo, number: number): Promise<PullView | Response> {
  const pull = await repo.stub.pull(number);
  if (pull) return pull;
  if (await repo.stub.issue(number)) return c.redirect(`${repo.base}/issues/${number}`, 301);
  throw new NotFound("No such pull request.");
}

export async function pullPage(c: C, repo: Repo, number: number, state: PullPageState = {}): Promise<Response> {
  const pull = await loadPull(c, repo, number);
  if (pull instanceof Response) return pull;
  const pageNo = Math.max(1, Math.floor(Number(c.req.query("page") ?? 1)) || 1);
  const thread = await repo.stub.issueThread(number, (pageNo - 1) * THREAD_PAGE, THREAD_PAGE);
  if (!thread) throw new NotFound("No such pull request.");
  const v = await threadView(c, repo, thread);
  const open = pull.issue.state === "open" && !pull.merged;
  const gate = open ? await repo.stub.pullGate(number) : null;
  const edit = state.edit ?? c.req.query("edit");
  const pages = Math.ceil(thread.total / THREAD_PAGE);
  const rv: ReviewView = { repo, number, prAuthor: pull.issue.author, me: v.me, csrf: v.csrf, refs: v.refs };
  const [reviews, comments, requested] = await Promise.all([
    repo.stub.pullReviews(number, v.me?.id ?? null),
    repo.stub.reviewComments(number, v.me?.id ?? null),
    repo.stub.requestedReviewers(number),
  ]);
  // Reviews sit in the conversation by when they were submitted: on this page, those
  // from this page's first item on (from the start on page 1) up to the next page's.
  const from = pageNo === 1 ? Number.NEGATIVE_INFINITY : (thread.timeline[0]?.createdAt ?? Number.POSITIVE_INFINITY);
  const until = pageNo >= pages ? Number.POSITIVE_INFINITY : (thread.timeline.at(-1)?.createdAt ?? Number.POSITIVE_INFINITY);
  const shown = (reviews ?? []).filter((r) => r.state !== "PENDING" && (r.submittedAt ?? 0) >= from && (r.submittedAt ?? 0) < until);
  const entries: { at: number; item: Html }[] = thread.timeline.map((t) => ({
    at: t.createdAt,
    item: t.type === "comment" ? commentItem(v, t, edit === String(t.id)) : eventLine(repo.base, t),
  }));
  for (const r of shown)
    entries.push({
      at: r.submittedAt ?? r.createdAt,
      item: reviewItem(
        rv,
        r,
        (comments ?? []).filter((x) => x.reviewId === r.id),
        comments ?? [],
      ),
    });
  const items = entries.sort((a, b) => a.at - b.at).map((e) => e.item);
  const reviewers = reviewersBox(rv, reviews ?? [], requested ?? [], v.me ? await assignable(c.env, repo.grant) : []);
  const pager =
    pages > 1
      ? html`<p class="muted">Page ${pageNo} of ${pages} of this conversation. ${pageNo > 1 ? html`<a class="btn" href="?page=${pageNo - 1}">Earlier</a>` : ""} ${pageNo < pages ? html`<a class="btn" href="?page=${pageNo + 1}">Later</a>` : ""}</p>`
      : "";
  return c.html(
    page(
      c,
      `${pull.issue.title} · Pull Request #${number} · ${repo.owner}/${repo.name}`,
      html`${pullHeader(repo, pull, "conversation")}${state.notice ?? ""}
<div class="issue-grid"><div class="issue-main">${pageNo === 1 ? descriptionBox(v, edit === "issue") : ""}${items}${pager}
${gate ? checksBox(gate.status) : ""}${mergeBox(v, pull, !pull.headRepo && repo.summary.branches.includes(pull.head), gate, allows(repo.grant.role, "admin"))}${pullCommentForm(v, pull, state.draft ?? "")}</div><div>${reviewers}${sidebar(v)}</div></div>`,
    ),
    state.status ?? 200,
  );
}

export async function pullCommitsPage(c: C, repo: Repo, number: number): Promise<Response> {
  const pull = await loadPull(c, repo, number);
  if (pull instanceof Response) return pull;
  const changes = await repo.stub.pullChanges(number);
  if (!changes) throw new NotFound("No such pull request.");
  const more =
    changes.total > changes.commits.length
      ? html`<div class="notice">Showing ${changes.commits.length} of ${changes.total} commits.</div>`
      : "";
  return c.html(
    page(
      c,
      `Commits · Pull Request #${number} · ${repo.owner}/${repo.name}`,
      html`${pullHeader(repo, pull, "commits")}<div class="box"><div class="head">${plural(changes.total, "commit")}</div><table class="list">${
        changes.commits.length
          ? changes.commits.map(
              (cm) => html`<tr><td>${commitLine(repo, cm)}</td><td class="age"><a href="${repo.base}/tree/${cm.oid}">Browse</a></td></tr>`,
            )
          : html`<tr><td class="notice">No commits.</td></tr>`
      }</table>${more}</div>`,
    ),
  );
}

export async function pullFilesPage(c: C, repo: Repo, number: number): Promise<Response> {
  const pull = await loadPull(c, repo, number);
  if (pull instanceof Response) return pull;
  const changes = await repo.stub.pullChanges(number, c.req.query("full") === "1");
  if (!changes) throw new NotFound("No such pull request.");
  const me = viewer(repo.grant);
  const comments = (await repo.stub.reviewComments(number, me?.id ?? null)) ?? [];
  const last = (await repo.stub.issueCounts())?.last ?? 0;
  const rv: ReviewView = {
    repo,
    number,
    prAuthor: pull.issue.author,
    me,
    csrf: me ? csrfField(c, await callerOf(c)) : html``,
    refs: { base: repo.base, last, users: new Set(), commits: new Set() },
  };
  const pending = comments.filter((x) => x.pending).length;
  return c.html(
    page(
      c,
      `Files changed · Pull Request #${number} · ${repo.owner}/${repo.name}`,
      html`${pullHeader(repo, pull, "files")}${reviewBox(rv, pending)}${reviewDiff(rv, shownHead(pull), changes.files, changes.truncated, comments)}`,
    ),
  );
}
