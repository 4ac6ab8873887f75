// GitHub's JSON shapes for pull request reviews and review (line) comments, as its REST
// reference gives them. A comment placed in the current diff carries `line`/`position`
// there and the head as `commit_id`; an outdated one has null for both and keeps its
// `original_*` anchor and `diff_hunk`.
import type { Review } from "../../repo/collab";
import type { PlacedComment } from "../../repo/code-review";
import { type Where, userJson } from "./shapes";

const time = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"));
const nodeId = (kind: string, w: Where, id: number) => `${kind}_${btoa(`${w.repoId}:${id}`).replace(/=+$/, "")}`;

export function reviewJson(w: Where, r: Review) {
  const html = `${w.html}/pull/${r.pullNumber}#pullrequestreview-${r.id}`;
  const pr = `${w.repo}/pulls/${r.pullNumber}`;
  return {
    id: r.id,
    node_id: nodeId("PRR", w, r.id),
    user: userJson(w, r.author),
    body: r.body,
    state: r.state,
    html_url: html,
    pull_request_url: pr,
    author_association: "NONE",
    _links: { html: { href: html }, pull_request: { href: pr } },
    ...(r.submittedAt !== null ? { submitted_at: time(r.submittedAt) } : {}),
    commit_id: r.commitId,
  };
}

export function reviewCommentJson(w: Where, c: PlacedComment) {
  const url = `${w.repo}/pulls/comments/${c.id}`;
  const html = `${w.html}/pull/${c.pullNumber}#discussion_r${c.id}`;
  const pr = `${w.repo}/pulls/${c.pullNumber}`;
  // A range's start moves with its line when the comment is current.
  const shift = c.currentLine === null ? null : c.currentLine - c.line;
  return {
    url,
    pull_request_review_id: c.reviewId,
    id: c.id,
    node_id: nodeId("PRRC", w, c.id),
    diff_hunk: c.diffHunk,
    path: c.path,
    position: c.currentPosition,
    original_position: c.position,
    commit_id: c.outdated ? c.commitId : c.headSha,
    original_commit_id: c.commitId,
    ...(c.inReplyTo !== null ? { in_reply_to_id: c.inReplyTo } : {}),
    user: userJson(w, c.author),
    body: c.body,
    created_at: time(c.createdAt),
    updated_at: time(c.updatedAt),
    html_url: html,
    pull_request_url: pr,
    author_association: "NONE",
    _links: { self: { href: url }, html: { href: html }, pull_request: { href: pr } },
    start_line: c.startLine === null || shift === null ? null : c.startLine + shift,
    original_start_line: c.startLine,
    start_side: c.startLine === null ? null : c.startSide,
    line: c.currentLine,
    original_line: c.line,
    side: c.side,
    subject_type: "line",
  };
}
