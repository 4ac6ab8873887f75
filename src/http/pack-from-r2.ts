// A clone sent from R2 by the Worker. The repository's object planned it in one call
// (which stored pack answers it, and the few objects pushed since); the pack's bytes go
// from R2 to the client through this isolate, framed as the answer's pack data, and the
// object is not called again. So a popular repository's clones scale with Workers, not
// with its one Durable Object, which spends only the planning call on each.
import { createHash } from "node:crypto";
import { concatBytes } from "../util/bytes";
import { sideband, sidebandError } from "../git/protocol/pkt-line";
import type { UploadFromR2 } from "../repo/contract";

/** Bytes read from R2 at a time: every clone in flight holds a few such pieces. */
const READ = 256 * 1024;

/** The pack's data framed for the client's side band (or as it is, without one). */
function framer(mode: UploadFromR2["pack"]["sideband"]): (bytes: Uint8Array) => Uint8Array {
  if (mode === "none") return (bytes) => bytes;
  const max = mode === "small" ? 999 : undefined;
  // One buffer per piece read, not one per packet: the response's chunks stay large.
  return (bytes) => concatBytes([...sideband(1, bytes, max)]);
}

/** The 12-byte header of a pack of `objects` objects. */
function packHeader(objects: number): Uint8Array {
  const header = new Uint8Array(12);
  header.set([0x50, 0x41, 0x43, 0x4b]);
  new DataView(header.buffer).setUint32(4, 2);
  new DataView(header.buffer).setUint32(8, objects);
  return header;
}

/**
 * The answer, streamed from R2; null if R2 no longer has the pack (maintenance replaced
 * it since the plan): the caller then asks for the answer the usual way.
 *
 * A pack sent whole goes as stored, its trailer included. With objects appended, the
 * stored header and trailer are left out: a header counting both goes first, the stored
 * entries keep their offsets (deltas among the appended ones point into them), and the
 * trailer is the SHA-1 of everything sent, computed here as it passes.
 */
export async function packFromR2(
  bucket: R2Bucket,
  plan: UploadFromR2,
  headers: Record<string, string>,
  onEnd: (bytes: number) => void,
): Promise<Response | null> {
  const { pack } = plan;
  const appended = pack.appended;
  const start = appended ? 12 : 0;
  const end = appended ? pack.size - 20 : pack.size;
  const object = await bucket.get(pack.key, { range: { offset: start, length: end - start } });
  if (!object?.body) return null;
  // Pieces of at least READ bytes: R2's stream comes in pieces of a few KiB here, and
  // framing and sending each on its own cost more than the bytes.
  const reader = object.body.getReader({ mode: "byob" });
  const frame = framer(pack.sideband);
  const hash = appended ? createHash("sha1") : null;
  let sent = 0;
  const data = (controller: ReadableStreamDefaultController<Uint8Array>, bytes: Uint8Array) => {
    hash?.update(bytes);
    sent += bytes.byteLength;
    controller.enqueue(frame(bytes));
  };
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controller.enqueue(plan.head);
        if (appended) data(controller, packHeader(pack.objects + appended.objects));
      },
      async pull(controller) {
        let read: ReadableStreamReadResult<Uint8Array>;
        try {
          read = await reader.readAtLeast(READ, new Uint8Array(READ));
        } catch (e) {
          const why = `fetch failed: reading the pack: ${(e as Error).message}`;
          console.error(`upload-pack: ${why}`);
          if (!plan.sidebandErrors) return controller.error(new Error(why));
          controller.enqueue(sidebandError(why));
          controller.close();
          return;
        }
        // The last piece may come with `done`.
        if (read.value?.byteLength) data(controller, read.value);
        if (!read.done) return;
        if (appended) {
          if (appended.entries.byteLength) data(controller, appended.entries);
          controller.enqueue(frame(new Uint8Array(hash!.digest())));
        }
        controller.enqueue(plan.tail);
        controller.close();
        onEnd(sent);
      },
      async cancel() {
        await reader.cancel().catch(() => undefined);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { headers });
}
