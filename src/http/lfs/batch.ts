// The batch API (git-lfs docs/api/batch.md), basic transfer: which objects to send or
// fetch, and where. Uploads are planned against the repository's quota in its Durable
// Object; the actions point at this Worker (./transfer.ts), or at presigned R2 URLs when
// the S3 API is configured (./presign.ts).
import { type Granted, checkAccess } from "../../access/check";
import type { Env } from "../../util/env";
import { type C, OID, jsonBody, lfsAccess, lfsError, lfsJson, lfsKeyPrefix } from "./responses";
import { presignObject, s3Config } from "./presign";

export const DEFAULT_QUOTA = 1024 * 1024 * 1024;
/** R2's largest single upload. */
const MAX_OBJECT = 5 * 1000 * 1000 * 1000;
const MAX_OBJECTS = 1000;
const PRESIGN_SECONDS = 3600;

export function quotaOf(env: Env): number {
  const q = Number(env.GITFLARE_LFS_QUOTA_BYTES);
  return env.GITFLARE_LFS_QUOTA_BYTES && Number.isFinite(q) && q >= 0 ? q : DEFAULT_QUOTA;
}

interface Wanted {
  oid: string;
  size: number;
}

// Actions on this Worker carry no credentials of their own: they pass the same access
// check as the batch request, with the credentials git-lfs found for it (an Authorization
// header in the action would be sent beside any http.extraHeader, and two fail).
type Action = { href: string; header?: Record<string, string>; expires_in?: number };

/** Where this repository's LFS endpoints are, under its current name. */
export function lfsBase(c: C, g: Granted): string {
  return `${new URL(c.req.url).origin}/${g.repo.owner}/${g.repo.name}.git/info/lfs`;
}

async function download(c: C, g: Granted, o: Wanted): Promise<Action> {
  const s3 = s3Config(c.env);
  if (s3) return { href: await presignObject(s3, lfsKeyPrefix(g.repo.id) + o.oid, "GET", PRESIGN_SECONDS), expires_in: PRESIGN_SECONDS };
  return { href: `${lfsBase(c, g)}/objects/${o.oid}` };
}

async function upload(c: C, g: Granted, o: Wanted): Promise<{ upload: Action; verify: Action }> {
  const verify = { href: `${lfsBase(c, g)}/verify` };
  const s3 = s3Config(c.env);
  if (s3) {
    // R2 checks the body against the signed checksum header; verify then records it. The
    // length is signed too: the quota holds the announced size, and an upload of any other
    // size (which verify would find, if ever asked) must not land in R2 at all.
    const checksum = btoa(String.fromCharCode(...(o.oid.match(/../g) ?? []).map((h) => Number.parseInt(h, 16))));
    const header = { "content-length": String(o.size), "x-amz-checksum-sha256": checksum };
    const href = await presignObject(s3, lfsKeyPrefix(g.repo.id) + o.oid, "PUT", PRESIGN_SECONDS, header);
    return { upload: { href, header, expires_in: PRESIGN_SECONDS }, verify };
  }
  return { upload: { href: `${lfsBase(c, g)}/objects/${o.oid}` }, verify };
}

/** How far up a fork network a download looks for objects the fork does not hold. */
const NETWORK_DEPTH = 8;

/**
 * Objects a fork lacks that its parent (or the parent's parent…) holds: a fork's history
 * names the LFS objects pushed to its parent before the fork, which stay there, as GitHub
 * shares LFS objects within a fork network. Only parents the caller may read are asked,
 * and the download is from the parent's own endpoint, through the same access check.
 */
export async function inForkNetwork(c: C, g: Granted, oids: string[]): Promise<Map<string, { g: Granted; size: number }>> {
  const found = new Map<string, { g: Granted; size: number }>();
  let at = g.repo;
  for (let depth = 0; oids.length && at.parent && depth < NETWORK_DEPTH; depth++) {
    const [owner, repo] = at.parent.fullName.split("/");
    const parent = await checkAccess(c, "read", { owner, repo });
    if (!parent.ok) break;
    const present = await parent.stub.lfsPresent(oids);
    if (!present) break;
    for (const oid of oids) if (oid in present) found.set(oid, { g: parent, size: present[oid] });
    oids = oids.filter((oid) => !found.has(oid));
    at = parent.repo;
  }
  return found;
}

function parse(body: Record<string, unknown> | null): { operation: "upload" | "download"; objects: unknown[] } | string {
  if (!body) return "The request body must be a JSON object.";
  const { operation, objects, transfers, hash_algo } = body;
  if (operation !== "upload" && operation !== "download") return "operation must be 'upload' or 'download'.";
  if (!Array.isArray(objects)) return "objects must be an array.";
  if (objects.length > MAX_OBJECTS) return `At most ${MAX_OBJECTS} objects per batch.`;
  if (transfers !== undefined && (!Array.isArray(transfers) || !transfers.includes("basic")))
    return "Only the basic transfer adapter is supported.";
  if (hash_algo !== undefined && hash_algo !== "sha256") return "Only hash_algo sha256 is supported.";
  return { operation, objects };
}

function valid(o: unknown): o is Wanted {
  const w = o as Wanted;
  return !!w && typeof w.oid === "string" && OID.test(w.oid) && Number.isSafeInteger(w.size) && w.size >= 0;
}

export async function batch(c: C): Promise<Response> {
  if (!(c.req.header("Content-Type") ?? "").includes("json")) return lfsError(422, `Expected Content-Type application/vnd.git-lfs+json.`);
  const request = parse(await jsonBody(c));
  // Who may ask is checked before what was asked, so a stranger learns nothing from errors.
  const g = await lfsAccess(c, typeof request === "string" || request.operation === "download" ? "read" : "write");
  if (g instanceof Response) return g;
  if (typeof request === "string") return lfsError(422, request);
  const { operation, objects } = request;
  const good = objects.filter(valid);
  const answer = (o: unknown, extra: Record<string, unknown>) => {
    const w = o as Partial<Wanted>;
    return { oid: typeof w?.oid === "string" ? w.oid : "", size: typeof w?.size === "number" ? w.size : 0, ...extra };
  };
  // Presigned URLs carry their own authorization: git-lfs must not add credentials.
  const direct = s3Config(c.env) ? { authenticated: true } : {};
  const invalid = (o: unknown) =>
    answer(o, { error: { code: 422, message: "Invalid object: oid must be 64 hex digits and size a non-negative integer." } });

  if (operation === "download") {
    const present = await g.stub.lfsPresent(good.map((o) => o.oid));
    if (!present) return lfsError(404, "Repository not found.");
    const elsewhere = await inForkNetwork(
      c,
      g,
      good.filter((o) => !(o.oid in present)).map((o) => o.oid),
    );
    const out = await Promise.all(
      objects.map(async (o) => {
        if (!valid(o)) return invalid(o);
        const holder = o.oid in present ? { g, size: present[o.oid] } : elsewhere.get(o.oid);
        if (!holder) return answer(o, { error: { code: 404, message: "Object does not exist." } });
        return answer(o, { size: holder.size, ...direct, actions: { download: await download(c, holder.g, o) } });
      }),
    );
    return lfsJson(200, { transfer: "basic", objects: out, hash_algo: "sha256" });
  }

  const within = good.filter((o) => o.size <= MAX_OBJECT);
  const plan = await g.stub.lfsPlanUpload(within, quotaOf(c.env), lfsKeyPrefix(g.repo.id));
  if (!plan) return lfsError(404, "Repository not found.");
  if (!plan.ok) {
    return lfsError(
      507,
      `Git LFS quota exceeded: ${g.repo.owner}/${g.repo.name} holds ${plan.used} of its ${plan.quota} bytes, and this push adds ${plan.wanted}.`,
    );
  }
  const presentOf = new Map(within.map((o, i) => [o.oid, plan.present[i]]));
  const out = await Promise.all(
    objects.map(async (o) => {
      if (!valid(o)) return invalid(o);
      if (o.size > MAX_OBJECT)
        return answer(o, { error: { code: 422, message: `Objects larger than ${MAX_OBJECT} bytes are not supported.` } });
      // An object already stored needs no actions: git-lfs skips it.
      if (presentOf.get(o.oid)) return answer(o, {});
      return answer(o, { ...direct, actions: await upload(c, g, o) });
    }),
  );
  return lfsJson(200, { transfer: "basic", objects: out, hash_algo: "sha256" });
}
