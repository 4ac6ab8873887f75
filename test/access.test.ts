// Access control inside workerd: every repository route refuses callers who may not
// see a private repository, CSRF, rate limits, token expiry and revocation, renames.
import { concatBytes } from "../src/util/bytes";
import { SELF, env } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import app from "../src/worker";
import { pktLine } from "../src/git/protocol/pkt-line";
import { createUser, findUserByName } from "../src/auth/accounts";
import { createToken } from "../src/auth/tokens";
import { accountAuth, fromBase64, ownerFetch } from "./helpers";
import { Browserless, setCookies } from "../e2e/accounts";

const fixtures = inject("fixtures");
const ZERO = "0".repeat(40);
const SECRET = "edited in commit";
const BASE = "http://gitflare.test";
let seq = 0;

async function pushFixture(owner: string, name: string): Promise<void> {
  const body = concatBytes([
    pktLine(`${ZERO} ${fixtures.head} refs/heads/main\0report-status\n`),
    new TextEncoder().encode("0000"),
    fromBase64(fixtures.ofsPack.pack),
  ]);
  const res = await ownerFetch(`${BASE}/${owner}/${name}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body,
  });
  expect(new TextDecoder().decode(await res.arrayBuffer())).toContain("ok refs/heads/main");
}

/** A browser against the Worker in this isolate. */
const browser = () => new Browserless(BASE, (url, init) => SELF.fetch(url, init));

async function signedIn(username: string): Promise<Browserless> {
  const b = browser();
  const res = await b.post("/signup", { username, email: `${username}@example.com`, password: "correct horse" }, { from: "/signup" });
  expect(res.status).toBe(303);
  return b;
}

function concrete(path: string, owner: string, name: string): string {
  return path
    .replace(":owner", owner)
    .replace(":repo", name)
    .replace(":sha", fixtures.head)
    .replace(":user", "someone")
    .replace(":number", path.includes("/pulls/") || path.includes("/pull/") ? "2" : "1")
    .replace(":id", "1")
    .replace(":name", "secret-label")
    .replace(/\/(contents|git\/ref|git\/refs|git\/matching-refs|git\/trees|commits)\/\*$/, (_, kind: string) =>
      kind === "contents" ? "/contents/a.txt" : kind.startsWith("git/") && kind !== "git/trees" ? `/${kind}/heads/main` : `/${kind}/main`,
    )
    .replace(/\/\*$/, path.includes("compare") ? "/main...main" : path.includes("archive") ? "/main.tar.gz" : "/main/a.txt");
}

describe("the access check", () => {
  // Every route, as several callers: a few hundred requests, many of which render pages of the
  // repository; on a shared 2-core runner that took over a minute.
  it("covers every repository route: a private repository is invisible to strangers and anonymous callers", async () => {
    const owner = "vault";
    const name = `secret${seq++}`;
    await pushFixture(owner, name);
    // Visible to its owner: the check is not refusing everything.
    const own = await ownerFetch(`${BASE}/${owner}/${name}/blob/main/a.txt`);
    expect(own.status).toBe(200);
    expect(await own.text()).toContain(SECRET);
    // An issue, a comment and a label that say the secret too, for the issue routes.
    const v3 = (path: string, body: unknown) =>
      accountAuth(owner).then((auth) =>
        SELF.fetch(`${BASE}/api/v3/repos/${owner}/${name}${path}`, {
          method: "POST",
          headers: { Authorization: auth, "Content-Type": "application/json" },
          body: JSON.stringify(body),
        }),
      );
    expect((await v3("/issues", { title: SECRET, body: SECRET, labels: ["secret-label"] })).status).toBe(201);
    expect((await v3("/issues/1/comments", { body: SECRET })).status).toBe(201);
    const issuePage = await ownerFetch(`${BASE}/${owner}/${name}/issues/1`);
    expect(await issuePage.text()).toContain(SECRET);
    // And a pull request (#2) from main into a branch one commit behind, for the pull routes.
    const behind = await ownerFetch(`${BASE}/${owner}/${name}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request" },
      body: concatBytes([pktLine(`${ZERO} ${fixtures.base} refs/heads/old\0report-status\n`), new TextEncoder().encode("0000")]),
    });
    expect(new TextDecoder().decode(await behind.arrayBuffer())).toContain("ok refs/heads/old");
    expect((await v3("/pulls", { title: SECRET, body: SECRET, head: "main", base: "old" })).status).toBe(201);
    const pull = await SELF.fetch(`${BASE}/api/v3/repos/${owner}/${name}/pulls/2`, {
      headers: { Authorization: await accountAuth(owner) },
    });
    expect(await pull.text()).toContain(SECRET);

    const stranger = await accountAuth("stranger1");
    const session = await signedIn(`peeker${seq++}`);
    const routes = app.routes.filter((r) => r.path.includes(":owner/:repo") && r.method !== "ALL");
    expect(routes.length).toBeGreaterThan(25);
    const paths = routes.map((r) => r.path);
    for (const p of [
      "/:owner/:repo/issues/:number",
      "/:owner/:repo/labels",
      "/api/v3/repos/:owner/:repo/issues/comments/:id",
      "/api/v3/repos/:owner/:repo/pulls/:number",
      "/api/v3/repos/:owner/:repo/pulls/:number/merge",
      "/api/v3/repos/:owner/:repo/pulls/:number/files",
      "/:owner/:repo/pulls",
      "/:owner/:repo/pull/:number",
      "/:owner/:repo/pull/:number/commits",
      "/:owner/:repo/pull/:number/files",
      "/:owner/:repo/pull/:number/merge",
      "/:owner/:repo/pull/new/*",
      // The rest of GitHub's REST subset: repositories, collaborators, contents, commits, git data.
      "/api/v3/repos/:owner/:repo",
      "/api/v3/repos/:owner/:repo/collaborators",
      "/api/v3/repos/:owner/:repo/collaborators/:user",
      "/api/v3/repos/:owner/:repo/collaborators/:user/permission",
      "/api/v3/repos/:owner/:repo/contents",
      "/api/v3/repos/:owner/:repo/contents/*",
      "/api/v3/repos/:owner/:repo/readme",
      "/api/v3/repos/:owner/:repo/commits",
      "/api/v3/repos/:owner/:repo/commits/*",
      "/api/v3/repos/:owner/:repo/compare/*",
      "/api/v3/repos/:owner/:repo/tags",
      "/api/v3/repos/:owner/:repo/git/ref/*",
      "/api/v3/repos/:owner/:repo/git/refs",
      "/api/v3/repos/:owner/:repo/git/refs/*",
      "/api/v3/repos/:owner/:repo/git/matching-refs/*",
      "/api/v3/repos/:owner/:repo/git/commits",
      "/api/v3/repos/:owner/:repo/git/commits/:sha",
      "/api/v3/repos/:owner/:repo/git/trees",
      "/api/v3/repos/:owner/:repo/git/trees/*",
      "/api/v3/repos/:owner/:repo/git/blobs",
      "/api/v3/repos/:owner/:repo/git/blobs/:sha",
      "/api/v3/repos/:owner/:repo/git/tags/:sha",
      "/api/v3/repos/:owner/:repo/pulls/:number/reviews",
      "/api/v3/repos/:owner/:repo/pulls/:number/reviews/:id/dismissals",
      "/api/v3/repos/:owner/:repo/pulls/comments/:id",
      "/api/v3/repos/:owner/:repo/pulls/:number/requested_reviewers",
      "/:owner/:repo/pull/:number/review-comments",
      "/:owner/:repo/pull/:number/reviews",
      // Forks: the form, the network, and their API.
      "/:owner/:repo/fork",
      "/:owner/:repo/forks",
      "/:owner/:repo/forks/compare",
      "/api/v3/repos/:owner/:repo/forks",
    ])
      expect(paths).toContain(p);
    // The browser editor's pages and forms are among them.
    for (const kind of ["edit", "new", "delete"]) {
      for (const method of ["GET", "POST"])
        expect(routes.some((r) => r.method === method && r.path === `/:owner/:repo/${kind}/*`)).toBe(true);
    }
    for (const r of routes) {
      const path = concrete(r.path, owner, name);
      const init = (headers: Record<string, string>): RequestInit => ({
        method: r.method,
        headers: {
          ...headers,
          "Content-Type": r.path.includes("git-")
            ? `application/x-${r.path.slice(r.path.lastIndexOf("/") + 1)}-request`
            : "application/json",
        },
        body: r.method === "GET" || r.method === "HEAD" ? undefined : "{}",
        redirect: "manual",
      });
      for (const [who, res] of [
        ["anonymous", await SELF.fetch(BASE + path, init({}))],
        ["stranger token", await SELF.fetch(BASE + path, init({ Authorization: stranger }))],
        ["stranger session", await session.get(path, init({}))],
      ] as const) {
        const body = await res.text();
        const allowed = r.path === "/api/repos/:owner/:repo" && r.method === "POST" ? [401, 403] : [401, 403, 404];
        expect(allowed, `${who} ${r.method} ${path} → ${res.status}`).toContain(res.status);
        expect(body, `${who} ${r.method} ${path}`).not.toContain(SECRET);
        if (res.status === 403) expect(body).not.toContain(name);
      }
    }
    // Nothing changed: the branch and the repository are still there.
    const after = await ownerFetch(`${BASE}/api/repos/${owner}/${name}`);
    expect(after.status).toBe(200);
    expect(((await after.json()) as { default_branch: string }).default_branch).toBe("main");
  }, 240_000);

  it("asks for write on every editor route: on a public repository anonymous callers sign in, others are refused", async () => {
    const owner = "vault";
    const name = `open${seq++}`;
    await pushFixture(owner, name);
    const publish = await ownerFetch(`${BASE}/api/repos/${owner}/${name}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: '{"private":false}',
    });
    expect(publish.status).toBe(200);
    await publish.text();
    const session = await signedIn(`visitor${seq++}`);
    const token = await accountAuth("stranger1");
    const routes = app.routes.filter((r) => /^\/:owner\/:repo\/(edit|new|delete)(\/|$)/.test(r.path));
    expect(routes.length).toBeGreaterThanOrEqual(7);
    for (const r of routes) {
      const path = concrete(r.path, owner, name);
      const post = r.method === "POST";
      const init = (headers: Record<string, string>): RequestInit => ({
        method: r.method,
        headers: { ...headers, ...(post ? { "Content-Type": "application/x-www-form-urlencoded", Origin: BASE } : {}) },
        body: post
          ? new URLSearchParams({ parent: fixtures.head, branch: "main", from: "a.txt", filename: "a.txt", content: "x" })
          : undefined,
        redirect: "manual",
      });
      const anon = await SELF.fetch(BASE + path, init({}));
      if (post) expect(anon.status, `anonymous ${r.method} ${path}`).toBe(404);
      else {
        expect(anon.status, `anonymous ${r.method} ${path}`).toBe(302);
        expect(anon.headers.get("Location")).toMatch(/^\/login\?next=/);
      }
      await anon.text();
      for (const [who, res] of [
        ["stranger token", await SELF.fetch(BASE + path, init({ Authorization: token }))],
        ["stranger session", await session.get(path, init({}))],
      ] as const) {
        expect(res.status, `${who} ${r.method} ${path}`).toBe(403);
        expect(await res.text()).not.toContain("<textarea");
      }
    }
    const refs = await ownerFetch(`${BASE}/${owner}/${name}/info/refs?service=git-upload-pack`);
    expect(new TextDecoder().decode(await refs.arrayBuffer())).toContain(`${fixtures.head} refs/heads/main`);
  });

  it("answers git with 401 and WWW-Authenticate when credentials could help, 404 when they could not", async () => {
    const name = `hidden${seq++}`;
    await pushFixture("vault", name);
    const anon = await SELF.fetch(`${BASE}/vault/${name}.git/info/refs?service=git-upload-pack`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get("WWW-Authenticate")).toMatch(/^Basic realm=/);
    // Same answer for a repository that does not exist: no existence leak.
    const missing = await SELF.fetch(`${BASE}/vault/nope${seq++}.git/info/refs?service=git-upload-pack`);
    expect(missing.status).toBe(401);
    const stranger = await SELF.fetch(`${BASE}/vault/${name}.git/info/refs?service=git-upload-pack`, {
      headers: { Authorization: await accountAuth("stranger1") },
    });
    expect(stranger.status).toBe(404);
    await Promise.all([anon.text(), missing.text(), stranger.text()]);
  });
});

describe("tokens", () => {
  async function tokenFor(username: string, expiresAt: number | null) {
    const user =
      (await findUserByName(env.DB, username)) ?? (await createUser(env.DB, username, `${username}@example.com`, "password-123"));
    return { user, ...(await createToken(env.DB, user.id, "t", "write", expiresAt)) };
  }
  const infoRefs = (owner: string, name: string, auth: string) =>
    SELF.fetch(`${BASE}/${owner}/${name}/info/refs?service=git-upload-pack`, { headers: { Authorization: auth } });

  it("refuses an expired token with 401", async () => {
    const name = `tok${seq++}`;
    await pushFixture("keyholder", name);
    const { token } = await tokenFor("keyholder", Date.now() - 1000);
    const res = await infoRefs("keyholder", name, "Basic " + btoa(`keyholder:${token}`));
    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toMatch(/Basic/);
    await res.text();
  });

  it("refuses a revoked token, and a token sent with someone else's username", async () => {
    const name = `tok${seq++}`;
    await pushFixture("keyholder", name);
    const b = await signedIn(`revoker${seq++}`);
    const made = await b.post("/settings/tokens", { name: "laptop", scope: "read", expires: "7" }, { from: "/settings/tokens" });
    expect(made.status).toBe(201);
    const page = await made.text();
    const token = /id="new-token" value="([^"]+)"/.exec(page)![1];
    const username = /revoker\d+/.exec(page)![0];
    // Stored only as a hash.
    const stored = await env.DB.prepare("SELECT token_hash FROM tokens WHERE token_hash = ? OR token_hash LIKE ?")
      .bind(token, `%${token.slice(4, 20)}%`)
      .all();
    expect(stored.results).toHaveLength(0);
    const ok = await SELF.fetch(`${BASE}/api/user`, { headers: { Authorization: "Basic " + btoa(`${username}:${token}`) } });
    expect(ok.status).toBe(200);
    await ok.text();
    const wrongUser = await SELF.fetch(`${BASE}/api/user`, { headers: { Authorization: "Basic " + btoa(`keyholder:${token}`) } });
    expect(wrongUser.status).toBe(401);
    await wrongUser.text();
    const id = /action="\/settings\/tokens\/(\d+)\/revoke"/.exec(await (await b.get("/settings/tokens")).text())![1];
    expect((await b.post(`/settings/tokens/${id}/revoke`, {}, { from: "/settings/tokens" })).status).toBe(303);
    const after = await SELF.fetch(`${BASE}/api/user`, { headers: { Authorization: "Basic " + btoa(`${username}:${token}`) } });
    expect(after.status).toBe(401);
    await after.text();
    expect(await (await b.get("/settings/tokens")).text()).toContain("revoked");
  });

  it("caps a token by its scope: read cannot push", async () => {
    const name = `scoped${seq++}`;
    await pushFixture("keyholder", name);
    const read = await accountAuth("keyholder", "read");
    const adv = await SELF.fetch(`${BASE}/keyholder/${name}/info/refs?service=git-receive-pack`, { headers: { Authorization: read } });
    expect(adv.status).toBe(403);
    await adv.text();
    const clone = await SELF.fetch(`${BASE}/keyholder/${name}/info/refs?service=git-upload-pack`, { headers: { Authorization: read } });
    expect(clone.status).toBe(200);
    await clone.arrayBuffer();
  });
});

describe("sessions and CSRF", () => {
  it("stores passwords as PBKDF2 hashes and sets an HttpOnly, SameSite session cookie", async () => {
    const b = browser();
    const res = await b.post(
      "/signup",
      { username: "hashme", email: "hashme@example.com", password: "correct horse" },
      { from: "/signup" },
    );
    expect(res.status).toBe(303);
    const cookie = setCookies(res).find((c) => c.startsWith("gf_session="))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    const row = await env.DB.prepare("SELECT password_hash FROM users WHERE username = 'hashme'").first<{ password_hash: string }>();
    expect(row!.password_hash).toMatch(/^pbkdf2-sha256\$100000\$/);
    expect(row!.password_hash).not.toContain("correct horse");
    const sessions = await env.DB.prepare("SELECT id_hash FROM sessions").all<{ id_hash: string }>();
    expect(sessions.results.map((s) => s.id_hash)).not.toContain(cookie.split(";")[0].split("=")[1]);
  });

  it("rejects a form without the CSRF token, with a wrong one, or from another origin, and changes nothing", async () => {
    const b = await signedIn(`csrf${seq++}`);
    const tries = [
      await b.post("/new", { name: "nocsrf", visibility: "public" }, { csrf: "" }),
      await b.post("/new", { name: "badcsrf", visibility: "public" }, { csrf: "forged" }),
      await b.post("/new", { name: "evilorigin", visibility: "public" }, { from: "/new", origin: "https://evil.example" }),
    ];
    for (const r of tries) {
      expect(r.status).toBe(403);
      await r.text();
    }
    const count = await env.DB.prepare("SELECT count(*) AS n FROM repos WHERE name IN ('nocsrf', 'badcsrf', 'evilorigin')").first<{
      n: number;
    }>();
    expect(count!.n).toBe(0);
    const good = await b.post("/new", { name: "withcsrf", visibility: "public" }, { from: "/new" });
    expect(good.status).toBe(303);
    // Sign-in forms are protected before there is a session, too.
    const anon = browser();
    const login = await anon.post("/login", { login: "hashme", password: "correct horse" }, { csrf: "forged" });
    expect(login.status).toBe(403);
    await login.text();
  });

  it("rate-limits failed sign-ins: after ten failures even the right password waits", async () => {
    const username = `limited${seq++}`;
    await signedIn(username);
    const ip = { "CF-Connecting-IP": `203.0.113.${seq++}` };
    const b = browser();
    for (let i = 0; i < 10; i++) {
      const csrf = await b.csrf("/login");
      const r = await b.get("/login", {
        method: "POST",
        headers: { ...ip, Origin: BASE, "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ _csrf: csrf, login: username, password: `wrong${i}` }),
      });
      expect(r.status).toBe(401);
      await r.text();
    }
    const csrf = await b.csrf("/login");
    const r = await b.get("/login", {
      method: "POST",
      headers: { ...ip, Origin: BASE, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: csrf, login: username, password: "correct horse" }),
    });
    expect(r.status).toBe(429);
    expect(r.headers.get("Retry-After")).toMatch(/^\d+$/);
    expect(setCookies(r).some((c) => c.startsWith("gf_session="))).toBe(false);
    await r.text();
  });

  it("rate-limits failed token attempts from one address", async () => {
    const ip = `198.51.100.${seq++}`;
    for (let i = 0; i < 30; i++) {
      const r = await SELF.fetch(`${BASE}/api/user`, { headers: { Authorization: `Bearer gfp_wrong${i}`, "CF-Connecting-IP": ip } });
      expect(r.status).toBe(401);
      await r.text();
    }
    const r = await SELF.fetch(`${BASE}/api/user`, { headers: { Authorization: "Bearer gfp_wrong-again", "CF-Connecting-IP": ip } });
    expect(r.status).toBe(429);
    expect(r.headers.get("Retry-After")).toMatch(/^\d+$/);
    await r.text();
    // A live token is still served: the limit is on failures.
    const good = await SELF.fetch(`${BASE}/api/user`, {
      headers: { Authorization: await accountAuth("keyholder"), "CF-Connecting-IP": ip },
    });
    expect(good.status).toBe(200);
    await good.text();
  });
});

describe("repository settings", () => {
  it("renames with redirects for web, API and git URLs", async () => {
    const name = `old${seq++}`;
    await pushFixture("mover", name);
    const patch = await ownerFetch(`${BASE}/api/repos/mover/${name}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: `${name}-new`, private: false }),
    });
    expect(patch.status).toBe(200);
    await patch.text();
    const web = await SELF.fetch(`${BASE}/mover/${name}/blob/main/a.txt?plain=1`, { redirect: "manual" });
    expect(web.status).toBe(301);
    expect(web.headers.get("Location")).toBe(`${BASE}/mover/${name}-new/blob/main/a.txt?plain=1`);
    const git = await SELF.fetch(`${BASE}/mover/${name}.git/info/refs?service=git-upload-pack`, { redirect: "manual" });
    expect(git.status).toBe(301);
    expect(git.headers.get("Location")).toBe(`${BASE}/mover/${name}-new.git/info/refs?service=git-upload-pack`);
    const post = await SELF.fetch(`${BASE}/mover/${name}/git-upload-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-upload-pack-request" },
      body: "0000",
      redirect: "manual",
    });
    expect(post.status).toBe(307);
    await Promise.all([web.text(), git.text(), post.text()]);
    // A new repository may take the old name back; the redirect then ends.
    const created = await ownerFetch(`${BASE}/api/repos/mover/${name}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: '{"private":false}',
    });
    expect(created.status).toBe(201);
    await created.text();
    const now = await SELF.fetch(`${BASE}/mover/${name}`, { redirect: "manual" });
    expect(now.status).toBe(200);
    expect(await now.text()).toContain("This repository is empty");
    const moved = await SELF.fetch(`${BASE}/mover/${name}-new/blob/main/a.txt`);
    expect(await moved.text()).toContain(SECRET);
  });

  it("delete erases the Durable Object's storage and R2 objects", async () => {
    const name = `doomed${seq++}`;
    await pushFixture("wrecker", name);
    const stub = env.REPO.getByName(`wrecker/${name}`);
    await stub.maintenanceSlice({ tierMinBytes: 1, tierAgeMs: 0 });
    const tiered = (await stub.packs()).filter((p) => p.tier === "r2");
    expect(tiered.length).toBeGreaterThan(0);
    expect((await env.PACKS!.list()).objects.length).toBeGreaterThan(0);
    const before = (await env.PACKS!.list()).objects.length;
    const del = await ownerFetch(`${BASE}/api/repos/wrecker/${name}`, { method: "DELETE" });
    expect(del.status).toBe(204);
    expect(await stub.exists()).toBe(false);
    expect(await stub.packs()).toEqual([]);
    expect((await env.PACKS!.list()).objects.length).toBe(before - tiered.length);
    const gone = await ownerFetch(`${BASE}/wrecker/${name}/info/refs?service=git-upload-pack`);
    expect(gone.status).toBe(404);
    await gone.text();
  });
});

describe("accounts and repositories", () => {
  it("makes the first account the site admin and no later one", async () => {
    const first = await env.DB.prepare("SELECT is_admin FROM users ORDER BY id LIMIT 1").first<{ is_admin: number }>();
    expect(first!.is_admin).toBe(1);
    const later = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE is_admin = 1").first<{ n: number }>();
    expect(later!.n).toBe(1);
  });

  it("refuses sign-ups when they are closed, once an account exists", async () => {
    const closed = { ...env, GITFLARE_SIGNUPS: "closed" };
    const ctx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
    const page = await app.fetch(new Request(`${BASE}/signup`), closed, ctx);
    expect(page.status).toBe(403);
    expect(await page.text()).toContain("Sign-ups are closed");
    const before = await env.DB.prepare("SELECT count(*) AS n FROM users").first<{ n: number }>();
    const post = await app.fetch(
      new Request(`${BASE}/signup`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: BASE, Cookie: "gf_csrf=x" },
        body: new URLSearchParams({ _csrf: "x", username: "latecomer", email: "late@example.com", password: "correct horse" }),
      }),
      closed,
      ctx,
    );
    expect(post.status).toBe(403);
    await post.text();
    expect((await env.DB.prepare("SELECT count(*) AS n FROM users").first<{ n: number }>())!.n).toBe(before!.n);
  });

  it("creates a private repository on a push under your own name, and nothing for a refused push", async () => {
    const name = `pushed${seq++}`;
    await pushFixture("creator", name);
    const anon = await SELF.fetch(`${BASE}/creator/${name}`);
    expect(anon.status).toBe(404);
    await anon.text();
    // A push whose only command is refused creates nothing.
    const bad = `nothing${seq++}`;
    const body = concatBytes([pktLine(`${ZERO} ${"1".repeat(40)} refs/heads/main\0report-status\n`), new TextEncoder().encode("0000")]);
    const res = await ownerFetch(`${BASE}/creator/${bad}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request" },
      body,
    });
    expect(new TextDecoder().decode(await res.arrayBuffer())).toContain("ng refs/heads/main");
    const meta = await ownerFetch(`${BASE}/api/repos/creator/${bad}`);
    expect(meta.status).toBe(404);
    await meta.text();
    // Nobody creates repositories under someone else's name.
    const other = await SELF.fetch(`${BASE}/creator/${name}-x/info/refs?service=git-receive-pack`, {
      headers: { Authorization: await accountAuth("stranger1") },
    });
    expect(other.status).toBe(404);
    await other.text();
  });

  it("changes the default branch, and refuses a branch that does not exist", async () => {
    const name = `branches${seq++}`;
    await pushFixture("brancher", name);
    const body = concatBytes([pktLine(`${ZERO} ${fixtures.head} refs/heads/develop\0report-status\n`), new TextEncoder().encode("0000")]);
    const res = await ownerFetch(`${BASE}/brancher/${name}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request" },
      body,
    });
    await res.arrayBuffer();
    const patch = (b: unknown) =>
      ownerFetch(`${BASE}/api/repos/brancher/${name}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(b),
      });
    const missing = await patch({ default_branch: "nope" });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: string }).error).toContain("nope");
    expect((await patch({ default_branch: "develop" })).status).toBe(200);
    const info = (await (await ownerFetch(`${BASE}/api/repos/brancher/${name}`)).json()) as { default_branch: string };
    expect(info.default_branch).toBe("develop");
    const adv = await ownerFetch(`${BASE}/brancher/${name}/info/refs?service=git-upload-pack`);
    expect(new TextDecoder().decode(await adv.arrayBuffer())).toContain("symref=HEAD:refs/heads/develop");
  });

  it("deletes from the settings page only with the typed confirmation", async () => {
    const username = `deleter${seq++}`;
    const b = await signedIn(username);
    expect((await b.post("/new", { name: "keepme", visibility: "private" }, { from: "/new" })).status).toBe(303);
    const wrong = await b.post(`/${username}/keepme/settings/delete`, { confirm: "keepme" }, { from: `/${username}/keepme/settings` });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain(`Type ${username}/keepme to confirm`);
    expect((await b.get(`/${username}/keepme`)).status).toBe(200);
    const right = await b.post(
      `/${username}/keepme/settings/delete`,
      { confirm: `${username}/keepme` },
      { from: `/${username}/keepme/settings` },
    );
    expect(right.status).toBe(303);
    expect((await b.get(`/${username}/keepme`)).status).toBe(404);
  });

  it("records when a token was last used", async () => {
    const user =
      (await findUserByName(env.DB, "keyholder")) ?? (await createUser(env.DB, "keyholder", "keyholder@example.com", "password-123"));
    const { token, id } = await createToken(env.DB, user.id, "usage", "read", null);
    const before = await env.DB.prepare("SELECT last_used_at FROM tokens WHERE id = ?").bind(id).first<{ last_used_at: number | null }>();
    expect(before!.last_used_at).toBeNull();
    const res = await SELF.fetch(`${BASE}/api/user`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    await res.text();
    const after = await env.DB.prepare("SELECT last_used_at FROM tokens WHERE id = ?").bind(id).first<{ last_used_at: number | null }>();
    expect(after!.last_used_at).toBeGreaterThan(0);
  });
});
