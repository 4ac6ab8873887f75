// What code review looks like on a pull request's pages, in plain HTML forms (a "+" is a
// <details> holding the form, so no script is needed):
// - the files page's diff, each line with a "+" that opens a form to comment on it (a
//   single comment, or into the viewer's pending review) and the threads on the line
//   below it, with replies and resolve/unresolve;
// - the "Review changes" box (comment, approve, request changes; it submits the
//   viewer's pending review when there is one);
// - the conversation's reviews with their line comments, an outdated one folded away
//   with the hunk it was written on;
// - the sidebar's reviewers: each reviewer's latest verdict and who is asked.
import type { Actor, Review } from "../repo/collab";
import { hunkHeader } from "../repo/collab/anchors";
import type { PlacedComment } from "../repo/code-review";
import { MAX_BODY } from "../repo/collab/validate";
import type { DiffFile } from "../repo/views";
import type { Participant } from "../access/issues";
import { type Html, html, relativeTime } from "./layout";
import { markdown } from "./issue-html";
import type { References } from "./references";
import type { Repo } from "./routes";

export const REVIEW_CSS = html`<style>
.review-diff td.ln { width:1%; min-width:40px; }
.review-diff td.plus { width:1%; padding:0 2px; position:relative; }
.review-diff td.plus summary { list-style:none; cursor:pointer; color:#0969da; font-weight:700; padding:0 4px; border-radius:4px; }
.review-diff td.plus summary::-webkit-details-marker { display:none; }
.review-diff td.plus summary:hover { background:#0969da; color:#fff; }
.review-diff td.plus details[open] > form { position:absolute; left:24px; top:0; z-index:5; width:min(640px, 80vw); background:var(--bg, #fff); border:1px solid var(--border); border-radius:6px; padding:8px; box-shadow:0 4px 12px rgba(0,0,0,.15); white-space:normal; font-family:system-ui, sans-serif; }
.review-diff tr.thread > td { background:var(--panel); padding:8px 12px; white-space:normal; font-family:system-ui, sans-serif; font-size:14px; }
.review-thread { border:1px solid var(--border); border-radius:6px; background:var(--bg, #fff); margin:4px 0; max-width:860px; }
.review-thread .rc { padding:8px 12px; border-top:1px solid var(--border); } .review-thread .rc:first-child { border-top:none; }
.review-thread .rc-head { display:flex; gap:8px; align-items:center; font-size:13px; }
.review-thread .thread-foot { padding:6px 12px; border-top:1px solid var(--border); display:flex; gap:8px; flex-wrap:wrap; align-items:flex-start; }
.review-thread textarea, .review-box textarea, .review-diff textarea { width:100%; min-height:70px; box-sizing:border-box; }
.pending-tag { background:#bf8700; color:#fff; border-radius:10px; padding:0 6px; font-size:11px; }
.outdated-tag { background:var(--panel); border:1px solid var(--border); border-radius:10px; padding:0 6px; font-size:11px; }
.review-box { border:1px solid var(--border); border-radius:6px; margin:0 0 16px; padding:12px 16px; }
.review-box label.choice { display:block; margin:4px 0; }
.review-verdict { font-weight:600; } .review-verdict.APPROVED { color:#1a7f37; } .review-verdict.CHANGES_REQUESTED { color:#cf222e; } .review-verdict.DISMISSED { color:var(--muted); }
.hunk-context { margin:0; font:12px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace; white-space:pre; overflow-x:auto; background:var(--panel); padding:6px 10px; }
.review-state { font-size:12px; border-radius:10px; padding:0 6px; margin-left:6px; border:1px solid var(--border); }
.review-state.approved { color:#1a7f37; border-color:#1a7f37; } .review-state.changes_requested { color:#cf222e; border-color:#cf222e; } .review-state.review_required { color:#9a6700; border-color:#9a6700; }
</style>`;

const ago = (ms: number) => relativeTime(ms / 1000);

export interface ReviewView {
  repo: Repo;
  number: number;
  prAuthor: Actor;
  me: Participant | null;
  csrf: Html;
  refs: References;
}

/** Who may resolve a thread: its author, the pull request's author, or a writer. */
const mayResolve = (v: ReviewView, root: PlacedComment) =>
  v.me !== null && (v.me.triage || v.me.id === root.author.id || v.me.id === v.prAuthor.id);

const mayEditComment = (v: ReviewView, c: PlacedComment) => v.me !== null && (v.me.triage || v.me.id === c.author.id);

/** Threads: each first comment with its replies, oldest first. */
export function threadsOf(comments: PlacedComment[]): PlacedComment[][] {
  const byRoot = new Map<number, PlacedComment[]>();
  for (const c of comments) {
    const root = c.inReplyTo !== null && byRoot.has(c.inReplyTo) ? c.inReplyTo : c.id;
    const list = byRoot.get(root) ?? [];
    list.push(c);
    byRoot.set(root, list);
  }
  return [...byRoot.values()];
}

function lineComment(v: ReviewView, c: PlacedComment): Html {
  const actions = mayEditComment(v, c)
    ? html`<form method="post" action="${v.repo.base}/pull/${v.number}/review-comments/${c.id}/delete" class="inline" style="margin-left:auto">${v.csrf}<button type="submit" class="danger">Delete</button></form>`
    : "";
  return html`<div class="rc" id="discussion_r${c.id}"><div class="rc-head"><a href="/${c.author.login}"><b>${c.author.login}</b></a>
<a class="muted" href="#discussion_r${c.id}" title="${new Date(c.createdAt).toISOString()}">${ago(c.createdAt)}</a>${c.pending ? html` <span class="pending-tag">Pending</span>` : ""}${actions}</div>
<div class="markdown">${markdown(c.body, v.refs)}</div></div>`;
}

/** One thread: its comments, a reply form, resolve/unresolve; resolved ones folded. */
export function threadBox(v: ReviewView, thread: PlacedComment[], back: "files" | "conversation"): Html {
  const root = thread[0];
  const reply = v.me
    ? html`<details><summary class="btn">Reply…</summary><form method="post" action="${v.repo.base}/pull/${v.number}/review-comments/${root.id}/replies">${v.csrf}<input type="hidden" name="back" value="${back}">
<textarea name="body" maxlength="${MAX_BODY}" required aria-label="Reply"></textarea><button type="submit">Reply</button></form></details>`
    : "";
  const resolve =
    !root.pending && mayResolve(v, root)
      ? html`<form method="post" action="${v.repo.base}/pull/${v.number}/review-threads/${root.id}" class="inline">${v.csrf}<input type="hidden" name="back" value="${back}"><button type="submit" name="action" value="${root.resolvedBy ? "unresolve" : "resolve"}">${root.resolvedBy ? "Unresolve conversation" : "Resolve conversation"}</button></form>`
      : "";
  const inner = html`${thread.map((c) => lineComment(v, c))}<div class="thread-foot">${reply}${resolve}</div>`;
  if (root.resolvedBy)
    return html`<div class="review-thread resolved" data-thread="${root.id}"><details><summary class="muted" style="padding:6px 12px">${root.path} · resolved by ${root.resolvedBy.login}</summary>${inner}</details></div>`;
  return html`<div class="review-thread" data-thread="${root.id}">${inner}</div>`;
}

function commentForm(v: ReviewView, path: string, side: "LEFT" | "RIGHT", line: number, head: string, pending: boolean): Html {
  return html`<details><summary title="Comment on line ${side === "LEFT" ? "L" : "R"}${line}" aria-label="Comment on ${path} line ${line}">+</summary><form method="post" action="${v.repo.base}/pull/${v.number}/review-comments">${v.csrf}
<input type="hidden" name="path" value="${path}"><input type="hidden" name="side" value="${side}"><input type="hidden" name="line" value="${line}"><input type="hidden" name="commit_id" value="${head}">
<textarea name="body" maxlength="${MAX_BODY}" required aria-label="Comment on line ${line}" placeholder="Leave a comment (Markdown)"></textarea>
<div class="buttons"><button type="submit" name="action" value="single">Add single comment</button><button type="submit" name="action" value="review">${pending ? "Add review comment" : "Start a review"}</button></div></form></details>`;
}

/** The files page's diff: a "+" on each line, the line's threads below it. */
export function reviewDiff(v: ReviewView, head: string, files: DiffFile[], truncated: boolean, comments: PlacedComment[]): Html {
  const pending = comments.some((c) => c.pending);
  const threads = threadsOf(comments.filter((c) => !c.outdated));
  const at = new Map<string, PlacedComment[][]>();
  for (const t of threads) {
    const key = `${t[0].path}\0${t[0].side}\0${t[0].currentLine}`;
    at.set(key, [...(at.get(key) ?? []), t]);
  }
  const enc = (s: string) => s.split("/").map(encodeURIComponent).join("/");
  const adds = files.reduce((s, f) => s + f.additions, 0);
  const dels = files.reduce((s, f) => s + f.deletions, 0);
  const fileBox = (f: DiffFile) => {
    const head_ = html`<div class="head"><b>${f.path}</b> <span class="muted">${f.status}</span> <span class="add">+${f.additions}</span> <span class="del">−${f.deletions}</span>
${f.newOid ? html`<a style="margin-left:auto" href="${v.repo.base}/blob/${head}/${enc(f.path)}">View file</a>` : ""}</div>`;
    if (f.binary) return html`<div class="box">${head_}<div class="notice">Binary file changed.</div></div>`;
    if (f.tooLarge) return html`<div class="box">${head_}<div class="notice">Diff too large to show.</div></div>`;
    const rows: Html[] = [];
    for (const h of f.hunks) {
      rows.push(
        html`<tr class="hunk"><td class="ln"></td><td class="ln"></td><td class="plus"></td><td class="src">${hunkHeader(h)}</td></tr>`,
      );
      let oldNo = h.oldStart;
      let newNo = h.newStart;
      for (const l of h.lines) {
        const kind = l[0];
        if (kind === "\\") {
          rows.push(html`<tr><td class="ln"></td><td class="ln"></td><td class="plus"></td><td class="src muted">${l}</td></tr>`);
          continue;
        }
        const left = kind === "+" ? null : oldNo++;
        const right = kind === "-" ? null : newNo++;
        const side = right === null ? "LEFT" : "RIGHT";
        const line = (right ?? left) as number;
        const plus = v.me ? commentForm(v, f.path, side, line, head, pending) : "";
        rows.push(
          html`<tr class="${kind === "+" ? "add" : kind === "-" ? "del" : ""}" data-line="${side}${line}"><td class="ln">${left ?? ""}</td><td class="ln">${right ?? ""}</td><td class="plus">${plus}</td><td class="src">${l}</td></tr>`,
        );
        const here = [
          ...(left !== null ? (at.get(`${f.path}\0LEFT\0${left}`) ?? []) : []),
          ...(right !== null ? (at.get(`${f.path}\0RIGHT\0${right}`) ?? []) : []),
        ];
        if (here.length) rows.push(html`<tr class="thread"><td colspan="4">${here.map((t) => threadBox(v, t, "files"))}</td></tr>`);
      }
    }
    return html`<div class="box" data-path="${f.path}">${head_}<div class="code review-diff"><table>${rows}</table></div></div>`;
  };
  return html`<p><span class="stat">${files.length} files changed</span><span class="stat add">+${adds}</span><span class="stat del">−${dels}</span></p>
${files.map(fileBox)}
${truncated ? html`<div class="notice">This diff is too large to show at once. <a href="?full=1">Show the whole diff</a> (or clone the repository).</div>` : ""}`;
}

/** "Review changes": a summary and a verdict; the author of the pull request may only comment. */
export function reviewBox(v: ReviewView, pendingCount: number): Html {
  if (!v.me)
    return html`<div class="review-box"><a href="/login?next=${encodeURIComponent(`${v.repo.base}/pull/${v.number}/files`)}">Sign in</a> to review.</div>`;
  const own = v.me.id === v.prAuthor.id;
  const choice = (value: string, label: string, checked = false, disabled = false) =>
    html`<label class="choice"><input type="radio" name="event" value="${value}"${checked ? html` checked` : ""}${disabled ? html` disabled` : ""}> ${label}</label>`;
  return html`<details class="review-box" id="review-changes"${pendingCount ? html` open` : ""}><summary><b>Review changes</b>${pendingCount ? html` <span class="pending-tag">${pendingCount} pending</span>` : ""}</summary>
<form method="post" action="${v.repo.base}/pull/${v.number}/reviews">${v.csrf}
<textarea name="body" maxlength="${MAX_BODY}" aria-label="Review summary" placeholder="Leave a comment (Markdown)"></textarea>
${choice("COMMENT", "Comment", true)}${choice("APPROVE", "Approve", false, own)}${choice("REQUEST_CHANGES", "Request changes", false, own)}
${own ? html`<p class="muted">Pull request authors can’t approve their own pull request or request changes on it.</p>` : ""}
<div class="buttons"><button type="submit">Submit review</button></div></form></details>`;
}

const VERDICT: Record<string, string> = {
  COMMENTED: "reviewed",
  APPROVED: "approved these changes",
  CHANGES_REQUESTED: "requested changes",
  DISMISSED: "reviewed (dismissed)",
  PENDING: "started a review (pending)",
};

/** A review in the conversation: verdict, summary, its line comments by thread (outdated ones folded with their hunk). */
export function reviewItem(v: ReviewView, r: Review, comments: PlacedComment[], all: PlacedComment[]): Html {
  const roots = comments.filter((c) => c.inReplyTo === null || !all.some((x) => x.id === c.inReplyTo));
  // A review holding only replies shows in the threads it answers, as on GitHub.
  if (r.state === "COMMENTED" && !r.body.trim() && !roots.length) return html``;
  const dismiss =
    v.me?.triage && (r.state === "APPROVED" || r.state === "CHANGES_REQUESTED")
      ? html`<details style="margin-left:auto"><summary class="btn">Dismiss review</summary><form method="post" action="${v.repo.base}/pull/${v.number}/reviews/${r.id}/dismiss">${v.csrf}<input type="text" name="message" required aria-label="Why dismiss" placeholder="Why dismiss this review?"><button type="submit">Dismiss</button></form></details>`
      : "";
  const threads = roots.map((root) => {
    const thread = [root, ...all.filter((x) => x.inReplyTo === root.id)];
    const box = threadBox(v, thread, "conversation");
    const where = html`<code>${root.path}</code> <span class="muted">line ${root.line}</span>`;
    if (root.outdated)
      return html`<details class="outdated" data-outdated="${root.id}"><summary>${where} <span class="outdated-tag">Outdated</span></summary><pre class="hunk-context">${root.diffHunk}</pre>${box}</details>`;
    return html`<div data-current="${root.id}"><div>${where}</div><pre class="hunk-context">${root.diffHunk.split("\n").slice(-4).join("\n")}</pre>${box}</div>`;
  });
  const when = r.submittedAt ?? r.createdAt;
  return html`<div class="box" id="pullrequestreview-${r.id}"><div class="head"><a href="/${r.author.login}"><b>${r.author.login}</b></a>
<span class="review-verdict ${r.state}">${VERDICT[r.state]}</span> <span class="muted" title="${new Date(when).toISOString()}">${ago(when)}</span>${
    r.state === "DISMISSED" && r.dismissedMessage ? html` <span class="muted">· dismissed: ${r.dismissedMessage}</span>` : ""
  }${dismiss}</div>
${r.body.trim() ? html`<div class="markdown">${markdown(r.body, v.refs)}</div>` : ""}${threads.length ? html`<div style="padding:8px 12px">${threads}</div>` : ""}</div>`;
}

/** The sidebar's reviewers: each one's latest verdict, who is asked, and the form to ask. */
export function reviewersBox(v: ReviewView, reviews: Review[], requested: Actor[], people: Actor[]): Html {
  const latest = new Map<string, Review>();
  for (const r of reviews) {
    if (r.state === "PENDING") continue;
    const prev = latest.get(r.author.login);
    // A comment does not replace a verdict.
    if (!prev || r.state !== "COMMENTED" || prev.state === "COMMENTED") latest.set(r.author.login, r);
  }
  const rows: Html[] = [];
  for (const [login, r] of latest)
    rows.push(
      html`<div data-reviewer="${login}"><a href="/${login}">${login}</a> <span class="review-verdict ${r.state}">${r.state === "APPROVED" ? "✓ approved" : r.state === "CHANGES_REQUESTED" ? "✗ changes requested" : r.state === "DISMISSED" ? "dismissed" : "commented"}</span></div>`,
    );
  for (const a of requested)
    rows.push(html`<div data-requested="${a.login}"><a href="/${a.login}">${a.login}</a> <span class="muted">awaiting review</span></div>`);
  const may = v.me && (v.me.triage || v.me.id === v.prAuthor.id);
  const candidates = people.filter((p) => p.id !== v.prAuthor.id && !requested.some((r) => r.id === p.id));
  const form =
    may && candidates.length
      ? html`<form method="post" action="${v.repo.base}/pull/${v.number}/reviewers" class="stack" style="padding:0">${v.csrf}<select name="login" aria-label="Request a review from">${candidates.map((p) => html`<option value="${p.login}">${p.login}</option>`)}</select><button type="submit" name="action" value="add">Request review</button></form>`
      : "";
  return html`<section id="reviewers"><h3>Reviewers</h3>${rows.length ? rows : html`<span class="muted">No reviews</span>`}${form}</section>`;
}

const DECISION: Record<string, string> = {
  approved: "Approved",
  changes_requested: "Changes requested",
  review_required: "Review required",
};

export function decisionChip(decision: string | null | undefined): Html {
  return decision ? html`<span class="review-state ${decision}">${DECISION[decision]}</span>` : html``;
}
