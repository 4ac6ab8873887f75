// GitHub's delivery signatures: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the
// body>` and the older `X-Hub-Signature: sha1=<hex HMAC-SHA1>`, keyed with the secret.

const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");

export async function hmacHex(hash: "SHA-256" | "SHA-1", secret: string, body: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash }, false, ["sign"]);
  return hex(await crypto.subtle.sign("HMAC", key, enc.encode(body)));
}

export async function signatureHeaders(secret: string, body: string): Promise<Record<string, string>> {
  if (!secret) return {};
  return {
    "X-Hub-Signature": `sha1=${await hmacHex("SHA-1", secret, body)}`,
    "X-Hub-Signature-256": `sha256=${await hmacHex("SHA-256", secret, body)}`,
  };
}
