// Basic transfer (git-lfs docs/api/basic-transfers.md) through the Worker: uploads stream
// from the client straight into R2 (never through the Durable Object), sized by what the
// batch request announced and checked by R2 against the oid (SHA-256), so a wrong size or
// hash stores nothing; downloads stream from R2 with Range support; verify confirms an
// upload and records it.
import type { Granted } from "../../access/check";
import { type C, OID, jsonBody, lfsAccess, lfsError, lfsKeyPrefix } from "./responses";
import { inForkNetwork, quotaOf } from "./batch";

const PREVIEW_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
};

function bucketOf(c: C): R2Bucket | Response {
  return c.env.PACKS ?? lfsError(501, "Git LFS needs the PACKS R2 bucket, which is not configured.");
}

export async function uploadObject(c: C): Promise<Response> {
  const oid = c.req.param("oid") ?? "";
  const body = c.req.raw.body;
  // A refused upload's body is left unread: the runtime drains it, and the client gets the answer.
  const g = await lfsAccess(c, "write");
  if (g instanceof Response) return g;
  if (!OID.test(oid)) return lfsError(422, "Invalid oid: expected 64 lower-case hex digits.");
  const bucket = bucketOf(c);
  if (bucket instanceof Response) return bucket;
  const size = await g.stub.lfsAnnounced(oid);
  if (size === null) {
    // A retried upload of an object already stored has nothing left to do.
    const present = await g.stub.lfsPresent([oid]);
    if (present && oid in present) return new Response(null, { status: 200 });
    return lfsError(422, "No upload of this object was requested: ask the batch API first.");
  }
  const declared = c.req.header("Content-Length");
  if (declared !== undefined && Number(declared) !== size)
    return lfsError(422, `Size mismatch: the batch request said ${size} bytes, the upload has ${declared}.`);
  const key = lfsKeyPrefix(g.repo.id) + oid;
  // R2 needs a known length; the fixed-length stream also fails a body of any other length.
  const sized = new FixedLengthStream(size);
  const piping = (body ?? new ReadableStream({ start: (ctl) => ctl.close() })).pipeTo(sized.writable).catch(() => undefined);
  try {
    await bucket.put(key, sized.readable, { sha256: oid, httpMetadata: { contentType: "application/octet-stream" } });
  } catch (e) {
    await piping;
    const why = String((e as Error).message ?? e);
    console.log(`lfs upload refused: ${why}`);
    return lfsError(422, `Upload refused: the content does not match oid ${oid} and size ${size}.`);
  }
  await piping;
  // The repository was deleted while the bytes arrived: they must not outlive it.
  const recorded = await g.stub.lfsStored(oid, size, key, quotaOf(c.env));
  if (recorded !== "stored") {
    await bucket.delete(key);
    return recorded === "gone"
      ? lfsError(404, "Repository not found.")
      : lfsError(507, "Git LFS quota exceeded: the upload outlasted its announcement, and its space was taken meanwhile.");
  }
  return new Response(null, { status: 200 });
}

export async function verifyObject(c: C): Promise<Response> {
  const g = await lfsAccess(c, "write");
  if (g instanceof Response) return g;
  const body = await jsonBody(c);
  const oid = typeof body?.oid === "string" ? body.oid : "";
  const size = body?.size;
  if (!OID.test(oid) || !Number.isSafeInteger(size)) return lfsError(422, "Expected {oid, size}.");
  const present = await g.stub.lfsPresent([oid]);
  if (present && oid in present) {
    return present[oid] === size
      ? new Response(null, { status: 200 })
      : lfsError(422, `Size mismatch: stored ${present[oid]} bytes, not ${size}.`);
  }
  // A presigned upload went to R2 directly: record it now if R2 holds it as announced.
  const bucket = bucketOf(c);
  if (bucket instanceof Response) return bucket;
  const key = lfsKeyPrefix(g.repo.id) + oid;
  const [head, announced] = await Promise.all([bucket.head(key), g.stub.lfsAnnounced(oid)]);
  if (!head || announced === null) return lfsError(404, "Object does not exist.");
  if (head.size !== size || head.size !== announced) {
    await bucket.delete(key);
    return lfsError(422, `Size mismatch: uploaded ${head.size} bytes, announced ${announced}.`);
  }
  const recorded = await g.stub.lfsStored(oid, size as number, key, quotaOf(c.env));
  if (recorded !== "stored") {
    await bucket.delete(key);
    return recorded === "gone"
      ? lfsError(404, "Repository not found.")
      : lfsError(507, "Git LFS quota exceeded: the upload outlasted its announcement, and its space was taken meanwhile.");
  }
  return new Response(null, { status: 200 });
}

/** The file name a download is saved as: `?name=` without anything a header could misread. */
function fileName(c: C, oid: string): string {
  const name = (c.req.query("name") ?? "").replace(/^.*\//, "").replace(/[^\w.\- ]/g, "_");
  return name || oid;
}

export async function downloadObject(c: C): Promise<Response> {
  const g: Granted | Response = await lfsAccess(c, "read");
  if (g instanceof Response) return g;
  const oid = c.req.param("oid") ?? "";
  if (!OID.test(oid)) return lfsError(422, "Invalid oid: expected 64 lower-case hex digits.");
  const bucket = bucketOf(c);
  if (bucket instanceof Response) return bucket;
  const get = (repoId: number) => bucket.get(lfsKeyPrefix(repoId) + oid, { range: c.req.raw.headers }).catch(() => "range" as const);
  let object = await get(g.repo.id);
  // A fork's page links objects pushed to its parent before the fork, which stay there
  // (see inForkNetwork: only parents the caller may read).
  const holder = object === null ? (await inForkNetwork(c, g, [oid])).get(oid) : undefined;
  if (holder) object = await get(holder.g.repo.id);
  if (object === "range" || (object && !("body" in object))) return lfsError(416, "The requested range is not satisfiable.");
  if (!object) return lfsError(404, "Object does not exist.");
  const name = fileName(c, oid);
  const ext = name.slice(name.lastIndexOf(".") + 1).toLowerCase();
  const preview = c.req.query("preview") === "1" && PREVIEW_TYPES[ext];
  // Never active content on this origin: a raster image to preview, or a download.
  const headers: Record<string, string> = {
    "Content-Type": preview || "application/octet-stream",
    "Content-Disposition": `${preview ? "inline" : "attachment"}; filename="${name}"`,
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Accept-Ranges": "bytes",
    ETag: `"${oid}"`,
    "Cache-Control": "private, no-cache",
  };
  const range = object.range as { offset?: number; length?: number; suffix?: number } | undefined;
  if (range && c.req.header("Range")) {
    const offset = range.suffix !== undefined ? object.size - range.suffix : (range.offset ?? 0);
    const length = range.length ?? object.size - offset;
    headers["Content-Range"] = `bytes ${offset}-${offset + length - 1}/${object.size}`;
    headers["Content-Length"] = String(length);
    return new Response(object.body, { status: 206, headers });
  }
  headers["Content-Length"] = String(object.size);
  return new Response(object.body, { headers });
}
