// Opening a pull request from the compare page (`/:o/:r/compare/base...head`): the
// "Create pull request" form for writers when both sides are branches that differ, or
// the link to the pull request already open for them. The form posts to `/:o/:r/pulls`
// (./pulls.ts), which shows it again with the error when the store refuses.
import type { Context } from "hono";
import type { Granted } from "../access/check";
import { viewer } from "../access/issues";
import { callerOf } from "../auth/caller";
import { MAX_BODY, MAX_TITLE } from "../repo/collab/validate";
import { type Html, csrfField, html } from "./layout";
import { ISSUE_CSS } from "./issue-html";

/** What the form needs of the repository a page opened (./routes.ts `Repo`). */
export interface OfferRepo {
  base: string;
  grant: Granted;
  summary: { branches: string[] };
}

export interface PullFields {
  base: string;
  head: string;
  title: string;
  body: string;
}

/** The form itself, filled with `f`. */
export function pullForm(repoBase: string, csrf: Html, f: PullFields): Html {
  return html`${ISSUE_CSS}<div class="box" id="new-pull"><div class="head"><b>Open a pull request</b> <span class="muted">merge <code>${f.head}</code> into <code>${f.base}</code></span></div>
<form method="post" action="${repoBase}/pulls" class="comment">${csrf}<input type="hidden" name="base" value="${f.base}"><input type="hidden" name="head" value="${f.head}">
<label>Title <input type="text" name="title" value="${f.title}" maxlength="${MAX_TITLE}" required style="width:100%"></label>
<textarea name="body" maxlength="${MAX_BODY}" aria-label="Description" placeholder="Description (Markdown). Fixes #N closes issue N when this merges into the default branch.">${f.body}</textarea>
<div class="buttons"><button type="submit">Create pull request</button></div></form></div>`;
}

/** What the compare page offers above the commits: the form, a link to the open PR, or nothing. */
export async function pullOffer(c: Context, repo: OfferRepo, base: string, head: string, total: number): Promise<Html> {
  const me = viewer(repo.grant);
  const branches = repo.summary.branches;
  if (!me?.triage || base === head || !branches.includes(base) || !branches.includes(head)) return html``;
  if (total === 0)
    return html`<div class="box"><div class="notice"><code>${base}</code> is up to date with all commits from <code>${head}</code>: there is nothing to open a pull request for.</div></div>`;
  const open = await repo.grant.stub.listPulls({ state: "open", base, head, sort: "created", direction: "desc", offset: 0, limit: 1 });
  const existing = open?.items[0];
  if (existing)
    return html`<div class="box"><div class="head">A pull request is already open for these branches: <a href="${repo.base}/pull/${existing.issue.number}"><b>${existing.issue.title}</b> #${existing.issue.number}</a></div></div>`;
  return pullForm(repo.base, csrfField(c, await callerOf(c)), { base, head, title: head, body: "" });
}
