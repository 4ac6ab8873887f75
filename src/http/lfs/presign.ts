// Presigned S3 URLs (AWS Signature Version 4, query-string form) for R2's S3 API, so that
// large LFS objects go straight between git-lfs and R2 instead of through the Worker,
// whose request bodies are capped (100 MB on most plans).
import type { Env } from "../../util/env";

export interface S3Config {
  /** `https://<account>.r2.cloudflarestorage.com` */
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

/** The S3 API settings, when all of them are set; null means LFS transfers stream through the Worker. */
export function s3Config(env: Env): S3Config | null {
  const endpoint = env.GITFLARE_LFS_S3_ENDPOINT;
  const bucket = env.GITFLARE_LFS_S3_BUCKET;
  const accessKeyId = env.GITFLARE_LFS_S3_ACCESS_KEY_ID;
  const secretAccessKey = env.GITFLARE_LFS_S3_SECRET_ACCESS_KEY;
  if (!endpoint || !bucket || !accessKeyId || !secretAccessKey) return null;
  return { endpoint: endpoint.replace(/\/+$/, ""), bucket, accessKeyId, secretAccessKey, region: "auto" };
}

const enc = new TextEncoder();

function hex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function hmac(key: ArrayBuffer | Uint8Array, data: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, enc.encode(data));
}

/** RFC 3986 encoding as SigV4 wants it (`/` kept in paths). */
function uriEncode(s: string, keepSlash: boolean): string {
  return [...enc.encode(s)]
    .map((b) => {
      const ch = String.fromCharCode(b);
      if (/[A-Za-z0-9\-._~]/.test(ch) || (keepSlash && ch === "/")) return ch;
      return `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
    })
    .join("");
}

export interface PresignInput {
  method: "GET" | "PUT";
  /** The object's URL: host and path, no query. */
  url: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  expiresSeconds: number;
  now: Date;
  /** Headers the client must send exactly, signed with the URL (lower-case names). */
  headers?: Record<string, string>;
}

export async function presign(p: PresignInput): Promise<string> {
  const url = new URL(p.url);
  const amzDate = p.now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${p.region}/s3/aws4_request`;
  const headers: Record<string, string> = { host: url.host, ...p.headers };
  const names = Object.keys(headers).sort();
  const query: [string, string][] = [
    ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
    ["X-Amz-Credential", `${p.accessKeyId}/${scope}`],
    ["X-Amz-Date", amzDate],
    ["X-Amz-Expires", String(p.expiresSeconds)],
    ["X-Amz-SignedHeaders", names.join(";")],
  ];
  const canonicalQuery = query
    .map(([k, v]) => `${uriEncode(k, false)}=${uriEncode(v, false)}`)
    .sort()
    .join("&");
  const path = uriEncode(decodeURIComponent(url.pathname), true);
  const canonical = [
    p.method,
    path,
    canonicalQuery,
    names.map((n) => `${n}:${headers[n].trim()}\n`).join(""),
    names.join(";"),
    "UNSIGNED-PAYLOAD",
  ].join("\n");
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, hex(await crypto.subtle.digest("SHA-256", enc.encode(canonical)))].join("\n");
  let key = await hmac(enc.encode(`AWS4${p.secretAccessKey}`), day);
  for (const part of [p.region, "s3", "aws4_request"]) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));
  return `${url.origin}${path}?${canonicalQuery}&X-Amz-Signature=${signature}`;
}

/** The presigned URL of one object in the configured bucket. */
export function presignObject(s3: S3Config, key: string, method: "GET" | "PUT", expiresSeconds: number, headers?: Record<string, string>) {
  return presign({
    method,
    url: `${s3.endpoint}/${uriEncode(s3.bucket, false)}/${uriEncode(key, true)}`,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    region: s3.region,
    expiresSeconds,
    now: new Date(),
    headers,
  });
}
