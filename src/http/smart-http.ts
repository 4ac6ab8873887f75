// Smart HTTP (gitprotocol-http): the endpoints git clients use, plus export. Each route
// passes the access check, then hands the request, body unread, to the repository's
// Durable Object, so a push streams from the client into DOFS.
import { Hono, type Context } from "hono";
import type { Env, Repository } from "../repo/repository";
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

function forward(stub: DurableObjectStub, path: string, request: Request, search = new URL(request.url).search): Promise<Response> {
  const url = new URL(path + search, "https://repo.internal");
  return stub.fetch(new Request(url, request));
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
  return wrongContentType(c.req.raw, "git-upload-pack") ?? forward(access.stub, "/git-upload-pack", c.req.raw);
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
  const started = Date.now();
  const res = await forward(access.stub, "/git-receive-pack", c.req.raw);
  const job = res.headers.get("X-Gitflare-Push-Job");
  if (res.status === 202 && job) {
    return slicedPush(access.stub, job, res.headers.get("X-Gitflare-Progress") === "1", Date.now() - started, (p) => c.executionCtx.waitUntil(p.then(settle)));
  }
  // Only a push that created the repository must settle before answering (a refused one
  // removes what it created); the listing time can be written after the response.
  if (access.created) await settle();
  else if (res.ok) c.executionCtx.waitUntil(settle());
  return res;
});

/**
 * The answer to a large push: the repository indexes it one bounded invocation at a
 * time (`pushStep`), while this response relays progress on side band 2, which also
 * keeps the connection alive, and ends with the report.
 */
function slicedPush(stub: DurableObjectStub<Repository>, job: string, progress: boolean, uploadMs: number, onDone: (p: Promise<void>) => void): Response {
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
        console.log(`receive-pack: upload ${uploadMs} ms, ${slices} index slices, longest ${longest} ms`);
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
