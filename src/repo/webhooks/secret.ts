// Hook secrets are kept so that deliveries can be signed (HMAC needs the secret itself),
// sealed with AES-GCM under a key derived from GITFLARE_HOOK_KEY, so that a copy of the
// storage alone does not give them away. A deployment sets the key as a secret
// (`wrangler secret put GITFLARE_HOOK_KEY`); without one a fixed development key is used.

export const DEV_HOOK_KEY = "gitflare-development-hook-key";
const enc = new TextEncoder();

async function keyOf(material: string | undefined): Promise<CryptoKey> {
  const raw = await crypto.subtle.digest("SHA-256", enc.encode(material || DEV_HOOK_KEY));
  return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
}

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const unb64 = (s: string) => Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));

/** `v1:<iv>:<ciphertext>` in base64, or "" for no secret. */
export async function sealSecret(secret: string, material: string | undefined): Promise<string> {
  if (!secret) return "";
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await keyOf(material), enc.encode(secret)));
  return `v1:${b64(iv)}:${b64(ct)}`;
}

/** The secret again; throws if the key changed since it was sealed. */
export async function openSecret(sealed: string, material: string | undefined): Promise<string> {
  if (!sealed) return "";
  const [v, iv, ct] = sealed.split(":");
  if (v !== "v1" || !iv || !ct) throw new Error("unknown sealed secret format");
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: unb64(iv) }, await keyOf(material), unb64(ct));
  return new TextDecoder().decode(plain);
}
