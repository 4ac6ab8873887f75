// Commit statuses on pages: an icon beside a commit or branch (✓ success, ✗ failure or
// error, ● pending) whose title lists the contexts, and the checks box of a commit or a
// pull request with each context's state, description and link. A `target_url` is a link
// only when it is http(s): anyone with write access sets it, and a `javascript:` URL must
// not become one.
import type { CommitStatus, StatusState } from "../repo/collab";
import { type Html, html } from "./layout";

export const CHECKS_CSS = html`<style>
.ci { font-weight:700; text-decoration:none; cursor:default; }
.ci.success { color:#1a7f37; } .ci.failure, .ci.error { color:#cf222e; } .ci.pending { color:#bf8700; }
.checks { list-style:none; margin:0; padding:0; }
.checks li { padding:6px 16px; border-top:1px solid var(--border); } .checks li:first-child { border-top:none; }
.protected { font-size:12px; border:1px solid var(--border); border-radius:10px; padding:0 6px; }
</style>`;

export interface Combined {
  state: StatusState;
  statuses: CommitStatus[];
}

const GLYPH: Record<StatusState, string> = { success: "✓", failure: "✗", error: "✗", pending: "●" };
const WORD: Record<StatusState, string> = { success: "Success", failure: "Failure", error: "Error", pending: "Pending" };

/** The icon for a combined state; nothing for a commit without statuses. */
export function statusIcon(combined: Combined | null | undefined): Html {
  if (!combined?.statuses.length) return html``;
  const title = combined.statuses.map((s) => `${s.context}: ${s.state}${s.description ? ` (${s.description})` : ""}`).join("\n");
  return html` <span class="ci ${combined.state}" title="${title}" aria-label="${WORD[combined.state]}: ${combined.statuses.length} checks">${GLYPH[combined.state]}</span>`;
}

export function safeLink(url: string | null): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

/** One line per context: icon, name, description and the details link. */
export function checkItems(statuses: CommitStatus[]): Html {
  return html`<ul class="checks">${statuses.map((s) => {
    const link = safeLink(s.targetUrl);
    return html`<li><span class="ci ${s.state}" aria-label="${WORD[s.state]}">${GLYPH[s.state]}</span> <b>${s.context}</b> <span class="muted">${s.description ?? ""}</span>${
      link ? html` <a href="${link}" rel="nofollow noopener noreferrer">Details</a>` : ""
    }</li>`;
  })}</ul>`;
}

/** The checks box of a commit: the combined state and each context. */
export function checksBox(combined: Combined | null): Html {
  if (!combined?.statuses.length) return html``;
  const n = combined.statuses.length;
  const ok = combined.statuses.filter((s) => s.state === "success").length;
  const summary =
    combined.state === "success"
      ? "All checks have passed"
      : combined.state === "pending"
        ? "Some checks haven't completed yet"
        : "Some checks were not successful";
  return html`<div class="box" id="checks"><div class="head">${statusIcon(combined)} <b>${summary}</b> <span class="muted">${ok} of ${n} successful</span></div>${checkItems(combined.statuses)}</div>`;
}
