// The Worker's side of the jobs in src/repo/contract.ts: no Durable Object invocation
// receives, indexes or sends a whole large pack. A push body is cut into segments, a
// pack is indexed in slices, a clone answer is pulled a step at a time; each is its own
// invocation of the repository, with its own CPU budget. When the object restarts
// between (or during) steps, the steps go on with a fresh instance, which resumes the
// job from its record.
import type { Repository } from "../repo/repository";
import type { PushStep, SegmentStored, UploadStep } from "../repo/contract";
import { GIT_NO_CACHE } from "./responses";
import { errPkt, sideband as sidebandFrames, sidebandError } from "../git/protocol/pkt-line";

/** Headers of a receive-pack answer. */
export function receivePackResult(): Record<string, string> {
  return { "Content-Type": "application/x-git-receive-pack-result", ...GIT_NO_CACHE };
}

/** A push that cannot go on, in git's form: on band 3 through side-band-64k, else an `ERR` line. */
export function pushFailure(sideband: boolean, message: string): Uint8Array {
  return sideband ? sidebandError(message) : errPkt(message);
}

type Stub = DurableObjectStub<Repository>;

/** Attempts of one call, the first included, when the object fails for the platform's reasons. */
const ATTEMPTS = 4;

/**
 * Whether a failed call may be made again: not after an overload, which repeating would
 * worsen (Cloudflare's advice for Durable Objects). The platform does not mark every
 * failure of a restart alike (an object reset under a call can come back as `remote`, as
 * if its own code threw), so any other failure is repeated: every call made again says
 * where the Worker stands, so one that failed for a reason of its own fails again the
 * same way, and the Worker then ends the request in git's error form.
 */
function repeatable(e: unknown): boolean {
  return !(e as { overloaded?: boolean } | null)?.overloaded;
}

/**
 * The repository's object, for the calls of a job. A call that may be repeated (every
 * step says where the Worker stands, so a repeated step gives the same answer) is made
 * again when the object failed under it, through a fresh stub, since a stub that has
 * failed stays broken: the fresh instance resumes the job from its record.
 */
export class RepoCalls {
  constructor(
    private readonly connect: () => Stub,
    private stub: Stub = connect(),
  ) {}

  get current(): Stub {
    return this.stub;
  }

  /** `call`, repeated on a fresh stub after a platform failure, while `canRepeat` allows. */
  async again<T>(call: (stub: Stub) => Promise<T>, canRepeat: () => boolean = () => true): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call(this.stub);
      } catch (e) {
        if (attempt >= ATTEMPTS || !repeatable(e) || !canRepeat()) throw e;
        console.error(`repository call failed (attempt ${attempt}), calling again: ${(e as Error).message}`);
        this.stub = this.connect();
        await new Promise((resolve) => setTimeout(resolve, 50 * 4 ** (attempt - 1)));
      }
    }
  }

  /** A best-effort call (dropping a job): a failure is left to the object's sweep. */
  async quietly(call: (stub: Stub) => Promise<unknown>): Promise<void> {
    await this.again(call).catch(() => undefined);
  }
}

/**
 * A large clone or fetch answer: the first part came with the response; the rest is
 * pulled from the repository one bounded invocation (`uploadStep`) at a time. The next
 * step is asked for as soon as one arrives, so producing overlaps sending. Each step
 * says how many bytes of the answer the Worker has, so a step can be asked again.
 */
export function steppedUpload(
  calls: RepoCalls,
  job: string,
  head: Uint8Array,
  sidebandErrors: boolean,
  headers: Record<string, string>,
  started: number,
): Response {
  let steps = 0;
  let longest = 0;
  // The object's time on this answer, as timed here: its calls, one after another.
  let busy = 0;
  let offset = head.byteLength;
  const step = (at: number): Promise<UploadStep> => {
    const p = (async () => {
      const t = Date.now();
      const s = await calls.again((stub) => stub.uploadStep(job, at));
      steps++;
      longest = Math.max(longest, Date.now() - t);
      busy += Date.now() - t;
      return s;
    })();
    // A step asked for ahead is never awaited if the client goes away: not an error.
    p.catch(() => undefined);
    return p;
  };
  const firstMs = Date.now() - started;
  let ahead = step(offset);
  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, why: string) => {
    console.error(`upload-pack: ${why}`);
    if (sidebandErrors) {
      controller.enqueue(sidebandError(why));
      controller.close();
    } else {
      controller.error(new Error(why));
    }
  };
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controller.enqueue(head);
      },
      async pull(controller) {
        // A step can be empty (a walk's checkpoint with no progress to report, under
        // no-progress, or a fresh instance making again what was sent): keep stepping,
        // since a pull that enqueues nothing is not repeated.
        for (;;) {
          let s: UploadStep;
          try {
            s = await ahead;
          } catch (e) {
            fail(controller, `fetch failed: ${(e as Error).message}`);
            return;
          }
          offset += s.bytes.byteLength;
          if (!s.done) ahead = step(offset);
          if (s.bytes.byteLength) controller.enqueue(s.bytes);
          if (s.failed) {
            fail(controller, s.failed);
            return;
          }
          if (s.done) {
            controller.close();
            console.log(`upload-pack: first part ${firstMs} ms, ${steps} steps, longest ${longest} ms, busy ${firstMs + busy} ms`);
            return;
          }
          if (s.bytes.byteLength) return;
        }
      },
      async cancel() {
        await calls.quietly((stub) => stub.abandonUpload(job));
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { headers });
}

/**
 * Whether a push body goes to the repository in segments: one that does not declare a
 * length within one segment (git sends bodies over its http.postBuffer chunked), or whose
 * declared length is of its compressed form.
 */
export function segmentableLength(request: Request, segmentBytes: number): boolean {
  const length = Number(request.headers.get("Content-Length") ?? Number.NaN);
  const encoding = (request.headers.get("Content-Encoding") ?? "identity").toLowerCase();
  return !(length <= segmentBytes) || encoding !== "identity";
}

/** Cuts a byte stream into consecutive streams of about `size` bytes each. */
export class Segments {
  // Reads of at least 1 MiB: the body passes through this isolate, and per-chunk work on
  // the network's small chunks made a 1 GB push half again as slow.
  private readonly readBytes: number;
  private readonly reader: ReadableStreamBYOBReader;
  /**
   * The first chunk of the current segment, read to learn whether the body goes on. It is
   * kept until the next segment, so that a call that failed having taken only this chunk
   * (the runtime takes one as it starts a call) can be made again.
   */
  private head: Uint8Array | null = null;
  private started = false;
  private ended = false;
  /** The current segment's stream (a newer one replaces it when it is sent again). */
  private generation = 0;
  /** Whether the current segment has been read past its head: then it cannot be sent again. */
  private pastHead = false;
  /** The client's body failed (it went away): what was sent is incomplete. */
  failed = false;

  constructor(
    body: ReadableStream<Uint8Array>,
    private readonly size: number,
  ) {
    this.reader = body.getReader({ mode: "byob" });
    this.readBytes = Math.min(1 << 20, size);
  }

  private async read(): Promise<Uint8Array | null> {
    if (this.ended) return null;
    try {
      const { value, done } = await this.reader.readAtLeast(this.readBytes, new Uint8Array(this.readBytes));
      if (value?.byteLength) return value;
      if (!done) return this.read();
    } catch {
      this.failed = true;
    }
    this.ended = true;
    return null;
  }

  /** The first segment: always a stream, maybe empty. */
  async first(): Promise<ReadableStream<Uint8Array>> {
    return (await this.next()) ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  }

  /** The next segment; null once the body has ended (the first is always a stream, maybe empty). */
  async next(): Promise<ReadableStream<Uint8Array> | null> {
    this.head = null;
    if (this.started) {
      this.head = await this.read();
      if (!this.head) return null;
    }
    this.started = true;
    this.pastHead = false;
    return this.segment();
  }

  /**
   * The current segment again, for a call that failed having read no more than its head;
   * null if more was read (those bytes went with the failed call).
   */
  again(): ReadableStream<Uint8Array> | null {
    return this.pastHead ? null : this.segment();
  }

  private segment(): ReadableStream<Uint8Array> {
    const generation = ++this.generation;
    let sent = 0;
    let headGiven = false;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        // A stream replaced by `again` gives nothing more: its call has failed.
        if (generation !== this.generation) {
          controller.close();
          return;
        }
        let chunk: Uint8Array | null = null;
        if (!headGiven && this.head) {
          // A copy: what is enqueued may be transferred away with the call.
          chunk = this.head.slice();
        } else if (sent < this.size) {
          this.pastHead = true;
          chunk = await this.read();
        }
        headGiven = true;
        // A failed body ends the segment cleanly: the caller sees `failed` and abandons
        // the push (an error inside a stream sent over RPC left the reader waiting).
        if (!chunk) {
          controller.close();
          return;
        }
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
  }

  async cancel(): Promise<void> {
    this.ended = true;
    // The rest of the body is not wanted; a client already gone has nothing to cancel.
    await this.reader.cancel().catch(() => undefined);
  }
}

/**
 * The answer to a large push: the repository indexes it one bounded invocation at a
 * time (`pushStep`), while this response relays progress on side band 2, which also
 * keeps the connection alive, and ends with the report.
 */
export function slicedPush(
  calls: RepoCalls,
  job: string,
  progress: boolean,
  sideband: boolean,
  upload: string,
  onDone: (p: Promise<void>) => void,
): Response {
  let slices = 0;
  let longest = 0;
  const started = Date.now();
  let finished: () => void = () => undefined;
  onDone(new Promise((resolve) => (finished = resolve)));
  const end = (controller: ReadableStreamDefaultController<Uint8Array>, bytes: Uint8Array) => {
    controller.enqueue(bytes);
    controller.close();
    finished();
  };
  // Each pull enqueues something (a stream whose pull enqueues nothing is not pulled
  // again), so without progress the steps run on until the report.
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const t = Date.now();
        let step: PushStep;
        try {
          step = await calls.again(async (stub): Promise<PushStep> => stub.pushStep(job));
        } catch (e) {
          console.error(`receive-pack: ${(e as Error).message}`);
          end(controller, pushFailure(sideband, `push failed: ${(e as Error).message}`));
          return;
        }
        slices++;
        longest = Math.max(longest, Date.now() - t);
        if (!step.done) {
          if (!progress) continue;
          for (const p of sidebandFrames(2, new TextEncoder().encode(`${step.progress}\r`))) controller.enqueue(p);
          return;
        }
        if ("failed" in step) {
          console.error(`receive-pack: ${step.failed}`);
          end(controller, pushFailure(sideband, step.failed));
          return;
        }
        end(controller, step.report);
        console.log(`receive-pack: ${upload}, ${slices} index slices, longest ${longest} ms (all ${Date.now() - started} ms)`);
        return;
      }
    },
    // The client went away: drop the job and its stored pack now.
    async cancel() {
      finished();
      await calls.quietly((stub) => stub.abandonPush(job));
    },
  });
  return new Response(body, { headers: receivePackResult() });
}

/**
 * Sends one segment of a push body after the `stored` bytes the repository confirmed. A
 * call that failed before reading any of the segment is made again to a fresh stub.
 */
export async function sendSegment(
  calls: RepoCalls,
  segments: Segments,
  upload: string,
  stored: number,
  part: ReadableStream<Uint8Array>,
): Promise<SegmentStored> {
  let body = part;
  return calls.again(
    (stub) => stub.receiveSegment(upload, stored, body),
    () => {
      const again = segments.again();
      if (again) body = again;
      return again !== null;
    },
  );
}
