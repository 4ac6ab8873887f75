// JSON API. Errors are JSON objects with an `error` message.
import { Hono } from "hono";
import type { Env } from "../repo/repository";
import { isValidName, isValidOwner, repoKey } from "../http/names";

export const api = new Hono<{ Bindings: Env }>();

/** Creates an empty repository; 409 if it exists. */
api.post("/repos/:owner/:repo", async (c) => {
  const { owner, repo } = c.req.param();
  if (!isValidOwner(owner) || !isValidName(repo)) return c.json({ error: "invalid owner or repository name" }, 400);
  const created = await c.env.REPO.getByName(repoKey(owner, repo)).init();
  if (!created) return c.json({ error: "repository already exists" }, 409);
  await c.env.DIRECTORY.getByName("directory").touch(owner, repo);
  return c.json({ owner, name: repo, clone_url: new URL(`/${owner}/${repo}.git`, c.req.url).toString() }, 201);
});

/** The repository's push log: ref updates and push options, newest first. */
api.get("/repos/:owner/:repo/pushes", async (c) => {
  const { owner, repo } = c.req.param();
  if (!isValidOwner(owner) || !isValidName(repo)) return c.json({ error: "repository not found" }, 404);
  const stub = c.env.REPO.getByName(repoKey(owner, repo));
  if (!(await stub.exists())) return c.json({ error: "repository not found" }, 404);
  const limit = Math.min(100, Math.max(1, Number(c.req.query("limit") ?? 20) || 20));
  return c.json(await stub.recentPushes(limit));
});
