// Git LFS over HTTP, under the repository's git URL (`/owner/name.git/info/lfs/...`), as
// git-lfs derives it from the remote: the batch API, basic transfer and file locks. Every
// route passes the one access check, with git's credentials (or a session, for the web).
import { Hono } from "hono";
import type { Env } from "../../util/env";
import { batch } from "./batch";
import { createLock, listLocks, unlock, verifyLocks } from "./locks";
import { downloadObject, uploadObject, verifyObject } from "./transfer";
import { lfsError } from "./responses";

export const lfs = new Hono<{ Bindings: Env }>();

const base = "/:owner/:repo/info/lfs";

// git-lfs sends no Origin; a browser does, and a page elsewhere must not use a session
// cookie to lock, unlock or upload.
lfs.use(`${base}/*`, async (c, next) => {
  const origin = c.req.header("Origin");
  const changes = c.req.method !== "GET" && c.req.method !== "HEAD";
  if (changes && origin !== undefined && origin !== new URL(c.req.url).origin) return lfsError(403, "Cross-origin requests are refused.");
  await next();
});
lfs.post(`${base}/objects/batch`, batch);
lfs.put(`${base}/objects/:oid`, uploadObject);
lfs.get(`${base}/objects/:oid`, downloadObject);
lfs.post(`${base}/verify`, verifyObject);
lfs.get(`${base}/locks`, listLocks);
lfs.post(`${base}/locks`, createLock);
lfs.post(`${base}/locks/verify`, verifyLocks);
lfs.post(`${base}/locks/:id/unlock`, unlock);
