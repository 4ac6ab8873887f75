// Streams between protocol generators and HTTP bodies, with bounded memory.
import { concatBytes } from "./bytes";

export class BodyTooLargeError extends Error {
  constructor(limit: number) {
    super(`Request body larger than ${limit} bytes`);
    this.name = "BodyTooLargeError";
  }
}

/** Reads a whole body that is small by protocol (an upload-pack request), up to `limit`. */
export async function readLimited(stream: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        // Refused already; cancelling only tells the sender, whose stream may be gone.
        await reader.cancel().catch(() => undefined);
        throw new BodyTooLargeError(limit);
      }
      parts.push(value);
    }
  } catch (e) {
    if (e instanceof BodyTooLargeError) throw e;
    throw new BadBodyError(`Could not read the request body: ${(e as Error).message}`);
  }
  return concatBytes(parts);
}

/** The body could not be decoded (for example a gzip header on a body that is not gzip). */
export class BadBodyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadBodyError";
  }
}

/**
 * A pull stream over a generator: each pull runs the generator for up to ~1 MB, so
 * output waits for the client (backpressure) and CPU work is spread across pulls.
 */
export function generatorStream(
  gen: Generator<Uint8Array> | AsyncGenerator<Uint8Array>,
  first?: IteratorResult<Uint8Array>,
  onError?: (e: unknown) => Uint8Array | null,
): ReadableStream<Uint8Array> {
  let pending = first;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          let sent = 0;
          while (sent < 1024 * 1024) {
            const r = pending ?? (await gen.next());
            pending = undefined;
            if (r.done) {
              controller.close();
              return;
            }
            if (r.value.byteLength) {
              controller.enqueue(r.value);
              sent += r.value.byteLength;
            }
          }
        } catch (e) {
          const tail = onError?.(e);
          if (tail) {
            controller.enqueue(tail);
            controller.close();
          } else {
            controller.error(e);
          }
        }
      },
      async cancel() {
        await gen.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

/** A byte stream's chunks, as they arrive; the stream is released if the loop stops early. */
export async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      if (value.byteLength) yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
