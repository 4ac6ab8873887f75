// Pull requests as the repository object keeps them: the records (../collab/pulls.ts)
// checked against the branches they name, mergeability computed on read for the current
// base and head and cached in the record until either moves, the merge through
// ./pulls (which moves the base by compare-and-swap), and what a push changes: heads
// moved (pushed or force-pushed), bases moved, heads merged by a push. Issues named by
// `Fixes #N` in the description or the merged commits close when a PR merges into the
// default branch.
import type { CommandResult, PushHooks, PushRequest, PushSession } from "../git/protocol/receive-pack";
import type { RefStore } from "../git/refs";
import { leftRight } from "../git/rev-list";
import type { ObjectStore } from "../git/store/object-store";
import type { Actor, Collab, HeadRepo, Pull, PullChanges, PullQuery, Result } from "./collab";
import { ok, refused } from "./collab/types";
import { ruleFor } from "./protection";
import { type Identity, type MergeMethod, type PullMerges, type PullMergeResult, type When, closesIssues } from "./pulls";
import { messageText, readRawCommit } from "../git/commit-writer";

const ZERO = "0".repeat(40);
/** Whose name events of a push carry when the pusher is not known. */
const GHOST: Actor = { id: 0, login: "ghost" };

export type MergeableState = "clean" | "dirty" | "unknown" | "blocked";

export interface PullView extends Pull {
  mergeableState: MergeableState;
  /** Why a PR cannot be merged automatically, when not for conflicts. */
  mergeableMessage?: string;
  /** Commits on the head that the base lacks. */
  commits: number;
}

export interface PullMergeInput {
  method: MergeMethod;
  /** The head the caller saw (the API's `sha`); refused with 409 if the head moved since. */
  sha?: string;
  commitTitle?: string;
  commitMessage?: string;
  committer: Identity;
  when: When;
  /** `owner/branch` for the default merge message. */
  headLabel: string;
  /** The caller administers the repository: protection rules that do not enforce admins let it through. */
  admin?: boolean;
}

export type PullMergeAnswer =
  | { merged: true; sha: string; closed: number[]; moved: { ref: string; old: string; new: string } }
  | { merged: false; status: number; message: string; conflicts?: string[] };

export interface PullRequestsHost {
  collab: Collab;
  refs: RefStore;
  store: ObjectStore;
  merges(): PullMerges;
  /** What a protected base asks of a pull request before it merges (./protection.ts). */
  gate?(pull: Pull, head: string, base: string): { blockers: string[]; bypass: (admin: boolean) => boolean };
}

const branchRef = (name: string) => `refs/heads/${name}`;

/**
 * The ref that holds a pull request's head here: its branch, or for a head in a fork the
 * copy the base keeps of it (`refs/pull/N/head`, as on GitHub).
 */
export const headRefOf = (pull: Pull) => (pull.headRepo ? `refs/pull/${pull.issue.number}/head` : branchRef(pull.head));

export class PullRequests implements PushHooks {
  constructor(private readonly host: PullRequestsHost) {}

  private get collab() {
    return this.host.collab;
  }

  private tip(branch: string): string | null {
    return this.host.refs.resolve(branchRef(branch));
  }

  private headTip(pull: Pull): string | null {
    return this.host.refs.resolve(headRefOf(pull));
  }

  defaultBranch(): string | null {
    const symref = this.host.refs.head().symref;
    return symref?.startsWith("refs/heads/") ? symref.slice(11) : null;
  }

  create(author: Actor, input: { title: string; body: string; base: string; head: string }): Result<PullView> {
    const baseSha = this.tip(input.base);
    if (!baseSha) return refused("invalid", `The base branch ${input.base} does not exist.`, "base");
    const headSha = this.tip(input.head);
    if (!headSha) return refused("invalid", `The head branch ${input.head} does not exist.`, "head");
    if (input.base === input.head) return refused("invalid", `The head and base branches are the same: ${input.head}`, "head");
    const div = leftRight(this.host.store, baseSha, headSha);
    if (!div.truncated && div.right.length === 0) return refused("invalid", `No commits between ${input.base} and ${input.head}`, "base");
    const r = this.collab.createPull(author, { ...input, baseSha, headSha });
    return r.ok ? ok(this.viewOf(r.value, div.right.length)) : r;
  }

  /**
   * Opens a pull request from a branch of a fork, whose head commit `headSha` (with the
   * objects it needs) is already stored here; keeps it under refs/pull/N/head.
   */
  createFromFork(
    author: Actor,
    input: { title: string; body: string; base: string; headRepo: HeadRepo },
    headSha: string,
  ): Result<PullView> {
    const baseSha = this.tip(input.base);
    if (!baseSha) return refused("invalid", `The base branch ${input.base} does not exist.`, "base");
    const div = leftRight(this.host.store, baseSha, headSha);
    if (!div.truncated && div.right.length === 0)
      return refused("invalid", `No commits between ${input.base} and ${input.headRepo.fullName}:${input.headRepo.branch}`, "base");
    const head = `${input.headRepo.fullName.split("/")[0]}:${input.headRepo.branch}`;
    const r = this.collab.createPull(author, {
      title: input.title,
      body: input.body,
      base: input.base,
      head,
      headSha,
      baseSha,
      headRepo: input.headRepo,
    });
    if (!r.ok) return r;
    const ref = headRefOf(r.value);
    const moved = this.host.refs.update([{ name: ref, old: this.host.refs.resolve(ref) ?? ZERO, new: headSha }], true);
    if (!moved[0]?.ok) throw new Error(`${ref} could not be written`);
    return ok(this.viewOf(r.value, div.right.length));
  }

  /** The fork's head branch of an open pull request moved to `sha` (stored here already). */
  forkHeadMoved(number: number, sha: string, actor: Actor): void {
    const pull = this.collab.pull(number);
    if (!pull?.headRepo || pull.issue.state !== "open") return;
    const ref = headRefOf(pull);
    const old = this.host.refs.resolve(ref) ?? ZERO;
    if (old === sha) return;
    this.host.refs.update([{ name: ref, old, new: sha }], true);
    this.collab.branchMoved(number, actor, "head", sha, !this.contains(sha, pull.headSha));
    if (ruleFor(this.collab.branchRules(), pull.base)?.dismissStaleReviews) this.collab.dismissApprovals(number, sha);
    const base = this.tip(pull.base);
    if (base && this.contains(base, sha)) this.collab.markMerged(number, actor, base, [], pull.baseSha);
  }

  list(query: PullQuery) {
    const page = this.collab.listPulls(query);
    return { total: page.total, items: page.items.map((p) => this.viewOf(p, null)) };
  }

  update(
    number: number,
    actor: Actor,
    changes: { title?: string; body?: string; state?: "open" | "closed"; base?: string },
  ): Result<PullView> {
    const pull = this.collab.pull(number);
    if (!pull) return refused("not-found", `No pull request #${number}.`);
    const c: PullChanges = { title: changes.title, body: changes.body, state: changes.state };
    if (changes.base !== undefined && changes.base !== pull.base) {
      const sha = this.tip(changes.base);
      if (!sha) return refused("invalid", `The base branch ${changes.base} does not exist.`, "base");
      c.base = { name: changes.base, sha };
    }
    if (changes.state === "open" && pull.issue.state === "closed" && !pull.merged) {
      const head = this.headTip(pull);
      if (!head) return refused("invalid", `The head branch ${pull.head} no longer exists.`, "state");
      if (head !== pull.headSha) this.collab.branchMoved(number, actor, "head", head, !this.contains(head, pull.headSha));
    }
    const r = this.collab.updatePull(number, actor, c);
    return r.ok ? ok(this.viewOf(r.value, null)) : r;
  }

  /** The pull request with its mergeability for the current base and head, computed now if not known. */
  async get(number: number): Promise<PullView | null> {
    const pull = this.collab.pull(number);
    if (!pull) return null;
    if (pull.merged || pull.issue.state === "closed") return this.viewOf(pull, null);
    const base = this.tip(pull.base);
    const head = this.headTip(pull);
    if (!base || !head)
      return {
        ...this.viewOf(pull, null),
        mergeable: false,
        mergeableState: "blocked",
        mergeableMessage: `The ${base ? "head" : "base"} branch is gone`,
      };
    const key = `${base} ${head}`;
    const answer = await this.host.merges().mergeability(base, head);
    if ("missing" in answer)
      return { ...this.viewOf(pull, null), mergeable: false, mergeableState: "blocked", mergeableMessage: answer.message };
    const check = answer.check;
    const mergeable = check.kind === "clean";
    const conflicts = check.kind === "conflicts" ? check.paths : [];
    if (pull.mergeableKey !== key || pull.mergeable !== mergeable) this.collab.setMergeable(number, key, mergeable, conflicts);
    const view = this.viewOf({ ...pull, mergeable, mergeableKey: key, conflicts }, answer.ahead);
    if (check.kind !== "clean" && check.kind !== "conflicts") view.mergeableMessage = check.message;
    return view;
  }

  private viewOf(pull: Pull, commits: number | null): PullView {
    const mergeableState: MergeableState =
      pull.mergeable === null ? "unknown" : pull.mergeable ? "clean" : pull.conflicts.length ? "dirty" : "blocked";
    const count = commits ?? (pull.merged || pull.issue.state === "closed" ? this.ahead(pull.baseSha, pull.headSha) : this.liveAhead(pull));
    return { ...pull, mergeableState, commits: count };
  }

  private ahead(base: string, head: string): number {
    if (!this.host.store.has(base) || !this.host.store.has(head)) return 0;
    return leftRight(this.host.store, base, head).right.length;
  }

  private liveAhead(pull: Pull): number {
    return this.ahead(this.tip(pull.base) ?? pull.baseSha, this.headTip(pull) ?? pull.headSha);
  }

  /** The commits the pull request compares: live branches while open, as last seen once closed. */
  range(pull: Pull): { base: string; head: string } {
    if (pull.merged || pull.issue.state === "closed") return { base: pull.baseSha, head: pull.headSha };
    return { base: this.tip(pull.base) ?? pull.baseSha, head: this.headTip(pull) ?? pull.headSha };
  }

  /** Whether `tip` reaches `commit` (a fast-forward from `commit` to `tip`). */
  private contains(tip: string, commit: string): boolean {
    if (tip === commit) return true;
    if (!this.host.store.has(commit)) return false;
    const div = leftRight(this.host.store, tip, commit);
    return !div.truncated && div.right.length === 0;
  }

  async merge(number: number, actor: Actor, input: PullMergeInput): Promise<PullMergeAnswer> {
    const pull = this.collab.pull(number);
    if (!pull) return { merged: false, status: 404, message: "Not Found" };
    if (pull.merged) return { merged: false, status: 405, message: "Pull Request is already merged" };
    if (pull.issue.state !== "open") return { merged: false, status: 405, message: "Pull Request is not mergeable" };
    const head = this.headTip(pull);
    const base = this.tip(pull.base);
    if (!head || !base) return { merged: false, status: 405, message: "Pull Request is not mergeable" };
    if (input.sha !== undefined && input.sha !== head)
      return { merged: false, status: 409, message: "Head branch was modified. Review and try the merge again." };
    const gate = this.host.gate?.(pull, head, base);
    if (gate?.blockers.length && !gate.bypass(!!input.admin)) return { merged: false, status: 405, message: gate.blockers[0] };
    const result: PullMergeResult = await this.host.merges().merge({
      base: pull.base,
      head,
      headRef: headRefOf(pull),
      method: input.method,
      number,
      title: pull.issue.title,
      headLabel: input.headLabel,
      commitTitle: input.commitTitle,
      commitMessage: input.commitMessage,
      committer: input.committer,
      when: input.when,
      user: actor.login,
      admin: input.admin,
    });
    if (!result.merged) {
      const message = result.status === 405 && result.reason === "conflict" ? "Pull Request is not mergeable" : result.message;
      return { merged: false, status: result.status, message, conflicts: result.conflicts };
    }
    const closes = await this.closes(pull, base, head);
    const marked = this.collab.markMerged(number, actor, result.sha, closes, base);
    // Other pull requests on the moved base: their mergeability is no longer known.
    const move = { ref: branchRef(pull.base), old: base, new: result.sha };
    this.moved([move], actor);
    return { merged: true, sha: result.sha, closed: marked.ok ? marked.value.closed : [], moved: move };
  }

  /** Issues the PR closes on merging into the default branch: `Fixes #N` in its body or its commits. */
  private async closes(pull: Pull, base: string, head: string): Promise<number[]> {
    if (pull.base !== this.defaultBranch()) return [];
    const texts = [pull.issue.body];
    const div = leftRight(this.host.store, base, head);
    for (const oid of div.right.slice(0, 250)) texts.push(messageText(readRawCommit((await this.host.store.read(oid)).data)));
    return [...new Set(texts.flatMap((t) => closesIssues(t)))];
  }

  // ---- after a push ----------------------------------------------------------------

  /** The post-receive hook: open pull requests follow their branches. */
  postReceive(push: PushRequest, results: CommandResult[], session?: PushSession): void {
    const moves = push.commands.filter((c, i) => results[i]?.ok && c.ref.startsWith("refs/heads/"));
    if (moves.length) this.moved(moves, session?.pusher ?? GHOST);
  }

  /** A new branch (not the default one): where to open a pull request from it, or the one open. */
  pushMessages(push: PushRequest, results: CommandResult[], session?: PushSession): string[] {
    const moves = push.commands.filter((c, i) => results[i]?.ok && c.ref.startsWith("refs/heads/"));
    const lines: string[] = [];
    const def = this.defaultBranch();
    for (const c of moves) {
      const branch = c.ref.slice(11);
      if (c.old !== ZERO || c.new === ZERO || branch === def || !session?.webBase || !def) continue;
      const open = this.collab.openPullsOn([branch]).find((p) => p.head === branch);
      if (open) {
        lines.push(`View pull request for ${branch} => ${def}:`, `     ${session.webBase}/pull/${open.issue.number}`);
      } else {
        lines.push(`Create a pull request for '${branch}' on Gitflare by visiting:`, `     ${session.webBase}/pull/new/${branch}`);
      }
    }
    return lines.length ? ["", ...lines, ""] : [];
  }

  /** Branches moved (by a push or a merge): update the open pull requests on them. */
  moved(moves: { ref: string; old: string; new: string }[], actor: Actor): void {
    if (!this.collab.hasPulls()) return;
    const branches = moves.map((m) => m.ref.slice(11));
    for (const pull of this.collab.openPullsOn(branches)) {
      const head = this.headTip(pull);
      const base = this.tip(pull.base);
      if (head && base && head !== pull.headSha) {
        this.collab.branchMoved(pull.issue.number, actor, "head", head, !this.contains(head, pull.headSha));
        // "Dismiss stale approvals": new commits undo approvals given on the old head, as on GitHub.
        if (ruleFor(this.collab.branchRules(), pull.base)?.dismissStaleReviews) this.collab.dismissApprovals(pull.issue.number, head);
      }
      if (head && base && this.contains(base, head)) {
        // Someone pushed the merge (or the head's commits) to the base: the PR is merged.
        const closes = pull.base === this.defaultBranch() ? closesIssues(pull.issue.body) : [];
        this.collab.markMerged(pull.issue.number, actor, base, closes, pull.baseSha);
        continue;
      }
      if (base && base !== pull.baseSha) this.collab.branchMoved(pull.issue.number, actor, "base", base);
    }
  }
}
