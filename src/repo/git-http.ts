// The repository's side of git over HTTP: advertisements, clone and fetch answers,
// pushes, and downloads, as the RPC contract in ./contract.ts describes. HTTP itself
// (content types, encodings, status codes) is the Worker's; this answers in tagged
// results and holds the jobs that large answers and pushes take.
import type { Dofs } from "../fs/dofs";
import { type ObjectStore, PACK_DIR } from "../git/store/object-store";
import type { RefStore } from "../git/refs";
import type { RefPolicy } from "../git/ref-transaction";
import type { Browser } from "../git/browse";
import { createHash } from "node:crypto";
import {
  INCOMING_DIR,
  PackUpload,
  type PushHooks,
  type PushJob,
  type PushRequest,
  type PushSession,
  type ReceiveContext,
  type SavedPush,
  beginPush,
  pushError,
  restorePush,
  resumeIndexing,
  savePush,
} from "../git/protocol/receive-pack";
import {
  NOT_FROM_R2,
  type PackFromR2,
  PackFromR2Marker,
  STEP_BOUNDARY,
  UploadPackError,
  advertiseRefs,
  advertiseV2,
  serveV0,
  serveV2,
  mayBeFullClone,
  v0Sideband,
} from "../git/protocol/upload-pack";
import { RECEIVE_PACK_CAPS, UPLOAD_PACK_V0_CAPS } from "../git/protocol/capabilities";
import { FLUSH, PktLineError, PktReader, errPkt, pktLine, sidebandError } from "../git/protocol/pkt-line";
import { fromHex, toHex } from "../git/object/object";
import { CHECKPOINT_OBJECTS } from "../git/walk";
import { tarDofs } from "../git/export/tar";
import { tarArchive, zipArchive } from "../git/export/archive";
import { concatBytes } from "../util/bytes";
import { BadBodyError, BodyTooLargeError, chunksOf, generatorStream } from "../util/streams";
import type { Env } from "../util/env";
import { Jobs } from "./jobs";
import { Admission, type AdmissionConfig, BUSY_MESSAGE, type Ticket, admissionConfig, pushEstimate, uploadEstimate } from "./admission";
import { ANSWERS_DIR, SharedAnswers, keyOfName } from "./answers";
import type {
  Advertisement,
  Download,
  GitService,
  ProtocolVersion,
  PushState,
  PushStep,
  Refused,
  SegmentStored,
  UploadFromR2,
  UploadStart,
  UploadStep,
} from "./contract";

/** What the git service needs of the repository object that holds it. */
export interface GitHttpHost {
  fs: Dofs;
  /** The object's SQLite storage, where jobs are recorded. */
  sql: SqlStorage;
  store: ObjectStore;
  refs: RefStore;
  browser(): Browser;
  hooks: PushHooks[];
  exists(): boolean;
  /** Lays out the repository before the first push's first ref update. */
  init(): void;
  /** After a push has moved refs: HEAD and maintenance. */
  afterPush(): Promise<void>;
  /** Rules on which refs may move (protected branches). */
  policy?(): RefPolicy | null;
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
    // ~0.3 s of indexing (measured: ~70 µs an object with deltas resolved in pass 1, under
    // load): a slice runs without a break, and must stay short on a busy machine; fewer
    // slices spend less on the calls between them.
    sliceUnits: Number(env.GITFLARE_SLICE_UNITS ?? "") || 4000,
    admission: admissionConfig(env),
  };
}

/** A clone or fetch answer part-way, in memory. */
interface UploadJob {
  gen: AsyncGenerator<Uint8Array, void, number | undefined>;
  /** Bytes of the answer the generator has produced, including any skipped. */
  produced: number;
  sidebandErrors: boolean;
  /** Why the job was ended under a running step (the repository was deleted, the client left). */
  ended: string | null;
  /** The shared answer it reads (./answers.ts), if any. */
  answer?: string | null;
}

/**
 * What a fresh instance needs to make a clone or fetch answer again (the request itself
 * is the record's payload). The answer is a function of the request and the repository:
 * the walk, the pack writer's order (stored pack order) and its zlib output are all
 * deterministic, so the same request over the same refs and packs gives the same bytes,
 * and the instance skips those the Worker already has. Should it not, the client's check
 * of the pack's trailer refuses the pack: a failed clone, never a wrong one.
 */
interface UploadRecord {
  version: ProtocolVersion;
  /** The refs and packs the answer was made from (`answerDigest`). */
  digest: string;
  /** The walk's checkpoint interval, which puts progress lines into the answer. */
  walkObjects: number;
  sidebandErrors: boolean;
  /** When its first call began: any pack location it holds was read after that. */
  began: number;
  /** The shared answer it reads, if any (its name in ./answers.ts): once complete, it outlives a restart. */
  answer?: string | null;
}

/** A push's record: what a fresh instance needs to continue it, in each phase. */
type PushRecord =
  | { phase: "receiving"; push: SavedPush; path: string; stored: number; failure: string | null }
  | { phase: "indexing"; push: SavedPush; path: string }
  /** Kept a while after the end, so that a Worker that lost the answer gets it again. */
  | { phase: "done"; report: string };

/** A push in memory, in the phase its record says. */
type LivePush = { phase: "receiving"; push: PushRequest; upload: PackUpload } | { phase: "indexing"; push: PushRequest; job: PushJob };

/**
 * How long a clone sent from R2 is taken to be reading its pack there: the Worker does not
 * say when it ends, and maintenance must not delete a pack under it.
 */
const FROM_R2_READING_MS = 3600_000;
/** How stale the stored end of that window may be, to spare a write per clone. */
const FROM_R2_NOTE_MS = 60_000;

const DELETED = "the repository was deleted";
const FETCH_LOST = "fetch interrupted (the repository restarted): please try again";
const FETCH_CHANGED = "fetch interrupted (the repository restarted and has changed since): please try again";
const PUSH_LOST = "push interrupted (the repository restarted): please push again";

export class GitHttp {
  private readonly jobs: Jobs;
  /** Set by `close`: the repository is being deleted. */
  private closed = false;
  /** First calls of clones and fetches, and exports, still running, by when each began. */
  private readonly answering = new Set<{ began: number }>();
  /** The memory of all jobs together, and the queue for it. */
  readonly admission: Admission;
  /** Answers that identical requests at once share. */
  readonly answers: SharedAnswers;
  /** Pushes' reservations, by job id (a push's in-memory state changes with its phase). */
  private readonly pushTickets = new Map<string, Ticket>();
  /**
   * Clones sent from R2 one after another, each within FROM_R2_READING_MS of the last:
   * when the first began and the last (stored, so that it outlives a restart).
   */
  private fromR2: { since: number; last: number } | null;

  /**
   * @param erased this instance replaces one whose repository was just deleted: a job
   *   the Worker continues is then gone because of that, and the client is told so.
   */
  constructor(
    private readonly host: GitHttpHost,
    readonly config: StepConfig,
    private readonly erased = false,
  ) {
    this.admission = new Admission(config.admission);
    this.answers = new SharedAnswers(host.fs);
    this.jobs = new Jobs(host.sql, host.fs, [INCOMING_DIR]);
    host.sql.exec(`CREATE TABLE IF NOT EXISTS served_from_r2 (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      since INTEGER NOT NULL,
      last INTEGER NOT NULL
    )`);
    this.fromR2 = host.sql.exec<{ since: number; last: number }>("SELECT since, last FROM served_from_r2").toArray()[0] ?? null;
    // What an earlier instance kept, but the answers its clones in flight read (they resume).
    const reading = this.jobs.records<UploadRecord>("upload").flatMap((r) => (r.answer ? [keyOfName(r.answer)] : []));
    this.answers.sweep(Date.now(), new Set(reading));
    // Jobs an earlier instance held are resumed from their records when the Worker
    // continues them; those nobody continued, and files no job owns, are swept.
    this.jobs.sweep();
  }

  /**
   * Ends every job, before the repository's storage is erased: a step running now (or
   * arriving while the storage is erased) answers `failed` and sends nothing it read.
   */
  close(): void {
    this.closed = true;
    this.jobs.close(DELETED);
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

  private view(walkObjects = this.config.walkObjects, job?: object) {
    const onPlanned = job && ((objects: number) => this.admission.resize(job, uploadEstimate(objects, this.config.stepBytes)));
    return { store: this.host.store, refs: this.host.refs, stepConfig: { walkObjects }, onPlanned };
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

  /**
   * Room for an answer among the repository's jobs, waiting for it if need be: null when
   * the repository is saturated. A request that follows an answer under way reads it
   * and holds only its steps, which is asked again while it waits: identical clones
   * queued behind the first follow it once it has started, instead of one at a time.
   */
  private admitUpload(request: Uint8Array, version: ProtocolVersion, walkObjects: number): Promise<Ticket | null> {
    const key = this.answerKey(request, version, walkObjects);
    const needs = () => {
      const follows = key !== null && this.answers.has(key);
      return uploadEstimate(follows ? 0 : this.objectCount(), this.config.stepBytes);
    };
    return this.admission.admit(needs, "upload-pack");
  }

  private answerKey(request: Uint8Array, version: ProtocolVersion, walkObjects: number): string | null {
    const key = this.answers.keyOf(version, request, () => this.host.refs.digest());
    // The walk's interval puts progress lines into the answer: part of what it is.
    return key && `${key}-${walkObjects}`;
  }

  // ---- clone and fetch ---------------------------------------------------------

  /**
   * The first part of a clone or fetch answer. A small answer is whole; a larger one
   * leaves a job that `uploadStep` continues, one bounded invocation at a time. The
   * first step runs before anything is answered, so a bad request gets an `ERR` line.
   */
  uploadPack(body: ReadableStream<Uint8Array>, version: ProtocolVersion, fromR2?: false): Promise<UploadStart>;
  uploadPack(body: ReadableStream<Uint8Array>, version: ProtocolVersion, fromR2: true): Promise<UploadStart | UploadFromR2>;
  async uploadPack(body: ReadableStream<Uint8Array>, version: ProtocolVersion, fromR2 = false): Promise<UploadStart | UploadFromR2> {
    const call = { began: Date.now() };
    this.answering.add(call);
    try {
      return await this.startUpload(body, version, call.began, fromR2);
    } finally {
      this.answering.delete(call);
    }
  }

  /**
   * When the oldest clone or fetch in flight began, or null when none is: maintenance
   * keeps the packs that such a fetch may still be reading. Jobs kept in storage count
   * too, so that an answer resumed after a restart still finds its packs.
   */
  oldestFetch(): number | null {
    let oldest: number | null = null;
    const began = [...[...this.answering].map((c) => c.began), ...this.jobs.records<UploadRecord>("upload").map((r) => r.began)];
    const r2 = this.fromR2;
    if (r2 && Date.now() - r2.last <= FROM_R2_READING_MS + FROM_R2_NOTE_MS) began.push(r2.since);
    for (const b of began) oldest = Math.min(oldest ?? b, b);
    return oldest;
  }

  /** Counts a clone sent from R2 among the fetches in flight (see `oldestFetch`). */
  private noteFromR2(now: number): void {
    const r2 = this.fromR2;
    if (r2 && now - r2.last <= FROM_R2_READING_MS && now - r2.last < FROM_R2_NOTE_MS) return;
    const since = r2 && now - r2.last <= FROM_R2_READING_MS ? r2.since : now;
    this.fromR2 = { since, last: now };
    this.host.sql.exec("INSERT OR REPLACE INTO served_from_r2 (id, since, last) VALUES (1, ?, ?)", since, now);
  }

  /**
   * A clone answered from a stored pack the Worker reads from R2: this call plans it
   * (head, pack, the objects pushed since, tail) and the object is done with it. An answer
   * that is no pack (ls-refs, a round of negotiation) is made here whole. Null when the
   * request is for a pack that is not such a clone, or whose pack is not in R2: then it
   * is answered the usual way, as is a request it cannot read (that way says why).
   */
  private async answerFromR2(request: Uint8Array, version: ProtocolVersion): Promise<UploadStart | UploadFromR2 | null> {
    const { store, fs } = this.host;
    if (!fs.bucket || !mayBeFullClone(request)) return null;
    const paths = new Map(store.packs().map((p) => [p.id, p.path]));
    const r2KeyOf = (pack: number) => {
      const path = paths.get(pack);
      return path && fs.exists(path) ? fs.r2Key(path) : null;
    };
    const view = { ...this.view(), r2KeyOf };
    const head: Uint8Array[] = [];
    const tail: Uint8Array[] = [];
    let pack: PackFromR2 | null = null;
    try {
      for await (const part of version === 2 ? serveV2(view, request) : serveV0(view, request)) {
        if (part === NOT_FROM_R2 || part === STEP_BOUNDARY) return null;
        if (part instanceof PackFromR2Marker) pack = part.plan;
        else (pack ? tail : head).push(part);
      }
    } catch {
      return null;
    }
    const sidebandErrors = version === 2 || v0Sideband(request);
    if (!pack) return { kind: "answer", bytes: concatBytes(head), sidebandErrors };
    this.noteFromR2(Date.now());
    return { kind: "r2", head: concatBytes(head), pack, tail: concatBytes(tail), sidebandErrors };
  }

  private async startUpload(
    body: ReadableStream<Uint8Array>,
    version: ProtocolVersion,
    began: number,
    fromR2: boolean,
  ): Promise<UploadStart | UploadFromR2> {
    if (this.closed || !this.host.exists()) {
      await cancel(body);
      return notFound();
    }
    // The Worker has read and checked it (size, encoding): it is small and whole.
    const request = new Uint8Array(await new Response(body).arrayBuffer());
    if (fromR2) {
      const planned = await this.answerFromR2(request, version);
      if (planned) return planned;
    }
    const walkObjects = this.config.walkObjects;
    const ticket = await this.admitUpload(request, version, walkObjects);
    if (!ticket) return { kind: "answer", bytes: errPkt(BUSY_MESSAGE), sidebandErrors: version === 2 };
    if (this.closed) {
      ticket.release();
      return { kind: "answer", bytes: requestError(new UploadPackError(DELETED)), sidebandErrors: version === 2 };
    }
    // Taken before the answer starts: a push while the first part waits on a read
    // changes what a fresh instance would answer, and then it must not try.
    const digest = this.answerDigest();
    // Known for sure once the first step has read the request (a bad one fails there).
    const job = { produced: 0, sidebandErrors: version === 2, ended: null } as unknown as UploadJob;
    this.admission.hold(job, ticket);
    let part: UploadStep;
    try {
      job.gen = this.answer(request, version, walkObjects, job);
      let first: IteratorResult<Uint8Array>;
      try {
        first = await job.gen.next();
      } catch (e) {
        this.admission.release(job);
        return { kind: "answer", bytes: requestError(e), sidebandErrors: version === 2 };
      }
      job.sidebandErrors = version === 2 || v0Sideband(request);
      part = await produce(job, this.config.firstBytes, 0, first);
    } catch (e) {
      this.admission.release(job);
      throw e;
    }
    if (part.done || part.failed || this.closed) this.admission.release(job);
    // Without a side band nothing can carry a failure after the first line: a 500, as before.
    if (part.failed) throw new Error(part.failed);
    const { sidebandErrors } = job;
    if (part.done) return { kind: "answer", bytes: part.bytes, sidebandErrors };
    if (this.closed) return { kind: "answer", bytes: requestError(new UploadPackError(DELETED)), sidebandErrors };
    const record: UploadRecord = { version, digest, walkObjects, sidebandErrors, began, answer: job.answer ?? null };
    const id = this.jobs.add("upload", record, [], request);
    this.jobs.hold(id, job, (why) => this.endUpload(job, why));
    return { kind: "answer", bytes: part.bytes, job: id, sidebandErrors };
  }

  /** Ends an answer and frees its room among the jobs. */
  private endUpload(job: UploadJob, why: string): void {
    this.admission.release(job);
    endUpload(job, why);
  }

  /** The answer's bytes after `offset` (what the Worker has), a step's worth. */
  async uploadStep(id: string, offset: number): Promise<UploadStep> {
    if (this.closed) return { bytes: new Uint8Array(0), done: true, failed: DELETED };
    return this.jobs.exclusive(id, async () => {
      if (this.closed) return { bytes: new Uint8Array(0), done: true, failed: DELETED };
      let job = this.jobs.inMemory<UploadJob>(id);
      if (job && job.produced > offset) {
        // The Worker lost the answer to a step and asks again: make the answer again.
        this.jobs.forget(id);
        this.endUpload(job, "repeated");
        job = undefined;
      }
      if (job) {
        this.jobs.touch(id);
        this.admission.touch(job);
      } else {
        const revived = await this.reviveUpload(id, offset);
        if (typeof revived === "string") return { bytes: new Uint8Array(0), done: true, failed: revived };
        job = revived;
      }
      let part: UploadStep;
      try {
        part = await produce(job, this.config.stepBytes, offset);
      } catch (e) {
        this.admission.release(job);
        throw e;
      }
      if (part.done) {
        this.jobs.finish(id);
        this.admission.release(job);
      }
      return part;
    });
  }

  /** An answer an earlier instance started (or this one dropped), from its record; else why not. */
  private async reviveUpload(id: string, offset: number): Promise<UploadJob | string> {
    const record = this.jobs.load<UploadRecord>(id, "upload");
    if (!record) return this.gone() ?? (this.host.exists() ? FETCH_LOST : DELETED);
    const request = this.jobs.payload(id);
    // A complete shared answer is the bytes the Worker has been sending, whatever a push or
    // a repack changed since; otherwise the answer is made again, from the same refs and packs.
    const name = record.answer ?? null;
    const changed = () => !(name !== null && this.answers.complete(name)) && record.digest !== this.answerDigest();
    if (changed()) {
      this.jobs.abandon(id);
      return FETCH_CHANGED;
    }
    const ticket = await this.admitUpload(request, record.version, record.walkObjects);
    if (!ticket) return BUSY_MESSAGE;
    // Asked again after the wait, and nothing awaited from here to opening the answer.
    if (changed()) {
      ticket.release();
      this.jobs.abandon(id);
      return FETCH_CHANGED;
    }
    const whole = name !== null && this.answers.complete(name);
    // A complete answer is read on from where the Worker is; any other is made from the start.
    const from = whole ? offset : 0;
    const job = { produced: from, sidebandErrors: record.sidebandErrors, ended: null } as unknown as UploadJob;
    this.admission.hold(job, ticket);
    job.gen = this.answer(request, record.version, record.walkObjects, job, whole ? { key: keyOfName(name), from } : undefined);
    return this.jobs.hold(id, job, (why) => this.endUpload(job, why));
  }

  /**
   * The answer to a request: shared with identical requests under way (./answers.ts),
   * or made for this one alone.
   */
  private answer(
    request: Uint8Array,
    version: ProtocolVersion,
    walkObjects: number,
    job: UploadJob,
    known?: { key: string; from: number },
  ): AsyncGenerator<Uint8Array, void, number | undefined> {
    const serve = () => (version === 2 ? serveV2(this.view(walkObjects, job), request) : serveV0(this.view(walkObjects, job), request));
    // A revived job names the answer it was reading: the refs it was keyed on may have moved.
    const key = known?.key ?? this.answerKey(request, version, walkObjects);
    if (!key) return serve();
    const options = { share: this.roomToShare(), stepBytes: this.config.stepBytes, from: known?.from };
    const shared = this.answers.open(key, serve, options);
    job.answer = shared.name;
    // A reader of an answer another request makes holds only its steps.
    if (!shared.leads) this.admission.resize(job, uploadEstimate(0, this.config.stepBytes));
    return shared.answer;
  }

  /** Why a job without a record is gone, if the repository was deleted under it. */
  private gone(): string | null {
    return this.closed || (this.erased && !this.host.exists()) ? DELETED : null;
  }

  /** What a clone or fetch answer depends on besides its request: the refs and the packs. */
  private answerDigest(): string {
    const h = createHash("sha1").update(this.host.refs.digest());
    for (const p of this.host.store.packs()) h.update(`\n${p.id} ${p.name} ${p.size}`);
    return h.digest("hex");
  }

  abandonUpload(id: string): void {
    this.jobs.abandon(id, "the client went away");
  }

  // ---- push --------------------------------------------------------------------

  private receiveContext(): ReceiveContext {
    return {
      fs: this.host.fs,
      store: this.host.store,
      refs: this.host.refs,
      hooks: this.host.hooks,
      onFirstPush: () => this.host.init(),
      ended: () => (this.closed ? DELETED : null),
      policy: this.host.policy?.() ?? null,
    };
  }

  /**
   * A push's commands and its pack, or the first segment of them when `segmented` (the
   * Worker sends the rest to `receiveSegment`). The body arrives decoded.
   */
  async receivePack(body: ReadableStream<Uint8Array>, segmented: boolean, session?: PushSession): Promise<PushState> {
    if (this.closed) {
      await cancel(body);
      return notFound();
    }
    const reader = new PktReader(body);
    let started: Awaited<ReturnType<typeof beginPush>>;
    try {
      started = await beginPush({ ...this.receiveContext(), session }, reader);
    } catch (e) {
      await cancel(body);
      if (this.closed) return { kind: "report", report: pushError(null, DELETED) };
      return bodyRefusal(e);
    }
    if ("report" in started) return { kind: "report", report: started.report };
    if ("job" in started) return this.index(null, started, null);
    const { push, upload } = started;
    // A pack follows: room for it among the repository's jobs before reading it.
    const ticket = await this.admission.admit(pushEstimate(), "receive-pack");
    if (!ticket || this.closed) {
      ticket?.release();
      upload.abort(BUSY_MESSAGE);
      await cancel(body);
      return { kind: "report", report: pushError(push, this.closed ? DELETED : BUSY_MESSAGE) };
    }
    // Recorded before the pack arrives, so that the sweep knows whose file it is.
    const id = this.jobs.add("push", receiving(push, upload), [upload.path]);
    this.pushTickets.set(id, ticket);
    this.holdPush(id, { phase: "receiving", push, upload });
    return this.jobs.exclusive(id, async (): Promise<PushState> => {
      // The first part cannot be sent again (its call read the commands): an interrupted
      // one fails the push.
      if ((await upload.receive(reader.rest())) === "interrupted") upload.abort("could not read the pack: the request was interrupted");
      if (this.closed) return { kind: "report", report: pushError(push, DELETED) };
      if (!segmented) {
        const state = await this.index(id, upload.complete(push), push);
        // Nobody continues a push that was answered in this call: nothing to keep.
        if (state.kind !== "indexing") {
          this.jobs.finish(id);
          this.releasePush(id);
        }
        return state;
      }
      this.jobs.save(id, receiving(push, upload));
      return { kind: "receiving", upload: id, stored: upload.stored, sideband: push.caps.has("side-band-64k") };
    });
  }

  /**
   * One more segment of a push's pack, streamed into its temporary file after the
   * `stored` bytes the Worker knows of.
   */
  async receiveSegment(id: string, stored: number, body: ReadableStream<Uint8Array>): Promise<SegmentStored> {
    if (this.closed) {
      await cancel(body);
      return { stored, failed: DELETED };
    }
    return this.jobs.exclusive(id, async () => {
      if (this.closed) {
        await cancel(body);
        return { stored, failed: DELETED };
      }
      const live = this.livePush(id);
      if (typeof live === "string" || "report" in live || live.phase !== "receiving") {
        await cancel(body);
        return { stored, failed: typeof live === "string" ? live : PUSH_LOST };
      }
      const { upload } = live;
      // Not where the Worker stands: part of a segment whose call failed was stored.
      if (!upload.failure && upload.stored !== stored) {
        await cancel(body);
        return { stored, failed: PUSH_LOST };
      }
      // A segment that could not be stored has set the upload's failure, which the report gives.
      const received = await upload.receive(chunksOf(body));
      if (received !== "stored") await cancel(body);
      if (this.closed) return { stored, failed: DELETED };
      if (received === "interrupted") return { stored, failed: "push interrupted (a segment did not arrive whole): please push again" };
      this.jobs.save(id, receiving(live.push, upload));
      return { stored: upload.stored };
    });
  }

  /** The whole pack of a segmented push is stored (`stored` bytes of it): index it, or its report. */
  async pushUploaded(id: string, stored: number): Promise<PushState> {
    if (this.closed) return { kind: "failed", message: DELETED };
    return this.jobs.exclusive(id, async (): Promise<PushState> => {
      if (this.closed) return { kind: "failed", message: DELETED };
      const live = this.livePush(id);
      if (typeof live === "string") return { kind: "failed", message: live };
      if ("report" in live) return { kind: "report", report: live.report };
      if (live.phase === "indexing") return this.indexing(id, live.push);
      if (!live.upload.failure && live.upload.stored !== stored) {
        this.jobs.abandon(id);
        return { kind: "failed", message: PUSH_LOST };
      }
      return this.index(id, live.upload.complete(live.push), live.push);
    });
  }

  /**
   * A push as this instance holds it, or as its record says: an upload continues its file,
   * indexing starts over on the stored pack; a finished push gives its report again.
   */
  private livePush(id: string): LivePush | { report: Uint8Array } | string {
    const held = this.jobs.inMemory<LivePush>(id);
    if (held) {
      this.jobs.touch(id);
      this.pushTickets.get(id)?.touch();
      return held;
    }
    const record = this.jobs.load<PushRecord>(id, "push");
    if (!record) return this.gone() ?? PUSH_LOST;
    if (record.phase === "done") return { report: fromHex(record.report) };
    const push = restorePush(record.push);
    const ctx = this.receiveContext();
    if (record.phase === "receiving") {
      const upload = PackUpload.resume(ctx, record.path, record.stored, record.failure);
      if (!upload) {
        this.jobs.abandon(id);
        return PUSH_LOST;
      }
      return this.holdPush(id, { phase: "receiving", push, upload });
    }
    const started = resumeIndexing(ctx, push, record.path);
    if ("report" in started) {
      this.jobs.save(id, done(started.report), []);
      return { report: started.report };
    }
    return this.holdPush(id, { phase: "indexing", push, job: started.job });
  }

  /**
   * Keeps a push in memory in its phase; ending it frees its room among the jobs. A push
   * an earlier instance started holds no reservation here: it continues without waiting.
   */
  private holdPush(id: string, live: LivePush): LivePush {
    return this.jobs.hold<LivePush>(id, live, (why) => {
      this.releasePush(id);
      if (live.phase === "receiving") live.upload.abort(why);
      else live.job.abandon(why);
    });
  }

  private releasePush(id: string): void {
    this.pushTickets.get(id)?.release();
    this.pushTickets.delete(id);
  }

  /**
   * A stored pack: a small one is indexed now; a large one becomes (or stays, under `id`)
   * a job that `pushStep` slices.
   */
  private async index(id: string | null, started: { report: Uint8Array } | { job: PushJob }, push: PushRequest | null): Promise<PushState> {
    if ("report" in started) {
      if (id) {
        this.jobs.save(id, done(started.report), []);
        this.releasePush(id);
      }
      return { kind: "report", report: started.report };
    }
    const job = started.job;
    if (job.packBytes < this.config.sliceMinBytes || !push || !job.tempPath) {
      return { kind: "report", report: await this.finish(id, job) };
    }
    const record: PushRecord = { phase: "indexing", push: savePush(push), path: job.tempPath };
    if (id) this.jobs.save(id, record, [job.tempPath]);
    else id = this.jobs.add("push", record, [job.tempPath]);
    this.holdPush(id, { phase: "indexing", push, job });
    return this.indexing(id, push);
  }

  private indexing(id: string, push: PushRequest): PushState {
    const sideband = push.caps.has("side-band-64k");
    return { kind: "indexing", job: id, progress: sideband && !push.caps.has("quiet"), sideband };
  }

  async pushStep(id: string): Promise<PushStep> {
    if (this.closed) return { done: true, failed: DELETED };
    return this.jobs.exclusive(id, async (): Promise<PushStep> => {
      if (this.closed) return { done: true, failed: DELETED };
      const live = this.livePush(id);
      if (typeof live === "string") return { done: true, failed: live };
      if ("report" in live) return { done: true, report: live.report };
      if (live.phase !== "indexing") return { done: true, failed: PUSH_LOST };
      const job = live.job;
      try {
        if (!(await job.step(this.config.sliceUnits))) return { done: false, progress: job.progress() };
      } catch (e) {
        this.jobs.abandon(id);
        throw e;
      }
      return { done: true, report: await this.finish(id, job) };
    });
  }

  /** Drops a push in either phase, and its stored pack. */
  abandonPush(id: string): void {
    this.jobs.abandon(id, "push abandoned");
  }

  /** The rest of the indexing, the ref updates, and the report, which a job keeps a while. */
  private async finish(id: string | null, job: PushJob): Promise<Uint8Array> {
    let report: Uint8Array;
    try {
      report = await job.finish();
    } finally {
      if (id) this.releasePush(id);
    }
    if (this.closed) return report;
    if (id) {
      this.jobs.forget(id);
      this.jobs.save(id, done(report), []);
    }
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
      live ??= new Set(
        this.host.store.packs().flatMap((k) => ["pack", "idx", "bitmap"].map((ext) => k.path.replace(/\.pack$/, `.${ext}`))),
      );
      return (
        [INCOMING_DIR, "/objects/compact", ANSWERS_DIR].some((d) => p === d || p.startsWith(`${d}/`)) ||
        (p.startsWith(`${PACK_DIR}/`) && !live.has(p))
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

function receiving(push: PushRequest, upload: PackUpload): PushRecord {
  return { phase: "receiving", push: savePush(push), path: upload.path, stored: upload.stored, failure: upload.failure };
}

function done(report: Uint8Array): PushRecord {
  return { phase: "done", report: toHex(report) };
}

/** Ends an answer's generator: a step running it sees `ended` and sends nothing more. */
function endUpload(job: UploadJob, why: string): void {
  job.ended ??= why;
  // The generator is being dropped; a failure while it closes has no one to report to.
  job.gen.return(undefined).catch(() => undefined);
}

/** An error before any of the answer went out: an `ERR` pkt-line, never a bare 500. */
function requestError(e: unknown): Uint8Array {
  if (e instanceof UploadPackError || e instanceof PktLineError) return errPkt(e.message);
  console.error("upload-pack failed:", e);
  return errPkt(`internal server error: ${(e as Error).message}`);
}

/**
 * Runs a job's generator until about `limit` bytes are made, it offers a step boundary
 * (a long walk's checkpoint), or it ends, and returns what lies after `offset`: bytes
 * before it (made again by a fresh instance) are skipped, counting toward the limit. A
 * failure ends the answer with its side-band error, or as `failed` when there is no
 * side band to carry it. A job ended under the step sends nothing of the step, since its
 * reads may have met storage being erased.
 */
async function produce(job: UploadJob, limit: number, offset: number, pending?: IteratorResult<Uint8Array>): Promise<UploadStep> {
  const parts: Uint8Array[] = [];
  const ended = (why: string): UploadStep => ({ bytes: new Uint8Array(0), done: true, failed: why });
  let work = 0;
  try {
    while (work < limit) {
      // The room left in the step: an answer read from a file reads that much.
      const r = pending ?? (await job.gen.next(limit - work));
      pending = undefined;
      if (job.ended) return ended(job.ended);
      if (r.done) {
        if (job.produced < offset) return ended(FETCH_CHANGED);
        return { bytes: concatBytes(parts), done: true };
      }
      if (r.value === STEP_BOUNDARY) break;
      const start = job.produced;
      job.produced += r.value.byteLength;
      work += r.value.byteLength;
      if (job.produced <= offset) continue;
      parts.push(start < offset ? r.value.subarray(offset - start) : r.value);
    }
  } catch (e) {
    if (job.ended) return ended(job.ended);
    const message = e instanceof Error ? e.message : String(e);
    console.error("upload-pack failed mid-stream:", message);
    if (!job.sidebandErrors) return { bytes: concatBytes(parts), done: true, failed: message };
    parts.push(sidebandError(message));
    return { bytes: concatBytes(parts), done: true };
  }
  if (job.ended) return ended(job.ended);
  return { bytes: concatBytes(parts), done: false };
}
