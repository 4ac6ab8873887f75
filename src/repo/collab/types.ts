// The shapes the collaboration store hands across RPC: plain objects, times in
// milliseconds since the epoch. People are named by their account id and the login
// they had when they wrote (accounts are not renamed, so the login is also the key
// the list filters use).

export interface Actor {
  id: number;
  login: string;
}

/**
 * What a number names. Issues and pull requests share one number sequence per
 * repository, as on GitHub; a pull request will be an issue row of kind "pull" with
 * its own table beside it.
 */
export type IssueKind = "issue" | "pull";
export type IssueState = "open" | "closed";
/** GitHub's `state_reason`: why an issue is closed, or that it was reopened. */
export type StateReason = "completed" | "not_planned" | "reopened";

export interface Label {
  id: number;
  name: string;
  /** Six hex digits, without `#`. */
  color: string;
  description: string;
}

export interface Issue {
  id: number;
  number: number;
  kind: IssueKind;
  title: string;
  body: string;
  state: IssueState;
  stateReason: StateReason | null;
  author: Actor;
  labels: Label[];
  assignees: Actor[];
  comments: number;
  createdAt: number;
  updatedAt: number;
  closedAt: number | null;
  closedBy: Actor | null;
}

export interface Comment {
  id: number;
  issueNumber: number;
  author: Actor;
  body: string;
  createdAt: number;
  updatedAt: number;
}

export type EventKind =
  | "closed"
  | "reopened"
  | "labeled"
  | "unlabeled"
  | "assigned"
  | "unassigned"
  | "renamed"
  // Pull requests: merged, the head branch pushed (fast-forward) or force-pushed, the base changed.
  | "merged"
  | "head_ref_pushed"
  | "head_ref_force_pushed"
  | "base_ref_changed";

export interface IssueEvent {
  id: number;
  issueNumber: number;
  kind: EventKind;
  actor: Actor;
  createdAt: number;
  label?: { name: string; color: string };
  assignee?: Actor;
  rename?: { from: string; to: string };
  stateReason?: StateReason | null;
  /** The commit the event is about: a merge's commit, an issue closed by a merged pull request. */
  commitId?: string;
  /** The pull request that closed an issue. */
  pull?: number;
  /** A head branch's move: from, to. */
  before?: string;
  after?: string;
  /** A base branch change. */
  base?: { from: string; to: string };
}

/** A conversation in order: comments and events, oldest first. */
export type TimelineItem = ({ type: "comment" } & Comment) | ({ type: "event" } & IssueEvent);

/** Which issues a list shows; every condition must hold. */
export interface IssueQuery {
  /** Absent: both kinds, as GitHub's REST list does. */
  kind?: IssueKind;
  state: IssueState | "all";
  /** Label names, each of which must be on the issue (case-insensitive). */
  labels: string[];
  /** Only issues without any label. */
  noLabel?: boolean;
  author?: string;
  /** A login, "*" for any assignee, "none" for no assignee. */
  assignee?: string;
  /** Words, each of which must appear in the title or the body. */
  text: string[];
  sort: "created" | "updated" | "comments";
  direction: "asc" | "desc";
  /** Only issues updated at or after this time. */
  since?: number;
  offset: number;
  limit: number;
}

export interface IssuePage {
  items: Issue[];
  /** How many issues match, in the state asked for. */
  total: number;
  /** How many match in each state, the state condition aside. */
  open: number;
  closed: number;
}

export interface IssueChanges {
  title?: string;
  body?: string;
  state?: IssueState;
  stateReason?: StateReason | null;
  /** The whole set of label names; missing labels are created. */
  labels?: string[];
  /** The whole set of assignees (already checked to have access). */
  assignees?: Actor[];
}

export interface NewIssue {
  title: string;
  body: string;
  labels?: string[];
  assignees?: Actor[];
}

export interface LabelFields {
  name?: string;
  color?: string;
  description?: string;
}

/** Why a change was refused; `field` names the input at fault, as GitHub's 422 does. */
export type Refused = { ok: false; code: "not-found" | "exists" | "invalid"; message: string; field?: string };
export type Result<T> = { ok: true; value: T } | Refused;

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const refused = (code: Refused["code"], message: string, field?: string): Refused => ({ ok: false, code, message, field });

/**
 * A pull request: an issue row of kind "pull" (number, title, body, state, labels,
 * comments) and its branches. Same-repository branches only for now; forks come later.
 */
export interface Pull {
  issue: Issue;
  /** Branch names, without `refs/heads/`. */
  base: string;
  head: string;
  /** The head branch's commit as last seen (at opening, then after each push). */
  headSha: string;
  /** The base branch's commit as last seen. */
  baseSha: string;
  draft: boolean;
  merged: boolean;
  mergedAt: number | null;
  mergedBy: Actor | null;
  mergeCommitSha: string | null;
  /** null while unknown (not computed for the current base and head). */
  mergeable: boolean | null;
  /** `${baseSha} ${headSha}` the cached mergeability is for. */
  mergeableKey: string | null;
  /** Paths in conflict when not mergeable. */
  conflicts: string[];
  /** For a head in a fork (`head` is then `forkowner:branch`): the fork and its branch. */
  headRepo?: HeadRepo;
}

/** The fork a pull request's head is in. */
export interface HeadRepo {
  /** The fork's Durable Object name. */
  repo: string;
  id: number;
  /** owner/name when the pull request was opened. */
  fullName: string;
  branch: string;
}

export interface NewPull {
  title: string;
  body: string;
  base: string;
  head: string;
  headSha: string;
  baseSha: string;
  headRepo?: HeadRepo;
}

export interface PullQuery {
  state: IssueState | "all";
  base?: string;
  head?: string;
  sort: "created" | "updated";
  direction: "asc" | "desc";
  offset: number;
  limit: number;
}

export interface PullPage {
  items: Pull[];
  total: number;
}

export interface PullChanges {
  title?: string;
  body?: string;
  state?: IssueState;
  /** A new base branch (already checked to exist), with its commit. */
  base?: { name: string; sha: string };
}

/**
 * A protected-branch rule, for the branches whose names `pattern` matches (a name, or a
 * glob: `*` within a path segment, `**` across them). GitHub's protection settings.
 */
export interface BranchRule {
  pattern: string;
  /** Changes arrive only by pull request: direct pushes, the editor and the API are refused. */
  requirePullRequest: boolean;
  /** Approving reviews a pull request needs before it merges. */
  requiredApprovals: number;
  /** A new push to the head makes earlier approvals not count. */
  dismissStaleReviews: boolean;
  /** Status contexts that must be `success` on the head commit. */
  requiredChecks: string[];
  /** The head must contain the base's tip (GitHub's `strict`). */
  strictChecks: boolean;
  /** The rules bind admins too; otherwise repository admins bypass them. */
  enforceAdmins: boolean;
  allowForcePushes: boolean;
  allowDeletions: boolean;
}
