// The server side of pull requests in git terms, as Gitea's services/pull does it: whether a
// head merges into a base (and where it conflicts), and the three ways GitHub merges one.
// Trees come from the merge engine (../../git/merge), which agrees with
// `git merge-tree --write-tree`; new objects stay in memory until the base branch moves by
// compare-and-swap in the same transaction that stores them (../../git/ref-transaction.ts).
import type { Dofs } from "../../fs/dofs";
import { type MergeOutcome, findMergeBases, mergeCommits, mergeTrees } from "../../git/merge";
import { OBJ_COMMIT, ObjectFormatError, isOid } from "../../git/object/object";
import { type RefPolicy, commitObjects } from "../../git/ref-transaction";
import type { RefStore } from "../../git/refs";
import { leftRight } from "../../git/rev-list";
import type { ObjectStore } from "../../git/store/object-store";
import { type RawCommit, commitBytes, identLine, readRawCommit } from "../../git/commit-writer";
import { mergeMessage, squashMessage } from "./messages";
import { OverlayObjects } from "./overlay";
import type {
  MergeCheck,
  MergeRefusalReason,
  Mergeability,
  MergeabilityAnswer,
  PullMergeRefusal,
  PullMergeRequest,
  PullMergeResult,
  RebaseCheck,
} from "./types";

export interface PullsHost {
  fs: Dofs;
  store: ObjectStore;
  refs: RefStore;
  policy?: RefPolicy | null;
}

/** GitHub lists at most 250 commits of a pull request. */
export const COMMITS_LISTED = 250;
/** Past this many commits a rebase merge is refused as too large (each is a merge). */
export const MAX_REBASE_COMMITS = 250;

const enc = new TextEncoder();

function refusal(reason: MergeRefusalReason, message: string, extra: Partial<PullMergeRefusal> = {}): PullMergeRefusal {
  const status = reason === "not-found" ? 404 : reason === "invalid" ? 422 : reason === "stale-head" || reason === "base-moved" ? 409 : 405;
  return { merged: false, reason, message, status, retryable: reason === "base-moved", ...extra };
}

function checkOf(outcome: MergeOutcome): MergeCheck {
  if ("clean" in outcome) return outcome.clean ? { kind: "clean", tree: outcome.tree } : { kind: "conflicts", paths: outcome.conflicts };
  if ("tooLarge" in outcome) return { kind: "too-large", message: outcome.message };
  if ("unsupported" in outcome) return { kind: "unsupported", message: outcome.message };
  return { kind: "unrelated", message: outcome.message };
}

function refusalOf(check: Exclude<MergeCheck, { kind: "clean" }> | Exclude<RebaseCheck, { kind: "clean" }>): PullMergeRefusal {
  if (check.kind === "conflicts") {
    const where = "commit" in check ? ` while replaying ${check.commit}` : "";
    return refusal("conflict", `Merge conflict${where} in: ${check.paths.join(", ")}`, {
      conflicts: check.paths,
      ...("commit" in check ? { commit: check.commit } : {}),
    });
  }
  return refusal(check.kind, check.message);
}

type Replayed = { kind: "clean"; tip: string; tree: string; commits: string[] } | Exclude<RebaseCheck, { kind: "clean" }>;

export class PullMerges {
  private readonly cache = new Map<string, Mergeability>();

  constructor(private readonly host: PullsHost) {}

  /** A branch name or full ref, as a full ref name. */
  private refName(name: string): string {
    return name.startsWith("refs/") ? name : `refs/heads/${name}`;
  }

  /** A commit that a ref name or an oid names, annotated tags peeled; null if none. */
  private commitOf(spec: string): string | null {
    const { store, refs } = this.host;
    let oid = refs.resolve(this.refName(spec)) ?? (isOid(spec) ? spec : null);
    if (oid && store.typeOf(oid) !== OBJ_COMMIT) oid = store.peel(oid);
    return oid && store.typeOf(oid) === OBJ_COMMIT ? oid : null;
  }

  /**
   * Whether `head` merges into `base` (each a branch, ref or commit id): merge bases,
   * ahead/behind, and the merge's outcome; with `rebase`, whether a rebase merge would
   * work too. Nothing is stored. Answers for the same two commits are cached.
   */
  async mergeability(base: string, head: string, options: { rebase?: boolean } = {}): Promise<MergeabilityAnswer> {
    const baseOid = this.commitOf(base);
    if (!baseOid) return { missing: "base", message: `No commit found for the base ${base}` };
    const headOid = this.commitOf(head);
    if (!headOid) return { missing: "head", message: `No commit found for the head ${head}` };
    const key = `${baseOid} ${headOid} ${options.rebase ? 1 : 0}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const objects = new OverlayObjects(this.host.store);
    const div = leftRight(this.host.store, baseOid, headOid);
    const bases = await findMergeBases(objects, baseOid, headOid);
    const check = checkOf(await mergeCommits(objects, baseOid, headOid));
    const answer: Mergeability = {
      base: baseOid,
      head: headOid,
      mergeBases: "bases" in bases ? bases.bases : [],
      ahead: div.right.length,
      behind: div.left.length,
      commits: div.right.slice(-COMMITS_LISTED).reverse(),
      truncated: div.truncated,
      merged: !div.truncated && div.right.length === 0,
      check,
    };
    if (options.rebase) {
      answer.rebase = await this.rebaseCheck(objects, check, baseOid, headOid, div);
    }
    if (this.cache.size >= 256) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, answer);
    return answer;
  }

  /**
   * A pull request whose head a push has brought into the base is merged: `head` is
   * reachable from `base` (each a branch, ref or commit id).
   */
  async isMergedByPush(base: string, head: string): Promise<boolean> {
    const baseOid = this.commitOf(base);
    const headOid = this.commitOf(head);
    if (!baseOid || !headOid) return false;
    const div = leftRight(this.host.store, baseOid, headOid);
    if (!div.truncated) return div.right.length === 0;
    const bases = await findMergeBases(new OverlayObjects(this.host.store), baseOid, headOid);
    return "bases" in bases && bases.bases.includes(headOid);
  }

  /** Merges a pull request by one of GitHub's three methods, moving the base branch. */
  async merge(req: PullMergeRequest): Promise<PullMergeResult> {
    const { store, refs } = this.host;
    let committer: string;
    let author: string;
    try {
      committer = identLine(req.committer, req.when);
      author = identLine(req.author ?? req.committer, req.when);
    } catch (e) {
      if (e instanceof ObjectFormatError) return refusal("invalid", `Invalid identity: ${e.message}`);
      throw e;
    }
    if (!["merge", "squash", "rebase"].includes(req.method)) return refusal("invalid", `Invalid merge method ${req.method}`);
    const baseRef = this.refName(req.base);
    const baseOid = refs.resolve(baseRef);
    if (!baseOid) return refusal("not-found", `Base branch ${req.base} not found`);
    const headRef = req.headRef ? this.refName(req.headRef) : null;
    if (headRef && refs.resolve(headRef) !== req.head) {
      return refusal("stale-head", "Head branch was modified. Review and try the merge again.");
    }
    if (!isOid(req.head) || store.typeOf(req.head) !== OBJ_COMMIT) return refusal("not-found", `Head commit ${req.head} not found`);
    const div = leftRight(store, baseOid, req.head);
    if (div.truncated) return refusal("too-large", "too many commits to merge in the browser; merge locally and push");
    if (div.right.length === 0) return refusal("already-merged", "Nothing to merge: the head is already in the base branch");

    const objects = new OverlayObjects(store);
    const merged = checkOf(await mergeCommits(objects, baseOid, req.head));
    if (merged.kind !== "clean") return refusalOf(merged);
    const pull = { number: req.number, title: req.title, headLabel: req.headLabel };
    let tip: string;
    let commits: string[];
    if (req.method === "rebase") {
      const r = await this.replay(objects, baseOid, req.head, div.right, committer);
      if (r.kind !== "clean") return refusalOf(r);
      if (r.tree !== merged.tree) return refusalOf(unsafeRebase());
      if (r.tip === baseOid) return refusal("already-merged", "Nothing to merge: every commit is already in the base branch");
      tip = r.tip;
      commits = r.commits;
    } else {
      let message: string;
      if (req.method === "merge") message = mergeMessage(pull, req.commitTitle, req.commitMessage);
      else {
        const squashed: RawCommit[] = [];
        for (const oid of [...div.right].reverse()) {
          const c = readRawCommit((await store.read(oid)).data);
          if (c.parents.length < 2) squashed.push(c);
        }
        message = squashMessage(pull, squashed, req.author ?? req.committer, req.commitTitle, req.commitMessage);
      }
      if (!message) return refusal("invalid", "Aborting commit due to empty commit message");
      const data = commitBytes({
        tree: merged.tree,
        parents: req.method === "merge" ? [baseOid, req.head] : [baseOid],
        author,
        committer,
        message: enc.encode(message),
      });
      tip = await objects.write("commit", data);
      commits = [tip];
    }

    const outcome = await commitObjects(this.host, objects.created(), {
      updates: [{ name: baseRef, old: baseOid, new: tip }],
      atomic: true,
      actor: { via: "merge", user: req.user, admin: req.admin },
      verify: headRef ? [{ name: headRef, old: req.head }] : [],
    });
    if (outcome.kind === "quota") return refusal("quota", outcome.message);
    if (outcome.kind === "applied") {
      this.cache.clear();
      return { merged: true, sha: tip, method: req.method, commits };
    }
    if (refs.resolve(baseRef) !== baseOid) {
      return refusal("base-moved", "Base branch was modified. Review and try the merge again.");
    }
    if (headRef && refs.resolve(headRef) !== req.head) {
      return refusal("stale-head", "Head branch was modified. Review and try the merge again.");
    }
    const reason = outcome.results.find((r) => !r.ok);
    return refusal("policy", reason && !reason.ok ? reason.reason : "The base branch may not be updated");
  }

  /**
   * `git rebase` of the head's commits (newest first in `right`) onto `onto`: each commit
   * merged with its parent as the merge base, as cherry-pick does, keeping its author and
   * message; a commit whose changes are already there is dropped, as rebase drops it.
   */
  private async replay(objects: OverlayObjects, onto: string, head: string, right: string[], committer: string): Promise<Replayed> {
    const { store } = this.host;
    if (right.length > MAX_REBASE_COMMITS) return { kind: "too-large", message: "too many commits to rebase in the browser" };
    const inRange = new Set(right);
    const chain: { oid: string; raw: RawCommit }[] = [];
    for (const oid of right) {
      const raw = readRawCommit((await objects.read(oid)).data);
      if (raw.parents.length > 1) return { kind: "unsupported", message: "This branch has merge commits and cannot be rebased" };
      if (raw.parents.length === 0) return { kind: "unrelated", message: "refusing to rebase unrelated histories" };
      chain.push({ oid, raw });
    }
    // Without merge commits the range is one line of descent; put it oldest first.
    const byOid = new Map(chain.map((c) => [c.oid, c]));
    const ordered: typeof chain = [];
    for (let at = head; inRange.has(at); at = byOid.get(at)!.raw.parents[0]) ordered.unshift(byOid.get(at)!);
    if (ordered.length !== chain.length) return { kind: "unsupported", message: "The commits to rebase are not one line of history" };

    let tip = onto;
    let tipTree = store.commit(onto).tree;
    const commits: string[] = [];
    for (const { oid, raw } of ordered) {
      const parentTree = await this.treeOf(objects, raw.parents[0]);
      const r = await mergeTrees(objects, { base: parentTree, ours: tipTree, theirs: raw.tree }, { labels: { ours: "HEAD", theirs: oid } });
      const check = checkOf(r);
      if (check.kind === "conflicts") return { kind: "conflicts", commit: oid, paths: check.paths };
      if (check.kind !== "clean") return check;
      if (check.tree === tipTree && raw.tree !== parentTree) continue;
      const data = commitBytes({
        tree: check.tree,
        parents: [tip],
        author: raw.author,
        committer,
        extra: raw.encoding ? [raw.encoding] : [],
        message: raw.message,
      });
      tip = await objects.write("commit", data);
      tipTree = check.tree;
      commits.push(tip);
    }
    return { kind: "clean", tip, tree: tipTree, commits };
  }

  /** Whether a rebase merge would work, as `merge` decides it, without storing anything. */
  private async rebaseCheck(
    objects: OverlayObjects,
    merged: MergeCheck,
    base: string,
    head: string,
    div: { right: string[]; truncated: boolean },
  ): Promise<RebaseCheck> {
    if (merged.kind !== "clean") return { kind: "unsupported", message: "The branch does not merge cleanly" };
    if (div.truncated) return { kind: "too-large", message: "too many commits to rebase in the browser" };
    const r = await this.replay(objects, base, head, div.right, "Gitflare <noreply@gitflare.invalid> 0 +0000");
    if (r.kind !== "clean") return r;
    return r.tree === merged.tree ? { kind: "clean" } : unsafeRebase();
  }

  private async treeOf(objects: OverlayObjects, commit: string): Promise<string> {
    const info = this.host.store.commitIfStored(commit);
    if (info) return info.tree;
    return readRawCommit((await objects.read(commit)).data).tree;
  }
}

/** GitHub refuses a rebase merge whose result differs from what merging would give. */
function unsafeRebase(): { kind: "unsupported"; message: string } {
  return { kind: "unsupported", message: "Rebasing these commits gives a different result than merging them; merge or squash instead" };
}
