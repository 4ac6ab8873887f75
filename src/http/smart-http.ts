// Smart HTTP (gitprotocol-http): the endpoints git clients use, plus export. Each route
// passes the access check, then hands the request, body unread, to the repository's
// Durable Object, so a push streams from the client into DOFS.
import { Hono, type Context } from "hono";
import type { Env, Repository } from "../repo/repository";
import { PROGRESS_HEADER, PUSH_JOB_HEADER, PUSH_UPLOAD_HEADER, SEGMENTED_HEADER, SIDEBAND_ERRORS_HEADER, STEPS_HEADER, UPLOAD_JOB_HEADER } from "../repo/internal-headers";
import { type Access, type Refusal, checkAccess, pushToCreateOwner, stubFor } from "../access/check";
import { RepoExists, deleteRepoRecord, insertRepo, touchPushed } from "../access/repos";
import type { Permission } from "../access/roles";
import { GIT_REALM, plainText } from "./responses";
import { repoKey } from "./names";
import { errPkt, sideband as sidebandFrames } from "../git/protocol/pkt-line";

export const smartHttp = new Hono<{ Bindings: Env }>();
type C = Context<{ Bindings: Env }>;

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

function forward(stub: DurableObjectStub, path: string, request: Request, search = new URL(request.url).search, headers: Record<string, string> = {}): Promise<Response> {
  const url = new URL(path + search, "https://repo.internal");
  const inner = new Request(url, request);
  for (const [k, v] of Object.entries(headers)) inner.headers.set(k, v);
  return stub.fetch(inner);
}

/** Refuses a POST whose content type is not the service's before its body moves. */
function wrongContentType(request: Request, service: string): Response | null {
  const type = request.headers.get("Content-Type") ?? "";
  if (type === `application/x-${service}-request`) return null;
  return plainText(400, `Expected Content-Type application/x-${service}-request, got '${type}'`);
}

/**
 * Access for a push. A push under the caller's own name to a repository that does not
 * exist yet may create it; `create` says whether to record it now (the POST) or only
 * to advertise an empty repository (info/refs).
 */
async function pushAccess(c: C, create: boolean): Promise<Access & { created?: boolean }> {
  const access = await checkAccess(c, "write");
  if (access.ok || (access.reason !== "not-found" && access.reason !== "unauthenticated")) return access;
  const owner = await pushToCreateOwner(c);
  if (!owner) return access;
  if (!create) {
    // Advertise an empty repository from an object that holds nothing.
    const repo = { id: 0, ownerId: owner.ownerId, owner: owner.owner, name: owner.name, description: "", isPrivate: true, doName: `${repoKey(owner.owner, owner.name)}~new`, createdAt: 0, pushedAt: null };
    return { ok: true, repo, role: "owner", caller: access.caller, stub: stubFor(c.env, repo), base: "" };
  }
  let created = false;
  try {
    await insertRepo(c.env.DB, owner.ownerId, owner.owner, owner.name, "", true);
    created = true;
  } catch (e) {
    // Another push created it first; it is ours either way.
    if (!(e instanceof RepoExists)) throw e;
  }
  return { ...(await checkAccess(c, "write")), created };
}

smartHttp.get("/:owner/:repo/info/refs", async (c) => {
  const service = c.req.query("service");
  const need: Permission = service === "git-receive-pack" ? "write" : "read";
  const access = need === "write" ? await pushAccess(c, false) : await checkAccess(c, need);
  if (!access.ok) return gitRefusal(access, "GET");
  return forward(access.stub, "/info/refs", c.req.raw);
});

smartHttp.post("/:owner/:repo/git-upload-pack", async (c) => {
  const access = await checkAccess(c, "read");
  if (!access.ok) return gitRefusal(access, "POST");
  const refused = wrongContentType(c.req.raw, "git-upload-pack");
  if (refused) return refused;
  const started = Date.now();
  const res = await forward(access.stub, "/git-upload-pack", c.req.raw, undefined, { [STEPS_HEADER]: "1" });
  const job = res.headers.get(UPLOAD_JOB_HEADER);
  if (job) return steppedUpload(access.stub, job, res, started);
  // The whole answer was made before the response: this was the only invocation.
  console.log(`upload-pack: one invocation, ${Date.now() - started} ms`);
  return res;
});

/**
 * A large clone or fetch answer: the first part came with the response; the rest is
 * pulled from the repository one bounded invocation (`uploadStep`) at a time. The next
 * step is asked for as soon as one arrives, so producing overlaps sending.
 */
async function steppedUpload(stub: DurableObjectStub<Repository>, job: string, first: Response, started: number): Promise<Response> {
  const sidebandErrors = first.headers.get(SIDEBAND_ERRORS_HEADER) === "1";
  let steps = 0;
  let longest = 0;
  type Step = Awaited<ReturnType<typeof stub.uploadStep>>;
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
  const head = new Uint8Array(await first.arrayBuffer());
  const firstMs = Date.now() - started;
  let ahead = step();
  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, why: string) => {
    console.error(`upload-pack: ${why}`);
    if (sidebandErrors) {
      for (const p of sidebandFrames(3, new TextEncoder().encode(`error: ${why}\n`))) controller.enqueue(p);
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
        }
      },
      async cancel() {
        await stub.abandonUpload(job);
      },
    },
    { highWaterMark: 0 },
  );
  const headers = new Headers(first.headers);
  headers.delete(UPLOAD_JOB_HEADER);
  headers.delete(SIDEBAND_ERRORS_HEADER);
  return new Response(body, { status: first.status, headers });
}

smartHttp.post("/:owner/:repo/git-receive-pack", async (c) => {
  const refused = wrongContentType(c.req.raw, "git-receive-pack");
  if (refused) return refused;
  const access = await pushAccess(c, true);
  if (!access.ok) return gitRefusal(access, "POST");
  // A push that was to create the repository but stored nothing (refused before any
  // command ran) leaves no empty repository behind. Listings sort by the last push.
  const settle = async () => {
    if (access.created && !(await access.stub.exists())) await deleteRepoRecord(c.env.DB, access.repo.id);
    else await touchPushed(c.env.DB, access.repo.id);
  };
  const answered = async (res: Response) => {
    // Only a push that created the repository must settle before answering (a refused one
    // removes what it created); the listing time can be written after the response.
    if (access.created) await settle();
    else if (res.ok) c.executionCtx.waitUntil(settle());
    return res;
  };
  const sliced = (job: string, progress: boolean, upload: string) =>
    slicedPush(access.stub, job, progress, upload, (p) => c.executionCtx.waitUntil(p.then(settle)));

  const started = Date.now();
  const segmentBytes = Number(c.env.GITFLARE_SEGMENT_BYTES ?? "") || 64 * 1024 * 1024;
  const body = segmentableBody(c.req.raw, segmentBytes);
  if (!body) {
    const res = await forward(access.stub, "/git-receive-pack", c.req.raw);
    const job = res.headers.get(PUSH_JOB_HEADER);
    if (res.status === 202 && job) return sliced(job, res.headers.get(PROGRESS_HEADER) === "1", `upload ${Date.now() - started} ms`);
    console.log(`receive-pack: one invocation, ${Date.now() - started} ms`);
    return answered(res);
  }

  // A large body goes to the repository in segments, each its own invocation, so that
  // no invocation spends long receiving.
  const segments = new Segments(body, segmentBytes);
  const first = new Request(c.req.raw, { body: await segments.next(), headers: internalHeaders(c.req.raw.headers, { [SEGMENTED_HEADER]: "1" }) });
  const res = await forward(access.stub, "/git-receive-pack", first);
  const upload = res.headers.get(PUSH_UPLOAD_HEADER);
  if (res.status !== 202 || !upload) {
    await segments.cancel();
    return answered(res);
  }
  const times = [Date.now() - started];
  for (let part = await segments.next(); part; part = await segments.next()) {
    const t = Date.now();
    const r = await forward(access.stub, "/git-receive-pack/segment", new Request("https://repo.internal/", { method: "POST", body: part, headers: { [PUSH_UPLOAD_HEADER]: upload } }), "");
    times.push(Date.now() - t);
    if (!r.ok) break;
  }
  if (segments.failed) {
    await access.stub.abandonPush(upload);
    return plainText(400, "Could not read the request body.");
  }
  const t = Date.now();
  const done = await access.stub.pushUploaded(upload);
  times.push(Date.now() - t);
  // The last of the times is the call that completed the upload (and indexed a small pack).
  const uploadLog = `upload ${times.length - 1} segments, longest ${Math.max(...times)} ms`;
  if ("report" in done) {
    console.log(`receive-pack: ${uploadLog}`);
    return answered(new Response(done.report, { headers: { "Content-Type": "application/x-git-receive-pack-result", "Cache-Control": "no-cache, max-age=0, must-revalidate" } }));
  }
  return sliced(done.job, done.progress, uploadLog);
});

/**
 * The body of a push to send in segments, decoded, or null to forward it whole: a body
 * that declares a length within one segment, or an encoding the repository will refuse.
 */
function segmentableBody(request: Request, segmentBytes: number): ReadableStream<Uint8Array> | null {
  const length = Number(request.headers.get("Content-Length") ?? NaN);
  if (!request.body || length <= segmentBytes) return null;
  const encoding = (request.headers.get("Content-Encoding") ?? "").toLowerCase();
  if (encoding === "gzip" || encoding === "x-gzip") return request.body.pipeThrough(new DecompressionStream("gzip"));
  return encoding === "" || encoding === "identity" ? request.body : null;
}

/** The client's headers for the repository's first segment: its body is decoded already. */
function internalHeaders(from: Headers, extra: Record<string, string>): Headers {
  const headers = new Headers(from);
  headers.delete("Content-Encoding");
  headers.delete("Content-Length");
  for (const [k, v] of Object.entries(extra)) headers.set(k, v);
  return headers;
}

/** Cuts a byte stream into consecutive streams of about `size` bytes each. */
class Segments {
  // Reads of at least 1 MiB: the body passes through this isolate, and per-chunk work on
  // the network's small chunks made a 1 GB push half again as slow.
  private static readonly READ = 1 << 20;
  private readonly reader: ReadableStreamBYOBReader;
  private carry: Uint8Array | null = null;
  private started = false;
  private ended = false;
  /** The client's body failed (it went away): what was sent is incomplete. */
  failed = false;

  constructor(body: ReadableStream<Uint8Array>, private readonly size: number) {
    this.reader = body.getReader({ mode: "byob" });
  }

  private async read(): Promise<Uint8Array | null> {
    if (this.ended) return null;
    try {
      const { value, done } = await this.reader.readAtLeast(Segments.READ, new Uint8Array(Segments.READ));
      if (value?.byteLength) return value;
      if (!done) return this.read();
    } catch {
      this.failed = true;
    }
    this.ended = true;
    return null;
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
        if (!chunk) {
          if (this.failed) controller.error(new Error("the client's request body failed"));
          else controller.close();
          return;
        }
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
  }

  async cancel(): Promise<void> {
    this.ended = true;
    await this.reader.cancel().catch(() => undefined);
  }
}

/**
 * The answer to a large push: the repository indexes it one bounded invocation at a
 * time (`pushStep`), while this response relays progress on side band 2, which also
 * keeps the connection alive, and ends with the report.
 */
function slicedPush(stub: DurableObjectStub<Repository>, job: string, progress: boolean, upload: string, onDone: (p: Promise<void>) => void): Response {
  let slices = 0;
  let longest = 0;
  let finished: () => void = () => undefined;
  onDone(new Promise((resolve) => (finished = resolve)));
  // Each pull enqueues something (a stream whose pull enqueues nothing is not pulled
  // again), so without progress the steps run on until the report.
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const t = Date.now();
        let step: Awaited<ReturnType<typeof stub.pushStep>>;
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
        console.log(`receive-pack: ${upload}, ${slices} index slices, longest ${longest} ms`);
        return;
      }
    },
    // The client went away: drop the job and its stored pack now.
    async cancel() {
      finished();
      await stub.abandonPush(job);
    },
  });
  return new Response(body, { headers: { "Content-Type": "application/x-git-receive-pack-result", "Cache-Control": "no-cache, max-age=0, must-revalidate" } });
}

smartHttp.get("/:owner/:repo/export.tar", async (c) => {
  const access = await checkAccess(c, "read");
  if (!access.ok) return gitRefusal(access, "GET");
  return forward(access.stub, "/export.tar", c.req.raw, `?name=${encodeURIComponent(access.repo.name + ".git")}`);
});
