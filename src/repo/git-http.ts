// The repository's side of git over HTTP: advertisements, clone and fetch answers,
// pushes, and downloads, as the RPC contract in ./contract.ts describes. HTTP itself
// (content types, encodings, status codes) is the Worker's; this answers in tagged
// results and holds the jobs that large answers and pushes take.
import type { Dofs } from "../fs/dofs";
import type { ObjectStore } from "../git/store/object-store";
import type { RefStore } from "../git/refs";
import type { Browser } from "../git/browse";
import { INCOMING_DIR, type PackUpload, type PushHooks, type PushJob, type PushRequest, beginPush } from "../git/protocol/receive-pack";
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
import { Admission, type AdmissionConfig, BUSY_MESSAGE, admissionConfig, pushEstimate, uploadEstimate } from "./admission";
import { ANSWERS_DIR, SharedAnswers } from "./answers";
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
  /** The memory budget all jobs share (./admission.ts). */
  admission: AdmissionConfig;
}

export function stepConfig(env: Env): StepConfig {
  // 512 KiB: each step is an RPC message, held on both sides while it is on its way, and
  // every step of every client counts against the isolate's memory (./admission.ts).
  const stepBytes = Number(env.GITFLARE_STEP_BYTES ?? "") || 512 * 1024;
  return {
    firstBytes: Math.min(1024 * 1024, stepBytes),
    stepBytes,
    walkObjects: CHECKPOINT_OBJECTS,
    sliceMinBytes: Number(env.GITFLARE_SLICE_MIN_BYTES ?? "") || 32 * 1024 * 1024,
    // ~0.5 s of indexing: a slice runs without a break, and must stay short on a busy machine.
    sliceUnits: Number(env.GITFLARE_SLICE_UNITS ?? "") || 1000,
    admission: admissionConfig(env),
  };
}

interface UploadJob {
  gen: AsyncGenerator<Uint8Array>;
  sidebandErrors: boolean;
}

interface PushUpload {
  push: PushRequest;
  upload: PackUpload;
}

export class GitHttp {
  private readonly uploads = new Jobs<UploadJob>((j) => {
    this.admission.release(j);
    // The generator is being dropped; a failure while it closes has no one to report to.
    j.gen.return(undefined).catch(() => undefined);
  });
  private readonly pushUploads = new Jobs<PushUpload>((u) => {
    this.admission.release(u);
    u.upload.abort();
  });
  private readonly pushJobs = new Jobs<PushJob>((j) => {
    this.admission.release(j);
    j.abandon();
  });
  /** The memory of all jobs together, and the queue for it. */
  readonly admission: Admission;
  /** Answers that identical requests at once share. */
  readonly answers: SharedAnswers;

  constructor(
    private readonly host: GitHttpHost,
    readonly config: StepConfig,
  ) {
    this.admission = new Admission(config.admission);
    this.answers = new SharedAnswers(host.fs);
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

  private view(job?: object) {
    const onPlanned = job && ((objects: number) => this.admission.resize(job, uploadEstimate(objects, this.config.stepBytes)));
    return { store: this.host.store, refs: this.host.refs, stepConfig: this.config, onPlanned };
  }

  /** Objects in the repository's packs: no clone sends more. */
  private objectCount(): number {
    return this.host.store.packs().reduce((n, p) => n + p.objects, 0);
  }

  /** Whether the repository's quota has room for one more answer as large as all its packs. */
  private roomToShare(): boolean {
    const { usedBytes, quotaBytes } = this.host.fs.usage();
    return usedBytes + this.host.store.packs().reduce((n, p) => n + p.size, 0) < quotaBytes;
  }

  // ---- clone and fetch ---------------------------------------------------------

  /**
   * The first part of a clone or fetch answer. A small answer is whole; a larger one
   * leaves a job that `uploadStep` continues, one bounded invocation at a time. The
   * first step runs before anything is answered, so a bad request gets an `ERR` line.
   */
  async uploadPack(body: ReadableStream<Uint8Array>, version: ProtocolVersion): Promise<UploadStart> {
    if (!this.host.exists()) {
      await cancel(body);
      return notFound();
    }
    // The Worker has read and checked it (size, encoding): it is small and whole.
    const request = new Uint8Array(await new Response(body).arrayBuffer());
    const sidebandErrors = version === 2;
    // The same request as one under way reads its answer (./answers.ts): only making an
    // answer walks and plans, and needs room for that among the repository's jobs.
    const key = this.answers.keyOf(version, request, () => this.host.refs.digest());
    const follows = key !== null && this.answers.has(key);
    const ticket = await this.admission.admit(uploadEstimate(follows ? 0 : this.objectCount(), this.config.stepBytes), "upload-pack");
    if (!ticket) return { kind: "answer", bytes: errPkt(BUSY_MESSAGE), sidebandErrors };
    const job = { sidebandErrors } as UploadJob;
    this.admission.hold(job, ticket);
    const serve = () => (version === 2 ? serveV2(this.view(job), request) : serveV0(this.view(job), request));
    if (key) {
      const shared = this.answers.open(key, serve, { share: this.roomToShare(), stepBytes: this.config.stepBytes });
      job.gen = shared.answer;
      if (!shared.leads) this.admission.resize(job, uploadEstimate(0, this.config.stepBytes));
    } else {
      job.gen = serve();
    }
    let first: IteratorResult<Uint8Array>;
    let part: UploadStep;
    try {
      try {
        first = await job.gen.next();
      } catch (e) {
        this.admission.release(job);
        return { kind: "answer", bytes: requestError(e), sidebandErrors };
      }
      part = await produce(job, this.config.firstBytes, first);
    } catch (e) {
      this.admission.release(job);
      throw e;
    }
    if (part.done) {
      this.admission.release(job);
      return { kind: "answer", bytes: part.bytes, sidebandErrors };
    }
    return { kind: "answer", bytes: part.bytes, job: this.uploads.add(job), sidebandErrors };
  }

  async uploadStep(id: string): Promise<UploadStep> {
    const job = this.uploads.get(id);
    if (!job) return { bytes: new Uint8Array(0), done: true, lost: true };
    this.admission.touch(job);
    try {
      const part = await produce(job, this.config.stepBytes);
      if (part.done) this.admission.release(this.uploads.take(id) ?? job);
      return part;
    } catch (e) {
      this.admission.release(this.uploads.take(id) ?? job);
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
  async receivePack(body: ReadableStream<Uint8Array>, segmented: boolean): Promise<PushState> {
    const reader = new PktReader(body);
    let started: Awaited<ReturnType<typeof beginPush>>;
    try {
      started = await beginPush(
        { fs: this.host.fs, store: this.host.store, refs: this.host.refs, hooks: this.host.hooks, onFirstPush: () => this.host.init() },
        reader,
      );
    } catch (e) {
      await cancel(body);
      return bodyRefusal(e);
    }
    if ("report" in started) return { kind: "report", report: started.report };
    if ("job" in started) return this.index(started);
    // A pack follows: room for it among the repository's jobs before reading it.
    const ticket = await this.admission.admit(pushEstimate(), "receive-pack");
    if (!ticket) {
      started.upload.abort();
      await cancel(body);
      return { kind: "report", report: errPkt(BUSY_MESSAGE) };
    }
    this.admission.hold(started, ticket);
    try {
      await started.upload.receive(reader.rest());
      if (!segmented) return await this.index(started.upload.complete(started.push), started);
    } catch (e) {
      this.admission.release(started);
      throw e;
    }
    return { kind: "receiving", upload: this.pushUploads.add(started) };
  }

  /** One more segment of a push's pack, streamed into its temporary file. */
  async receiveSegment(id: string, body: ReadableStream<Uint8Array>): Promise<SegmentStored> {
    const entry = this.pushUploads.get(id);
    if (!entry) {
      await cancel(body);
      return { lost: true };
    }
    this.admission.touch(entry);
    // A segment that could not be stored has set the upload's failure, which the report gives.
    if (!(await entry.upload.receive(chunksOf(body)))) await cancel(body);
    return {};
  }

  /** The whole pack of a segmented push is stored: index it, or its report. */
  async pushUploaded(id: string): Promise<PushState> {
    const entry = this.pushUploads.take(id);
    if (!entry) return { kind: "report", report: pushInterrupted() };
    try {
      return await this.index(entry.upload.complete(entry.push), entry);
    } catch (e) {
      this.admission.release(entry);
      throw e;
    }
  }

  /**
   * A small pack is indexed now; a large one becomes a job that `pushStep` slices. `upload`
   * is what held the push's reservation until now: the job takes it over.
   */
  private async index(started: { report: Uint8Array } | { job: PushJob }, upload?: object): Promise<PushState> {
    if ("report" in started) {
      if (upload) this.admission.release(upload);
      return { kind: "report", report: started.report };
    }
    const job = started.job;
    if (upload) this.admission.pass(upload, job);
    if (job.packBytes < this.config.sliceMinBytes) {
      try {
        return { kind: "report", report: await this.finish(job) };
      } finally {
        this.admission.release(job);
      }
    }
    return { kind: "indexing", job: this.pushJobs.add(job), progress: job.wantsProgress };
  }

  async pushStep(id: string): Promise<PushStep> {
    const job = this.pushJobs.get(id);
    if (!job) return { done: true, report: pushInterrupted() };
    this.admission.touch(job);
    try {
      if (!job.step(this.config.sliceUnits)) return { done: false, progress: job.progress() };
      this.pushJobs.take(id);
      try {
        return { done: true, report: await this.finish(job) };
      } finally {
        this.admission.release(job);
      }
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
    // Work in progress (incoming pushes, a compaction's output) is not part of the repository.
    const skip = (p: string) => [INCOMING_DIR, "/objects/compact", ANSWERS_DIR].some((d) => p === d || p.startsWith(`${d}/`));
    return {
      kind: "download",
      body: generatorStream(tarDofs(this.host.fs, root, skip)),
      filename: `${root}.tar`,
      contentType: "application/x-tar",
    };
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
      // The room left in the step: an answer read from a file reads that much.
      const r = pending ?? (await job.gen.next(limit - size));
      pending = undefined;
      if (r.done) return { bytes: joined(parts), done: true };
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
  return { bytes: joined(parts), done: false };
}

/**
 * The parts as one buffer. A lone part that is a whole buffer goes as it is (a step read
 * from a shared answer): a view would cross RPC with all of its buffer, so it is copied.
 */
function joined(parts: Uint8Array[]): Uint8Array {
  const [only] = parts;
  if (parts.length === 1 && only.byteOffset === 0 && only.byteLength === only.buffer.byteLength) return only;
  return concatBytes(parts);
}
