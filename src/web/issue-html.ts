// Pieces of the issue pages: label chips, state badges, list rows, the conversation's
// comments and events, and Markdown with references linked.
import type { Issue, Label, TimelineItem } from "../repo/collab";
import { type Html, html, raw, relativeTime } from "./layout";
import { renderMarkdown } from "./markdown";
import type { References } from "./references";
import { qualifier } from "./issue-query";

export const ISSUE_CSS = html`<style>
.label { display:inline-block; font-size:12px; font-weight:500; padding:0 8px; border-radius:10px; line-height:20px; margin:0 2px; white-space:nowrap; }
.state { display:inline-block; color:#fff; border-radius:14px; padding:2px 10px; font-weight:600; font-size:13px; }
.state.open { background:#1a7f37; } .state.closed { background:#8250df; } .state.not_planned { background:#59636e; }
.issue-grid { display:grid; grid-template-columns:minmax(0,1fr) 240px; gap:24px; }
.issue-side h3 { font-size:13px; color:var(--muted); margin:0 0 6px; } .issue-side section { border-bottom:1px solid var(--border); padding-bottom:12px; margin-bottom:12px; }
.event { color:var(--muted); margin:0 0 16px 16px; padding-left:12px; border-left:2px solid var(--border); }
.counts a { margin-right:12px; } .counts a[aria-current] { font-weight:600; color:var(--fg); }
form.comment textarea, form.stack textarea { width:100%; min-height:120px; font:inherit; }
form.comment { padding:12px; display:flex; flex-direction:column; gap:8px; } form.comment .buttons { display:flex; gap:8px; justify-content:flex-end; flex-wrap:wrap; }
.filter { display:flex; gap:8px; margin-bottom:12px; } .filter input { flex:1; }
.tasks { color:var(--muted); font-size:12px; margin-left:6px; }
.dot { display:inline-block; width:10px; height:10px; border-radius:50%; margin-right:6px; background:#1a7f37; } .dot.closed { background:#8250df; } .dot.not_planned { background:#59636e; }
.markdown li:has(> input[type=checkbox]) { list-style:none; margin-left:-1.3em; }
form.stack textarea, form.stack input, form.stack fieldset { font-weight:normal; }
@media (max-width:760px) { .issue-grid { grid-template-columns:1fr; } }
</style>`;

/** Black or white text, whichever reads better on the label's colour. */
function ink(color: string): string {
  const [r, g, b] = [0, 2, 4].map((i) => Number.parseInt(color.slice(i, i + 2), 16));
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? "#1f2328" : "#ffffff";
}

/** A label as a coloured chip; a link to the issues carrying it when `base` is given. */
export function labelChip(label: Pick<Label, "name" | "color"> & { description?: string }, base?: string): Html {
  // The colour is six hex digits (validated on the way in), so the style cannot carry anything else.
  const style = `background:#${label.color};color:${ink(label.color)}`;
  const chip = html`<span class="label" style="${style}" title="${label.description ?? ""}">${label.name}</span>`;
  return base
    ? html`<a href="${base}/issues?q=${encodeURIComponent(`is:issue is:open ${qualifier("label", label.name)}`)}">${chip}</a>`
    : chip;
}

export function stateBadge(issue: Pick<Issue, "state" | "stateReason">): Html {
  if (issue.state === "open") return html`<span class="state open">Open</span>`;
  return issue.stateReason === "not_planned"
    ? html`<span class="state not_planned">Closed as not planned</span>`
    : html`<span class="state closed">Closed</span>`;
}

const ago = (ms: number) => relativeTime(ms / 1000);

/** "2 of 5 tasks" for a body with a task list. */
function tasks(body: string): Html {
  const all = body.match(/^\s*[-*+] \[[ xX]\] /gm) ?? [];
  if (!all.length) return html``;
  const done = all.filter((t) => /\[[xX]\]/.test(t)).length;
  return html`<span class="tasks">${done} of ${all.length} tasks</span>`;
}

/** A dot in the state's colour. */
export const stateDot = (state: string) => html`<span class="dot ${state}" aria-hidden="true"></span>`;

export function issueRow(base: string, i: Issue): Html {
  const state = i.state === "open" ? "open" : i.stateReason === "not_planned" ? "not_planned" : "closed";
  return html`<tr><td>${stateDot(state)}<a href="${base}/issues/${i.number}"><b>${i.title}</b></a> ${i.labels.map((l) => labelChip(l, base))}${tasks(i.body)}
<div class="muted">#${i.number} ${i.state === "open" ? html`opened ${ago(i.createdAt)}` : html`closed ${ago(i.closedAt ?? i.updatedAt)}`} by <a href="/${i.author.login}">${i.author.login}</a></div></td>
<td class="age">${i.assignees.map((a) => html`<a href="/${a.login}">${a.login}</a> `)}${i.comments && i.assignees.length ? " · " : ""}${i.comments ? `${i.comments} comment${i.comments === 1 ? "" : "s"}` : ""}</td></tr>`;
}

export function markdown(text: string, refs: References): Html {
  return text.trim() ? raw(renderMarkdown(text, undefined, refs)) : html`<p class="muted"><em>No description provided.</em></p>`;
}

function eventText(base: string, e: Extract<TimelineItem, { type: "event" }>): Html {
  switch (e.kind) {
    case "closed":
      if (e.pull) return html`closed this as completed in <a href="${base}/pull/${e.pull}">#${e.pull}</a>`;
      if (!e.stateReason) return html`closed this`;
      return html`closed this as ${e.stateReason === "not_planned" ? "not planned" : "completed"}`;
    case "reopened":
      return html`reopened this`;
    case "labeled":
      return html`added the ${e.label ? labelChip(e.label, base) : ""} label`;
    case "unlabeled":
      return html`removed the ${e.label ? labelChip(e.label, base) : ""} label`;
    case "assigned":
      return e.assignee?.id === e.actor.id
        ? html`self-assigned this`
        : html`assigned <a href="/${e.assignee?.login}">${e.assignee?.login}</a>`;
    case "unassigned":
      return e.assignee?.id === e.actor.id
        ? html`removed their assignment`
        : html`unassigned <a href="/${e.assignee?.login}">${e.assignee?.login}</a>`;
    case "renamed":
      return html`changed the title <del>${e.rename?.from}</del> ${e.rename?.to}`;
    case "merged":
      return html`merged commit <a href="${base}/commit/${e.commitId}"><code>${e.commitId?.slice(0, 7)}</code></a>`;
    case "head_ref_pushed":
      return html`pushed <a href="${base}/compare/${e.before}...${e.after}">new commits</a>`;
    case "head_ref_force_pushed":
      return html`force-pushed the branch from <code>${e.before?.slice(0, 7)}</code> to <code>${e.after?.slice(0, 7)}</code>`;
    case "base_ref_changed":
      return html`changed the base branch from <code>${e.base?.from}</code> to <code>${e.base?.to}</code>`;
  }
}

export function eventLine(base: string, e: Extract<TimelineItem, { type: "event" }>): Html {
  return html`<div class="event" id="event-${e.id}"><a href="/${e.actor.login}"><b>${e.actor.login}</b></a> ${eventText(base, e)} <span title="${new Date(e.createdAt).toISOString()}">${ago(e.createdAt)}</span></div>`;
}

/** A comment-like box: the description or a comment, with its author and actions. */
export function commentBox(opts: { id: string; author: string; at: number; edited: boolean; body: Html; actions?: Html }): Html {
  return html`<div class="box" id="${opts.id}"><div class="head"><a href="/${opts.author}"><b>${opts.author}</b></a>
<a class="muted" href="#${opts.id}" title="${new Date(opts.at).toISOString()}">commented ${ago(opts.at)}</a>${opts.edited ? html` <span class="muted">· edited</span>` : ""}
<span style="margin-left:auto">${opts.actions ?? ""}</span></div><div class="markdown">${opts.body}</div></div>`;
}
