// GitHub's JSON shapes for pull requests, their commits and files, as its REST reference
// gives them. A pull request is also an issue (same number, id and comments).
import type { CommitSummary } from "../../git/browse";
import type { DiffFile } from "../../repo/views";
import type { PullView } from "../../repo/pull-requests";
import type { HeadRepo } from "../../repo/collab";
import { type Where, labelJson, userJson } from "./shapes";

const time = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"));

export interface RepoInfo {
  id: number;
  owner: { id: number; login: string };
  name: string;
  isPrivate: boolean;
  /** Whether the repository is a fork. */
  fork?: boolean;
}

export function repoJson(w: Where, r: RepoInfo) {
  return {
    id: r.id,
    node_id: `R_${btoa(String(r.id)).replace(/=+$/, "")}`,
    name: r.name,
    full_name: `${r.owner.login}/${r.name}`,
    private: r.isPrivate,
    owner: userJson(w, r.owner),
    html_url: w.html,
    url: w.repo,
    clone_url: `${w.html}.git`,
    fork: r.fork ?? false,
  };
}

function branchJson(w: Where, r: RepoInfo, ref: string, sha: string) {
  return { label: `${r.owner.login}:${ref}`, ref, sha, user: userJson(w, r.owner), repo: repoJson(w, r) };
}

/** A head in a fork: its label `forkowner:branch` and the fork (as named when the pull request was opened). */
function forkBranchJson(w: Where, fork: HeadRepo, sha: string, isPrivate: boolean) {
  const [login, name] = fork.fullName.split("/");
  const owner = { id: 0, login };
  const repo = {
    ...repoJson(
      { ...w, repo: `${w.api}/repos/${fork.fullName}`, html: `${w.origin}/${fork.fullName}` },
      { id: fork.id, owner, name, isPrivate },
    ),
    fork: true,
  };
  return { label: `${login}:${fork.branch}`, ref: fork.branch, sha, user: userJson(w, owner), repo };
}

/** The list shape; the single pull request adds mergeability and counts (`full`). */
export interface DiffCounts {
  additions: number;
  deletions: number;
  changedFiles: number;
}

export function pullJson(w: Where, r: RepoInfo, p: PullView, counts: DiffCounts | null = null) {
  const i = p.issue;
  const url = `${w.repo}/pulls/${i.number}`;
  const json = {
    url,
    id: i.id,
    node_id: `PR_${btoa(`${w.repoId}:${i.id}`).replace(/=+$/, "")}`,
    html_url: `${w.html}/pull/${i.number}`,
    diff_url: `${w.html}/pull/${i.number}.diff`,
    patch_url: `${w.html}/pull/${i.number}.patch`,
    issue_url: `${w.repo}/issues/${i.number}`,
    commits_url: `${url}/commits`,
    review_comments_url: `${url}/comments`,
    comments_url: `${w.repo}/issues/${i.number}/comments`,
    statuses_url: `${w.repo}/statuses/${p.headSha}`,
    number: i.number,
    state: i.state,
    locked: false,
    title: i.title,
    user: userJson(w, i.author),
    body: i.body || null,
    labels: i.labels.map((l) => labelJson(w, l)),
    milestone: null,
    active_lock_reason: null,
    created_at: time(i.createdAt),
    updated_at: time(i.updatedAt),
    closed_at: time(i.closedAt),
    merged_at: time(p.mergedAt),
    merge_commit_sha: p.mergeCommitSha,
    assignee: i.assignees[0] ? userJson(w, i.assignees[0]) : null,
    assignees: i.assignees.map((a) => userJson(w, a)),
    requested_reviewers: [],
    requested_teams: [],
    head: p.headRepo ? forkBranchJson(w, p.headRepo, p.headSha, r.isPrivate) : branchJson(w, r, p.head, p.headSha),
    base: branchJson(w, r, p.base, p.baseSha),
    author_association: "NONE",
    auto_merge: null,
    draft: p.draft,
  };
  if (!counts) return json;
  return {
    ...json,
    merged: p.merged,
    mergeable: p.merged || i.state === "closed" ? null : p.mergeable,
    rebaseable: null,
    mergeable_state: p.merged || i.state === "closed" ? "unknown" : p.mergeableState,
    merged_by: p.mergedBy ? userJson(w, p.mergedBy) : null,
    comments: i.comments,
    review_comments: 0,
    maintainer_can_modify: false,
    commits: p.commits,
    additions: counts.additions,
    deletions: counts.deletions,
    changed_files: counts.changedFiles,
  };
}

const sig = (s: CommitSummary["author"]) => ({ name: s.name, email: s.email, date: time(s.timestamp * 1000) });

export function pullCommitJson(w: Where, c: CommitSummary) {
  return {
    sha: c.oid,
    node_id: `C_${btoa(c.oid).replace(/=+$/, "")}`,
    url: `${w.repo}/commits/${c.oid}`,
    html_url: `${w.html}/commit/${c.oid}`,
    commit: {
      author: sig(c.author),
      committer: sig(c.committer),
      message: c.message.replace(/\n+$/, ""),
      tree: { sha: c.tree, url: `${w.repo}/git/trees/${c.tree}` },
      url: `${w.repo}/git/commits/${c.oid}`,
      comment_count: 0,
    },
    author: null,
    committer: null,
    parents: c.parents.map((sha) => ({ sha, url: `${w.repo}/commits/${sha}`, html_url: `${w.html}/commit/${sha}` })),
  };
}

/** A unified diff of a file's hunks, as GitHub's `patch` (no file header). */
function patchOf(f: DiffFile): string | undefined {
  if (f.binary || f.tooLarge) return undefined;
  return f.hunks.map((h) => `@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@\n${h.lines.join("\n")}`).join("\n");
}

export function pullFileJson(w: Where, head: string, f: DiffFile) {
  const patch = patchOf(f);
  return {
    sha: f.newOid ?? f.oldOid,
    filename: f.path,
    status: f.status,
    additions: f.additions,
    deletions: f.deletions,
    changes: f.additions + f.deletions,
    blob_url: `${w.html}/blob/${head}/${f.path}`,
    raw_url: `${w.html}/raw/${head}/${f.path}`,
    contents_url: `${w.repo}/contents/${f.path}?ref=${head}`,
    ...(patch !== undefined ? { patch } : {}),
  };
}
