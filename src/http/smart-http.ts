// Smart HTTP (gitprotocol-http): the endpoints git clients use, plus export. Each route
// passes the access check, then hands the request, body unread, to the repository's
// Durable Object, so a push streams from the client into DOFS; large pushes and clones
// continue in steps (./steps.ts).
import { Hono, type Context } from "hono";
import type { Env } from "../util/env";
import {
  INTERNAL_HEADER_PREFIX,
  PROGRESS_HEADER,
  PUSH_JOB_HEADER,
  PUSH_UPLOAD_HEADER,
  SEGMENTED_HEADER,
  STEPS_HEADER,
  UPLOAD_JOB_HEADER,
} from "../repo/internal-headers";
import { type Access, type Refusal, checkAccess, pushToCreateOwner, stubFor } from "../access/check";
import { RepoExists, deleteRepoRecord, insertRepo, touchPushed } from "../access/repos";
import type { Permission } from "../access/roles";
import { GIT_REALM, plainText } from "./responses";
import { repoKey } from "../util/names";
import { RECEIVE_PACK_RESULT, Segments, decodedHeaders, segmentableBody, slicedPush, steppedUpload } from "./steps";

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

function forward(
  stub: DurableObjectStub,
  path: string,
  request: Request,
  search = new URL(request.url).search,
  headers: Record<string, string> = {},
): Promise<Response> {
  const url = new URL(path + search, "https://repo.internal");
  const inner = new Request(url, request);
  // Headers between the Worker and the object are ours to set, never the client's.
  for (const k of [...inner.headers.keys()]) if (k.startsWith(INTERNAL_HEADER_PREFIX)) inner.headers.delete(k);
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
    const repo = {
      id: 0,
      ownerId: owner.ownerId,
      owner: owner.owner,
      name: owner.name,
      description: "",
      isPrivate: true,
      doName: `${repoKey(owner.owner, owner.name)}~new`,
      createdAt: 0,
      pushedAt: null,
    };
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
  const first = new Request(c.req.raw, { body: await segments.next(), headers: decodedHeaders(c.req.raw.headers) });
  const res = await forward(access.stub, "/git-receive-pack", first, undefined, { [SEGMENTED_HEADER]: "1" });
  const upload = res.headers.get(PUSH_UPLOAD_HEADER);
  if (res.status !== 202 || !upload) {
    await segments.cancel();
    return answered(res);
  }
  const times = [Date.now() - started];
  let done: Awaited<ReturnType<typeof access.stub.pushUploaded>>;
  try {
    for (let part = await segments.next(); part; part = await segments.next()) {
      const t = Date.now();
      const r = await forward(
        access.stub,
        "/git-receive-pack/segment",
        new Request("https://repo.internal/", { method: "POST", body: part }),
        "",
        { [PUSH_UPLOAD_HEADER]: upload },
      );
      times.push(Date.now() - t);
      if (!r.ok) break;
    }
    if (segments.failed) {
      await access.stub.abandonPush(upload);
      return plainText(400, "Could not read the request body.");
    }
    const t = Date.now();
    done = await access.stub.pushUploaded(upload);
    times.push(Date.now() - t);
  } catch (e) {
    // Whatever failed, the stored part of the pack is not left waiting for the sweep.
    await access.stub.abandonPush(upload).catch(() => undefined);
    throw e;
  }
  // The last of the times is the call that completed the upload (and indexed a small pack).
  const uploadLog = `upload ${times.length - 1} segments, longest ${Math.max(...times)} ms (all ${Date.now() - started} ms)`;
  if ("report" in done) {
    console.log(`receive-pack: ${uploadLog}`);
    return answered(new Response(done.report, { headers: RECEIVE_PACK_RESULT }));
  }
  return sliced(done.job, done.progress, uploadLog);
});

smartHttp.get("/:owner/:repo/export.tar", async (c) => {
  const access = await checkAccess(c, "read");
  if (!access.ok) return gitRefusal(access, "GET");
  return forward(access.stub, "/export.tar", c.req.raw, `?name=${encodeURIComponent(access.repo.name + ".git")}`);
});
