// What the pull-request merge service answers, shaped for RPC (plain data, tagged).
import type { Identity, When } from "../../git/commit-writer";

export type { Identity, When } from "../../git/commit-writer";

export type MergeMethod = "merge" | "squash" | "rebase";

/** Why a merge cannot be done automatically, or that it can (with the merged tree). */
export type MergeCheck =
  | { kind: "clean"; tree: string }
  | { kind: "conflicts"; paths: string[] }
  | { kind: "too-large" | "unsupported" | "unrelated"; message: string };

/** Whether "rebase and merge" would work: each commit replayed without conflict. */
export type RebaseCheck =
  | { kind: "clean" }
  /** Replaying `commit` conflicts in these paths. */
  | { kind: "conflicts"; commit: string; paths: string[] }
  | { kind: "too-large" | "unsupported" | "unrelated"; message: string };

export interface Mergeability {
  /** The commits compared. */
  base: string;
  head: string;
  /** `git merge-base --all base head`, newest first. */
  mergeBases: string[];
  /** Commits on head that base lacks (the PR's commits), and on base that head lacks. */
  ahead: number;
  behind: number;
  /** The PR's commits, oldest first (at most COMMITS_LISTED of them). */
  commits: string[];
  /** The walk that counted them stopped at its limit; the counts are lower bounds. */
  truncated: boolean;
  /** Head is reachable from base: the PR's commits are in base already (merged by a push). */
  merged: boolean;
  check: MergeCheck;
  /** Present when asked for. */
  rebase?: RebaseCheck;
}

export type MergeabilityAnswer = Mergeability | { missing: "base" | "head"; message: string };

export interface PullMergeRequest {
  /** The branch to merge into: a name (`main`) or a full ref (`refs/heads/main`). */
  base: string;
  /** The head commit the caller saw: the `sha` guard. The merge merges exactly this. */
  head: string;
  /** The PR's head branch; when given, it must still point at `head`, up to the commit. */
  headRef?: string;
  method: MergeMethod;
  /** The pull request, for the messages GitHub writes. */
  number: number;
  title: string;
  /** `owner/branch`, as in "Merge pull request #N from owner/branch". */
  headLabel: string;
  /** Replace the default first line and body of the merge or squash commit (the API's commit_title, commit_message). */
  commitTitle?: string;
  commitMessage?: string;
  /** Who merges: the committer of every new commit, and author of a merge or squash commit. */
  committer: Identity;
  /** Author of a merge or squash commit, if not the committer. Rebased commits keep theirs. */
  author?: Identity;
  when: When;
  /** The account merging, for the ref policy (protected branches). */
  user?: string;
  /** The account administers the repository, for rules that let admins bypass them. */
  admin?: boolean;
}

export type MergeRefusalReason =
  | "invalid"
  | "not-found"
  | "stale-head"
  | "base-moved"
  | "already-merged"
  | "conflict"
  | "too-large"
  | "unsupported"
  | "unrelated"
  | "policy"
  | "quota";

export interface PullMergeRefusal {
  merged: false;
  reason: MergeRefusalReason;
  message: string;
  /** What GitHub's merge endpoint answers for this: 404, 405, 409 or 422. */
  status: number;
  /** Doing the same again may work (the base moved while merging). */
  retryable: boolean;
  /** For a conflict: the paths, and for a rebase the commit whose replay conflicted. */
  conflicts?: string[];
  commit?: string;
}

export type PullMergeResult =
  /** `sha` is the base branch's new tip; `commits` are the new commits, oldest first. */
  { merged: true; sha: string; method: MergeMethod; commits: string[] } | PullMergeRefusal;
