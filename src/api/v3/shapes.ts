// GitHub's JSON shapes for issues, comments, labels, events and users, as its REST
// reference gives them, so clients written for GitHub read ours unchanged. Ids are the
// repository's own; `node_id`s are stable strings made from the repository id.
import type { Context } from "hono";
import type { Granted } from "../../access/check";
import type { Actor, Comment, Issue, IssueEvent, Label } from "../../repo/collab";

/** Where things of one repository live, for the URLs every shape carries. */
export interface Where {
  origin: string;
  /** `${origin}/api/v3` */
  api: string;
  /** `${api}/repos/owner/name` */
  repo: string;
  /** `${origin}/owner/name` */
  html: string;
  repoId: number;
}

export function whereOf(c: Context, g: Granted): Where {
  const origin = new URL(c.req.url).origin;
  const api = `${origin}/api/v3`;
  return {
    origin,
    api,
    repo: `${api}/repos/${g.repo.owner}/${g.repo.name}`,
    html: `${origin}/${g.repo.owner}/${g.repo.name}`,
    repoId: g.repo.id,
  };
}

const time = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"));
const nodeId = (kind: string, w: Where, id: number) => `${kind}_${btoa(`${w.repoId}:${id}`).replace(/=+$/, "")}`;

export function userJson(w: Where, a: Actor) {
  return {
    login: a.login,
    id: a.id,
    node_id: `U_${btoa(String(a.id)).replace(/=+$/, "")}`,
    avatar_url: "",
    gravatar_id: "",
    url: `${w.api}/users/${a.login}`,
    html_url: `${w.origin}/${a.login}`,
    type: "User",
    site_admin: false,
  };
}

export function labelJson(w: Where, l: Label) {
  return {
    id: l.id,
    node_id: nodeId("LA", w, l.id),
    url: `${w.repo}/labels/${encodeURIComponent(l.name)}`,
    name: l.name,
    color: l.color,
    default: false,
    description: l.description || null,
  };
}

export function issueJson(w: Where, i: Issue) {
  const url = `${w.repo}/issues/${i.number}`;
  return {
    url,
    repository_url: w.repo,
    labels_url: `${url}/labels{/name}`,
    comments_url: `${url}/comments`,
    events_url: `${url}/events`,
    html_url: `${w.html}/${i.kind === "pull" ? "pull" : "issues"}/${i.number}`,
    id: i.id,
    node_id: nodeId("I", w, i.id),
    number: i.number,
    title: i.title,
    user: userJson(w, i.author),
    labels: i.labels.map((l) => labelJson(w, l)),
    state: i.state,
    locked: false,
    assignee: i.assignees[0] ? userJson(w, i.assignees[0]) : null,
    assignees: i.assignees.map((a) => userJson(w, a)),
    milestone: null,
    comments: i.comments,
    created_at: time(i.createdAt),
    updated_at: time(i.updatedAt),
    closed_at: time(i.closedAt),
    closed_by: i.closedBy ? userJson(w, i.closedBy) : null,
    active_lock_reason: null,
    body: i.body || null,
    state_reason: i.stateReason,
    timeline_url: `${url}/timeline`,
    // GitHub marks a pull request listed among issues by this key; issues have none.
    ...(i.kind === "pull" ? { pull_request: { url: `${w.repo}/pulls/${i.number}`, html_url: `${w.html}/pull/${i.number}` } } : {}),
  };
}

export function commentJson(w: Where, cm: Comment) {
  return {
    id: cm.id,
    node_id: nodeId("IC", w, cm.id),
    url: `${w.repo}/issues/comments/${cm.id}`,
    html_url: `${w.html}/issues/${cm.issueNumber}#issuecomment-${cm.id}`,
    issue_url: `${w.repo}/issues/${cm.issueNumber}`,
    body: cm.body,
    user: userJson(w, cm.author),
    created_at: time(cm.createdAt),
    updated_at: time(cm.updatedAt),
  };
}

export function eventJson(w: Where, e: IssueEvent) {
  return {
    id: e.id,
    node_id: nodeId("E", w, e.id),
    url: `${w.repo}/issues/events/${e.id}`,
    actor: userJson(w, e.actor),
    event: e.kind,
    commit_id: null,
    commit_url: null,
    created_at: time(e.createdAt),
    ...(e.label ? { label: e.label } : {}),
    ...(e.assignee ? { assignee: userJson(w, e.assignee) } : {}),
    ...(e.rename ? { rename: e.rename } : {}),
    ...(e.kind === "closed" || e.kind === "reopened" ? { state_reason: e.stateReason ?? null } : {}),
  };
}
