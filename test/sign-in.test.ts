// Signing in (issue 12, defects 4 and 5): where the browser goes afterwards stays on this
// site, and the lockout after failed passwords holds for the account by any of its names.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { safeNext } from "../src/web/forms";
import { Browserless, setCookies } from "../e2e/accounts";

const BASE = "http://gitflare.test";
const PASSWORD = "correct horse";
let seq = 0;

const browser = () => new Browserless(BASE, (url, init) => SELF.fetch(url, init));

async function signUp(username: string): Promise<void> {
  const res = await browser().post("/signup", { username, email: `${username}@example.com`, password: PASSWORD }, { from: "/signup" });
  expect(res.status).toBe(303);
  await res.arrayBuffer();
}

/** Posts the sign-in form from `ip`, with `next` in the query as the sign-in page sends it. */
async function signIn(login: string, password: string, opts: { ip?: string; next?: string } = {}): Promise<Response> {
  const b = browser();
  const csrf = await b.csrf("/login");
  const query = opts.next === undefined ? "" : `?next=${opts.next}`;
  return b.get(`/login${query}`, {
    method: "POST",
    headers: { "CF-Connecting-IP": opts.ip ?? `192.0.2.${seq++ % 250}`, Origin: BASE, "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: csrf, login, password }),
  });
}

describe("where the browser goes after signing in", () => {
  it("goes home instead of to another site, whatever the next parameter hides", async () => {
    const username = `nexter${seq++}`;
    await signUp(username);
    // The address: a tab that browsers strip, leaving //evil.example/steal.
    const res = await signIn(username, PASSWORD, { next: "%2F%09%2Fevil.example%2Fsteal" });
    expect(res.status).toBe(303);
    expect(res.headers.get("Location")).toBe("/");
    expect(setCookies(res).some((c) => c.startsWith("gf_session="))).toBe(true);
    await res.arrayBuffer();
    // And the form the sign-in page shows carries no such address on.
    const page = await browser().get("/login?next=%2F%09%2Fevil.example%2Fsteal");
    expect(await page.text()).toContain('action="/login?next=%2F"');
  });

  it("accepts a path on this site and nothing else", () => {
    for (const good of ["/", "/o/r", "/o/r/blob/main/a.txt?plain=1#L3", "/settings/tokens", "/o/r/tree/v1.0~1", "/%2F%2Fevil"])
      expect(safeNext(good), good).toBe(good);
    for (const bad of [
      undefined,
      "",
      "evil.example",
      "https://evil.example/",
      "//evil.example",
      "/\\evil.example",
      "/\t/evil.example/steal",
      "/\n/evil.example",
      "\t//evil.example",
      "/o/r\\..\\..\\evil",
      "/o/r\u0000",
      "/o/r\u007f",
      "/ /evil.example",
      "/?next=x",
      "/o/r\u2028",
    ])
      expect(safeNext(bad), JSON.stringify(bad)).toBe("/");
  });
});

describe("the sign-in lockout", () => {
  it("holds for the account whichever name it is reached by", async () => {
    const username = `locked${seq++}`;
    await signUp(username);
    // Ten failures by username and by email, from addresses that are not themselves limited.
    for (let i = 0; i < 10; i++) {
      const r = await signIn(i % 2 ? username : `${username}@example.com`, `wrong${i}`);
      expect(r.status).toBe(401);
      await r.arrayBuffer();
    }
    for (const login of [username, `${username}@example.com`, username.toUpperCase(), `${username.toUpperCase()}@EXAMPLE.COM`]) {
      const r = await signIn(login, PASSWORD);
      expect(r.status, login).toBe(429);
      expect(setCookies(r).some((c) => c.startsWith("gf_session="))).toBe(false);
      await r.arrayBuffer();
    }
    // Another account is not locked by it.
    const other = `unlocked${seq++}`;
    await signUp(other);
    const r = await signIn(`${other}@example.com`, PASSWORD);
    expect(r.status).toBe(303);
    await r.arrayBuffer();
  });

  it("counts ten failures by username against the email too", async () => {
    const username = `bymail${seq++}`;
    await signUp(username);
    for (let i = 0; i < 10; i++) {
      const r = await signIn(username, `wrong${i}`);
      expect(r.status).toBe(401);
      await r.arrayBuffer();
    }
    const r = await signIn(`${username}@example.com`, PASSWORD);
    expect(r.status).toBe(429);
    await r.arrayBuffer();
  });
});
