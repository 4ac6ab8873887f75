// Issues inside workerd: the collaboration store in the repository's Durable Object
// (numbering, filters, events, rollback of refused changes, deletion with the
// repository), who may do what through the API and the pages, the creation rate limit,
// and that a private repository's issues are invisible to strangers and anonymous callers.
import { SELF, env } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import app from "../src/worker";
import { renderMarkdown } from "../src/web/markdown";
import type { IssueQuery } from "../src/repo/collab";
import { Browserless } from "../e2e/accounts";
import { writeIdxV2 } from "../src/git/pack/idx";
import { accountAuth, freshRepo, fromBase64, inRepo } from "./helpers";

const BASE = "http://gitflare.test";
const fixtures = inject("fixtures");
const SECRET = "the launch codes are 0000";
let seq = 0;

const me = (id: number, login: string) => ({ id, login });
const ALL: IssueQuery = { state: "all", labels: [], text: [], sort: "created", direction: "desc", offset: 0, limit: 100 };

type Json = Record<string, unknown> & { number: number; state: string; labels: { name: string }[] };

/** A JSON API request as `user` (an admin-scoped token unless `scope` says otherwise), or anonymous for null. */
async function api(user: string | null, method: string, path: string, body?: unknown, scope: "read" | "write" | "admin" = "admin") {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (user) headers.Authorization = await accountAuth(user, scope);
  return SELF.fetch(`${BASE}/api/v3${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: "manual",
  });
}

async function makeRepo(owner: string, isPrivate: boolean, collaborators: Record<string, string> = {}): Promise<string> {
  const name = `issues${seq++}`;
  const auth = await accountAuth(owner);
  const res = await SELF.fetch(`${BASE}/api/repos/${owner}/${name}`, {
    method: "POST",
    headers: { Authorization: auth, "Content-Type": "application/json" },
    body: JSON.stringify({ private: isPrivate }),
  });
  expect(res.status).toBe(201);
  await res.text();
  for (const [user, role] of Object.entries(collaborators)) {
    await accountAuth(user);
    const put = await SELF.fetch(`${BASE}/api/repos/${owner}/${name}/collaborators/${user}`, {
      method: "PUT",
      headers: { Authorization: auth, "Content-Type": "application/json" },
      body: JSON.stringify({ role }),
    });
    expect(put.status).toBe(200);
    await put.text();
  }
  return `${owner}/${name}`;
}

async function signedIn(username: string): Promise<Browserless> {
  const b = new Browserless(BASE, (url, init) => SELF.fetch(url, init));
  const res = await b.post("/signup", { username, email: `${username}@example.com`, password: "correct horse" }, { from: "/signup" });
  expect(res.status).toBe(303);
  return b;
}

beforeAll(async () => {
  // The first account on a site is its admin, who may administer everything: make it
  // first, so that the callers below have only the roles the tests give them.
  await accountAuth("site-admin");
});

describe("the collaboration store", () => {
  it("numbers issues from one sequence and lists them newest first with GitHub's filters", () =>
    inRepo(freshRepo("collab"), async (repo) => {
      repo.init();
      const ann = me(1, "ann");
      const bob = me(2, "bob");
      const a = repo.createIssue(ann, { title: "Crash on start", body: "It crashes.\n- [ ] find it", labels: ["bug"] });
      const b = repo.createIssue(bob, { title: "Add dark mode", body: "Please", labels: ["enhancement"], assignees: [ann] });
      const c = repo.createIssue(ann, { title: "Docs typo", body: "In the README the crash section", labels: ["bug", "docs"] });
      expect([a, b, c].map((r) => r!.ok && r!.value.number)).toEqual([1, 2, 3]);
      expect(repo.updateIssue(1, bob, { state: "closed", stateReason: "not_planned" })?.ok).toBe(true);

      const list = (q: Partial<IssueQuery>) => repo.listIssues({ ...ALL, ...q })!.items.map((i) => i.number);
      expect(list({})).toEqual([3, 2, 1]);
      expect(list({ state: "open" })).toEqual([3, 2]);
      expect(list({ state: "closed" })).toEqual([1]);
      expect(list({ labels: ["BUG"] })).toEqual([3, 1]);
      expect(list({ labels: ["bug", "docs"] })).toEqual([3]);
      expect(list({ author: "Ann" })).toEqual([3, 1]);
      expect(list({ assignee: "ann" })).toEqual([2]);
      expect(list({ assignee: "none" })).toEqual([3, 1]);
      expect(list({ text: ["crash"] })).toEqual([3, 1]);
      expect(list({ text: ["crash", "typo"] })).toEqual([3]);
      expect(list({ text: ["100%"] })).toEqual([]);
      expect(list({ direction: "asc" })).toEqual([1, 2, 3]);
      expect(list({ offset: 1, limit: 1 })).toEqual([2]);
      const page = repo.listIssues({ ...ALL, state: "open", labels: ["bug"] })!;
      expect({ total: page.total, open: page.open, closed: page.closed }).toEqual({ total: 1, open: 1, closed: 1 });
      expect(repo.issueCounts()).toEqual({ open: 2, openPulls: 0, last: 3 });
      expect(repo.labels()!.map((l) => [l.name, l.color])).toEqual([
        ["bug", "ededed"],
        ["docs", "ededed"],
        ["enhancement", "ededed"],
      ]);
    }));

  it("finds the full commit ids written in an issue that name commits here", () =>
    inRepo(freshRepo("collab"), async (repo) => {
      repo.init();
      repo.fs.writeFile("/objects/pack/fixture.pack", fromBase64(fixtures.ofsPack.pack));
      const r = await repo.store.index("/objects/pack/fixture.pack");
      repo.fs.transaction(() => repo.store.commitPack("/objects/pack/fixture.pack", r, writeIdxV2(r.objects, r.packChecksum)));
      const missing = "1".repeat(40);
      repo.createIssue(me(1, "ann"), { title: `Broken since ${fixtures.head}`, body: `Not ${missing}` });
      repo.addIssueComment(1, me(1, "ann"), `Or ${fixtures.base}?`);
      expect(repo.issueThread(1, 0, 100)!.commits.sort()).toEqual([fixtures.head, fixtures.base].sort());
    }));

  it("records events, keeps comment counts, and orders the conversation", () =>
    inRepo(freshRepo("collab"), async (repo) => {
      repo.init();
      const ann = me(1, "ann");
      repo.createIssue(ann, { title: "First", body: "" });
      const comment = repo.addIssueComment(1, ann, "a comment");
      expect(comment?.ok).toBe(true);
      repo.updateIssue(1, ann, { title: "Renamed", state: "closed", labels: ["x"], assignees: [ann] });
      repo.updateIssue(1, ann, { state: "open", labels: [] });
      const issue = repo.issue(1)!;
      expect(issue.comments).toBe(1);
      expect(issue.stateReason).toBe("reopened");
      const thread = repo.issueThread(1, 0, 100)!;
      expect(thread.timeline.map((t) => (t.type === "comment" ? "comment" : t.kind))).toEqual([
        "comment",
        "renamed",
        "closed",
        "labeled",
        "assigned",
        "reopened",
        "unlabeled",
      ]);
      expect(thread.total).toBe(7);
      expect(repo.deleteIssueComment(comment!.ok ? comment!.value.id : 0)?.ok).toBe(true);
      expect(repo.issue(1)!.comments).toBe(0);
    }));

  it("changes nothing when a change is refused, and erases everything with the repository", () =>
    inRepo(freshRepo("collab"), async (repo, state) => {
      repo.init();
      const ann = me(1, "ann");
      const bad = repo.createIssue(ann, { title: "Labels", body: "", labels: ["fine", "bad,name"] });
      expect(bad).toMatchObject({ ok: false, code: "invalid", field: "labels" });
      expect(repo.labels()).toEqual([]);
      expect(repo.createIssue(ann, { title: "   ", body: "" })).toMatchObject({ ok: false, field: "title" });
      expect(repo.createIssue(ann, { title: "Now", body: "" })).toMatchObject({ ok: true, value: { number: 1 } });
      expect(repo.createLabel({ name: "Bug", color: "#D73A4A" })).toMatchObject({ ok: true, value: { color: "d73a4a" } });
      expect(repo.createLabel({ name: "bug" })).toMatchObject({ ok: false, code: "exists" });
      expect(repo.createLabel({ name: "x", color: "red" })).toMatchObject({ ok: false, field: "color" });

      await repo.destroy();
      expect(repo.issue(1)).toBeNull();
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE 'collab_%'").one().n).toBe(0);
      repo.init();
      expect(repo.createIssue(ann, { title: "Again", body: "" })).toMatchObject({ ok: true, value: { number: 1 } });
    }));
});

describe("the issues API", () => {
  it("creates, reads, comments, labels, filters and closes, in GitHub's shapes", async () => {
    const path = await makeRepo("ownerA", false, { writerA: "write" });
    const created = await api("strangerA", "POST", `/repos/${path}/issues`, { title: "Broken", body: "See #1", labels: ["ignored"] });
    expect(created.status).toBe(201);
    const issue = (await created.json()) as Json;
    expect(issue).toMatchObject({
      number: 1,
      state: "open",
      state_reason: null,
      labels: [],
      comments: 0,
      user: { login: "strangerA", type: "User" },
    });
    expect(issue.html_url).toBe(`${BASE}/${path}/issues/1`);
    expect(issue.url).toBe(`${BASE}/api/v3/repos/${path}/issues/1`);
    expect(created.headers.get("Location")).toBe(issue.url);
    expect(issue).not.toHaveProperty("pull_request");

    const comment = await api("strangerA", "POST", `/repos/${path}/issues/1/comments`, { body: "more detail" });
    expect(comment.status).toBe(201);
    const cm = (await comment.json()) as { id: number; body: string };
    expect(cm.body).toBe("more detail");
    expect((await api("writerA", "POST", `/repos/${path}/issues/1/labels`, { labels: ["bug", "p1"] })).status).toBe(200);
    const stranger = await api("strangerA", "POST", `/repos/${path}/issues/1/labels`, ["nope"]);
    expect(stranger.status).toBe(403);
    expect(await stranger.json()).toMatchObject({
      message: expect.any(String),
      documentation_url: expect.stringContaining("docs.github.com"),
    });

    await api("ownerA", "POST", `/repos/${path}/issues`, { title: "Second", assignees: ["writerA"], labels: ["p1"] });
    const filtered = await api(null, "GET", `/repos/${path}/issues?labels=bug,p1&state=all`);
    expect(((await filtered.json()) as Json[]).map((i) => i.number)).toEqual([1]);
    const byAssignee = await api(null, "GET", `/repos/${path}/issues?assignee=writerA`);
    expect(((await byAssignee.json()) as Json[]).map((i) => i.number)).toEqual([2]);
    const byCreator = await api(null, "GET", `/repos/${path}/issues?creator=strangerA`);
    expect(((await byCreator.json()) as Json[]).map((i) => i.number)).toEqual([1]);

    // The author may close their own issue; a stranger may not close someone else's.
    expect((await api("strangerA", "PATCH", `/repos/${path}/issues/2`, { state: "closed" })).status).toBe(403);
    const closed = await api("strangerA", "PATCH", `/repos/${path}/issues/1`, { state: "closed", state_reason: "not_planned" });
    expect(await closed.json()).toMatchObject({ state: "closed", state_reason: "not_planned", closed_by: { login: "strangerA" } });
    expect(((await (await api(null, "GET", `/repos/${path}/issues`)).json()) as Json[]).map((i) => i.number)).toEqual([2]);
    const events = (await (await api(null, "GET", `/repos/${path}/issues/1/events`)).json()) as { event: string }[];
    expect(events.map((e) => e.event)).toEqual(["labeled", "labeled", "closed"]);

    // Comments: the author edits; others cannot; a writer may delete.
    expect((await api("ownerA", "GET", `/repos/${path}/issues/comments/${cm.id}`)).status).toBe(200);
    expect((await api("strangerB", "PATCH", `/repos/${path}/issues/comments/${cm.id}`, { body: "hijack" })).status).toBe(403);
    expect(await (await api("strangerA", "PATCH", `/repos/${path}/issues/comments/${cm.id}`, { body: "edited" })).json()).toMatchObject({
      body: "edited",
    });
    expect((await api("writerA", "DELETE", `/repos/${path}/issues/comments/${cm.id}`)).status).toBe(204);
    expect((await api(null, "GET", `/repos/${path}/issues/comments/${cm.id}`)).status).toBe(404);
  });

  it("answers errors as GitHub does, and paginates with a Link header", async () => {
    const path = await makeRepo("ownerB", false);
    const missing = await api("ownerB", "POST", `/repos/${path}/issues`, { body: "no title" });
    expect(missing.status).toBe(422);
    expect(await missing.json()).toMatchObject({
      message: "Validation Failed",
      errors: [{ resource: "Issue", field: "title", code: "missing_field" }],
    });
    expect((await api(null, "POST", `/repos/${path}/issues`, { title: "anon" })).status).toBe(401);
    expect((await api("ownerB", "POST", `/repos/${path}/issues`, { title: "read token" }, "read")).status).toBe(403);
    expect((await api(null, "GET", `/repos/${path}/issues/99`)).status).toBe(404);
    expect((await api(null, "GET", `/repos/${path}/issues/abc`)).status).toBe(404);
    const badJson = await SELF.fetch(`${BASE}/api/v3/repos/${path}/issues`, {
      method: "POST",
      headers: { Authorization: await accountAuth("ownerB"), "Content-Type": "application/json" },
      body: "{nope",
    });
    expect(badJson.status).toBe(400);
    await badJson.text();

    for (let i = 1; i <= 5; i++) expect((await api("ownerB", "POST", `/repos/${path}/issues`, { title: `issue ${i}` })).status).toBe(201);
    const first = await api(null, "GET", `/repos/${path}/issues?per_page=2`);
    expect(((await first.json()) as Json[]).map((i) => i.number)).toEqual([5, 4]);
    const link = first.headers.get("Link")!;
    expect(link).toContain(`page=2>; rel="next"`);
    expect(link).toContain(`page=3>; rel="last"`);
    const last = await api(null, "GET", `/repos/${path}/issues?per_page=2&page=3`);
    expect(((await last.json()) as Json[]).map((i) => i.number)).toEqual([1]);
    expect(last.headers.get("Link")).toMatch(/rel="prev".*rel="first"/);
    const capped = await api(null, "GET", `/repos/${path}/issues?per_page=1000`);
    expect(((await capped.json()) as Json[]).length).toBe(5);
    expect(capped.headers.get("Link")).toBeNull();

    // Labels: writers manage them; names are unique regardless of case.
    const made = await api("ownerB", "POST", `/repos/${path}/labels`, { name: "needs triage", color: "fbca04", description: "New" });
    expect(made.status).toBe(201);
    expect(await made.json()).toMatchObject({ name: "needs triage", color: "fbca04", description: "New", default: false });
    expect(await (await api("ownerB", "POST", `/repos/${path}/labels`, { name: "Needs Triage" })).json()).toMatchObject({
      errors: [{ code: "already_exists" }],
    });
    expect((await api("strangerC", "POST", `/repos/${path}/labels`, { name: "mine" })).status).toBe(403);
    const renamed = await api("ownerB", "PATCH", `/repos/${path}/labels/needs%20triage`, { new_name: "triage", color: "000000" });
    expect(await renamed.json()).toMatchObject({ name: "triage", color: "000000" });
    expect((await api(null, "GET", `/repos/${path}/labels/triage`)).status).toBe(200);
    expect((await api("ownerB", "DELETE", `/repos/${path}/labels/triage`)).status).toBe(204);
    // Names with a slash or spaces are one path segment, escaped.
    expect((await api("ownerB", "POST", `/repos/${path}/labels`, { name: "area/web ui" })).status).toBe(201);
    expect(await (await api(null, "GET", `/repos/${path}/labels/${encodeURIComponent("area/web ui")}`)).json()).toMatchObject({
      name: "area/web ui",
      url: `${BASE}/api/v3/repos/${path}/labels/area%2Fweb%20ui`,
    });
    expect((await api("ownerB", "DELETE", `/repos/${path}/labels/${encodeURIComponent("area/web ui")}`)).status).toBe(204);
    expect(await (await api(null, "GET", `/repos/${path}/labels`)).json()).toEqual([]);
  });

  it("limits how fast one account creates issues and comments", async () => {
    const path = await makeRepo("ownerD", false);
    const auth = await accountAuth("flooder");
    const ctx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
    const limited = { ...env, GITFLARE_CREATE_LIMIT: "3/600" };
    const post = (what: string, body: unknown) =>
      app.fetch(
        new Request(`${BASE}/api/v3/repos/${path}/${what}`, {
          method: "POST",
          headers: { Authorization: auth, "Content-Type": "application/json" },
          body: JSON.stringify(body),
        }),
        limited,
        ctx,
      );
    expect((await post("issues", { title: "one" })).status).toBe(201);
    expect((await post("issues/1/comments", { body: "two" })).status).toBe(201);
    expect((await post("issues", { title: "three" })).status).toBe(201);
    const refused = await post("issues", { title: "four" });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("Retry-After")).toMatch(/^\d+$/);
    expect(((await refused.json()) as { message: string }).message).toContain("too quickly");
    expect((await post("issues/1/comments", { body: "five" })).status).toBe(429);
    // Nothing was created by the refused requests; another account is not limited.
    expect(((await (await api(null, "GET", `/repos/${path}/issues?state=all`)).json()) as Json[]).length).toBe(2);
    expect((await api("ownerD", "POST", `/repos/${path}/issues`, { title: "owner" })).status).toBe(201);
  });

  it("keeps a private repository's issues invisible, and follows a rename", async () => {
    const path = await makeRepo("ownerE", true, { readerE: "read" });
    const made = await api("ownerE", "POST", `/repos/${path}/issues`, { title: SECRET, body: SECRET, labels: ["secret-label"] });
    expect(made.status).toBe(201);
    // A reader may open issues and comment on a private repository.
    expect((await api("readerE", "POST", `/repos/${path}/issues/1/comments`, { body: "seen" })).status).toBe(201);
    for (const user of [null, "strangerE"]) {
      for (const p of ["/issues", "/issues/1", "/issues/1/comments", "/labels", "/labels/secret-label", "/issues/1/events"]) {
        const res = await api(user, "GET", `/repos/${path}${p}`);
        expect(res.status, `${user} ${p}`).toBe(404);
        expect(await res.text()).not.toContain("launch");
      }
      const post = await api(user, "POST", `/repos/${path}/issues/1/comments`, { body: "hi" });
      expect(post.status).toBe(404);
      await post.text();
      const page = await SELF.fetch(`${BASE}/${path}/issues/1`, {
        headers: user ? { Authorization: await accountAuth(user) } : {},
        redirect: "manual",
      });
      expect(page.status).toBe(404);
      expect(await page.text()).not.toContain("launch");
    }
    const [owner, name] = path.split("/");
    const rename = await SELF.fetch(`${BASE}/api/repos/${path}`, {
      method: "PATCH",
      headers: { Authorization: await accountAuth(owner), "Content-Type": "application/json" },
      body: JSON.stringify({ name: `${name}-moved` }),
    });
    expect(rename.status).toBe(200);
    await rename.text();
    const web = await SELF.fetch(`${BASE}/${path}/issues/1?x=1`, {
      headers: { Authorization: await accountAuth(owner) },
      redirect: "manual",
    });
    expect(web.status).toBe(301);
    expect(web.headers.get("Location")).toBe(`${BASE}/${path}-moved/issues/1?x=1`);
    await web.text();
    const moved = await api(owner, "GET", `/repos/${path}/issues/1`);
    expect(moved.status).toBe(301);
    expect(moved.headers.get("Location")).toBe(`${BASE}/api/v3/repos/${path}-moved/issues/1`);
    await moved.text();
    expect(await (await api(owner, "GET", `/repos/${path}-moved/issues/1`)).json()).toMatchObject({ title: SECRET, comments: 1 });
  });

  it("deletes a repository's issues with it", async () => {
    const path = await makeRepo("ownerF", false);
    expect((await api("ownerF", "POST", `/repos/${path}/issues`, { title: "doomed" })).status).toBe(201);
    const del = await SELF.fetch(`${BASE}/api/repos/${path}`, {
      method: "DELETE",
      headers: { Authorization: await accountAuth("ownerF") },
    });
    expect(del.status).toBe(204);
    expect((await api("ownerF", "GET", `/repos/${path}/issues/1`)).status).toBe(404);
    const again = await SELF.fetch(`${BASE}/api/repos/${path}`, {
      method: "POST",
      headers: { Authorization: await accountAuth("ownerF"), "Content-Type": "application/json" },
      body: '{"private":false}',
    });
    expect(again.status).toBe(201);
    expect(await (await api(null, "GET", `/repos/${path}/issues?state=all`)).json()).toEqual([]);
    expect(await (await api("ownerF", "POST", `/repos/${path}/issues`, { title: "fresh" })).json()).toMatchObject({ number: 1 });
  });
});

describe("the issue pages", () => {
  it("open, comment, close and label issues through forms, with references linked", async () => {
    const owner = `pageowner${seq++}`;
    const ownerWeb = await signedIn(owner);
    const visitor = `visitor${seq++}`;
    const visitorWeb = await signedIn(visitor);
    expect((await ownerWeb.post("/new", { name: "site", visibility: "public" }, { from: "/new" })).status).toBe(303);
    const base = `/${owner}/site`;

    const made = await visitorWeb.post(
      `${base}/issues`,
      { title: "Page issue", body: "- [x] done\n- [ ] todo\n\nSee #1 and #99, @" + owner + " and @nobody-here." },
      { from: `${base}/issues/new` },
    );
    expect(made.status).toBe(303);
    expect(made.headers.get("Location")).toBe(`${base}/issues/1`);
    const view = await (await visitorWeb.get(`${base}/issues/1`)).text();
    expect(view).toContain(`<a href="${base}/issues/1">#1</a>`);
    expect(view).not.toContain(`href="${base}/issues/99"`);
    expect(view).toContain(`<a href="/${owner}">@${owner}</a>`);
    expect(view).not.toContain(`href="/nobody-here"`);
    expect(view).toMatch(/<input[^>]*checked[^>]*type="checkbox"|<input[^>]*type="checkbox"[^>]*checked/);
    // A visitor sees no label controls, and may not label.
    expect(view).not.toContain("Set labels");
    const refused = await visitorWeb.post(`${base}/issues/1/labels`, { label_1: "bug" }, { from: `${base}/issues/1` });
    expect(refused.status).toBe(403);
    await refused.text();

    const blank = await visitorWeb.post(`${base}/issues/1/comments`, { body: "  ", action: "comment" }, { from: `${base}/issues/1` });
    expect(blank.status).toBe(422);
    expect(await blank.text()).toContain("Comment can&#39;t be blank");
    const closed = await visitorWeb.post(`${base}/issues/1/comments`, { body: "Fixed it", action: "close" }, { from: `${base}/issues/1` });
    expect(closed.status).toBe(303);
    const after = await (await ownerWeb.get(`${base}/issues/1`)).text();
    expect(after).toContain("Fixed it");
    expect(after).toContain("closed this as completed");
    expect(after).toContain("Set labels");

    // The owner makes a label on the labels page and puts it on the issue.
    expect(
      (await ownerWeb.post(`${base}/labels`, { name: "bug", color: "#d73a4a", description: "Broken" }, { from: `${base}/labels` })).status,
    ).toBe(303);
    const labelsPage = await (await ownerWeb.get(`${base}/labels`)).text();
    expect(labelsPage).toContain("background:#d73a4a");
    const id = /name="label_(\d+)" value="bug"/.exec(await (await ownerWeb.get(`${base}/issues/1`)).text())![1];
    expect((await ownerWeb.post(`${base}/issues/1/labels`, { [`label_${id}`]: "bug" }, { from: `${base}/issues/1` })).status).toBe(303);

    // The owner renames the issue and assigns themself; the visitor edits, then deletes, their comment.
    expect(
      (await ownerWeb.post(`${base}/issues/1/edit`, { title: "Page issue", body: "- [x] done\n- [ ] todo" }, { from: `${base}/issues/1` }))
        .status,
    ).toBe(303);
    const ownerId = /name="assignee_(\d+)" value="[^"]+"/.exec(await (await ownerWeb.get(`${base}/issues/1`)).text())![1];
    expect(
      (await ownerWeb.post(`${base}/issues/1/assignees`, { [`assignee_${ownerId}`]: owner }, { from: `${base}/issues/1` })).status,
    ).toBe(303);
    const commentId = /issuecomment-(\d+)/.exec(await (await visitorWeb.get(`${base}/issues/1`)).text())![1];
    const editForm = await (await visitorWeb.get(`${base}/issues/1?edit=${commentId}`)).text();
    expect(editForm).toContain(`action="${base}/issues/comments/${commentId}/edit"`);
    const asWriter = await ownerWeb.get(`${base}/issues/1?edit=${commentId}`);
    expect(await asWriter.text()).toContain(`action="${base}/issues/comments/${commentId}/edit"`);
    expect(
      (await visitorWeb.post(`${base}/issues/comments/${commentId}/edit`, { body: "Fixed it, really" }, { from: `${base}/issues/1` }))
        .status,
    ).toBe(303);
    const conversation = await (await visitorWeb.get(`${base}/issues/1`)).text();
    expect(conversation).toContain("Fixed it, really");
    expect(conversation).toContain("self-assigned this");
    expect(conversation).not.toContain("See #1");
    expect((await visitorWeb.post(`${base}/issues/comments/${commentId}/delete`, {}, { from: `${base}/issues/1` })).status).toBe(303);
    expect(await (await visitorWeb.get(`${base}/issues/1`)).text()).not.toContain("Fixed it, really");

    const list = await (await SELF.fetch(`${BASE}${base}/issues?q=${encodeURIComponent('is:closed label:"bug"')}`)).text();
    expect(list).toContain("Page issue");
    expect(list).toContain("1 of 2 tasks");
    expect(list).toContain(`<a href="/${owner}">${owner}</a>`);
    expect(list).toContain("0 Open");
    expect(list).toContain("1 Closed");
    expect(await (await SELF.fetch(`${BASE}${base}/issues`)).text()).toContain("No issues match");
    expect(await (await SELF.fetch(`${BASE}${base}`)).text()).toContain("Issues (0)");

    // One account's creations are limited on the pages too: the form comes back with the draft.
    const ctx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
    const limited = new Browserless(BASE, async (url, init) =>
      app.fetch(new Request(url, init), { ...env, GITFLARE_CREATE_LIMIT: "1/600" }, ctx),
    );
    expect(
      (
        await limited.post(
          "/signup",
          { username: `hasty${seq++}`, email: `hasty${seq}@example.com`, password: "correct horse" },
          { from: "/signup" },
        )
      ).status,
    ).toBe(303);
    expect((await limited.post(`${base}/issues`, { title: "first" }, { from: `${base}/issues/new` })).status).toBe(303);
    const tooMany = await limited.post(`${base}/issues`, { title: "second", body: "my draft" }, { from: `${base}/issues/new` });
    expect(tooMany.status).toBe(429);
    const again = await tooMany.text();
    expect(again).toContain("too quickly");
    expect(again).toContain("my draft");

    // Anonymous visitors are sent to sign in before opening an issue.
    const anon = await SELF.fetch(`${BASE}${base}/issues/new`, { redirect: "manual" });
    expect(anon.status).toBe(302);
    expect(anon.headers.get("Location")).toContain("/login?next=");
  });
});

describe("Markdown in issues", () => {
  it("links references outside code and links, highlights code, and stays sanitized", () => {
    const sha = "0123456789abcdef0123456789abcdef01234567";
    const refs = { base: "/o/r", last: 5, users: new Set(["ann"]), commits: new Set([sha]) };
    const out = renderMarkdown(
      [
        `Fixes #2, not #6; thanks @ann (not @ghost, not me@ann.example); in ${sha} and ${"f".repeat(40)}.`,
        "",
        "`#3 in code` and [a link to #4](https://example.com/#4) and https://example.com/x#5",
        "",
        "```ts",
        "const x: number = 1;",
        "```",
        "",
        "- [x] done",
        "- [ ] open",
        "",
        '<script>alert("#1")</script><img src="javascript:alert(1)" onerror="alert(1)">',
      ].join("\n"),
      undefined,
      refs,
    );
    expect(out).toContain('<a href="/o/r/issues/2">#2</a>');
    expect(out).not.toContain("/o/r/issues/6");
    expect(out).toContain('<a href="/ann">@ann</a>');
    expect(out).not.toContain('href="/ghost"');
    expect(out).toContain("me@ann.example");
    expect(out).not.toContain('href="/ann.example"');
    expect(out).toContain(`<a href="/o/r/commit/${sha}"><code>0123456</code></a>`);
    expect(out).not.toContain(`/commit/${"f".repeat(40)}`);
    expect(out).toContain("<code>#3 in code</code>");
    expect(out).not.toContain("/o/r/issues/3");
    expect(out).not.toContain("/o/r/issues/4");
    expect(out).not.toContain("/o/r/issues/5");
    expect(out).toContain('<span class="hljs-keyword">const</span>');
    expect(out).toMatch(/<input[^>]*type="checkbox"/);
    expect(out).not.toContain("<script");
    expect(out).not.toContain("javascript:");
    expect(out).not.toContain("onerror");
    // READMEs are rendered as before: no reference is linked without `refs`.
    expect(renderMarkdown("#2 @ann")).toBe("<p>#2 @ann</p>\n");
  });
});
