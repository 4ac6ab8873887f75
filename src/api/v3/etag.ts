// Conditional GETs as GitHub answers them: every successful JSON answer to a GET carries a
// weak `ETag` over its body, and a request whose `If-None-Match` names it gets 304 with no
// body, so that polling clients (CI systems, bots) re-read nothing that did not change.
// The answer may differ by caller (a private field, `permissions`), hence `Vary`.
import type { MiddlewareHandler } from "hono";

async function weakTag(body: ArrayBuffer): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  return `W/"${Array.from(digest.subarray(0, 20), (b) => b.toString(16).padStart(2, "0")).join("")}"`;
}

/** Whether an If-None-Match header names `tag` (weak comparison, as for GET). */
function matches(header: string, tag: string): boolean {
  if (header.trim() === "*") return true;
  const bare = tag.replace(/^W\//, "");
  return header.split(",").some((t) => t.trim().replace(/^W\//, "") === bare);
}

export const etag: MiddlewareHandler = async (c, next) => {
  await next();
  if (c.req.method !== "GET" || c.res.status !== 200) return;
  if (!(c.res.headers.get("Content-Type") ?? "").startsWith("application/json")) return;
  const body = await c.res.clone().arrayBuffer();
  const tag = await weakTag(body);
  const headers = new Headers(c.res.headers);
  headers.set("ETag", tag);
  headers.set("Vary", "Accept, Authorization, Cookie");
  headers.set("X-GitHub-Media-Type", "github.v3; format=json");
  const wanted = c.req.header("If-None-Match");
  if (wanted && matches(wanted, tag)) {
    headers.delete("Content-Length");
    headers.delete("Content-Type");
    c.res = new Response(null, { status: 304, headers });
    return;
  }
  c.res = new Response(body, { status: 200, headers });
};
