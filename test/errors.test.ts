// Each surface answers every kind of refusal in its own form, from one mapping: pages
// with an HTML page in the site's layout (or a redirect to sign in), the JSON API with
// `{"error": ...}` and the same status codes, and whatever neither answers (bad or
// rate-limited credentials on pages, raw files and git) in plain text.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { Browserless } from "../e2e/accounts";
import { accountAuth, ownerFetch } from "./helpers";

const BASE = "http://gitflare.test";
const OWNER = "errkinds";
let seq = 0;

const browser = () => new Browserless(BASE, (url, init) => SELF.fetch(url, init));

/** A signed-in browser for a new account. */
async function signedIn(prefix: string): Promise<Browserless> {
  const b = browser();
  const username = `${prefix}${seq++}`;
  const res = await b.post("/signup", { username, email: `${username}@example.com`, password: "correct horse" }, { from: "/signup" });
  expect(res.status).toBe(303);
  return b;
}

async function createRepo(name: string, isPrivate: boolean): Promise<void> {
  const res = await ownerFetch(`${BASE}/api/repos/${OWNER}/${name}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ private: isPrivate }),
  });
  expect(res.status).toBe(201);
  await res.text();
}

/** The HTML page a response carries, after checking its status and type. */
async function htmlPage(res: Response, status: number): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
  return res.text();
}

async function expectJson(res: Response, status: number, body: unknown): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
  expect(await res.json()).toEqual(body);
}

async function expectRedirect(res: Response, status: number, location: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get("Location")).toBe(location);
  await res.text();
}

const get = (path: string, headers: Record<string, string> = {}) => SELF.fetch(BASE + path, { headers, redirect: "manual" });
const json = (method: string, path: string, body: string, auth: string) =>
  SELF.fetch(BASE + path, { method, headers: { Authorization: auth, "Content-Type": "application/json" }, body, redirect: "manual" });

let owner: string;
let stranger: string;
let strangerSession: Browserless;

beforeAll(async () => {
  owner = await accountAuth(OWNER);
  stranger = await accountAuth("errstranger");
  strangerSession = await signedIn("errpeek");
  await createRepo("pub", false);
  await createRepo("priv", true);
});

describe("pages", () => {
  it("answers a missing page with an HTML 404 in the layout", async () => {
    const user = await htmlPage(await get(`/nosuchuser${seq++}`), 404);
    expect(user).toContain("<title>Not found · Gitflare</title>");
    expect(user).toContain('<h1>404</h1><p class="muted">No such user.</p>');
    const ref = await htmlPage(await get(`/${OWNER}/pub/tree/main`), 404);
    expect(ref).toContain('<h1>404</h1><p class="muted">No such ref or directory.</p>');
    const compare = await htmlPage(await get(`/${OWNER}/pub/compare/main`), 404);
    expect(compare).toContain("Compare two refs as /compare/base...head.");
  });

  it("hides a private repository: 404 with a sign-in link for anonymous visitors, a plain 404 for others", async () => {
    const anon = await htmlPage(await get(`/${OWNER}/priv`), 404);
    expect(anon).toContain(`If it is private, <a href="/login?next=%2F${OWNER}%2Fpriv">sign in</a>`);
    const other = await htmlPage(await strangerSession.get(`/${OWNER}/priv`), 404);
    expect(other).toContain('<h1>404</h1><p class="muted">Repository not found.</p>');
    const missing = await htmlPage(await strangerSession.get(`/${OWNER}/nothing${seq++}/branches`), 404);
    expect(missing).toContain("Repository not found.");
  });

  it("sends an anonymous visitor to sign in for a page that needs more, and says 403 to a signed-in one", async () => {
    await expectRedirect(await get(`/${OWNER}/pub/settings?x=1`), 302, `/login?next=${encodeURIComponent(`/${OWNER}/pub/settings?x=1`)}`);
    // Not for a post, which cannot be replayed after signing in.
    const post = await SELF.fetch(`${BASE}/${OWNER}/pub/settings`, { method: "POST", redirect: "manual" });
    expect(await htmlPage(post, 404)).toContain("If it is private");
    const forbidden = await htmlPage(await strangerSession.get(`/${OWNER}/pub/settings`), 403);
    expect(forbidden).toContain("<title>Forbidden · Gitflare</title>");
    expect(forbidden).toContain(`You need admin access to ${OWNER}/pub for this.`);
  });

  it("sends an anonymous visitor of an account page to sign in, with the path to come back to", async () => {
    await expectRedirect(await get("/new?x=1"), 302, "/login?next=%2Fnew");
    await expectRedirect(await get("/settings/tokens"), 302, "/login?next=%2Fsettings%2Ftokens");
    const post = await SELF.fetch(`${BASE}/settings/tokens`, { method: "POST", redirect: "manual" });
    await expectRedirect(post, 302, "/login?next=%2Fsettings%2Ftokens");
  });

  it("refuses a form that fails the CSRF check with a 403 page", async () => {
    const b = await signedIn("errform");
    const res = await b.post("/new", { name: "forged", visibility: "public" }, { csrf: "forged" });
    const body = await htmlPage(res, 403);
    expect(body).toContain("<title>Forbidden · Gitflare</title>");
    expect(body).toContain('<h1>403</h1><p class="muted">This form expired or did not come from this site.');
  });

  it("shows a settings change's own error on the settings page", async () => {
    const b = browser();
    const login = await b.post("/login", { login: OWNER, password: "password-123" }, { from: "/login" });
    expect(login.status).toBe(303);
    await login.text();
    const res = await b.post(
      `/${OWNER}/pub/settings/collaborators`,
      { username: "ghost-user", role: "write" },
      { from: `/${OWNER}/pub/settings` },
    );
    const body = await htmlPage(res, 404);
    expect(body).toContain(`<div class="error" role="alert">No user named &#39;ghost-user&#39;.</div>`);
    expect(body).toContain("<h2>Collaborators</h2>");
  });

  it("answers raw files and archives that do not exist in plain text", async () => {
    for (const path of [`/${OWNER}/pub/raw/main/nothing.txt`, `/${OWNER}/pub/archive/main.rar`]) {
      const res = await get(path);
      expect(res.status).toBe(404);
      expect(res.headers.get("Content-Type")).toMatch(/^text\/plain/);
      expect(await res.text()).toBe("Not found\n");
    }
  });
});

describe("JSON API", () => {
  it("answers a repository the caller may not see with 404 JSON", async () => {
    const notFound = { error: "repository not found" };
    await expectJson(await get(`/api/repos/${OWNER}/priv`), 404, notFound);
    await expectJson(await get(`/api/repos/${OWNER}/nothing${seq++}`), 404, notFound);
    await expectJson(await get(`/api/repos/${OWNER}/priv`, { Authorization: stranger }), 404, notFound);
  });

  it("answers 401 JSON when credentials could help and 403 JSON when they would not", async () => {
    await expectJson(await get(`/api/repos/${OWNER}/pub/collaborators`), 401, { error: "authentication required" });
    await expectJson(await get("/api/user"), 401, { error: "authentication required" });
    await expectJson(await get(`/api/repos/${OWNER}/pub/collaborators`, { Authorization: stranger }), 403, {
      error: "admin access is required",
    });
    await expectJson(await SELF.fetch(`${BASE}/api/repos/${OWNER}/new${seq++}`, { method: "POST" }), 401, {
      error: "authentication with a token is required",
    });
    await expectJson(await json("POST", `/api/repos/${OWNER}/new${seq++}`, "{}", await accountAuth(OWNER, "read")), 403, {
      error: "write scope is required",
    });
    await expectJson(await json("POST", `/api/repos/${OWNER}/new${seq++}`, "{}", stranger), 403, {
      error: "you can only create repositories under your own name",
    });
  });

  it("answers bad requests and conflicts with their status and message", async () => {
    await expectJson(await json("POST", `/api/repos/${OWNER}/bad.git`, "{}", owner), 400, {
      error: "Repository names may contain letters, digits, '.', '-' and '_' (at most 100), and cannot end in .git.",
    });
    const notJson = await SELF.fetch(`${BASE}/api/repos/${OWNER}/new${seq++}`, {
      method: "POST",
      headers: { Authorization: owner },
      body: "x",
    });
    await expectJson(notJson, 415, { error: "send a JSON object with Content-Type: application/json (it may be {})" });
    await expectJson(await json("POST", `/api/repos/${OWNER}/pub`, "{}", owner), 409, { error: "repository already exists" });
    await expectJson(await json("PATCH", `/api/repos/${OWNER}/pub`, "[1]", owner), 415, {
      error: "send a JSON object with Content-Type: application/json",
    });
    await expectJson(await json("PATCH", `/api/repos/${OWNER}/pub`, '{"default_branch":"nope"}', owner), 400, {
      error: "There is no branch 'nope'.",
    });
    await expectJson(await json("PUT", `/api/repos/${OWNER}/pub/collaborators/ghost-user`, '{"role":"owner"}', owner), 400, {
      error: "role must be read, write or admin",
    });
    await expectJson(await json("PUT", `/api/repos/${OWNER}/pub/collaborators/ghost-user`, '{"role":"read"}', owner), 404, {
      error: "No user named 'ghost-user'.",
    });
    await expectJson(await json("DELETE", `/api/repos/${OWNER}/pub/collaborators/ghost-user`, "", owner), 404, {
      error: "'ghost-user' is not a collaborator.",
    });
  });

  it("redirects a renamed repository: 301 for GET, 307 otherwise, as pages do with 301", async () => {
    const name = `moving${seq++}`;
    await createRepo(name, false);
    const patch = await json("PATCH", `/api/repos/${OWNER}/${name}`, JSON.stringify({ name: `${name}-moved` }), owner);
    await expectJson(patch, 200, { owner: OWNER, name: `${name}-moved` });
    await expectRedirect(
      await get(`/api/repos/${OWNER}/${name}`, { Authorization: owner }),
      301,
      `${BASE}/api/repos/${OWNER}/${name}-moved`,
    );
    await expectRedirect(await json("DELETE", `/api/repos/${OWNER}/${name}`, "", owner), 307, `${BASE}/api/repos/${OWNER}/${name}-moved`);
    await expectRedirect(await get(`/${OWNER}/${name}/branches`), 301, `${BASE}/${OWNER}/${name}-moved/branches`);
  });
});

describe("credentials", () => {
  it("answers bad credentials in JSON on the API, in plain text elsewhere, with WWW-Authenticate for git", async () => {
    const headers = { Authorization: "Bearer gfp_bogus", "CF-Connecting-IP": `192.0.2.${seq++}` };
    const bad = { error: "Invalid username or token." };
    await expectJson(await get("/api/user", headers), 401, bad);
    await expectJson(await get(`/api/repos/${OWNER}/pub`, headers), 401, bad);
    // An /api/ path that only a page route matches still answers in JSON.
    await expectJson(await get("/api/nothing", headers), 401, bad);
    const pageRes = await get(`/${OWNER}/pub`, headers);
    expect(pageRes.status).toBe(401);
    expect(pageRes.headers.get("Content-Type")).toMatch(/^text\/plain/);
    expect(pageRes.headers.get("WWW-Authenticate")).toBeNull();
    expect(await pageRes.text()).toBe("Invalid username or token.\n");
    const gitRes = await get(`/${OWNER}/pub.git/info/refs?service=git-upload-pack`, headers);
    expect(gitRes.status).toBe(401);
    expect(gitRes.headers.get("WWW-Authenticate")).toMatch(/^Basic realm="Gitflare"/);
    expect(await gitRes.text()).toBe("Invalid username or token.\n");
  });

  it("answers too many bad credentials with 429 and Retry-After, in JSON on the API and plain text elsewhere", async () => {
    const headers = { Authorization: "Bearer gfp_bogus", "CF-Connecting-IP": `192.0.2.${100 + seq++}` };
    for (let i = 0; i < 30; i++) await (await get("/api/user", headers)).text();
    const api = await get("/api/user", headers);
    expect(api.headers.get("Retry-After")).toMatch(/^\d+$/);
    const body = (await api.clone().json()) as { error: string };
    expect(body.error).toMatch(/^Too many failed attempts; try again in \d+ minute\(s\)\.$/);
    await expectJson(api, 429, body);
    const pageRes = await get(`/${OWNER}/pub`, headers);
    expect(pageRes.status).toBe(429);
    expect(pageRes.headers.get("Retry-After")).toMatch(/^\d+$/);
    expect(pageRes.headers.get("Content-Type")).toMatch(/^text\/plain/);
    expect(await pageRes.text()).toBe(body.error + "\n");
  });
});
