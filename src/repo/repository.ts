// The Repository Durable Object: one per repository, named "owner/repo".
// It owns the repository's DOFS (a bare git repository), its object index and refs.
// Smart-HTTP requests arrive through `fetch` so bodies stream both ways; the web UI
// and API use the RPC methods.
import { concatBytes } from "../util/bytes";
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../util/env";
import { Dofs } from "../fs/dofs";
import { CHECKPOINT_OBJECTS } from "../git/walk";
import { ObjectStore } from "../git/store/object-store";
import { RefStore } from "../git/refs";
import { INCOMING_DIR, type PackUpload, type PushJob, type PushRequest, beginPush } from "../git/protocol/receive-pack";
import { STEP_BOUNDARY, UploadPackError, advertiseRefs, advertiseV2, serveV0, serveV2 } from "../git/protocol/upload-pack";
import { RECEIVE_PACK_CAPS, UPLOAD_PACK_V0_CAPS } from "../git/protocol/capabilities";
import { FLUSH, PktLineError, PktReader, errPkt, pktLine, sideband } from "../git/protocol/pkt-line";
import { tarDofs } from "../git/export/tar";
import { tarArchive, zipArchive } from "../git/export/archive";
import { PushLog, type PushRecord } from "./push-log";
import { Views } from "./views";
import { DEFAULT_MAINTENANCE, Maintenance, type MaintenanceConfig, type SliceReport } from "./maintenance";
import { BadBodyError, BodyTooLargeError, chunksOf, generatorStream, readLimited } from "../util/streams";
import {
  PROGRESS_HEADER,
  PUSH_JOB_HEADER,
  PUSH_UPLOAD_HEADER,
  SEGMENTED_HEADER,
  SIDEBAND_ERRORS_HEADER,
  STEPS_HEADER,
  UPLOAD_JOB_HEADER,
} from "./internal-headers";

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

const MAX_UPLOAD_REQUEST = 32 * 1024 * 1024;
const GIT_NO_CACHE = {
  "Cache-Control": "no-cache, max-age=0, must-revalidate",
  Pragma: "no-cache",
  Expires: "Fri, 01 Jan 1980 00:00:00 GMT",
};

export type Service = "git-upload-pack" | "git-receive-pack";

export class Repository extends DurableObject<Env> {
  fs!: Dofs;
  store!: ObjectStore;
  refs!: RefStore;
  pushLog!: PushLog;
  views!: Views;
  private maintenance!: Maintenance;
  private maintaining = false;
  /** Pushes being indexed in slices, by id; lost (and the pushes failed) if evicted. */
  private readonly pushJobs = new Map<string, { job: PushJob; touched: number }>();
  /** Pushes whose pack is arriving in segments, by id; lost (and the pushes failed) if evicted. */
  private readonly pushUploads = new Map<string, { push: PushRequest; upload: PackUpload; touched: number }>();
  /** When a push is indexed in slices, and how much work a slice does (tests lower both). */
  sliceConfig = {
    minBytes: Number(this.env.GITFLARE_SLICE_MIN_BYTES ?? "") || 32 * 1024 * 1024,
    units: Number(this.env.GITFLARE_SLICE_UNITS ?? "") || 4000,
  };

  /** Clone and fetch answers being produced in steps, by id; lost (and the fetch failed) if evicted. */
  private readonly uploadJobs = new Map<string, UploadJob>();
  /**
   * A clone or fetch answer larger than `firstBytes` is produced `stepBytes` at a time,
   * each step its own invocation that the Worker pulls; the object walk before the pack
   * pauses for a step every `walkObjects` objects (tests lower all three).
   */
  stepConfig = (() => {
    const stepBytes = Number(this.env.GITFLARE_STEP_BYTES ?? "") || 4 * 1024 * 1024;
    return { firstBytes: Math.min(1024 * 1024, stepBytes), stepBytes, walkObjects: CHECKPOINT_OBJECTS };
  })();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.open();
    // A fresh instance has no push in flight: anything in incoming/ was interrupted.
    if (this.fs.exists(INCOMING_DIR)) {
      for (const f of this.fs.readdir(INCOMING_DIR)) this.fs.unlink(`${INCOMING_DIR}/${f}`);
    }
  }

  /** Builds the layers over storage; again after `destroy`, so no cache outlives the data. */
  private open(): void {
    this.fs = new Dofs(this.ctx.storage, { bucket: this.env.PACKS });
    this.store = new ObjectStore(this.fs, this.ctx.storage.sql);
    this.refs = new RefStore(this.fs);
    this.pushLog = new PushLog(this.ctx.storage.sql);
    this.views = new Views(this.store, this.refs, () =>
      this.fs.exists("/description") ? new TextDecoder().decode(this.fs.readFile("/description")) : "",
    );
    this.maintenance = new Maintenance(this.fs, this.store, this.refs, this.ctx.storage.sql, maintenanceConfig(this.env));
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
   */
  async destroy(): Promise<void> {
    await this.fs.dropR2();
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.open();
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

  async commitView(oid: string, full = false) {
    return this.exists() && /^[0-9a-f]{40}$/.test(oid) ? this.views.commit(oid, full) : null;
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
    if (report.more) await this.ctx.storage.setAlarm(Date.now() + 1000);
  }

  /**
   * Runs one maintenance slice now (also RPC, for tests and operators). Overrides
   * replace the configured thresholds for this slice only.
   */
  async maintenanceSlice(overrides: Partial<MaintenanceConfig> = {}, now?: number): Promise<SliceReport> {
    if (this.maintaining) return { more: true, copied: 0, tiered: 0, pruned: 0, merged: 0 };
    this.maintaining = true;
    try {
      const m = Object.keys(overrides).length
        ? new Maintenance(this.fs, this.store, this.refs, this.ctx.storage.sql, maintenanceConfig(this.env, overrides))
        : this.maintenance;
      return await m.slice(now);
    } finally {
      this.maintaining = false;
    }
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

  // ---- smart HTTP --------------------------------------------------------------

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    try {
      if (request.method === "GET" && url.pathname === "/info/refs") {
        return this.infoRefs(url.searchParams.get("service"), request.headers.get("Git-Protocol") ?? "");
      }
      if (request.method === "POST" && url.pathname === "/git-upload-pack") {
        return await this.uploadPack(request);
      }
      if (request.method === "POST" && url.pathname === "/git-receive-pack") {
        return await this.receivePack(request);
      }
      if (request.method === "POST" && url.pathname === "/git-receive-pack/segment") {
        return await this.receiveSegment(request);
      }
      if (request.method === "GET" && url.pathname === "/archive") {
        return await this.archive(
          url.searchParams.get("ref") ?? "",
          url.searchParams.get("format") ?? "",
          url.searchParams.get("name") ?? "repo",
        );
      }
      if (request.method === "GET" && url.pathname === "/export.tar") {
        return this.exportTar(url.searchParams.get("name") ?? "repo.git");
      }
      return new Response("Not found\n", { status: 404 });
    } catch (e) {
      // Release a body we will not read, so its sender is not left writing into it.
      if (request.body && !request.bodyUsed) await request.body.cancel().catch(() => undefined);
      if (e instanceof BodyTooLargeError) return plain(413, e.message);
      if (e instanceof BadRequest || e instanceof BadBodyError) return plain(400, e.message);
      throw e;
    }
  }

  private infoRefs(service: string | null, gitProtocol: string): Response {
    if (service !== "git-upload-pack" && service !== "git-receive-pack") {
      return plain(403, "Dumb HTTP is not supported: use a git client with smart HTTP (git 1.6.6 or later).");
    }
    if (service === "git-upload-pack" && !this.exists()) return plain(404, "Repository not found.");
    const version = protocolVersion(gitProtocol);
    const parts: Uint8Array[] = [pktLine(`# service=${service}\n`), FLUSH];
    if (service === "git-upload-pack" && version === 2) {
      parts.push(advertiseV2());
    } else {
      const caps = service === "git-upload-pack" ? UPLOAD_PACK_V0_CAPS : RECEIVE_PACK_CAPS;
      parts.push(advertiseRefs(this, caps, version === 1 ? 1 : 0, service === "git-upload-pack"));
    }
    return new Response(concatBytes(parts), {
      headers: { "Content-Type": `application/x-${service}-advertisement`, ...GIT_NO_CACHE },
    });
  }

  private async uploadPack(request: Request): Promise<Response> {
    if (!this.exists()) return plain(404, "Repository not found.");
    checkContentType(request, "git-upload-pack");
    const body = await readLimited(decodedBody(request), MAX_UPLOAD_REQUEST);
    const version = protocolVersion(request.headers.get("Git-Protocol") ?? "");
    const gen = version === 2 ? serveV2(this, body) : serveV0(this, body);
    const sidebandErrors = version === 2;
    if (request.headers.get(STEPS_HEADER) !== "1") return await gitResponse("git-upload-pack", gen, sidebandErrors);
    return await this.steppedAnswer(gen, sidebandErrors);
  }

  /**
   * The first part of an answer the Worker reads in steps. A small answer is whole here;
   * a larger one leaves a job that `uploadStep` continues, one bounded invocation at a
   * time, so no invocation streams a whole clone.
   */
  private async steppedAnswer(gen: AsyncGenerator<Uint8Array>, sidebandErrors: boolean): Promise<Response> {
    const headers: Record<string, string> = { "Content-Type": "application/x-git-upload-pack-result", ...GIT_NO_CACHE };
    let first: IteratorResult<Uint8Array>;
    try {
      first = await gen.next();
    } catch (e) {
      return new Response(requestError(e), { headers });
    }
    const job: UploadJob = { gen, sidebandErrors, touched: Date.now() };
    const part = await produce(job, this.stepConfig.firstBytes, first);
    if (part.done) return new Response(part.bytes, { headers });
    const id = crypto.randomUUID();
    // A job nobody has pulled for ten minutes was left behind by a Worker that died.
    for (const [old, j] of this.uploadJobs) if (j.touched < Date.now() - 600_000) this.abandonUpload(old);
    this.uploadJobs.set(id, job);
    headers[UPLOAD_JOB_HEADER] = id;
    if (sidebandErrors) headers[SIDEBAND_ERRORS_HEADER] = "1";
    return new Response(part.bytes, { headers });
  }

  /** The next part of a stepped clone or fetch answer (RPC). */
  async uploadStep(id: string): Promise<{ bytes: Uint8Array; done: boolean; lost?: true }> {
    const job = this.uploadJobs.get(id);
    if (!job) return { bytes: new Uint8Array(0), done: true, lost: true };
    job.touched = Date.now();
    try {
      const part = await produce(job, this.stepConfig.stepBytes);
      if (part.done) this.uploadJobs.delete(id);
      return part;
    } catch (e) {
      this.uploadJobs.delete(id);
      throw e;
    }
  }

  /** Drops a stepped answer whose client went away (RPC). */
  abandonUpload(id: string): void {
    const job = this.uploadJobs.get(id);
    this.uploadJobs.delete(id);
    job?.gen.return(undefined).catch(() => undefined);
  }

  private receiveContext() {
    return { fs: this.fs, store: this.store, refs: this.refs, hooks: [this.pushLog], onFirstPush: () => this.init() };
  }

  private async receivePack(request: Request): Promise<Response> {
    checkContentType(request, "git-receive-pack");
    const reader = new PktReader(decodedBody(request));
    const started = await beginPush(this.receiveContext(), reader);
    if (!("upload" in started)) return this.answerPush(started);
    await started.upload.receive(reader.rest());
    if (request.headers.get(SEGMENTED_HEADER) !== "1") return this.answerPush(started.upload.complete(started.push));
    // The Worker sends the rest of the pack in further segments (`receiveSegment`), each
    // its own invocation, then asks for the answer (`pushUploaded`).
    const id = crypto.randomUUID();
    this.sweepPushes();
    this.pushUploads.set(id, { push: started.push, upload: started.upload, touched: Date.now() });
    return new Response(null, { status: 202, headers: { [PUSH_UPLOAD_HEADER]: id } });
  }

  /** One more segment of a push's pack, streamed into its temporary file. */
  private async receiveSegment(request: Request): Promise<Response> {
    const entry = this.pushUploads.get(request.headers.get(PUSH_UPLOAD_HEADER) ?? "");
    if (!entry) return plain(409, "push interrupted (the repository restarted): please push again");
    entry.touched = Date.now();
    const stream = request.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    if (!(await entry.upload.receive(chunksOf(stream)))) await stream.cancel().catch(() => undefined);
    return new Response(null, { status: 204 });
  }

  /**
   * The whole pack of a segmented push is stored: its report, or (for a large pack) the
   * id of the job that `pushStep` indexes (RPC).
   */
  async pushUploaded(id: string): Promise<{ report: Uint8Array } | { job: string; progress: boolean }> {
    const entry = this.pushUploads.get(id);
    if (!entry) return { report: pushInterrupted() };
    this.pushUploads.delete(id);
    const started = entry.upload.complete(entry.push);
    if ("report" in started) return started;
    const job = started.job;
    if (job.packBytes < this.sliceConfig.minBytes) return { report: await this.finishPush(job) };
    return { job: this.holdPushJob(job), progress: job.wantsProgress };
  }

  private async answerPush(started: { report: Uint8Array } | { job: PushJob }): Promise<Response> {
    const headers = { "Content-Type": "application/x-git-receive-pack-result", ...GIT_NO_CACHE };
    if ("report" in started) return new Response(started.report, { headers });
    const job = started.job;
    if (job.packBytes < this.sliceConfig.minBytes) {
      return new Response(await this.finishPush(job), { headers });
    }
    // A large pack: the Worker drives the indexing through `pushStep`, one bounded
    // invocation at a time, and relays progress to the client meanwhile.
    const id = this.holdPushJob(job);
    return new Response(null, { status: 202, headers: { [PUSH_JOB_HEADER]: id, [PROGRESS_HEADER]: job.wantsProgress ? "1" : "0" } });
  }

  private holdPushJob(job: PushJob): string {
    const id = crypto.randomUUID();
    this.sweepPushes();
    this.pushJobs.set(id, { job, touched: Date.now() });
    return id;
  }

  /** Pushes nobody has continued for ten minutes were left behind by a Worker that died. */
  private sweepPushes(): void {
    const stale = Date.now() - 600_000;
    for (const [old, j] of this.pushJobs) if (j.touched < stale) this.abandonPush(old);
    for (const [old, u] of this.pushUploads) if (u.touched < stale) this.abandonPush(old);
  }

  /** One slice of a large push's indexing; the report once it is done (RPC). */
  async pushStep(id: string): Promise<{ done: false; progress: string } | { done: true; report: Uint8Array }> {
    const entry = this.pushJobs.get(id);
    if (!entry) return { done: true, report: pushInterrupted() };
    entry.touched = Date.now();
    const job = entry.job;
    try {
      if (!job.step(this.sliceConfig.units)) return { done: false, progress: job.progress() };
      this.pushJobs.delete(id);
      return { done: true, report: await this.finishPush(job) };
    } catch (e) {
      this.pushJobs.delete(id);
      job.abandon();
      throw e;
    }
  }

  /** Drops a sliced or segmented push whose client went away, and its stored pack (RPC). */
  abandonPush(id: string): void {
    this.pushJobs.get(id)?.job.abandon();
    this.pushJobs.delete(id);
    this.pushUploads.get(id)?.upload.abort();
    this.pushUploads.delete(id);
  }

  private async finishPush(job: PushJob): Promise<Uint8Array> {
    const report = await job.finish();
    this.settleHead();
    await this.scheduleMaintenance(10_000);
    return report;
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

  /** `git archive` of a ref as .tar.gz or .zip, streamed. */
  private async archive(ref: string, format: string, name: string): Promise<Response> {
    const at = this.exists() ? this.views.resolve(ref.split("/")) : null;
    if (!at || (format !== "tar.gz" && format !== "zip")) return plain(404, "No such ref.");
    const commit = this.store.commit(at.commit);
    const safeRef = at.ref.replace(/[^A-Za-z0-9._-]/g, "-");
    const base = `${name.replace(/[^A-Za-z0-9._-]/g, "_")}-${safeRef}`;
    const stream =
      format === "zip"
        ? generatorStream(zipArchive(this.views.browser, commit.tree, `${base}/`, commit.time))
        : generatorStream(tarArchive(this.views.browser, commit.tree, `${base}/`, commit.time)).pipeThrough(new CompressionStream("gzip"));
    return new Response(stream, {
      headers: {
        "Content-Type": format === "zip" ? "application/zip" : "application/gzip",
        "Content-Disposition": `attachment; filename="${base}.${format}"`,
        "X-Content-Type-Options": "nosniff",
      },
    });
  }

  private exportTar(name: string): Response {
    if (!this.exists()) return plain(404, "Repository not found.");
    const root = name.replace(/[^A-Za-z0-9._-]/g, "_");
    // Work in progress (incoming pushes, a compaction's output) is not part of the repository.
    const skip = (p: string) => [INCOMING_DIR, "/objects/compact"].some((d) => p === d || p.startsWith(d + "/"));
    const gen = tarDofs(this.fs, root, skip);
    return new Response(generatorStream(gen), {
      headers: {
        "Content-Type": "application/x-tar",
        "Content-Disposition": `attachment; filename="${root}.tar"`,
        ...GIT_NO_CACHE,
      },
    });
  }
}

class BadRequest extends Error {}

/** The answer for a push whose job was lost with the object's memory (a restart). */
function pushInterrupted(): Uint8Array {
  return concatBytes([errPkt("push interrupted (the repository restarted): please push again")]);
}

function plain(status: number, message: string): Response {
  return new Response(message.endsWith("\n") ? message : message + "\n", {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", ...GIT_NO_CACHE },
  });
}

function protocolVersion(header: string): 0 | 1 | 2 {
  // Git-Protocol is a colon-separated list of key=value; the highest version wins.
  let v: 0 | 1 | 2 = 0;
  for (const part of header.split(":")) {
    if (part === "version=2") v = 2;
    else if (part === "version=1" && v < 1) v = 1;
  }
  return v;
}

function checkContentType(request: Request, service: Service): void {
  const type = request.headers.get("Content-Type") ?? "";
  if (type !== `application/x-${service}-request`) {
    throw new BadRequest(`Expected Content-Type application/x-${service}-request, got '${type}'`);
  }
}

function decodedBody(request: Request): ReadableStream<Uint8Array> {
  const body = request.body ?? new ReadableStream({ start: (c) => c.close() });
  const encoding = (request.headers.get("Content-Encoding") ?? "").toLowerCase();
  if (encoding === "gzip" || encoding === "x-gzip") return body.pipeThrough(new DecompressionStream("gzip"));
  if (encoding && encoding !== "identity") throw new BadRequest(`Unsupported Content-Encoding '${encoding}'`);
  return body;
}

/**
 * Runs a protocol generator into a response. The first step runs before the response
 * starts, so a request error is answered with an `ERR` pkt-line; a failure later, in
 * the middle of a pack, goes to side-band 3 where the client prints it.
 */
async function gitResponse(service: Service, gen: AsyncGenerator<Uint8Array>, sidebandErrors: boolean): Promise<Response> {
  const headers = { "Content-Type": `application/x-${service}-result`, ...GIT_NO_CACHE };
  let first: IteratorResult<Uint8Array>;
  try {
    first = await gen.next();
  } catch (e) {
    return new Response(requestError(e), { headers });
  }
  const stream = generatorStream(gen, first, (e) => midStreamError(e, sidebandErrors));
  return new Response(stream, { headers });
}

/** An error before any of the answer went out: an `ERR` pkt-line, never a bare 500. */
function requestError(e: unknown): Uint8Array {
  if (e instanceof UploadPackError || e instanceof PktLineError) return errPkt(e.message);
  console.error("upload-pack failed:", e);
  return errPkt(`internal server error: ${(e as Error).message}`);
}

/** An error in the middle of a pack: on side band 3, where the client prints it, if in use. */
function midStreamError(e: unknown, sidebandErrors: boolean): Uint8Array | null {
  const message = e instanceof Error ? e.message : String(e);
  console.error("upload-pack failed mid-stream:", message);
  return sidebandErrors ? concatBytes([...sideband(3, new TextEncoder().encode(`error: ${message}\n`))]) : null;
}

interface UploadJob {
  gen: AsyncGenerator<Uint8Array>;
  sidebandErrors: boolean;
  touched: number;
}

/**
 * Runs a job's generator until about `limit` bytes are out, it offers a step boundary
 * (a long walk's checkpoint), or it ends. A failure ends the answer with its side-band
 * error, or is thrown when there is no side band to carry it.
 */
async function produce(job: UploadJob, limit: number, pending?: IteratorResult<Uint8Array>): Promise<{ bytes: Uint8Array; done: boolean }> {
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const r = pending ?? (await job.gen.next());
      pending = undefined;
      if (r.done) return { bytes: concatBytes(parts), done: true };
      if (r.value === STEP_BOUNDARY) break;
      parts.push(r.value);
      size += r.value.byteLength;
    }
  } catch (e) {
    const tail = midStreamError(e, job.sidebandErrors);
    if (!tail) throw e;
    parts.push(tail);
    return { bytes: concatBytes(parts), done: true };
  }
  return { bytes: concatBytes(parts), done: false };
}
