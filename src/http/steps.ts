// The Worker's side of the jobs in src/repo/contract.ts: no Durable Object invocation
// receives, indexes or sends a whole large pack. A push body is cut into segments, a
// pack is indexed in slices, a clone answer is pulled a step at a time; each is its own
// invocation of the repository, with its own CPU budget.
import type { Repository } from "../repo/repository";
import type { PushStep, UploadStep } from "../repo/contract";
import { GIT_NO_CACHE } from "./responses";
import { errPkt, sideband as sidebandFrames, sidebandError } from "../git/protocol/pkt-line";

/** Headers of a receive-pack answer. */
export function receivePackResult(): Record<string, string> {
  return { "Content-Type": "application/x-git-receive-pack-result", ...GIT_NO_CACHE };
}

/**
 * A large clone or fetch answer: the first part came with the response; the rest is
 * pulled from the repository one bounded invocation (`uploadStep`) at a time. The next
 * step is asked for as soon as one arrives, so producing overlaps sending.
 */
export function steppedUpload(
  stub: DurableObjectStub<Repository>,
  job: string,
  head: Uint8Array,
  sidebandErrors: boolean,
  headers: Record<string, string>,
  started: number,
): Response {
  let steps = 0;
  let longest = 0;
  type Step = UploadStep;
  const step = (): Promise<Step> => {
    const p = (async () => {
      const t = Date.now();
      const s = await stub.uploadStep(job);
      steps++;
      longest = Math.max(longest, Date.now() - t);
      return s;
    })();
    // A step asked for ahead is never awaited if the client goes away: not an error.
    p.catch(() => undefined);
    return p;
  };
  const firstMs = Date.now() - started;
  let ahead = step();
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
        // no-progress): keep stepping, since a pull that enqueues nothing is not repeated.
        for (;;) {
          let s: Step;
          try {
            s = await ahead;
          } catch (e) {
            fail(controller, `fetch failed: ${(e as Error).message}`);
            return;
          }
          if (s.lost) {
            fail(controller, "fetch interrupted (the repository restarted): please try again");
            return;
          }
          if (!s.done) ahead = step();
          if (s.bytes.byteLength) controller.enqueue(s.bytes);
          if (s.done) {
            controller.close();
            console.log(`upload-pack: first part ${firstMs} ms, ${steps} steps, longest ${longest} ms`);
            return;
          }
          if (s.bytes.byteLength) return;
        }
      },
      async cancel() {
        await stub.abandonUpload(job);
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
  private carry: Uint8Array | null = null;
  private started = false;
  private ended = false;
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
    if (this.started && !this.carry) {
      this.carry = await this.read();
      if (!this.carry) return null;
    }
    this.started = true;
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const chunk = this.carry ?? (sent < this.size ? await this.read() : null);
        this.carry = null;
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
  stub: DurableObjectStub<Repository>,
  job: string,
  progress: boolean,
  upload: string,
  onDone: (p: Promise<void>) => void,
): Response {
  let slices = 0;
  let longest = 0;
  const started = Date.now();
  let finished: () => void = () => undefined;
  onDone(new Promise((resolve) => (finished = resolve)));
  // Each pull enqueues something (a stream whose pull enqueues nothing is not pulled
  // again), so without progress the steps run on until the report.
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const t = Date.now();
        let step: PushStep;
        try {
          step = await stub.pushStep(job);
        } catch (e) {
          controller.enqueue(errPkt(`push failed: ${(e as Error).message}`));
          controller.close();
          finished();
          return;
        }
        slices++;
        longest = Math.max(longest, Date.now() - t);
        if (!step.done) {
          if (!progress) continue;
          for (const p of sidebandFrames(2, new TextEncoder().encode(`${step.progress}\r`))) controller.enqueue(p);
          return;
        }
        controller.enqueue(step.report);
        controller.close();
        finished();
        console.log(`receive-pack: ${upload}, ${slices} index slices, longest ${longest} ms (all ${Date.now() - started} ms)`);
        return;
      }
    },
    // The client went away: drop the job and its stored pack now.
    async cancel() {
      finished();
      await stub.abandonPush(job);
    },
  });
  return new Response(body, { headers: receivePackResult() });
}
