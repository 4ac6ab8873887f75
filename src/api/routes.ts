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
  return c.json({ owner, name: repo, clone_url: new URL(`/${owner}/${repo}.git`, c.req.url).toString() }, 201);
});
