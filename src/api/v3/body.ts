// Reading a v3 request's JSON body. A browser session must send it as
// application/json, which a cross-site form cannot, so a signed-in browser cannot be
// made to change anything; a token caller may leave the type out, as curl does and
// GitHub allows.
import type { Context } from "hono";
import { callerOf } from "../../auth/caller";
import { BodyTooLargeError, readLimited } from "../../util/streams";
import { MAX_JSON_BODY } from "../json-body";
import { GitHubError, validationFailed } from "./errors";

export type Json = Record<string, unknown>;

const tooLarge = () => new GitHubError(413, `request body is larger than ${MAX_JSON_BODY} bytes`);

/** The body, up to MAX_JSON_BODY (413 past it, without reading a body whose declared length is). */
async function limitedBody(request: Request): Promise<Uint8Array> {
  if (Number(request.headers.get("Content-Length") ?? 0) > MAX_JSON_BODY) throw tooLarge();
  if (!request.body) return new Uint8Array(0);
  try {
    return await readLimited(request.body, MAX_JSON_BODY);
  } catch (e) {
    if (e instanceof BodyTooLargeError) throw tooLarge();
    throw new GitHubError(400, "Problems parsing JSON");
  }
}

export async function readJson(c: Context): Promise<unknown> {
  const caller = await callerOf(c);
  const type = (c.req.header("Content-Type") ?? "").toLowerCase();
  if (caller.kind !== "token" && !type.startsWith("application/json"))
    throw new GitHubError(415, "Send the body as JSON with Content-Type: application/json.");
  const text = new TextDecoder().decode(await limitedBody(c.req.raw));
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new GitHubError(400, "Problems parsing JSON");
  }
}

export async function readObject(c: Context): Promise<Json> {
  const v = await readJson(c);
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new GitHubError(400, "Problems parsing JSON: expected an object");
  return v as Json;
}

/** An optional string field; numbers are taken as text, as GitHub takes them. */
export function optString(body: Json, field: string, resource: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  throw validationFailed(resource, field);
}

/** An optional list of names: strings, or objects with a `name` (GitHub takes both for labels). */
export function optNames(body: Json, field: string, resource: string): string[] | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw validationFailed(resource, field);
  return v.map((x) => {
    if (typeof x === "string") return x;
    if (x && typeof x === "object" && typeof (x as Json).name === "string") return (x as Json).name as string;
    throw validationFailed(resource, field);
  });
}

/** The issue number in the path; anything but digits is a 404, like a missing issue. */
export function numberParam(c: Context, name = "number"): number {
  const v = c.req.param(name) ?? "";
  if (!/^\d{1,9}$/.test(v)) throw new GitHubError(404, "Not Found");
  return Number(v);
}
