// The Repository Durable Object: one per repository, named "owner/repo".
// It owns the repository's DOFS (a bare git repository), its object index and refs, and
// reads as lifecycle, views for the web UI and API, maintenance, and git over HTTP, whose
// calls go to ./git-http.ts under the contract in ./contract.ts. Everything is RPC.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../util/env";
import { Dofs } from "../fs/dofs";
import { ObjectStore } from "../git/store/object-store";
import { RefStore } from "../git/refs";
import { PushLog, type PushRecord } from "./push-log";
import { Views } from "./views";
import { GitFirst } from "./git-first";
import { DEFAULT_MAINTENANCE, Maintenance, type MaintenanceConfig, type SliceReport, type StorageReport } from "./maintenance";
import { GitHttp, stepConfig } from "./git-http";
import { type MergeabilityAnswer, PullMerges, type PullMergeRequest, type PullMergeResult, closesIssues } from "./pulls";
import { type CommitFilesRequest, type CommitFilesResult, type EditorView, FileEditor, editorView } from "./editor";
import { Collab, type Actor, type IssueChanges, type IssueQuery, type LabelFields, type NewIssue, type PullQuery } from "./collab";
import { PullRequests, type PullMergeInput, headRefOf } from "./pull-requests";
import { type HookInput, Webhooks } from "./webhooks";
import type { HookSite } from "../util/hook-site";
import type { RefMove } from "./webhooks/payloads";
import { CodeReview, type LineInput, type NewReviewInput } from "./code-review";
import type { ReviewActor, ReviewEvent } from "./collab";
import { ZERO_OID } from "../git/object/object";
import {
  type ForkSnapshot,
  forkLink,
  holdKeys,
  beginFork,
  importForkPage,
  linkFork,
  packFor,
  receivePack,
  releaseKeys,
  saveForkLink,
  snapshotForFork,
  tierAllPacks,
} from "./forks";
import type { HeadRepo } from "./collab";
import type { PushSession } from "../git/protocol/receive-pack";
import { type IncomingCommits, commitObjects } from "../git/ref-transaction";
import { type ApprovalSource, ProtectionPolicy, bypasses, mergeGate, ruleFor } from "./protection";
import type { BranchRule, NewStatus, Pull } from "./collab";
import { GitData, type NewCommit, type NewTreeEntry } from "./git-data";
import { type LfsObjectRef, LfsStore } from "./lfs/store";
import { CodeIndex, type CodeResults, type IndexConfig, type IndexSlice } from "./search/code-index";
import type { CodeQuery } from "./search/query";
import { IssueMirror } from "./search/issue-mirror";
import type {
  Advertisement,
  Download,
  GitService,
  ProtocolVersion,
  PushState,
  PushStep,
  SegmentStored,
  UploadFromR2,
  UploadStart,
  UploadStep,
} from "./contract";

function maintenanceConfig(env: Env, overrides: Partial<MaintenanceConfig> = {}): MaintenanceConfig {
  const num = (v: string | undefined, fallback: number) =>
    v !== undefined && v !== "" && Number.isFinite(Number(v)) ? Number(v) : fallback;
  return {
    ...DEFAULT_MAINTENANCE,
    tierMinBytes: num(env.GITFLARE_TIER_MIN_BYTES, DEFAULT_MAINTENANCE.tierMinBytes),
    tierAgeMs: num(env.GITFLARE_TIER_AGE_DAYS, DEFAULT_MAINTENANCE.tierAgeMs / 86_400_000) * 86_400_000,
    graceMs: num(env.GITFLARE_PRUNE_GRACE_SECONDS, DEFAULT_MAINTENANCE.graceMs / 1000) * 1000,
    serveCopyMinBytes: num(env.GITFLARE_R2_SERVE_MIN_BYTES, DEFAULT_MAINTENANCE.serveCopyMinBytes),
    ...overrides,
  };
}

/** How soon after a branch moves the search index starts following it, and between its slices. */
const INDEX_DELAY_MS = 500;
/**
 * The alarm that finishes the index's work if this object stops before its timers do.
 * As long as compaction's own delay, so that it does not run compaction any sooner.
 */
const INDEX_BACKUP_MS = 10_000;

export class Repository extends DurableObject<Env> {
  fs!: Dofs;
  store!: ObjectStore;
  refs!: RefStore;
  pushLog!: PushLog;
  views!: Views;
  private maintenance!: Maintenance;
  private codeIndex!: CodeIndex;
  private issueMirror!: IssueMirror;
  private maintaining = false;
  /** Background work waits while clones, fetches and pushes call (see ./git-first.ts). */
  private readonly gitFirst = new GitFirst();
  /** Git over HTTP; its jobs are recorded in SQLite between steps, and survive a restart. */
  git!: GitHttp;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.open();
  }

  /**
   * Builds the layers over storage; again after `destroy` (`erased`), so no cache
   * outlives the data.
   */
  private open(erased = false): void {
    this.fs = new Dofs(this.ctx.storage, { bucket: this.env.PACKS, release: (keys) => releaseKeys(this.env.DB, keys, this.holder()) });
    this.store = new ObjectStore(this.fs, this.ctx.storage.sql);
    this.refs = new RefStore(this.fs);
    this.pushLog = new PushLog(this.ctx.storage.sql);
    this.views = new Views(this.store, this.refs, () =>
      this.fs.exists("/description") ? new TextDecoder().decode(this.fs.readFile("/description")) : "",
    );
    this.git = new GitHttp(
      {
        fs: this.fs,
        sql: this.ctx.storage.sql,
        store: this.store,
        refs: this.refs,
        browser: () => this.views.browser,
        // Through a closure: the pull requests are rebuilt with the other layers after `destroy`.
        hooks: [
          this.pushLog,
          {
            postReceive: (push, results, session) => {
              // Open pull requests on the moved branches, as they were, when a hook wants their events.
              const branches = push.commands.filter((_, i) => results[i]?.ok).map((c) => c.ref.replace(/^refs\/heads\//, ""));
              const before = this.webhooks.store.subscribers("pull_request").length
                ? this.collab.openPullsOn(branches).map((p) => ({ number: p.issue.number, headSha: p.headSha }))
                : [];
              this.pullRequests.postReceive(push, results, session);
              if (before.length) this.webhooks.pullsMoved(before, (n) => this.collab.pull(n), session?.pusher ?? null);
            },
            pushMessages: (push, results, session) => this.pullRequests.pushMessages(push, results, session),
          },
          {
            postReceive: (push, results, session) => {
              const moves = push.commands.filter((_, i) => results[i]?.ok);
              this.webhooks.pushed(moves, session?.pusher ?? null, session?.site);
              // Pull requests from these branches into the parent, if this is a fork.
              this.ctx.waitUntil(this.tellParent(moves, session?.pusher ?? { id: 0, login: "ghost" }));
            },
          },
        ],
        exists: () => this.exists(),
        init: () => this.init(),
        afterPush: async () => {
          this.settleHead();
          await this.scheduleMaintenance(10_000);
          await this.wakeForHooks();
        },
        policy: () => this.policy,
      },
      this.git?.config ?? stepConfig(this.env),
      erased,
    );
    this.maintenance = this.maintainer(maintenanceConfig(this.env));
    this.codeIndex = new CodeIndex(this.ctx.storage, this.store, this.refs);
    this.issueMirror = new IssueMirror(this.ctx.storage.sql, this.env.DB, this.ctx.id.name ?? "", (at, n, limit) =>
      this.collab.changedSince(at, n, limit),
    );
    this.collab = new Collab(this.ctx.storage);
    this.lfsRecords = new LfsStore(this.ctx.storage.sql);
    this.policy = new ProtectionPolicy({
      rules: () => this.collab.branchRules(),
      checks: (sha) => this.checksOn(sha),
      isAncestor: (a, d, incoming) => this.isAncestor(a, d, incoming),
    });
    this.pullRequests = new PullRequests({
      collab: this.collab,
      refs: this.refs,
      store: this.store,
      merges: () => this.pulls(),
      gate: (pull, head, base) => {
        const g = this.gateOf(pull, head, base);
        return { blockers: g.blockers, bypass: (admin) => !!g.rule && bypasses(g.rule, { admin }) };
      },
    });
    this.webhooks = new Webhooks({
      storage: this.ctx.storage,
      env: this.env,
      browser: () => this.views.browser,
      peel: (oid) => this.store.peel(oid),
      defaultBranch: () => (this.exists() ? this.views.browser.defaultBranch() : null),
    });
    this.codeReview = new CodeReview({ collab: this.collab, views: () => this.views, prs: this.pullRequests });
  }

  /** Maintenance over this object's storage; it keeps the packs that fetches in flight read. */
  private maintainer(config: MaintenanceConfig): Maintenance {
    const git = this.git;
    return new Maintenance(this.fs, this.store, this.refs, this.ctx.storage.sql, config, () => git.oldestFetch());
  }

  // ---- lifecycle -------------------------------------------------------------

  exists(): boolean {
    return this.fs.exists("/HEAD");
  }

  /** Lays out an empty bare repository, as `git init --bare` does. */
  init(defaultBranch = "main"): boolean {
    if (this.exists()) return false;
    this.fs.transaction(() => {
      for (const d of ["/refs/heads", "/refs/tags", "/objects/info", "/objects/pack", "/info"]) {
        this.fs.mkdir(d, { recursive: true });
      }
      this.fs.writeFile("/config", "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n");
      this.fs.writeFile("/description", "Unnamed repository; edit this file 'description' to name the repository.\n");
      this.fs.writeFile("/HEAD", `ref: refs/heads/${defaultBranch}\n`);
    });
    // Copies a deleted repository of the same name left in the search mirror go now.
    this.mirrorIssues();
    return true;
  }

  /** Writes the `description` file, which `git instaweb`-style tools and exports show. */
  setDescription(text: string): void {
    if (!this.exists()) return;
    this.fs.writeFile("/description", text ? text + "\n" : "");
  }

  /** Points HEAD at a branch; false if the branch does not exist. */
  setDefaultBranch(branch: string): boolean {
    if (!this.exists() || !this.refs.list().has(`refs/heads/${branch}`)) return false;
    this.refs.setHead(`refs/heads/${branch}`);
    return true;
  }

  /**
   * Erases the repository: its R2 objects, its alarm and all of its SQLite storage.
   * The object is left as a fresh, empty one.
   *
   * Clones and pushes in flight end first, in git's error form: other calls run while
   * this one awaits, and must neither send what they read from storage being erased
   * (which reads as zeros: a corrupt pack) nor write into the storage that replaces it.
   */
  async destroy(): Promise<void> {
    // A fork being handed this repository's packs gets them whole, with its holder rows,
    // before their R2 objects are released here; and none is handed them after.
    while (this.maintaining) await scheduler.wait(50);
    this.maintaining = true;
    try {
      this.git.close();
      this.codeIndex.close();
      await this.issueMirror.clear().catch((e) => console.error(`issue search rows of ${this.ctx.id.name} not removed: ${e}`));
      await this.fs.dropR2();
      await this.dropLfsObjects();
      // From here every layer built over the old storage fails instead of reading it.
      this.fs.close();
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      this.open(true);
    } finally {
      this.maintaining = false;
    }
  }

  /** Deletes the repository's LFS objects (and any half-announced uploads) from R2. */
  private async dropLfsObjects(): Promise<void> {
    const keys = this.lfs?.keys() ?? [];
    const bucket = this.env.PACKS;
    if (!bucket) return;
    for (let i = 0; i < keys.length; i += 1000) await bucket.delete(keys.slice(i, i + 1000));
  }

  // ---- forks (see ./forks.ts) ------------------------------------------------------

  /** This object's name in the R2 holder table: its id, which never changes. */
  private holder(): string {
    return this.ctx.id.toString();
  }

  /**
   * Shares this repository's packs with a new fork (`fork`: the fork's holder id):
   * every pack moves to R2, and both hold its key, so neither side's later deletions free
   * what the other reads. Maintenance waits meanwhile: it must not retire a pack between
   * the snapshot and the holder rows. Null without a repository or an R2 bucket.
   */
  async sharePacks(fork: string): Promise<ForkSnapshot | null> {
    if (!this.exists() || !this.fs.bucket) return null;
    while (this.maintaining) await scheduler.wait(50);
    // Deleted meanwhile: nothing to share.
    if (!this.exists()) return null;
    this.maintaining = true;
    try {
      for (let round = 0; round < 10; round++) {
        await tierAllPacks(this.fs, this.store, maintenanceConfig(this.env).sliceBytes);
        // A push may land while the last pack uploads: then tier again.
        const snap = snapshotForFork(this.fs, this.store, this.refs);
        if (!snap) continue;
        const keys = snap.packs.map((p) => p.key);
        await holdKeys(this.env.DB, keys, [this.holder(), fork]);
        this.fs.markShared(keys);
        return snap;
      }
      throw new Error("the repository kept changing while it was shared with a fork");
    } finally {
      this.maintaining = false;
    }
  }

  /**
   * Makes this (empty) object a fork of the repository in Durable Object `parent`: its
   * packs linked, not copied (see ./forks.ts). False when the parent has no repository.
   */
  async forkFrom(parent: string, self: string): Promise<boolean> {
    // Two calls for one fork (a retried request) share one making.
    this.forking ??= this.makeFork(parent, self).finally(() => {
      this.forking = null;
    });
    return this.forking;
  }

  private forking: Promise<boolean> | null = null;

  private async makeFork(parent: string, self: string): Promise<boolean> {
    if (this.exists()) return true;
    const stub = this.env.REPO.getByName(parent) as unknown as DurableObjectStub<Repository>;
    const snap = (await stub.sharePacks(this.holder())) as ForkSnapshot | null;
    if (!snap) return false;
    const { token, packs, pages } = snap.index;
    try {
      beginFork(this.fs, this.store, packs);
      for (const { kind, count } of pages) {
        for (let seq = 0; seq < count; seq++) {
          const page = (await stub.forkExportPage(token, kind, seq)) as string | Uint8Array | null;
          // The parent was deleted meanwhile: there is nothing left to fork.
          if (page === null) return false;
          importForkPage(this.fs, this.store, packs, kind, seq, page);
        }
      }
    } finally {
      await stub.forkExportDone(token).catch((e: unknown) => console.error(`fork: ${(e as Error).message}`));
    }
    this.fs.transaction(() => {
      this.init(snap.head?.replace(/^refs\/heads\//, "") ?? "main");
      linkFork(this.fs, this.refs, snap);
      saveForkLink(this.ctx.storage.sql, self, parent);
    });
    return true;
  }

  /** A page of the index staged for a fork by `sharePacks`; null when there is none. */
  forkExportPage(token: string, kind: string, seq: number): string | Uint8Array | null {
    return this.store.exportPage(token, kind, seq);
  }

  /** The fork has read the staged index (or given up): its pages go. */
  forkExportDone(token: string): void {
    this.store.dropExport(token);
  }

  /** A branch's commit, for a parent's pull request from it; null if there is no such branch. */
  branchTip(branch: string): string | null {
    return this.exists() ? this.refs.resolve(`refs/heads/${branch}`) : null;
  }

  /** A pack of what a parent lacks of `head` (see ./forks.ts packFor); null without it. */
  async packForParent(head: string, haves: string[]): Promise<ReadableStream<Uint8Array> | null> {
    return this.exists() ? packFor(this.store, head, haves) : null;
  }

  /**
   * Brings `head` and what it needs from the fork in Durable Object `fork` into this
   * repository, named by no ref yet (the caller names it). False when the fork cannot send it.
   */
  private async fetchFromFork(fork: string, head: string): Promise<boolean> {
    if (this.store.has(head)) return true;
    const stub = this.env.REPO.getByName(fork) as unknown as DurableObjectStub<Repository>;
    const pack = (await stub.packForParent(head, [...new Set(this.refs.list().values())])) as ReadableStream<Uint8Array> | null;
    if (!pack) return false;
    return (await receivePack(this.fs, this.store, pack)) && this.store.has(head);
  }

  /**
   * Opens a pull request from a branch of a fork (the caller checked who may): the head
   * commit's objects come from the fork first, then the record and refs/pull/N/head.
   */
  async createForkPull(author: Actor, input: { title: string; body: string; base: string; headRepo: HeadRepo }) {
    const prs = this.prs;
    if (!prs) return null;
    const stub = this.env.REPO.getByName(input.headRepo.repo) as unknown as DurableObjectStub<Repository>;
    const head = await stub.branchTip(input.headRepo.branch);
    if (!head)
      return {
        ok: false as const,
        code: "invalid" as const,
        message: `The head branch ${input.headRepo.branch} does not exist.`,
        field: "head",
      };
    if (!(await this.fetchFromFork(input.headRepo.repo, head)))
      return {
        ok: false as const,
        code: "invalid" as const,
        message: "The head branch's commits could not be copied from the fork.",
        field: "head",
      };
    return prs.createFromFork(author, input, head);
  }

  /** Branch `branch` of the fork in Durable Object `fork` moved to `sha`: its open pull requests here follow. */
  async forkBranchMoved(fork: string, branch: string, sha: string, actor: Actor): Promise<void> {
    if (!this.exists()) return;
    const pulls = this.collab.openPullsFrom(fork, branch);
    if (!pulls.length || sha === ZERO_OID) return;
    if (!(await this.fetchFromFork(fork, sha))) return;
    for (const p of pulls) this.pullRequests.forkHeadMoved(p.issue.number, sha, actor);
  }

  /** Tells the parent (if this is a fork) that branches moved, for its pull requests from them. */
  private async tellParent(moves: RefMove[], actor: Actor): Promise<void> {
    const link = forkLink(this.ctx.storage.sql);
    if (!link) return;
    const parent = this.env.REPO.getByName(link.parent) as unknown as DurableObjectStub<Repository>;
    for (const m of moves.filter((m) => m.ref.startsWith("refs/heads/") && m.new !== ZERO_OID)) {
      try {
        await parent.forkBranchMoved(link.self, m.ref.slice(11), m.new, actor);
      } catch (e) {
        console.error(`pull requests from ${m.ref} not updated in the parent: ${e}`);
      }
    }
  }

  /** What this repository stores itself, apart from what it shares: for forks' figures. */
  ownStorage(): { databaseBytes: number; sqliteFileBytes: number; r2OwnBytes: number; r2SharedBytes: number } {
    const shared = this.fs.sharedBytes();
    return {
      databaseBytes: this.ctx.storage.sql.databaseSize,
      sqliteFileBytes: this.fs.usage().usedBytes,
      r2OwnBytes: this.fs.tieredBytes() - shared,
      r2SharedBytes: shared,
    };
  }

  // ---- web views (RPC) ----------------------------------------------------------
  // Each returns null when the repository, ref or path does not exist.

  summary() {
    return this.exists() ? this.views.summary() : null;
  }

  /** The ref and path that URL parts name, or null (also for a missing repository). */
  private at(parts: string[]) {
    return this.exists() ? this.views.resolve(parts) : null;
  }

  async homeView() {
    return this.exists() ? this.views.home() : null;
  }

  async treeView(parts: string[]) {
    const at = this.at(parts);
    if (!at) return null;
    const listing = await this.views.listing(at, true);
    return listing ? { at, listing } : null;
  }

  async blobView(parts: string[]) {
    const at = this.at(parts);
    if (!at) return null;
    const blob = await this.views.blob(at);
    return blob ? { at, blob } : null;
  }

  async rawView(parts: string[], limit: number) {
    const at = this.at(parts);
    if (!at) return null;
    const raw = await this.views.raw(at, limit);
    return raw ? { at, ...raw } : null;
  }

  async logView(parts: string[], path: string | undefined, page: number) {
    const at = this.at(parts);
    if (!at) return null;
    const commits = await this.views.log(at, path, page);
    return { at, commits: commits.slice(0, 30), more: commits.length > 30 };
  }

  /** The commit a rev names: a full or abbreviated id, a branch or a tag (possibly with slashes). */
  async commitView(rev: string, full = false) {
    const at = this.at(rev.split("/"));
    return at && !at.path ? this.views.commit(at.commit, full) : null;
  }

  /** The commits an abbreviated id names when it names more than one, or null. */
  async ambiguityView(rev: string) {
    return this.exists() ? this.views.ambiguity(rev) : null;
  }

  async compareView(base: string[], head: string[], full = false) {
    return this.exists() ? this.views.compare(base, head, full) : null;
  }

  async branchesView() {
    return this.exists() ? this.views.branches() : null;
  }

  async tagsView() {
    return this.exists() ? this.views.tags() : null;
  }

  async blameView(parts: string[]) {
    const at = this.at(parts);
    if (!at) return null;
    return { at, lines: await this.views.blame(at) };
  }

  // ---- maintenance -----------------------------------------------------------

  private async scheduleMaintenance(delayMs: number): Promise<void> {
    // A move can close issues and merge pull requests: the search mirror follows.
    this.mirrorIssues();
    if (this.codeIndex.needsWork()) await this.followIndex();
    if (!this.maintenance.needsWork()) return;
    await this.wake(Date.now() + delayMs);
  }

  /**
   * The one alarm serves maintenance and webhook deliveries: it is set to the earliest
   * time either needs, and never moved later by one of them.
   */
  private async wake(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /**
   * The alarm: due webhook deliveries and, when there is work, one slice of compaction,
   * tiering and cleanup, side by side; then the alarm again at the earliest time either
   * needs it.
   */
  async alarm(): Promise<void> {
    const now = Date.now();
    const needsWork = this.env.GITFLARE_MAINTENANCE_ALARM !== "off" && this.maintenance.needsWork(now);
    const [hooksNext, maintenanceNext] = await Promise.all([
      this.exists() ? this.webhooks.run(now) : Promise.resolve(null),
      needsWork && !this.gitFirst.mayRun("maintenance", now)
        ? Promise.resolve(now + 1000)
        : needsWork
          ? this.maintenanceSlice().then((report) => (report.more ? Date.now() + 1000 : this.maintenance.nextWake()))
          : Promise.resolve(this.maintenance.nextWake()),
    ]);
    // After compaction's slice, not beside it: both read packs that compaction may retire.
    let indexNext: number | null = null;
    try {
      // While timers drive the index (followIndex), they finish it; so they do the rest
      // after a slice here, or all of it while git calls come in.
      if (this.exists() && !this.indexing && this.codeIndex.needsWork()) {
        if (!this.gitFirst.mayRun("index", now) || (await this.indexSlice()).more) {
          void this.followIndex();
          indexNext = Date.now() + INDEX_BACKUP_MS;
        }
      }
    } catch (e) {
      // The index is derived and can wait; the alarm's other work must not.
      console.error(`search index slice failed: ${e}`);
      indexNext = Date.now() + 60_000;
    }
    const next = [hooksNext, maintenanceNext, indexNext].filter((t): t is number => t !== null);
    if (next.length) await this.ctx.storage.setAlarm(Math.max(Math.min(...next), Date.now()));
  }

  /**
   * Runs one maintenance slice now (also RPC, for tests and operators). Overrides
   * replace the configured thresholds for this slice only.
   */
  async maintenanceSlice(overrides: Partial<MaintenanceConfig> = {}, now?: number): Promise<SliceReport> {
    if (this.maintaining || this.codeIndex.busy) return { more: true, copied: 0, tiered: 0, pruned: 0, merged: 0, deleted: 0, graphed: 0 };
    this.maintaining = true;
    try {
      const m = Object.keys(overrides).length ? this.maintainer(maintenanceConfig(this.env, overrides)) : this.maintenance;
      return await m.slice(now);
    } finally {
      this.maintaining = false;
    }
  }

  // ---- code search (./search/) ------------------------------------------------

  private indexing = false;

  /**
   * The search index follows a moved branch soon, slice after slice on timers rather
   * than the alarm (whose early run would start compaction before its delay), with the
   * alarm as a backstop should this object stop first.
   */
  private async followIndex(): Promise<void> {
    await this.wake(Date.now() + INDEX_BACKUP_MS);
    if (this.indexing) return;
    this.indexing = true;
    const run = async () => {
      try {
        for (;;) {
          await scheduler.wait(INDEX_DELAY_MS);
          if (!this.exists()) return;
          // Not beside a compaction slice: both read packs that compaction may retire.
          // Asked before needsWork, which lists the refs: not every half second of a clone.
          if (this.maintaining || !this.gitFirst.mayRun("index")) continue;
          if (!this.codeIndex.needsWork() || !(await this.indexSlice()).more) return;
        }
      } catch (e) {
        console.error(`search index slice failed: ${e}`);
      } finally {
        this.indexing = false;
      }
    };
    this.ctx.waitUntil(run());
  }

  /** One slice of search index work now (also RPC, for tests and the benchmark). */
  async indexSlice(config?: Partial<IndexConfig>): Promise<IndexSlice> {
    return this.codeIndex.slice(config);
  }

  /**
   * The files of `branch` (the default branch when null) that match `query`, from the
   * index as it is; null without the repository or the branch. A branch that is not
   * indexed yet, or an index behind its branch, gets a slice soon.
   */
  async codeSearch(branch: string | null, query: CodeQuery, offset: number, limit: number): Promise<CodeResults | null> {
    if (!this.exists()) return null;
    const name = branch ?? this.views.browser.defaultBranch();
    if (!name || !this.refs.list().has(`refs/heads/${name}`)) return null;
    const results = this.codeIndex.search(name, query, offset, limit);
    if (results.indexed !== results.head) await this.followIndex();
    return results;
  }

  /** Where the repository's bytes are (RPC for operators and the benchmark). */
  storage(): StorageReport {
    return this.maintenance.storage();
  }

  /** The repository's packs and where they live. */
  packs(): { name: string; objects: number; size: number; tier: "sqlite" | "r2" }[] {
    return this.store.packs().map((p) => ({
      name: p.name,
      objects: p.objects,
      size: p.size,
      tier: this.fs.isTiered(p.path) ? ("r2" as const) : ("sqlite" as const),
    }));
  }

  /** The most recent pushes, newest first (RPC for the API). */
  recentPushes(limit = 20): PushRecord[] {
    return this.pushLog.recent(limit);
  }

  /**
   * After a push, HEAD must name a branch that exists if any does: the first push
   * of `master` (or any one branch) into a repository whose HEAD says main moves it.
   */
  private settleHead(): void {
    if (!this.exists()) return;
    const head = this.refs.head();
    if (head.oid) return;
    const branches = [...this.refs.list().keys()].filter((n) => n.startsWith("refs/heads/"));
    if (!branches.length) return;
    const pick = ["refs/heads/main", "refs/heads/master"].find((b) => branches.includes(b)) ?? branches[0];
    this.refs.setHead(pick);
  }

  // ---- git over HTTP (RPC; see ./contract.ts) ----------------------------------

  advertise(service: GitService, version: ProtocolVersion): Advertisement {
    this.gitFirst.noteCall();
    return this.git.advertise(service, version);
  }

  uploadPack(body: ReadableStream<Uint8Array>, version: ProtocolVersion): Promise<UploadStart> {
    return this.gitFirst.track(this.git.uploadPack(body, version));
  }

  /** Like `uploadPack`, but a clone whose stored pack is in R2 is planned for the Worker to send. */
  uploadPackFromR2(body: ReadableStream<Uint8Array>, version: ProtocolVersion): Promise<UploadStart | UploadFromR2> {
    return this.gitFirst.track(this.git.uploadPack(body, version, true));
  }

  uploadStep(job: string, offset: number): Promise<UploadStep> {
    return this.gitFirst.track(this.git.uploadStep(job, offset));
  }

  abandonUpload(job: string): void {
    this.git.abandonUpload(job);
  }

  /** `session`: who pushes and the repository's web address (for the pull-request link git prints). */
  receivePack(body: ReadableStream<Uint8Array>, segmented: boolean, session?: PushSession): Promise<PushState> {
    return this.gitFirst.track(this.git.receivePack(body, segmented, session));
  }

  receiveSegment(upload: string, stored: number, body: ReadableStream<Uint8Array>): Promise<SegmentStored> {
    return this.gitFirst.track(this.git.receiveSegment(upload, stored, body));
  }

  pushUploaded(upload: string, stored: number): Promise<PushState> {
    return this.gitFirst.track(this.git.pushUploaded(upload, stored));
  }

  pushStep(job: string): Promise<PushStep> {
    return this.gitFirst.track(this.git.pushStep(job));
  }

  abandonPush(id: string): void {
    this.git.abandonPush(id);
  }

  exportTar(name: string): Download {
    return this.git.exportTar(name);
  }

  /** `git archive` of the commit a ref (as URL parts) names. */
  archive(ref: string, format: string, name: string): Download {
    const at = this.exists() ? this.views.resolve(ref.split("/")) : null;
    if (!at || (format !== "tar.gz" && format !== "zip")) return { kind: "refused", status: 404, message: "No such ref." };
    return this.git.archive(at.commit, at.ref, format, name);
  }

  // ---- pull requests: mergeability and merges (RPC; see ./pulls/) ----------------
  // The git side only: the PR records (numbers, titles, state) are kept by their callers.

  private pullMerges: { store: ObjectStore; merges: PullMerges } | null = null;

  /** The merge service over the current layers (rebuilt after `destroy`). */
  private pulls(): PullMerges {
    if (this.pullMerges?.store !== this.store) {
      this.pullMerges = {
        store: this.store,
        merges: new PullMerges({ fs: this.fs, store: this.store, refs: this.refs, policy: this.policy }),
      };
    }
    return this.pullMerges.merges;
  }

  /** Whether `head` merges into `base` (branch names, refs or commit ids); null without a repository. */
  async pullMergeability(base: string, head: string, options: { rebase?: boolean } = {}): Promise<MergeabilityAnswer | null> {
    return this.exists() ? this.pulls().mergeability(base, head, options) : null;
  }

  /** Merges a pull request: the base branch moves by compare-and-swap with the new commits. */
  async mergePull(request: PullMergeRequest): Promise<PullMergeResult> {
    if (!this.exists()) return { merged: false, reason: "not-found", message: "Not Found", status: 404, retryable: false };
    const result = await this.pulls().merge(request);
    if (result.merged) await this.scheduleMaintenance(10_000);
    return result;
  }

  /** Whether a push has brought `head` into `base`: the pull request is then merged. */
  async pullMergedByPush(base: string, head: string): Promise<boolean> {
    return this.exists() ? this.pulls().isMergedByPush(base, head) : false;
  }

  /** Issue numbers that a PR description or commit message closes (`Fixes #N`, …). */
  closesIssues(text: string, repository?: string): number[] {
    return closesIssues(text, repository);
  }

  // ---- issues (RPC; the store is ./collab/) ------------------------------------------
  // Issues, comments, labels and their events live in this object's SQLite (why: see
  // ./collab/schema.ts), so they are deleted, renamed and hidden with the repository.
  // Each method answers null when the repository does not exist, so a deleted one grows
  // no tables again. Who may do what is decided before the call, in src/access/issues.ts.

  /** Issues and, next, pull requests. */
  collab!: Collab;

  private get issues(): Collab | null {
    return this.exists() ? this.collab : null;
  }

  /** Open issues (for the tab) and the highest number given out. */
  issueCounts() {
    const c = this.issues;
    return c ? { open: c.openCount("issue"), openPulls: c.openCount("pull"), last: c.lastNumber() } : null;
  }

  createIssue(author: Actor, input: NewIssue) {
    return this.mirrored(this.issues?.createIssue("issue", author, input) ?? null);
  }

  issue(number: number) {
    return this.issues?.issue(number) ?? null;
  }

  updateIssue(number: number, actor: Actor, changes: IssueChanges) {
    return this.mirrored(this.issues?.updateIssue(number, actor, changes) ?? null);
  }

  /** Sends changed issues to the site-wide search (./search/issue-mirror.ts) after the answer. */
  private mirrorIssues(): void {
    if (this.exists()) this.ctx.waitUntil(this.issueMirror.sync());
  }

  private mirrored<T extends { ok: boolean } | null>(result: T): T {
    if (result?.ok) this.mirrorIssues();
    return result;
  }

  /** Waits until the search mirror holds every change made so far (RPC, for tests). */
  async issuesMirrored(): Promise<void> {
    await this.issueMirror.sync();
  }

  listIssues(query: IssueQuery) {
    return this.issues?.listIssues(query) ?? null;
  }

  /**
   * What an issue's page shows, in one call: the issue, a page of its conversation, the
   * repository's labels, the highest number (for `#N` links) and which full commit ids
   * written in it name commits here (for commit links).
   */
  issueThread(number: number, offset: number, limit: number) {
    const c = this.issues;
    const issue = c?.issue(number);
    if (!c || !issue) return null;
    const timeline = c.timeline(number, offset, limit)!;
    const texts = [issue.title, issue.body, ...timeline.items.map((i) => (i.type === "comment" ? i.body : ""))].join("\n");
    const shas = [...new Set(texts.match(/\b[0-9a-f]{40}\b/g) ?? [])].slice(0, 200);
    const commits = shas.filter((oid) => this.store.commitIfStored(oid) !== null);
    return { issue, timeline: timeline.items, total: timeline.total, labels: c.labels(), last: c.lastNumber(), commits };
  }

  issueComments(number: number, offset: number, limit: number, since?: number) {
    return this.issues?.comments(number, offset, limit, since) ?? null;
  }

  issueComment(id: number) {
    return this.issues?.comment(id) ?? null;
  }

  addIssueComment(number: number, author: Actor, body: string) {
    return this.issues?.addComment(number, author, body) ?? null;
  }

  editIssueComment(id: number, body: string) {
    return this.issues?.editComment(id, body) ?? null;
  }

  deleteIssueComment(id: number) {
    return this.issues?.deleteComment(id) ?? null;
  }

  issueEvents(number: number) {
    return this.issues?.events(number) ?? null;
  }

  labels() {
    return this.issues?.labels() ?? null;
  }

  label(name: string) {
    return this.issues?.label(name) ?? null;
  }

  createLabel(fields: LabelFields & { name: string }) {
    return this.issues?.createLabel(fields) ?? null;
  }

  updateLabel(name: string, fields: LabelFields) {
    return this.issues?.updateLabel(name, fields) ?? null;
  }

  deleteLabel(name: string) {
    return this.issues?.deleteLabel(name) ?? null;
  }

  changeIssueLabels(number: number, actor: Actor, names: string[], mode: "add" | "remove") {
    return this.issues?.changeLabels(number, actor, names, mode) ?? null;
  }

  changeIssueAssignees(number: number, actor: Actor, people: Actor[], mode: "add" | "remove") {
    return this.issues?.changeAssignees(number, actor, people, mode) ?? null;
  }

  // ---- webhooks (RPC; records in ./collab/hooks.ts, delivery in ./webhooks/) ----------
  // Only admins reach these (the access check, before the call). Deliveries go out from
  // the alarm, never on the path of the request that raised the event.

  webhooks!: Webhooks;

  private async wakeForHooks(): Promise<void> {
    const due = this.webhooks.store.nextDue();
    if (due !== null) await this.wake(Math.max(due, Date.now()));
  }

  private async queued<T>(value: T): Promise<T> {
    await this.wakeForHooks();
    return value;
  }

  listHooks() {
    return this.exists() ? this.webhooks.list() : null;
  }

  hook(id: number) {
    return this.exists() ? this.webhooks.get(id) : null;
  }

  async createHook(input: HookInput, site: HookSite, sender: Actor | null) {
    return this.exists() ? this.queued(await this.webhooks.create(input, site, sender)) : null;
  }

  /** `add`/`remove`: GitHub's `add_events`/`remove_events`. */
  async updateHook(id: number, input: HookInput, add?: string[], remove?: string[]) {
    return this.exists() ? this.webhooks.update(id, input, add, remove) : null;
  }

  deleteHook(id: number): boolean {
    return this.exists() && this.webhooks.delete(id);
  }

  hookDeliveries(id: number, limit = 30, before?: number) {
    return this.exists() ? this.webhooks.deliveries(id, limit, before) : null;
  }

  hookDelivery(id: number, deliveryId: number) {
    return this.exists() ? this.webhooks.delivery(id, deliveryId) : null;
  }

  async redeliverHook(id: number, deliveryId: number) {
    return this.exists() ? this.queued(this.webhooks.redeliver(id, deliveryId)) : null;
  }

  async pingHook(id: number, site: HookSite, sender: Actor | null) {
    return this.exists() ? this.queued(this.webhooks.ping(id, site, sender)) : null;
  }

  async testHook(id: number) {
    return this.exists() ? this.queued(this.webhooks.test(id)) : false;
  }

  /**
   * The one entry point for webhook events, whoever raises them (issues, pull requests,
   * comments from the Worker; statuses and reviews likewise): queues `event` for every
   * active hook of this repository that takes it and wakes the alarm. `payload` is the
   * event's own part in GitHub's shape (`{ pull_request }`, `{ issue, comment }`, `{ sha,
   * state, context, … }`); `action`, `repository` (from `site`) and `sender` are added.
   * Answers how many deliveries were queued (0 when no hook takes the event).
   */
  async emitHookEvent(event: string, action: string | null, payload: Record<string, unknown>, site: HookSite, sender: Actor | null) {
    if (!this.exists()) return 0;
    const n = this.webhooks.emit(event, action, payload, site, sender);
    if (n) await this.wakeForHooks();
    return n;
  }

  /** Whether any active hook takes `event`: callers build a payload only when one does. */
  wantsHookEvent(event: string): boolean {
    return this.exists() && this.webhooks.store.subscribers(event).length > 0;
  }

  /** The pull-request changes pushes made since the last call (see Webhooks.pullsMoved), for the Worker to send. */
  takePullHookEvents() {
    return this.exists() ? this.webhooks.takePullEvents() : [];
  }

  /** Runs the webhook queue now, as the alarm would (RPC for tests). */
  async runHooks(now?: number): Promise<number | null> {
    return this.webhooks.run(now);
  }

  // ---- editing files: the browser editor, later the contents API (RPC; see ./editor.ts) ----

  /**
   * What an editor page at URL parts (a ref, then a path) shows; `withText`: the file's
   * text when it can be edited. Null without a repository or when the ref names nothing.
   */
  async editorView(parts: string[], withText: boolean): Promise<EditorView | null> {
    return this.exists() ? editorView(this.views.browser, this.refs, parts, withText) : null;
  }

  /** One commit of file changes on top of `parent`, moving or creating the branch by compare-and-swap. */
  async commitFiles(request: CommitFilesRequest, origin?: MoveOrigin): Promise<CommitFilesResult> {
    if (!this.exists()) return { ok: false, reason: "not-found", status: 404, message: "Not Found" };
    const result = await new FileEditor({ fs: this.fs, store: this.store, refs: this.refs, policy: this.policy }).commitFiles(request);
    if (result.ok) {
      const old = request.createBranch ? ZERO_OID : (request.parent ?? ZERO_OID);
      await this.branchesMoved([{ ref: `refs/heads/${result.branch}`, old, new: result.commit }], origin, request.user);
      this.settleHead();
      await this.scheduleMaintenance(10_000);
    }
    return result;
  }

  /** `push`, `create` and `delete` webhook events for refs moved other than by a push. */
  private async branchesPushed(moves: RefMove[], origin: MoveOrigin): Promise<void> {
    try {
      if (this.webhooks.pushed(moves, origin.sender, origin.site)) await this.wakeForHooks();
    } catch (e) {
      console.error(`push events for ${moves.map((m) => m.ref).join(", ")} not queued: ${e}`);
    }
  }

  /**
   * Refs the editor or the REST API moved, as after a push: `push` (and `create`, `delete`)
   * webhook events when the Worker says who and where (`origin`), and the open pull
   * requests on moved branches follow (new head commits, stale approvals dismissed, merged
   * when the base took the head).
   */
  private async branchesMoved(moves: RefMove[], origin: MoveOrigin | undefined, login?: string): Promise<void> {
    // The move is made and answered; what follows from it must not turn that into an error.
    try {
      if (origin) await this.branchesPushed(moves, origin);
      await this.scheduleMaintenance(10_000);
      const branches = moves.filter((m) => m.ref.startsWith("refs/heads/"));
      if (!branches.length) return;
      const actor = origin?.sender ?? { id: 0, login: login ?? "ghost" };
      await this.tellParent(branches, actor);
      // Their `pull_request` events, as after a push: the Worker builds them (pullEventsAfterMove).
      const before = this.webhooks.store.subscribers("pull_request").length
        ? this.collab.openPullsOn(branches.map((m) => m.ref.slice(11))).map((p) => ({ number: p.issue.number, headSha: p.headSha }))
        : [];
      this.pullRequests.moved(branches, actor);
      if (before.length) this.webhooks.pullsMoved(before, (n) => this.collab.pull(n), actor);
    } catch (e) {
      console.error(`after a move of ${moves.map((m) => m.ref).join(", ")}: ${e}`);
    }
  }

  // ---- pull requests (RPC; records in ./collab/pulls.ts, the rest in ./pull-requests.ts) ----
  // Who may do what is decided before the call (src/access/issues.ts); each answers null
  // when the repository does not exist.

  pullRequests!: PullRequests;

  private get prs(): PullRequests | null {
    return this.exists() ? this.pullRequests : null;
  }

  /** Opens a pull request from `head` into `base` (branches of this repository). */
  createPull(author: Actor, input: { title: string; body: string; base: string; head: string }) {
    return this.mirrored(this.prs?.create(author, input) ?? null);
  }

  /** A pull request with its mergeability for the current branches (computed now if unknown). */
  async pull(number: number) {
    return (await this.prs?.get(number)) ?? null;
  }

  listPulls(query: PullQuery) {
    return this.prs?.list(query) ?? null;
  }

  updatePull(number: number, actor: Actor, changes: { title?: string; body?: string; state?: "open" | "closed"; base?: string }) {
    return this.mirrored(this.prs?.update(number, actor, changes) ?? null);
  }

  /** Merges pull request `number` (the base moves by compare-and-swap) and records it. */
  async mergePullRequest(number: number, actor: Actor, input: PullMergeInput, origin?: MoveOrigin) {
    const prs = this.prs;
    if (!prs) return null;
    const r = await prs.merge(number, actor, input);
    // The base moved: a `push` event, as GitHub sends for a merge.
    if (r.merged && origin) await this.branchesPushed([r.moved], origin);
    if (r.merged) await this.scheduleMaintenance(10_000);
    return r;
  }

  /** The records (no mergeability) of these pull requests: what a list page shows beside each row. */
  pullRecords(numbers: number[]) {
    const c = this.issues;
    if (!c) return null;
    return numbers.slice(0, 100).flatMap((n) => c.pull(n) ?? []);
  }

  /** The commits and the diff a pull request shows: base...head as the compare view gives them. */
  async pullChanges(number: number, full = false) {
    const prs = this.prs;
    const pull = prs ? this.collab.pull(number) : null;
    if (!prs || !pull) return null;
    const { base, head } = prs.range(pull);
    const compare = await this.views.compare([base], [head], full);
    return compare ? { pull, commits: compare.commits, total: compare.total, files: compare.files, truncated: compare.truncated } : null;
  }

  /**
   * Deletes a branch if it still points at `expectedOid` (the "delete branch" button after
   * a merge), through the one place refs move. The default branch is not deleted.
   */
  async deleteBranch(
    name: string,
    expectedOid: string,
    user?: string,
    admin?: boolean,
  ): Promise<{ ok: true } | { ok: false; status: 403 | 404 | 409 | 422; message: string }> {
    if (!this.exists()) return { ok: false, status: 404, message: "Not Found" };
    const ref = `refs/heads/${name}`;
    const current = this.refs.resolve(ref);
    if (!current) return { ok: false, status: 404, message: "Reference does not exist" };
    if (this.pullRequests.defaultBranch() === name) return { ok: false, status: 422, message: "Cannot delete the default branch" };
    if (current !== expectedOid) return { ok: false, status: 409, message: "The branch moved; reload and try again." };
    const outcome = await commitObjects({ fs: this.fs, store: this.store, refs: this.refs, policy: this.policy }, [], {
      updates: [{ name: ref, old: expectedOid, new: "0".repeat(40) }],
      atomic: true,
      actor: { via: "api", user, admin },
    });
    if (outcome.kind === "refused" && this.refs.resolve(ref) === expectedOid) {
      const why = outcome.results.find((r) => !r.ok);
      return { ok: false, status: 403, message: why && !why.ok ? why.reason : "The branch may not be deleted." };
    }
    if (outcome.kind !== "applied") return { ok: false, status: 409, message: "The branch moved; reload and try again." };
    return { ok: true };
  }

  // ---- protected branches and commit statuses (./protection.ts, ./collab/statuses.ts) ----
  // Who may do what is decided before the call: statuses need write (read to list),
  // rules need admin.

  /** The rules every ref move is checked against. */
  policy!: ProtectionPolicy;

  /** A collaborator lost write access: their approvals no longer count. */
  lostWriteAccess(userId: number): void {
    if (this.exists()) this.collab.lostWriteAccess(userId);
  }

  /** Who approved a pull request, with write access (./collab/reviews.ts). */
  approvals: ApprovalSource = (number, head) => this.collab.approvingReviewers(number, head ?? undefined);

  /**
   * Whether `ancestor` is reachable from `descendant` through parents, in stored commits or
   * in `incoming` ones (a push's pack, not yet stored). The whole history may be walked
   * when it is not (a force push), once per protected ref.
   */
  private isAncestor(ancestor: string, descendant: string, incoming: IncomingCommits = new Map()): boolean {
    const seen = new Set<string>([descendant]);
    const queue = [descendant];
    while (queue.length) {
      const oid = queue.pop()!;
      if (oid === ancestor) return true;
      const parents = incoming.get(oid) ?? this.storedParents(oid);
      for (const p of parents) {
        if (!seen.has(p)) {
          seen.add(p);
          queue.push(p);
        }
      }
    }
    return false;
  }

  /** A stored commit's parents; none for what is missing or not a commit (a tag on a branch). */
  private storedParents(oid: string): readonly string[] {
    try {
      return this.store.has(oid) ? (this.store.commitIfStored(oid)?.parents ?? []) : [];
    } catch {
      return [];
    }
  }

  private checksOn(sha: string) {
    return new Map(this.collab.combinedStatus(sha).statuses.map((s) => [s.context, s.state]));
  }

  private gateOf(pull: Pull, head: string, base: string) {
    const rule = ruleFor(this.collab.branchRules(), pull.base);
    const gate = mergeGate({
      rule,
      prNumber: pull.issue.number,
      head,
      author: pull.issue.author.login,
      approvals: this.approvals,
      checks: this.checksOn(head),
      upToDate: this.isAncestor(base, head),
    });
    return { ...gate, rule };
  }

  /** A commit id that a ref (branch, tag, full or abbreviated id) names, or null. */
  private commitNamed(ref: string): string | null {
    const at = this.at(ref.split("/"));
    return at && !at.path ? at.commit : null;
  }

  /** Records a status on a stored commit (a full id); null without a repository or such a commit. */
  createStatus(sha: string, creator: Actor, status: NewStatus) {
    if (!this.exists() || !/^[0-9a-f]{40}$/.test(sha) || !this.store.commitIfStored(sha)) return null;
    // Its `status` webhook event is raised by the API route (../api/v3/hook-events.ts).
    return this.collab.addStatus(sha, creator, status);
  }

  /** A ref's statuses, newest first; null when the ref names no commit. */
  statusesOf(ref: string, offset: number, limit: number) {
    const sha = this.exists() ? this.commitNamed(ref) : null;
    return sha ? { sha, ...this.collab.statuses(sha, offset, limit) } : null;
  }

  /** The combined status of the commit a ref names; null when it names none. */
  combinedStatusOf(ref: string) {
    const sha = this.exists() ? this.commitNamed(ref) : null;
    return sha ? { sha, ...this.collab.combinedStatus(sha) } : null;
  }

  /** Combined states of several commits, for the lists that show an icon beside each. */
  combinedStatuses(shas: string[]) {
    if (!this.exists()) return null;
    const out: Record<string, ReturnType<Collab["combinedStatus"]>> = {};
    for (const sha of shas.slice(0, 100)) {
      const c = this.collab.combinedStatus(sha);
      if (c.statuses.length) out[sha] = c;
    }
    return out;
  }

  /** Branches by name, with their tips and whether a rule covers them (for the branches API). */
  branchList(): { name: string; sha: string; protected: boolean }[] | null {
    if (!this.exists()) return null;
    const rules = this.collab.branchRules();
    return [...this.refs.list()]
      .filter(([name]) => name.startsWith("refs/heads/"))
      .map(([name, sha]) => ({ name: name.slice(11), sha, protected: ruleFor(rules, name.slice(11)) !== null }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  branchRules(): BranchRule[] | null {
    return this.exists() ? this.collab.branchRules() : null;
  }

  /** The rule that covers a branch (exact or glob), or null. */
  protectionOf(branch: string): BranchRule | null {
    return this.exists() ? ruleFor(this.collab.branchRules(), branch) : null;
  }

  putBranchRule(rule: BranchRule): BranchRule | null {
    return this.exists() ? this.collab.putBranchRule(rule) : null;
  }

  deleteBranchRule(pattern: string): boolean | null {
    return this.exists() ? this.collab.deleteBranchRule(pattern) : null;
  }

  /** What a protected base asks of a pull request now (for its page's merge box), with its head's checks. */
  pullGate(number: number) {
    const pull = this.exists() ? this.collab.pull(number) : null;
    if (!pull) return null;
    const head = this.refs.resolve(headRefOf(pull)) ?? pull.headSha;
    const base = this.refs.resolve(`refs/heads/${pull.base}`) ?? pull.baseSha;
    const gate = this.gateOf(pull, head, base);
    return { ...gate, head, status: this.collab.combinedStatus(head) };
  }

  // ---- GitHub's REST API: git data, contents, commits (RPC; see ./git-data.ts) ----------
  // Who may do what is decided before the call; each answers null without a repository.

  /** Git data over the current layers; ref moves go through the ref transaction with via "api". */
  private get gitData(): GitData | null {
    // Protected branches bind the API's ref moves as they bind pushes and the editor.
    return this.exists()
      ? new GitData({ fs: this.fs, store: this.store, refs: this.refs, browser: this.views.browser, policy: this.policy })
      : null;
  }

  async apiBlob(oid: string) {
    return (await this.gitData?.blob(oid)) ?? null;
  }

  async apiTree(oid: string, recursive: boolean) {
    return (await this.gitData?.tree(oid, recursive)) ?? null;
  }

  async apiCommitObject(oid: string) {
    return (await this.gitData?.commit(oid)) ?? null;
  }

  async apiTag(oid: string) {
    return (await this.gitData?.tag(oid)) ?? null;
  }

  async apiCreateBlob(data: Uint8Array) {
    return (await this.gitData?.createBlob(data)) ?? null;
  }

  async apiCreateTree(baseTree: string | null, entries: NewTreeEntry[]) {
    return (await this.gitData?.createTree(baseTree, entries)) ?? null;
  }

  async apiCreateCommit(commit: NewCommit) {
    return (await this.gitData?.createCommit(commit)) ?? null;
  }

  apiMatchingRefs(prefix: string) {
    return this.gitData?.matchingRefs(prefix) ?? null;
  }

  /** Creates, moves (fast-forward unless forced) or deletes (`sha` null) a ref. */
  async apiUpdateRef(
    name: string,
    sha: string | null,
    options: { create: boolean; force: boolean; user?: string; admin?: boolean },
    origin?: MoveOrigin,
  ) {
    const data = this.gitData;
    if (!data) return null;
    const old = this.refs.resolve(name) ?? ZERO_OID;
    const r = await data.updateRef(name, sha, options);
    if (r.ok) {
      await this.branchesMoved([{ ref: name, old, new: sha ?? ZERO_OID }], origin, options.user);
      this.settleHead();
      await this.scheduleMaintenance(10_000);
    }
    return r;
  }

  async apiContents(ref: string, path: string) {
    return (await this.gitData?.contents(ref, path)) ?? null;
  }

  async apiReadme(ref: string, dir: string) {
    return (await this.gitData?.readme(ref, dir)) ?? null;
  }

  async apiLog(ref: string, path: string | undefined, skip: number, limit: number) {
    return (await this.gitData?.log(ref, path, skip, limit)) ?? null;
  }

  /** compareView with the commits base has that head lacks (GitHub's behind_by). */
  async apiCompare(base: string, head: string) {
    const data = this.gitData;
    const compare = data ? await this.views.compare(base.split("/"), head.split("/"), false) : null;
    if (!data || !compare) return null;
    return { ...compare, behind: data.aheadBehind(compare.base.commit, compare.head.commit).behind };
  }

  apiTags() {
    return this.gitData?.tags() ?? null;
  }

  apiResolve(ref: string) {
    return this.gitData?.resolveRef(ref) ?? null;
  }

  // ---- code review (RPC; records in ./collab/reviews.ts, diffs in ./code-review.ts) ----
  // Who may do what is decided before the call (src/access/issues.ts). `viewerId`: who
  // reads, to whom their own pending review shows. Protected branches call, inside the
  // object, `this.collab.approvingReviewers` and `this.collab.dismissApprovals`.

  codeReview!: CodeReview;

  private get review(): CodeReview | null {
    return this.exists() ? this.codeReview : null;
  }

  async createReview(number: number, author: ReviewActor, input: NewReviewInput) {
    return (await this.review?.createReview(number, author, input)) ?? null;
  }

  pullReview(number: number, id: number, viewerId: number | null) {
    const r = this.issues?.review(number, id) ?? null;
    return r && (r.state !== "PENDING" || r.author.id === viewerId) ? r : null;
  }

  pullReviews(number: number, viewerId: number | null) {
    return this.issues?.reviews(number, viewerId) ?? null;
  }

  submitReview(number: number, id: number, actor: ReviewActor, event: ReviewEvent, body?: string) {
    return this.issues?.submitReview(number, id, actor, event, body) ?? null;
  }

  deletePendingReview(number: number, id: number, actor: Actor) {
    return this.issues?.deletePendingReview(number, id, actor) ?? null;
  }

  dismissReview(number: number, id: number, message: string) {
    return this.issues?.dismissReview(number, id, message) ?? null;
  }

  async reviewComments(number: number, viewerId: number | null, reviewId?: number) {
    return (await this.review?.comments(number, viewerId, reviewId)) ?? null;
  }

  async reviewComment(id: number, viewerId: number | null) {
    return (await this.review?.comment(id, viewerId)) ?? null;
  }

  async addLineComment(number: number, author: Actor, input: LineInput & { commitId?: string }, pending = false) {
    return (await this.review?.addLineComment(number, author, input, pending)) ?? null;
  }

  async replyToReviewComment(number: number, author: Actor, inReplyTo: number, body: string, pending = false) {
    const c = this.review && this.collab.replyToReviewComment(number, author, inReplyTo, body, pending);
    if (!c?.ok) return c ?? null;
    return { ok: true as const, value: (await this.codeReview.comment(c.value.id, author.id))! };
  }

  async editReviewComment(id: number, body: string) {
    const c = this.review && this.collab.editReviewComment(id, body);
    if (!c?.ok) return c ?? null;
    return { ok: true as const, value: (await this.codeReview.comment(c.value.id, c.value.author.id))! };
  }

  deleteReviewComment(id: number) {
    return this.issues?.deleteReviewComment(id) ?? null;
  }

  resolveReviewThread(number: number, id: number, actor: Actor, resolved: boolean) {
    return this.issues?.resolveThread(number, id, actor, resolved) ?? null;
  }

  requestedReviewers(number: number) {
    return this.issues?.requestedReviewers(number) ?? null;
  }

  requestReviews(number: number, people: Actor[], mode: "add" | "remove") {
    return this.issues?.requestReviews(number, people, mode) ?? null;
  }

  /** The review state of each of these pull requests (what the list shows). */
  reviewDecisions(numbers: number[]) {
    return this.issues?.reviewDecisions(numbers.slice(0, 100)) ?? null;
  }

  /** For protected branches: who approves pull request `number` now (see ./collab/reviews.ts). */
  approvingReviewers(number: number, headOid?: string): string[] {
    return this.issues?.approvingReviewers(number, headOid) ?? [];
  }

  /** For protected branches: dismisses approvals given on commits other than `headOid`. */
  dismissApprovals(number: number, headOid: string): string[] {
    return this.issues?.dismissApprovals(number, headOid) ?? [];
  }

  // ---- Git LFS records and locks (RPC; see ./lfs/). The bytes stay in R2. ----------
  // Each returns null when the repository does not exist.

  /** The LFS records over the current storage (`open` rebuilds them after `destroy`). */
  private lfsRecords!: LfsStore;

  private get lfs(): LfsStore | null {
    return this.exists() ? this.lfsRecords : null;
  }

  lfsPresent(oids: string[]) {
    return this.lfs?.present(oids.slice(0, 1000)) ?? null;
  }

  async lfsPlanUpload(objects: LfsObjectRef[], quota: number, keyPrefix: string, now = Date.now()) {
    const lfs = this.lfs;
    if (!lfs) return null;
    const stale = lfs.forgetExpired(now);
    // Planned before the deletion awaits, so that no other plan sees the space twice.
    const plan = lfs.planUpload(objects.slice(0, 1000), quota, (oid) => keyPrefix + oid, now);
    if (stale.length && this.env.PACKS) await this.env.PACKS.delete(stale);
    return plan;
  }

  lfsAnnounced(oid: string) {
    return this.lfs?.announced(oid) ?? null;
  }

  /** Records an uploaded object: "gone" when the repository is, "over-quota" (see LfsStore.stored). */
  lfsStored(oid: string, size: number, key: string, quota?: number, now = Date.now()): "stored" | "gone" | "over-quota" {
    const lfs = this.lfs;
    if (!lfs) return "gone";
    return lfs.stored(oid, size, key, quota, now) ? "stored" : "over-quota";
  }

  lfsUsage() {
    return this.lfs?.usage() ?? null;
  }

  lfsLock(path: string, ref: string | null, owner: { id: number; login: string }) {
    return this.lfs?.lock(path, ref, owner) ?? null;
  }

  lfsLocks(filter: { path?: string; id?: string; cursor?: string; limit: number }) {
    return this.lfs?.locks(filter) ?? null;
  }

  lfsUnlock(id: string, userId: number, force: boolean) {
    return this.lfs?.unlock(id, userId, force) ?? null;
  }
}
/** Who moved refs through the editor or the API, and the site their webhook payloads name. */
export interface MoveOrigin {
  sender: Actor;
  site: HookSite;
}
