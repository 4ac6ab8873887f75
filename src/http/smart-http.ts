// Smart HTTP (gitprotocol-http): the endpoints git clients use, plus export. Each route
// passes the access check, makes the HTTP checks once (content type, encoding, protocol
// version), then calls the repository's Durable Object under the RPC contract in
// src/repo/contract.ts, passing the body as a stream, and turns the tagged answer into
// HTTP. Large pushes and clones continue in steps (./steps.ts).
import { hookSite } from "../access/hook-site";
import { Hono, type Context } from "hono";
import type { Env } from "../util/env";
import type { Download, GitService, ProtocolVersion, PushState, Refused, UploadFromR2, UploadStart } from "../repo/contract";
import { type Access, type Refusal, checkAccess, pushToCreate, pushToCreateOwner, stubFor } from "../access/check";
import { dropPending, markCreated, touchPushed } from "../access/repos";
import { type Permission, allows } from "../access/roles";
import { GIT_NO_CACHE, GIT_REALM, plainText } from "./responses";
import { concatBytes } from "../util/bytes";
import { advertiseNoRefs } from "../git/protocol/advertise";
import { RECEIVE_PACK_CAPS } from "../git/protocol/capabilities";
import { FLUSH, pktLine } from "../git/protocol/pkt-line";
import { BadBodyError, BodyTooLargeError, readLimited } from "../util/streams";
import { packFromR2 } from "./pack-from-r2";
import { RepoCalls, Segments, pushFailure, receivePackResult, segmentableLength, sendSegment, slicedPush, steppedUpload } from "./steps";

export const smartHttp = new Hono<{ Bindings: Env }>();
type C = Context<{ Bindings: Env }>;

/** A fetch request is wants, haves and arguments: far below this even for huge repositories. */
const MAX_UPLOAD_REQUEST = 32 * 1024 * 1024;

/** A refusal in the form git clients understand: 401 makes git ask for credentials. */
export function gitRefusal(a: Refusal, method: string): Response {
  switch (a.reason) {
    case "unauthenticated":
      return plainText(401, "Authentication required: use your username and a personal access token.", { "WWW-Authenticate": GIT_REALM });
    case "not-found":
      return plainText(404, "Repository not found.");
    case "forbidden":
      return plainText(403, `Permission denied: ${a.need} access to ${a.repo.owner}/${a.repo.name} is required.`);
    case "redirect":
      // git follows a redirect of its first request and uses the new URL from then on.
      return new Response(null, { status: method === "GET" ? 301 : 307, headers: { Location: a.location } });
  }
}

/** What the repository refused, as plain text with git's no-cache headers. */
function refused(r: Refused): Response {
  return plainText(r.status, r.message, GIT_NO_CACHE);
}

function protocolVersion(request: Request): ProtocolVersion {
  // Git-Protocol is a colon-separated list of key=value; the highest version wins.
  let v: ProtocolVersion = 0;
  for (const part of (request.headers.get("Git-Protocol") ?? "").split(":")) {
    if (part === "version=2") v = 2;
    else if (part === "version=1" && v < 1) v = 1;
  }
  return v;
}

/**
 * The body of a POST to a git service, decoded, or the refusal: the content type must
 * be the service's, and the encoding one we read (git gzips large requests).
 */
function serviceBody(request: Request, service: GitService): ReadableStream<Uint8Array> | Response {
  const type = request.headers.get("Content-Type") ?? "";
  const encoding = (request.headers.get("Content-Encoding") ?? "").toLowerCase();
  let problem = "";
  if (type !== `application/x-${service}-request`) problem = `Expected Content-Type application/x-${service}-request, got '${type}'`;
  else if (encoding && encoding !== "identity" && encoding !== "gzip" && encoding !== "x-gzip")
    problem = `Unsupported Content-Encoding '${encoding}'`;
  if (problem) {
    // The body is left unread, not cancelled: the runtime then drains it and the client
    // gets this answer. Cancelling resets the connection under a client still sending,
    // which sees the reset instead (wrangler's local proxy answers 503 for it).
    return plainText(400, problem, GIT_NO_CACHE);
  }
  const body = request.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  return encoding === "gzip" || encoding === "x-gzip" ? body.pipeThrough(new DecompressionStream("gzip")) : body;
}

/**
 * Access for a push. A push under the caller's own name to a repository that does not
 * exist yet creates it: `pushToCreate` records it, pending, and the push completes the
 * creation once it has stored something (see `settle` below and `checkAccess`).
 */
async function pushAccess(c: C): Promise<Access & { inserted?: boolean }> {
  const access = await checkAccess(c, "write");
  if (access.ok || (access.reason !== "not-found" && access.reason !== "unauthenticated")) return access;
  // A concurrent push that finished creating it between the two looks is pushed into as usual.
  return (await pushToCreate(c)) ?? (await checkAccess(c, "write"));
}

/**
 * What a repository that does not exist yet advertises to a push that may create it:
 * no refs, only capabilities under the zero id. Made here, so that asking creates
 * nothing (no record, no Durable Object); the push itself creates the repository.
 */
function newRepositoryAdvertisement(version: ProtocolVersion): Response {
  const bytes = concatBytes([pktLine("# service=git-receive-pack\n"), FLUSH, advertiseNoRefs(RECEIVE_PACK_CAPS, version === 1 ? 1 : 0)]);
  return new Response(bytes, { headers: { "Content-Type": "application/x-git-receive-pack-advertisement", ...GIT_NO_CACHE } });
}

smartHttp.get("/:owner/:repo/info/refs", async (c) => {
  const service = c.req.query("service");
  if (service !== "git-upload-pack" && service !== "git-receive-pack") {
    return plainText(403, "Dumb HTTP is not supported: use a git client with smart HTTP (git 1.6.6 or later).", GIT_NO_CACHE);
  }
  const need: Permission = service === "git-receive-pack" ? "write" : "read";
  const access = await checkAccess(c, need);
  if (!access.ok) {
    const creatable = need === "write" && (access.reason === "not-found" || access.reason === "unauthenticated");
    if (creatable && (await pushToCreateOwner(c))) return newRepositoryAdvertisement(protocolVersion(c.req.raw));
    return gitRefusal(access, "GET");
  }
  const started = Date.now();
  const ad = await access.stub.advertise(service, protocolVersion(c.req.raw));
  if (ad.kind === "refused") return refused(ad);
  console.log(`info/refs: ${service}, busy ${Date.now() - started} ms`);
  return new Response(ad.bytes, { headers: { "Content-Type": `application/x-${service}-advertisement`, ...GIT_NO_CACHE } });
});

smartHttp.post("/:owner/:repo/git-upload-pack", async (c) => {
  const access = await checkAccess(c, "read");
  if (!access.ok) return gitRefusal(access, "POST");
  const body = serviceBody(c.req.raw, "git-upload-pack");
  if (body instanceof Response) return body;
  // The request is read whole here, so that a body that cannot be read or decoded is
  // refused here: a stream that errors on its way across RPC left the reader waiting.
  let request: Uint8Array;
  try {
    request = await readLimited(body, MAX_UPLOAD_REQUEST);
  } catch (e) {
    if (e instanceof BodyTooLargeError) return plainText(413, e.message, GIT_NO_CACHE);
    if (e instanceof BadBodyError) return plainText(400, e.message, GIT_NO_CACHE);
    throw e;
  }
  const started = Date.now();
  // The request is here whole, so the first call too can be made again after a restart.
  const calls = new RepoCalls(() => stubFor(c.env, access.repo), access.stub);
  const version = protocolVersion(c.req.raw);
  const headers = { "Content-Type": "application/x-git-upload-pack-result", ...GIT_NO_CACHE };
  const bucket = c.env.PACKS;
  if (bucket) {
    // A clone whose stored pack is in R2 is sent from there; anything else is answered here.
    const planned = await calls.again(
      async (s): Promise<UploadStart | UploadFromR2> => s.uploadPackFromR2(new Blob([request]).stream(), version),
    );
    if (planned.kind === "r2") {
      const ms = Date.now() - started;
      const sent = await packFromR2(bucket, planned, headers, (bytes) =>
        console.log(
          `upload-pack: from R2, planned in one invocation, ${ms} ms, busy ${ms} ms; ${bytes} bytes in ${Date.now() - started} ms`,
        ),
      );
      if (sent) return sent;
    } else return answerUpload(calls, planned, headers, started);
  }
  const start = await calls.again(async (s): Promise<UploadStart> => s.uploadPack(new Blob([request]).stream(), version));
  return answerUpload(calls, start, headers, started);
});

/** The response to a clone or fetch the object answers: whole, or continued in steps. */
function answerUpload(calls: RepoCalls, start: UploadStart, headers: Record<string, string>, started: number): Response {
  if (start.kind === "refused") return refused(start);
  if (start.job) return steppedUpload(calls, start.job, start.bytes, start.sidebandErrors, headers, started);
  // The whole answer was made before the response: this was the only invocation.
  const ms = Date.now() - started;
  console.log(`upload-pack: one invocation, ${ms} ms, busy ${ms} ms`);
  return new Response(start.bytes, { headers });
}

smartHttp.post("/:owner/:repo/git-receive-pack", async (c) => {
  const body = serviceBody(c.req.raw, "git-receive-pack");
  if (body instanceof Response) return body;
  const access = await pushAccess(c);
  if (!access.ok) {
    // A push refused before it starts: its body is not wanted (and may be large).
    body.cancel().catch(() => undefined);
    return gitRefusal(access, "POST");
  }
  const { stub } = access;
  // The calls of a push that continue a job go through here, which renews a stub the
  // object broke by restarting (the job resumes from its record).
  const calls = new RepoCalls(() => stubFor(c.env, access.repo), stub);
  // A push that creates the repository completes its creation once the object holds it;
  // one that stored nothing (refused before any command ran) leaves no empty repository
  // behind. A crash before this runs leaves the record pending, which the access check
  // settles the same way. Listings sort by the last push.
  const creating = access.repo.pending;
  const settle = async () => {
    if (!creating) await touchPushed(c.env.DB, access.repo.id);
    else if (await calls.again((s) => s.exists())) await markCreated(c.env.DB, access.repo.id, true);
    else if (access.inserted) await dropPending(c.env.DB, access.repo.id);
  };
  const answer = async (state: PushState, log: string, sideband = false): Promise<Response> => {
    if (state.kind === "indexing")
      return slicedPush(calls, state.job, state.progress, state.sideband, log, (p) => c.executionCtx.waitUntil(p.then(settle)));
    // Only a push that creates the repository must settle before answering (the next
    // request must find it, or a refused one must find nothing); the listing time can be
    // written after the response.
    if (creating) await settle();
    if (state.kind === "refused") return refused(state);
    if (!creating) c.executionCtx.waitUntil(settle());
    if (state.kind === "receiving") throw new Error("receive-pack: a whole body was left receiving");
    if (state.kind === "failed") {
      console.error(`receive-pack: ${state.message}`);
      return new Response(pushFailure(sideband, state.message), { headers: receivePackResult() });
    }
    console.log(`receive-pack: ${log}`);
    return new Response(state.report, { headers: receivePackResult() });
  };

  const started = Date.now();
  const segmentBytes = Number(c.env.GITFLARE_SEGMENT_BYTES ?? "") || 64 * 1024 * 1024;
  // The body reaches the repository through Segments, which reads it here and ends a
  // segment cleanly if the client's body fails (an error inside a stream sent over RPC
  // left the reader waiting); the push is then abandoned. A body that declares a length
  // within one segment goes whole; a larger one, or one of unknown length (git sends
  // bodies over its http.postBuffer chunked), in segments, so that no invocation spends
  // long receiving.
  const segments = new Segments(body, segmentBytes);
  const whole = !segmentableLength(c.req.raw, segmentBytes);
  // Who pushes and where the pages are, for the pull-request events and the link git prints.
  const session = {
    pusher: access.caller.kind === "anonymous" ? undefined : { id: access.caller.user.id, login: access.caller.user.username },
    webBase: `${new URL(c.req.url).origin}/${access.repo.owner}/${access.repo.name}`,
    admin: allows(access.role, "admin"),
    site: hookSite(c.req.url, access.repo),
  };
  let first: PushState;
  try {
    first = await stub.receivePack(await segments.first(), !whole, session);
  } catch (e) {
    // The object failed under the first call, which cannot be repeated (it read the
    // commands): git shows the status, and the push can be made again.
    await segments.cancel();
    console.error(`receive-pack: ${(e as Error).message}`);
    return plainText(503, "The repository could not take the push (it restarted): please push again.", {
      ...GIT_NO_CACHE,
      "Retry-After": "1",
    });
  }
  if (segments.failed) {
    if (first.kind === "receiving") await calls.quietly((s) => s.abandonPush(first.upload));
    if (first.kind === "indexing") await calls.quietly((s) => s.abandonPush(first.job));
    return plainText(400, "Could not read the request body.", GIT_NO_CACHE);
  }
  if (first.kind !== "receiving") {
    await segments.cancel();
    return answer(first, `one invocation, ${Date.now() - started} ms`);
  }
  const { upload, sideband } = first;
  let stored = first.stored;
  const times = [Date.now() - started];
  let done: PushState;
  try {
    for (let part = await segments.next(); part; part = await segments.next()) {
      const t = Date.now();
      const result = await sendSegment(calls, segments, upload, stored, part);
      times.push(Date.now() - t);
      if (result.failed) {
        await segments.cancel();
        await calls.quietly((s) => s.abandonPush(upload));
        return answer({ kind: "failed", message: result.failed }, "", sideband);
      }
      stored = result.stored;
    }
    if (segments.failed) {
      await calls.quietly((s) => s.abandonPush(upload));
      return plainText(400, "Could not read the request body.", GIT_NO_CACHE);
    }
    const t = Date.now();
    done = await calls.again(async (s): Promise<PushState> => s.pushUploaded(upload, stored));
    times.push(Date.now() - t);
  } catch (e) {
    // The object failed under a segment that was partly sent, or past every repetition:
    // the stored part of the pack is not left waiting for the sweep (if the object can be
    // reached to drop it), and the client hears why in git's form.
    await segments.cancel();
    await calls.quietly((s) => s.abandonPush(upload));
    return answer({ kind: "failed", message: `push failed: ${(e as Error).message}` }, "", sideband);
  }
  // The last of the times is the call that completed the upload (and indexed a small pack).
  return answer(done, `upload ${times.length - 1} segments, longest ${Math.max(...times)} ms (all ${Date.now() - started} ms)`, sideband);
});

/** A download from the repository, or its refusal. */
function download(d: Download): Response {
  if (d.kind === "refused") return refused(d);
  return new Response(d.body, {
    headers: {
      "Content-Type": d.contentType,
      "Content-Disposition": `attachment; filename="${d.filename}"`,
      "X-Content-Type-Options": "nosniff",
      ...GIT_NO_CACHE,
    },
  });
}

smartHttp.get("/:owner/:repo/export.tar", async (c) => {
  const access = await checkAccess(c, "read");
  if (!access.ok) return gitRefusal(access, "GET");
  return download(await access.stub.exportTar(`${access.repo.name}.git`));
});

export { download };
