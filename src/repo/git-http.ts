// The repository's side of git over HTTP: advertisements, clone and fetch answers,
// pushes, and downloads, as the RPC contract in ./contract.ts describes. HTTP itself
// (content types, encodings, status codes) is the Worker's; this answers in tagged
// results and holds the jobs that large answers and pushes take.
import type { Dofs } from "../fs/dofs";
import { type ObjectStore, PACK_DIR } from "../git/store/object-store";
import type { RefStore } from "../git/refs";
import type { Browser } from "../git/browse";
import {
  INCOMING_DIR,
  type PackUpload,
  type PushHooks,
  type PushJob,
  type PushRequest,
  type PushSession,
  beginPush,
} from "../git/protocol/receive-pack";
import { STEP_BOUNDARY, UploadPackError, advertiseRefs, advertiseV2, serveV0, serveV2 } from "../git/protocol/upload-pack";
import { RECEIVE_PACK_CAPS, UPLOAD_PACK_V0_CAPS } from "../git/protocol/capabilities";
import { FLUSH, PktLineError, PktReader, errPkt, pktLine, sidebandError } from "../git/protocol/pkt-line";
import { CHECKPOINT_OBJECTS } from "../git/walk";
import { tarDofs } from "../git/export/tar";
import { tarArchive, zipArchive } from "../git/export/archive";
import { concatBytes } from "../util/bytes";
import { BadBodyError, BodyTooLargeError, chunksOf, generatorStream } from "../util/streams";
import type { Env } from "../util/env";
import { Jobs } from "./jobs";
import type {
  Advertisement,
  Download,
  GitService,
  ProtocolVersion,
  PushState,
  PushStep,
  Refused,
  SegmentStored,
  UploadStart,
  UploadStep,
} from "./contract";

/** What the git service needs of the repository object that holds it. */
export interface GitHttpHost {
  fs: Dofs;
  store: ObjectStore;
  refs: RefStore;
  browser(): Browser;
  hooks: PushHooks[];
  exists(): boolean;
  /** Lays out the repository before the first push's first ref update. */
  init(): void;
  /** After a push has moved refs: HEAD and maintenance. */
  afterPush(): Promise<void>;
}

/** How large work is cut into steps (tests lower these). */
export interface StepConfig {
  /** A clone answer larger than this continues as a job. */
  firstBytes: number;
  /** Bytes of a clone answer per `uploadStep`. */
  stepBytes: number;
  /** Objects the walk enumerates between steps. */
  walkObjects: number;
  /** A pushed pack at least this large is indexed in slices. */
  sliceMinBytes: number;
  /** Work per indexing slice: objects, plus one per 64 KiB of a large object. */
  sliceUnits: number;
}

export function stepConfig(env: Env): StepConfig {
  const stepBytes = Number(env.GITFLARE_STEP_BYTES ?? "") || 4 * 1024 * 1024;
  return {
    firstBytes: Math.min(1024 * 1024, stepBytes),
    stepBytes,
    walkObjects: CHECKPOINT_OBJECTS,
    sliceMinBytes: Number(env.GITFLARE_SLICE_MIN_BYTES ?? "") || 32 * 1024 * 1024,
    sliceUnits: Number(env.GITFLARE_SLICE_UNITS ?? "") || 4000,
  };
}

interface UploadJob {
  gen: AsyncGenerator<Uint8Array>;
  sidebandErrors: boolean;
  /** When its first call began: any pack location it holds was read after that. */
  began: number;
}

interface PushUpload {
  push: PushRequest;
  upload: PackUpload;
}

export class GitHttp {
  private readonly uploads = new Jobs<UploadJob>((j) => {
    // The generator is being dropped; a failure while it closes has no one to report to.
    j.gen.return(undefined).catch(() => undefined);
  });
  private readonly pushUploads = new Jobs<PushUpload>((u) => u.upload.abort());
  private readonly pushJobs = new Jobs<PushJob>((j) => j.abandon());
  /** First calls of clones and fetches, and exports, still running, by when each began. */
  private readonly answering = new Set<{ began: number }>();

  constructor(
    private readonly host: GitHttpHost,
    readonly config: StepConfig,
  ) {
    // A fresh instance has no push in flight: anything in incoming/ was interrupted.
    if (host.fs.exists(INCOMING_DIR)) {
      for (const f of host.fs.readdir(INCOMING_DIR)) host.fs.unlink(`${INCOMING_DIR}/${f}`);
    }
  }

  // ---- advertisement -----------------------------------------------------------

  advertise(service: GitService, version: ProtocolVersion): Advertisement {
    if (service === "git-upload-pack" && !this.host.exists()) return notFound();
    const parts: Uint8Array[] = [pktLine(`# service=${service}\n`), FLUSH];
    if (service === "git-upload-pack" && version === 2) {
      parts.push(advertiseV2());
    } else {
      const caps = service === "git-upload-pack" ? UPLOAD_PACK_V0_CAPS : RECEIVE_PACK_CAPS;
      parts.push(advertiseRefs(this.view(), caps, version === 1 ? 1 : 0, service === "git-upload-pack"));
    }
    return { kind: "advertisement", bytes: concatBytes(parts) };
  }

  private view() {
    return { store: this.host.store, refs: this.host.refs, stepConfig: this.config };
  }

  // ---- clone and fetch ---------------------------------------------------------

  /**
   * The first part of a clone or fetch answer. A small answer is whole; a larger one
   * leaves a job that `uploadStep` continues, one bounded invocation at a time. The
   * first step runs before anything is answered, so a bad request gets an `ERR` line.
   */
  async uploadPack(body: ReadableStream<Uint8Array>, version: ProtocolVersion): Promise<UploadStart> {
    const call = { began: Date.now() };
    this.answering.add(call);
    try {
      return await this.startUpload(body, version, call.began);
    } finally {
      this.answering.delete(call);
    }
  }

  /**
   * When the oldest clone or fetch in flight began, or null when none is: maintenance
   * keeps the packs that such a fetch may still be reading. (A job that outlived a
   * restart, kept in storage, would have to count here too.)
   */
  oldestFetch(): number | null {
    let oldest: number | null = null;
    for (const { began } of [...this.answering, ...this.uploads.jobs()]) oldest = Math.min(oldest ?? began, began);
    return oldest;
  }

  private async startUpload(body: ReadableStream<Uint8Array>, version: ProtocolVersion, began: number): Promise<UploadStart> {
    if (!this.host.exists()) {
      await cancel(body);
      return notFound();
    }
    // The Worker has read and checked it (size, encoding): it is small and whole.
    const request = new Uint8Array(await new Response(body).arrayBuffer());
    const gen = version === 2 ? serveV2(this.view(), request) : serveV0(this.view(), request);
    const sidebandErrors = version === 2;
    let first: IteratorResult<Uint8Array>;
    try {
      first = await gen.next();
    } catch (e) {
      return { kind: "answer", bytes: requestError(e), sidebandErrors };
    }
    const job: UploadJob = { gen, sidebandErrors, began };
    const part = await produce(job, this.config.firstBytes, first);
    if (part.done) return { kind: "answer", bytes: part.bytes, sidebandErrors };
    return { kind: "answer", bytes: part.bytes, job: this.uploads.add(job), sidebandErrors };
  }

  async uploadStep(id: string): Promise<UploadStep> {
    const job = this.uploads.get(id);
    if (!job) return { bytes: new Uint8Array(0), done: true, lost: true };
    try {
      const part = await produce(job, this.config.stepBytes);
      if (part.done) this.uploads.take(id);
      return part;
    } catch (e) {
      this.uploads.take(id);
      throw e;
    }
  }

  abandonUpload(id: string): void {
    this.uploads.abandon(id);
  }

  // ---- push --------------------------------------------------------------------

  /**
   * A push's commands and its pack, or the first segment of them when `segmented` (the
   * Worker sends the rest to `receiveSegment`). The body arrives decoded.
   */
  async receivePack(body: ReadableStream<Uint8Array>, segmented: boolean, session?: PushSession): Promise<PushState> {
    const reader = new PktReader(body);
    let started: Awaited<ReturnType<typeof beginPush>>;
    try {
      started = await beginPush(
        {
          fs: this.host.fs,
          store: this.host.store,
          refs: this.host.refs,
          hooks: this.host.hooks,
          onFirstPush: () => this.host.init(),
          session,
        },
        reader,
      );
    } catch (e) {
      await cancel(body);
      return bodyRefusal(e);
    }
    if ("report" in started) return { kind: "report", report: started.report };
    if ("job" in started) return this.index(started);
    await started.upload.receive(reader.rest());
    if (!segmented) return this.index(started.upload.complete(started.push));
    return { kind: "receiving", upload: this.pushUploads.add(started) };
  }

  /** One more segment of a push's pack, streamed into its temporary file. */
  async receiveSegment(id: string, body: ReadableStream<Uint8Array>): Promise<SegmentStored> {
    const entry = this.pushUploads.get(id);
    if (!entry) {
      await cancel(body);
      return { lost: true };
    }
    // A segment that could not be stored has set the upload's failure, which the report gives.
    if (!(await entry.upload.receive(chunksOf(body)))) await cancel(body);
    return {};
  }

  /** The whole pack of a segmented push is stored: index it, or its report. */
  async pushUploaded(id: string): Promise<PushState> {
    const entry = this.pushUploads.take(id);
    if (!entry) return { kind: "report", report: pushInterrupted() };
    return this.index(entry.upload.complete(entry.push));
  }

  /** A small pack is indexed now; a large one becomes a job that `pushStep` slices. */
  private async index(started: { report: Uint8Array } | { job: PushJob }): Promise<PushState> {
    if ("report" in started) return { kind: "report", report: started.report };
    const job = started.job;
    if (job.packBytes < this.config.sliceMinBytes) return { kind: "report", report: await this.finish(job) };
    return { kind: "indexing", job: this.pushJobs.add(job), progress: job.wantsProgress };
  }

  async pushStep(id: string): Promise<PushStep> {
    const job = this.pushJobs.get(id);
    if (!job) return { done: true, report: pushInterrupted() };
    try {
      if (!job.step(this.config.sliceUnits)) return { done: false, progress: job.progress() };
      this.pushJobs.take(id);
      return { done: true, report: await this.finish(job) };
    } catch (e) {
      this.pushJobs.abandon(id);
      throw e;
    }
  }

  /** Drops a push in either phase, and its stored pack. */
  abandonPush(id: string): void {
    this.pushJobs.abandon(id);
    this.pushUploads.abandon(id);
  }

  private async finish(job: PushJob): Promise<Uint8Array> {
    const report = await job.finish();
    await this.host.afterPush();
    return report;
  }

  // ---- downloads ---------------------------------------------------------------

  /** The bare repository as a tar file, readable by C git. */
  exportTar(name: string): Download {
    if (!this.host.exists()) return notFound();
    const root = name.replace(/[^A-Za-z0-9._-]/g, "_");
    // Work in progress (incoming pushes, a compaction's output) is not part of the repository,
    // nor are packs that a compaction retired, which may go while the export streams.
    // The live packs are those when the export begins streaming (its first pull).
    let live: Set<string> | undefined;
    const skip = (p: string) => {
      live ??= new Set(this.host.store.packs().flatMap((k) => [k.path, k.path.replace(/\.pack$/, ".idx")]));
      return (
        [INCOMING_DIR, "/objects/compact"].some((d) => p === d || p.startsWith(`${d}/`)) || (p.startsWith(`${PACK_DIR}/`) && !live.has(p))
      );
    };
    return {
      kind: "download",
      // It reads pack files as they are stored: a repack must keep those it retires meanwhile.
      body: generatorStream(this.readingPacks(tarDofs(this.host.fs, root, skip))),
      filename: `${root}.tar`,
      contentType: "application/x-tar",
    };
  }

  /** A download counted among the fetches in flight (see `oldestFetch`) while it streams. */
  private async *readingPacks(gen: AsyncGenerator<Uint8Array>): AsyncGenerator<Uint8Array> {
    const call = { began: Date.now() };
    this.answering.add(call);
    try {
      yield* gen;
    } finally {
      this.answering.delete(call);
    }
  }

  /** `git archive` of a commit's tree as .tar.gz or .zip. */
  archive(commitOid: string, ref: string, format: "tar.gz" | "zip", name: string): Download {
    const commit = this.host.store.commit(commitOid);
    const base = `${name.replace(/[^A-Za-z0-9._-]/g, "_")}-${ref.replace(/[^A-Za-z0-9._-]/g, "-")}`;
    const browser = this.host.browser();
    const body =
      format === "zip"
        ? generatorStream(zipArchive(browser, commit.tree, `${base}/`, commit.time))
        : generatorStream(tarArchive(browser, commit.tree, `${base}/`, commit.time)).pipeThrough(new CompressionStream("gzip"));
    return {
      kind: "download",
      body,
      filename: `${base}.${format}`,
      contentType: format === "zip" ? "application/zip" : "application/gzip",
    };
  }
}

function notFound(): Refused {
  return { kind: "refused", status: 404, message: "Repository not found." };
}

function bodyRefusal(e: unknown): Refused {
  if (e instanceof BodyTooLargeError) return { kind: "refused", status: 413, message: e.message };
  if (e instanceof BadBodyError) return { kind: "refused", status: 400, message: e.message };
  throw e;
}

/** Releases a body that will not be read, so its sender is not left writing into it. */
async function cancel(body: ReadableStream<Uint8Array>): Promise<void> {
  // The body may already be closed or errored; either way nothing more is wanted of it.
  await body.cancel().catch(() => undefined);
}

/** The answer for a push whose job was lost with the object's memory (a restart). */
function pushInterrupted(): Uint8Array {
  return errPkt("push interrupted (the repository restarted): please push again");
}

/** An error before any of the answer went out: an `ERR` pkt-line, never a bare 500. */
function requestError(e: unknown): Uint8Array {
  if (e instanceof UploadPackError || e instanceof PktLineError) return errPkt(e.message);
  console.error("upload-pack failed:", e);
  return errPkt(`internal server error: ${(e as Error).message}`);
}

/**
 * Runs a job's generator until about `limit` bytes are out, it offers a step boundary
 * (a long walk's checkpoint), or it ends. A failure ends the answer with its side-band
 * error, or is thrown when there is no side band to carry it.
 */
async function produce(job: UploadJob, limit: number, pending?: IteratorResult<Uint8Array>): Promise<UploadStep> {
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
    const message = e instanceof Error ? e.message : String(e);
    console.error("upload-pack failed mid-stream:", message);
    if (!job.sidebandErrors) throw e;
    parts.push(sidebandError(message));
    return { bytes: concatBytes(parts), done: true };
  }
  return { bytes: concatBytes(parts), done: false };
}
