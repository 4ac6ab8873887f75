// Smart HTTP (gitprotocol-http): the three endpoints git clients use, plus export.
// The Worker only checks names and hands the request, body unread, to the repository's
// Durable Object, so a push streams from the client into DOFS.
import { Hono } from "hono";
import type { Env } from "../repo/repository";
import { isValidName, isValidOwner, repoKey, stripGitSuffix } from "./names";

export const smartHttp = new Hono<{ Bindings: Env }>();

function forward(env: Env, owner: string, repo: string, path: string, request: Request): Promise<Response> | Response {
  const name = stripGitSuffix(repo);
  if (!isValidOwner(owner) || !isValidName(name)) {
    return new Response("Repository not found.\n", { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" } });
  }
  const src = new URL(request.url);
  const url = new URL(path + src.search, "https://repo.internal");
  const stub = env.REPO.getByName(repoKey(owner, name));
  return stub.fetch(new Request(url, request));
}

smartHttp.get("/:owner/:repo/info/refs", (c) => forward(c.env, c.req.param("owner"), c.req.param("repo"), "/info/refs", c.req.raw));
/** Refuses a POST whose content type is not the service's before its body moves. */
function wrongContentType(request: Request, service: string): Response | null {
  const type = request.headers.get("Content-Type") ?? "";
  if (type === `application/x-${service}-request`) return null;
  return new Response(`Expected Content-Type application/x-${service}-request, got '${type}'\n`, {
    status: 400,
    headers: { "Content-Type": "text/plain; charset=utf-8" },
  });
}

smartHttp.post("/:owner/:repo/git-upload-pack", (c) => {
  return wrongContentType(c.req.raw, "git-upload-pack") ?? forward(c.env, c.req.param("owner"), c.req.param("repo"), "/git-upload-pack", c.req.raw);
});

smartHttp.post("/:owner/:repo/git-receive-pack", async (c) => {
  const refused = wrongContentType(c.req.raw, "git-receive-pack");
  if (refused) return refused;
  const { owner } = c.req.param();
  const name = stripGitSuffix(c.req.param("repo"));
  const res = await forward(c.env, owner, name, "/git-receive-pack", c.req.raw);
  // The directory lists repositories for the home page; a push may have created one.
  if (res.ok) c.executionCtx.waitUntil(c.env.DIRECTORY.getByName("directory").touch(owner, name));
  return res;
});
smartHttp.get("/:owner/:repo/export.tar", (c) => {
  const name = stripGitSuffix(c.req.param("repo"));
  const req = new Request(new URL(`?name=${encodeURIComponent(name + ".git")}`, c.req.url), c.req.raw);
  return forward(c.env, c.req.param("owner"), c.req.param("repo"), "/export.tar", req);
});
