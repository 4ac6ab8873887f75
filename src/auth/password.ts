// Password hashing with WebCrypto PBKDF2-SHA256: vetted, built into the runtime, and
// within the Workers CPU budget. workerd caps PBKDF2 at 100,000 iterations, which is
// what we use; the iteration count is stored with each hash so it can be raised later.
import { base64url, fromBase64url, timingSafeEqual } from "./crypto";

const ITERATIONS = 100_000;
const KEY_BITS = 256;

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, KEY_BITS);
  return new Uint8Array(bits);
}

/** `pbkdf2-sha256$<iterations>$<salt>$<hash>`, salt and hash in base64url. */
export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await derive(password, salt, ITERATIONS);
  return `pbkdf2-sha256$${ITERATIONS}$${base64url(salt)}$${base64url(hash)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, iter, salt, hash] = stored.split("$");
  const iterations = Number(iter);
  if (scheme !== "pbkdf2-sha256" || !Number.isInteger(iterations) || iterations < 1 || iterations > ITERATIONS || !salt || !hash)
    return false;
  const actual = await derive(password, fromBase64url(salt), iterations);
  return timingSafeEqual(base64url(actual), hash);
}

/** Spends the same time as a real check, so a login for an unknown user is not faster. */
export async function burnPasswordCheck(password: string): Promise<void> {
  await derive(password, new Uint8Array(16), ITERATIONS);
}

/** Rules for new passwords, as a message or null. */
export function passwordProblem(password: string): string | null {
  if (password.length < 8) return "Password must be at least 8 characters.";
  if (password.length > 1024) return "Password is too long.";
  return null;
}
