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
import { DEFAULT_MAINTENANCE, Maintenance, type MaintenanceConfig, type SliceReport, type StorageReport } from "./maintenance";
import { GitHttp, stepConfig } from "./git-http";
import { type MergeabilityAnswer, PullMerges, type PullMergeRequest, type PullMergeResult, closesIssues } from "./pulls";
import { type CommitFilesRequest, type CommitFilesResult, type EditorView, FileEditor, editorView } from "./editor";
import { Collab, type Actor, type IssueChanges, type IssueQuery, type LabelFields, type NewIssue, type PullQuery } from "./collab";
import { PullRequests, type PullMergeInput } from "./pull-requests";
import { CodeReview, type LineInput, type NewReviewInput } from "./code-review";
import type { ReviewEvent } from "./collab";
import type { PushSession } from "../git/protocol/receive-pack";
import { commitObjects } from "../git/ref-transaction";
import type {
  Advertisement,
  Download,
  GitService,
  ProtocolVersion,
  PushState,
  PushStep,
  SegmentStored,
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
    ...overrides,
  };
}

export class Repository extends DurableObject<Env> {
  fs!: Dofs;
  store!: ObjectStore;
  refs!: RefStore;
  pushLog!: PushLog;
  views!: Views;
  private maintenance!: Maintenance;
  private maintaining = false;
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
    this.fs = new Dofs(this.ctx.storage, { bucket: this.env.PACKS });
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
            postReceive: (push, results, session) => this.pullRequests.postReceive(push, results, session),
            pushMessages: (push, results, session) => this.pullRequests.pushMessages(push, results, session),
          },
        ],
        exists: () => this.exists(),
        init: () => this.init(),
        afterPush: async () => {
          this.settleHead();
          await this.scheduleMaintenance(10_000);
        },
      },
      this.git?.config ?? stepConfig(this.env),
      erased,
    );
    this.maintenance = this.maintainer(maintenanceConfig(this.env));
    this.collab = new Collab(this.ctx.storage);
    this.pullRequests = new PullRequests({ collab: this.collab, refs: this.refs, store: this.store, merges: () => this.pulls() });
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
    this.git.close();
    await this.fs.dropR2();
    // From here every layer built over the old storage fails instead of reading it.
    this.fs.close();
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.open(true);
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
    if (!this.maintenance.needsWork()) return;
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + delayMs);
  }

  /** One slice of compaction, tiering and cleanup; more slices follow by alarm. */
  async alarm(): Promise<void> {
    const report = await this.maintenanceSlice();
    const next = report.more ? Date.now() + 1000 : this.maintenance.nextWake();
    if (next !== null) await this.ctx.storage.setAlarm(next);
  }

  /**
   * Runs one maintenance slice now (also RPC, for tests and operators). Overrides
   * replace the configured thresholds for this slice only.
   */
  async maintenanceSlice(overrides: Partial<MaintenanceConfig> = {}, now?: number): Promise<SliceReport> {
    if (this.maintaining) return { more: true, copied: 0, tiered: 0, pruned: 0, merged: 0, deleted: 0 };
    this.maintaining = true;
    try {
      const m = Object.keys(overrides).length ? this.maintainer(maintenanceConfig(this.env, overrides)) : this.maintenance;
      return await m.slice(now);
    } finally {
      this.maintaining = false;
    }
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
    return this.git.advertise(service, version);
  }

  uploadPack(body: ReadableStream<Uint8Array>, version: ProtocolVersion): Promise<UploadStart> {
    return this.git.uploadPack(body, version);
  }

  uploadStep(job: string, offset: number): Promise<UploadStep> {
    return this.git.uploadStep(job, offset);
  }

  abandonUpload(job: string): void {
    this.git.abandonUpload(job);
  }

  /** `session`: who pushes and the repository's web address (for the pull-request link git prints). */
  receivePack(body: ReadableStream<Uint8Array>, segmented: boolean, session?: PushSession): Promise<PushState> {
    return this.git.receivePack(body, segmented, session);
  }

  receiveSegment(upload: string, stored: number, body: ReadableStream<Uint8Array>): Promise<SegmentStored> {
    return this.git.receiveSegment(upload, stored, body);
  }

  pushUploaded(upload: string, stored: number): Promise<PushState> {
    return this.git.pushUploaded(upload, stored);
  }

  pushStep(job: string): Promise<PushStep> {
    return this.git.pushStep(job);
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
      this.pullMerges = { store: this.store, merges: new PullMerges({ fs: this.fs, store: this.store, refs: this.refs }) };
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
    return this.issues?.createIssue("issue", author, input) ?? null;
  }

  issue(number: number) {
    return this.issues?.issue(number) ?? null;
  }

  updateIssue(number: number, actor: Actor, changes: IssueChanges) {
    return this.issues?.updateIssue(number, actor, changes) ?? null;
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

  // ---- editing files: the browser editor, later the contents API (RPC; see ./editor.ts) ----

  /**
   * What an editor page at URL parts (a ref, then a path) shows; `withText`: the file's
   * text when it can be edited. Null without a repository or when the ref names nothing.
   */
  async editorView(parts: string[], withText: boolean): Promise<EditorView | null> {
    return this.exists() ? editorView(this.views.browser, this.refs, parts, withText) : null;
  }

  /** One commit of file changes on top of `parent`, moving or creating the branch by compare-and-swap. */
  async commitFiles(request: CommitFilesRequest): Promise<CommitFilesResult> {
    if (!this.exists()) return { ok: false, reason: "not-found", status: 404, message: "Not Found" };
    const result = await new FileEditor({ fs: this.fs, store: this.store, refs: this.refs }).commitFiles(request);
    if (result.ok) {
      this.settleHead();
      await this.scheduleMaintenance(10_000);
    }
    return result;
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
    return this.prs?.create(author, input) ?? null;
  }

  /** A pull request with its mergeability for the current branches (computed now if unknown). */
  async pull(number: number) {
    return (await this.prs?.get(number)) ?? null;
  }

  listPulls(query: PullQuery) {
    return this.prs?.list(query) ?? null;
  }

  updatePull(number: number, actor: Actor, changes: { title?: string; body?: string; state?: "open" | "closed"; base?: string }) {
    return this.prs?.update(number, actor, changes) ?? null;
  }

  /** Merges pull request `number` (the base moves by compare-and-swap) and records it. */
  async mergePullRequest(number: number, actor: Actor, input: PullMergeInput) {
    const prs = this.prs;
    if (!prs) return null;
    const r = await prs.merge(number, actor, input);
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
  ): Promise<{ ok: true } | { ok: false; status: 404 | 409 | 422; message: string }> {
    if (!this.exists()) return { ok: false, status: 404, message: "Not Found" };
    const ref = `refs/heads/${name}`;
    const current = this.refs.resolve(ref);
    if (!current) return { ok: false, status: 404, message: "Reference does not exist" };
    if (this.pullRequests.defaultBranch() === name) return { ok: false, status: 422, message: "Cannot delete the default branch" };
    if (current !== expectedOid) return { ok: false, status: 409, message: "The branch moved; reload and try again." };
    const outcome = await commitObjects({ fs: this.fs, store: this.store, refs: this.refs }, [], {
      updates: [{ name: ref, old: expectedOid, new: "0".repeat(40) }],
      atomic: true,
      actor: { via: "api", user },
    });
    if (outcome.kind !== "applied") return { ok: false, status: 409, message: "The branch moved; reload and try again." };
    return { ok: true };
  }

  // ---- code review (RPC; records in ./collab/reviews.ts, diffs in ./code-review.ts) ----
  // Who may do what is decided before the call (src/access/issues.ts). `viewerId`: who
  // reads, to whom their own pending review shows. Protected branches call, inside the
  // object, `this.collab.approvingReviewers` and `this.collab.dismissApprovals`.

  codeReview!: CodeReview;

  private get review(): CodeReview | null {
    return this.exists() ? this.codeReview : null;
  }

  async createReview(number: number, author: Actor, input: NewReviewInput) {
    return (await this.review?.createReview(number, author, input)) ?? null;
  }

  pullReview(number: number, id: number, viewerId: number | null) {
    const r = this.issues?.review(number, id) ?? null;
    return r && (r.state !== "PENDING" || r.author.id === viewerId) ? r : null;
  }

  pullReviews(number: number, viewerId: number | null) {
    return this.issues?.reviews(number, viewerId) ?? null;
  }

  submitReview(number: number, id: number, actor: Actor, event: ReviewEvent, body?: string) {
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
}
