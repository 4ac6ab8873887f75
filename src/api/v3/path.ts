// The part of a v3 path after `/repos/{owner}/{repo}/{kind…}/`: file paths, ref names
// and `base...head` may hold slashes, which a route parameter does not take.
import type { Context } from "hono";

/** The decoded path after `/repos/:owner/:repo/` and `skip` more segments; "" when there is none. */
export function pathAfter(c: Context, skip: number): string {
  const parts = new URL(c.req.url).pathname.split("/");
  const at = parts.indexOf("repos");
  const rest = parts.slice(at + 3 + skip).filter((p, i, all) => p !== "" || i < all.length - 1);
  try {
    return rest.map(decodeURIComponent).join("/");
  } catch {
    return rest.join("/");
  }
}
