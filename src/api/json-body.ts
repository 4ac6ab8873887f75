// Request bodies of the JSON API: at most MAX_JSON_BODY bytes, refused with 413 as soon as
// they pass it, and fields checked for their JSON type, which GitHub answers with 422
// when wrong. A body whose declared length is too large is not read at all (the runtime
// drains it, so the client gets the 413); one without a length is read to the cap and the
// rest cancelled, which ends the connection under a client still sending.
import { HttpError } from "../http/responses";
import { BodyTooLargeError, readLimited } from "../util/streams";

/** Far above any settings change, far below what a Worker should hold. */
export const MAX_JSON_BODY = 1024 * 1024;

const tooLarge = () => new HttpError(413, `request body is larger than ${MAX_JSON_BODY} bytes`);

/**
 * The JSON object the request sends, or null if it sends none (not JSON by its content
 * type, unreadable, malformed, or not an object). Throws HttpError 413 past the cap.
 */
export async function readJsonObject(request: Request): Promise<Record<string, unknown> | null> {
  if (!(request.headers.get("Content-Type") ?? "").toLowerCase().startsWith("application/json")) return null;
  if (!request.body) return null;
  if (Number(request.headers.get("Content-Length") ?? 0) > MAX_JSON_BODY) throw tooLarge();
  let bytes: Uint8Array;
  try {
    bytes = await readLimited(request.body, MAX_JSON_BODY);
  } catch (e) {
    if (e instanceof BodyTooLargeError) throw tooLarge();
    // An unreadable body is no JSON object.
    return null;
  }
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

type JsonType = "string" | "boolean";
type Typed<S extends Record<string, JsonType>> = { [K in keyof S]?: S[K] extends "string" ? string : boolean };

/**
 * The fields of `body` that `spec` names, each of its JSON type or absent; throws
 * HttpError 422 for a field of another type (null included), as GitHub does, rather
 * than ignoring it. Fields the spec does not name are ignored, as GitHub does.
 */
export function typedFields<S extends Record<string, JsonType>>(body: Record<string, unknown>, spec: S): Typed<S> {
  const out: Record<string, unknown> = {};
  for (const [key, type] of Object.entries(spec)) {
    if (!(key in body)) continue;
    const value = body[key];
    if (typeof value !== type) throw new HttpError(422, `invalid request: '${key}' must be a ${type}, not ${JSON.stringify(value)}`);
    out[key] = value;
  }
  return out as Typed<S>;
}
