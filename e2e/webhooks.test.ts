// Webhooks against the real server: receivers on 127.0.0.1 (allowed by
// GITFLARE_HOOKS_ALLOW_LOOPBACK, which only this local configuration sets) get push,
// create, pull_request, pull_request_review, issues and issue_comment deliveries signed with the hook's
// secret; a receiver that fails or hangs is retried (GITFLARE_HOOK_RETRY_MS shortens the
// schedule) while pushes succeed; a private repository's payloads reach only its hooks.
import { createHmac } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, gitAuthEnv, signUp } from "./accounts";
import { commitFile, git, gitRun, makeRepo } from "./git";
import { LocalServer } from "./server";

// biome-ignore lint/suspicious/noExplicitAny: payloads are read field by field, as a receiver would
type Payload = Record<string, any>;

interface Received {
  headers: IncomingMessage["headers"];
  body: string;
  json: Payload;
}

/** A webhook receiver on 127.0.0.1: answers 200, 500, or never (until stopped). */
class Receiver {
  readonly got: Received[] = [];
  private server!: Server;
  private held: ServerResponse[] = [];
  url = "";

  constructor(private readonly mode: "ok" | "fail" | "hang") {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        this.got.push({ headers: req.headers, body, json: JSON.parse(body) });
        if (this.mode === "hang") return void this.held.push(res);
        res.writeHead(this.mode === "ok" ? 200 : 500, { "Content-Type": "text/plain" });
        res.end(this.mode === "ok" ? "thanks" : "receiver broke");
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}/hook`;
  }

  async stop(): Promise<void> {
    for (const r of this.held) r.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** Waits until a delivery matches, and answers it. */
  async waitFor(what: string, match: (r: Received) => boolean, count = 1): Promise<Received[]> {
    for (let i = 0; i < 600; i++) {
      const found = this.got.filter(match);
      if (found.length >= count) return found;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no ${what} delivery; got ${this.got.map((g) => g.headers["x-github-event"]).join(", ")}`);
  }
}

const server = new LocalServer();
let owner: Account;
const receivers = {
  ok: new Receiver("ok"),
  fail: new Receiver("fail"),
  hang: new Receiver("hang"),
  other: new Receiver("ok"),
  page: new Receiver("ok"),
};
const SECRET = "It's a Secret to Everybody";

const api = (path: string, init: { method?: string; body?: unknown } = {}) =>
  fetch(`${server.url}/api/v3${path}`, {
    method: init.method ?? "GET",
    headers: { Authorization: owner.auth, "Content-Type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });

async function makeRepository(name: string, isPrivate: boolean): Promise<string> {
  const res = await fetch(`${server.url}/api/repos/${owner.username}/${name}`, {
    method: "POST",
    headers: { Authorization: owner.auth, "Content-Type": "application/json" },
    body: JSON.stringify({ private: isPrivate }),
  });
  expect(res.status).toBe(201);
  return `${owner.username}/${name}`;
}

async function addHook(repo: string, url: string, events: string[], secret = SECRET): Promise<number> {
  const res = await api(`/repos/${repo}/hooks`, {
    method: "POST",
    body: { name: "web", config: { url, content_type: "json", secret }, events },
  });
  const json = (await res.json()) as { id: number; config: { secret?: string } };
  expect(res.status, JSON.stringify(json)).toBe(201);
  expect(json.config.secret).toBe("********");
  return json.id;
}

const push = (dir: string, repo: string, ...refspecs: string[]) =>
  gitRun(dir, ["push", "-q", `${server.url}/${repo}.git`, ...refspecs], gitAuthEnv(owner.auth));

function signed(r: Received): boolean {
  const expected = `sha256=${createHmac("sha256", SECRET).update(r.body).digest("hex")}`;
  return r.headers["x-hub-signature-256"] === expected;
}

beforeAll(async () => {
  for (const r of Object.values(receivers)) await r.start();
  await server.start({
    vars: { GITFLARE_HOOKS_ALLOW_LOOPBACK: "1", GITFLARE_HOOK_RETRY_MS: "300,300,300,300,300", GITFLARE_HOOK_TIMEOUT_MS: "1500" },
  });
  owner = await server.signUpAndUse("hook-owner");
}, 120_000);

afterAll(async () => {
  await server.stop();
  for (const r of Object.values(receivers)) await r.stop();
});

describe("webhooks", () => {
  it("delivers ping, push, create, pull_request, issues and issue_comment, signed, in GitHub's shapes", async () => {
    const repo = await makeRepository("hooked", true);
    const id = await addHook(repo, receivers.ok.url, ["push", "create", "pull_request", "issues", "issue_comment"]);
    const [ping] = await receivers.ok.waitFor("ping", (r) => r.headers["x-github-event"] === "ping");
    expect(ping.json.hook_id).toBe(id);
    expect(signed(ping)).toBe(true);

    const src = await makeRepo(3);
    const pushed = await push(src, repo, "main");
    expect(pushed.code, pushed.stderr).toBe(0);
    const head = (await git(src, "rev-parse", "HEAD")).trim();
    const [main] = await receivers.ok.waitFor("push", (r) => r.headers["x-github-event"] === "push" && r.json.ref === "refs/heads/main");
    expect(signed(main)).toBe(true);
    expect(main.headers["user-agent"]).toBe("GitHub-Hookshot/gitflare");
    expect(main.headers["x-github-hook-id"]).toBe(String(id));
    expect(main.headers["x-github-delivery"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(main.headers["content-type"]).toBe("application/json");
    expect(main.json).toMatchObject({
      ref: "refs/heads/main",
      before: "0".repeat(40),
      after: head,
      created: true,
      deleted: false,
      forced: false,
      repository: { full_name: repo, private: true, clone_url: `${server.url}/${repo}.git`, default_branch: "main" },
      pusher: { name: owner.username },
      sender: { login: owner.username },
      head_commit: { id: head, message: "commit 2" },
    });
    expect(main.json.commits.map((c: { message: string }) => c.message)).toEqual(["commit 0", "commit 1", "commit 2"]);
    expect(main.json.commits[0].added).toEqual(["data.txt", "file0.txt"]);
    expect(main.json.commits[1]).toMatchObject({ added: ["file1.txt"], modified: ["data.txt"], removed: [] });

    await git(src, "checkout", "-q", "-b", "feature");
    const tip = await commitFile(src, "feature.txt", "new\n", "Add the feature");
    expect((await push(src, repo, "feature")).code).toBe(0);
    const [created] = await receivers.ok.waitFor("create", (r) => r.headers["x-github-event"] === "create" && r.json.ref === "feature");
    expect(created.json).toMatchObject({ ref_type: "branch", master_branch: "main" });
    const [feature] = await receivers.ok.waitFor(
      "push",
      (r) => r.headers["x-github-event"] === "push" && r.json.ref === "refs/heads/feature",
    );
    expect(feature.json.commits.map((c: { id: string }) => c.id)).toEqual([tip]);

    const pr = await api(`/repos/${repo}/pulls`, { method: "POST", body: { title: "Feature", head: "feature", base: "main" } });
    expect(pr.status).toBe(201);
    const [opened] = await receivers.ok.waitFor("pull_request", (r) => r.headers["x-github-event"] === "pull_request");
    expect(signed(opened)).toBe(true);
    expect(opened.json).toMatchObject({
      action: "opened",
      number: 1,
      pull_request: { number: 1, title: "Feature", state: "open", head: { ref: "feature", sha: tip }, base: { ref: "main" } },
      repository: { full_name: repo },
    });

    // A push to the head branch: `synchronize`, with the head before and after.
    const tip2 = await commitFile(src, "feature.txt", "newer\n", "Improve the feature");
    expect((await push(src, repo, "feature")).code).toBe(0);
    const [sync] = await receivers.ok.waitFor(
      "pull_request synchronize",
      (r) => r.headers["x-github-event"] === "pull_request" && r.json.action === "synchronize",
    );
    expect(sync.json).toMatchObject({
      number: 1,
      before: tip,
      after: tip2,
      pull_request: { head: { sha: tip2 } },
      sender: { login: owner.username },
    });
    expect(signed(sync)).toBe(true);

    // A commit to the head branch through the API moves the pull request too.
    const put = await api(`/repos/${repo}/contents/api.txt`, {
      method: "PUT",
      body: { message: "From the API", content: Buffer.from("api\n").toString("base64"), branch: "feature" },
    });
    expect(put.status).toBe(201);
    const tip3 = ((await put.json()) as { commit: { sha: string } }).commit.sha;
    const [sync2] = await receivers.ok.waitFor(
      "pull_request synchronize after an API commit",
      (r) => r.headers["x-github-event"] === "pull_request" && r.json.action === "synchronize" && r.json.after === tip3,
    );
    expect(sync2.json).toMatchObject({ number: 1, before: tip2, pull_request: { head: { sha: tip3 } } });
    // And is a push, as GitHub sends for commits made on the web or through the API.
    const [apiPush] = await receivers.ok.waitFor(
      "push of an API commit",
      (r) => r.headers["x-github-event"] === "push" && r.json.after === tip3,
    );
    expect(apiPush.json).toMatchObject({ ref: "refs/heads/feature", before: tip2, pusher: { name: owner.username } });
    expect(apiPush.json.commits.map((c: { message: string }) => c.message)).toEqual(["From the API"]);
    expect(signed(apiPush)).toBe(true);

    expect((await api(`/repos/${repo}/issues`, { method: "POST", body: { title: "Broken" } })).status).toBe(201);
    const [issue] = await receivers.ok.waitFor("issues", (r) => r.headers["x-github-event"] === "issues");
    expect(issue.json).toMatchObject({
      action: "opened",
      issue: { number: 2, title: "Broken", state: "open" },
      sender: { login: owner.username },
    });
    expect((await api(`/repos/${repo}/issues/2/comments`, { method: "POST", body: { body: "Seen it" } })).status).toBe(201);
    const [comment] = await receivers.ok.waitFor("issue_comment", (r) => r.headers["x-github-event"] === "issue_comment");
    expect(comment.json).toMatchObject({ action: "created", issue: { number: 2 }, comment: { body: "Seen it" } });
    expect((await api(`/repos/${repo}/issues/2`, { method: "PATCH", body: { state: "closed" } })).status).toBe(200);
    await receivers.ok.waitFor("issues closed", (r) => r.headers["x-github-event"] === "issues" && r.json.action === "closed");

    const merge = await api(`/repos/${repo}/pulls/1/merge`, { method: "PUT", body: { merge_method: "merge" } });
    expect(merge.status).toBe(200);
    const mergeSha = ((await merge.json()) as { sha: string }).sha;
    const [closed] = await receivers.ok.waitFor(
      "pull_request closed",
      (r) => r.headers["x-github-event"] === "pull_request" && r.json.action === "closed",
    );
    expect(closed.json.pull_request).toMatchObject({ merged: true, state: "closed" });
    // The merge moved main: a push, which is what CI systems deploy on.
    const [merged] = await receivers.ok.waitFor(
      "push of the merge",
      (r) => r.headers["x-github-event"] === "push" && r.json.after === mergeSha,
    );
    expect(merged.json).toMatchObject({ ref: "refs/heads/main", before: head, head_commit: { id: mergeSha } });

    // The delivery log, and a redelivery of the first push.
    const log = (await (await api(`/repos/${repo}/hooks/${id}/deliveries?per_page=100`)).json()) as {
      id: number;
      guid: string;
      event: string;
      status_code: number;
    }[];
    const first = log.find((d) => d.guid === main.headers["x-github-delivery"])!;
    expect(first).toMatchObject({ event: "push", status_code: 200 });
    const detail = (await (await api(`/repos/${repo}/hooks/${id}/deliveries/${first.id}`)).json()) as Payload;
    expect(detail.request.payload.after).toBe(head);
    expect(detail.response.payload).toBe("thanks");
    expect(detail.request.headers["X-Hub-Signature-256"]).toBe(main.headers["x-hub-signature-256"]);
    expect((await api(`/repos/${repo}/hooks/${id}/deliveries/${first.id}/attempts`, { method: "POST" })).status).toBe(202);
    const again = await receivers.ok.waitFor(
      "redelivery",
      (r) => r.headers["x-github-event"] === "push" && r.json.after === head && r.json.ref === "refs/heads/main",
      2,
    );
    expect(again[1].body).toBe(main.body);
    expect(again[1].headers["x-github-delivery"]).not.toBe(main.headers["x-github-delivery"]);
  });

  it("delivers status events when CI posts a commit status", async () => {
    const repo = await makeRepository("status-hooked", false);
    await addHook(repo, receivers.ok.url, ["status"]);
    const src = await makeRepo(2);
    expect((await push(src, repo, "main")).code).toBe(0);
    const head = (await git(src, "rev-parse", "HEAD")).trim();
    const res = await api(`/repos/${repo}/statuses/${head}`, {
      method: "POST",
      body: { state: "failure", context: "ci/test", description: "2 failed", target_url: "https://ci.example/1" },
    });
    expect(res.status).toBe(201);
    const [status] = await receivers.ok.waitFor(
      "status",
      (r) => r.headers["x-github-event"] === "status" && r.json.repository?.full_name === repo,
    );
    expect(signed(status)).toBe(true);
    expect(status.json).toMatchObject({
      sha: head,
      state: "failure",
      context: "ci/test",
      description: "2 failed",
      target_url: "https://ci.example/1",
      name: repo,
      commit: { sha: head },
      sender: { login: owner.username },
    });
    expect(status.json.action).toBeUndefined();
  });

  it("delivers pull_request_review events: submitted through the API and the page, and dismissed", async () => {
    const repo = await makeRepository("reviewed", true);
    const reviewer = await signUp(server.url, "hook-reviewer");
    const added = await api(`/repos/${repo}/collaborators/${reviewer.username}`, { method: "PUT", body: { permission: "push" } });
    expect(added.status).toBe(201);
    await addHook(repo, receivers.ok.url, ["pull_request_review", "pull_request_review_comment"]);
    const src = await makeRepo(1);
    expect((await push(src, repo, "main")).code).toBe(0);
    await git(src, "checkout", "-q", "-b", "topic");
    const tip = await commitFile(src, "topic.txt", "topic\n", "Add the topic");
    expect((await push(src, repo, "topic")).code).toBe(0);
    const pr = await api(`/repos/${repo}/pulls`, { method: "POST", body: { title: "Topic", head: "topic", base: "main" } });
    expect(pr.status).toBe(201);
    const number = ((await pr.json()) as { number: number }).number;

    const asReviewer = (path: string, method: string, body: unknown) =>
      fetch(`${server.url}/api/v3/repos/${repo}/pulls/${number}${path}`, {
        method,
        headers: { Authorization: reviewer.auth, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    const reviewEvents = (action: string, state: string) => (r: Received) =>
      r.headers["x-github-event"] === "pull_request_review" &&
      r.json.repository?.full_name === repo &&
      r.json.action === action &&
      r.json.review?.state === state;

    // Through the API, with a verdict: the REST answer says APPROVED, the webhook "approved", as GitHub's do.
    const approved = await asReviewer("/reviews", "POST", { event: "APPROVE", body: "Ship it" });
    const approval = (await approved.json()) as { id: number; state: string };
    expect(approval.state).toBe("APPROVED");
    const [submitted] = await receivers.ok.waitFor("pull_request_review submitted", reviewEvents("submitted", "approved"));
    expect(signed(submitted)).toBe(true);
    expect(Object.keys(submitted.json).sort()).toEqual(["action", "pull_request", "repository", "review", "sender"]);
    expect(submitted.json).toMatchObject({
      review: { id: approval.id, body: "Ship it", commit_id: tip, user: { login: reviewer.username } },
      pull_request: { number, state: "open", head: { ref: "topic", sha: tip } },
      repository: { full_name: repo, private: true },
      sender: { login: reviewer.username },
    });

    // A draft is no event; submitting it is.
    const draft = (await (await asReviewer("/reviews", "POST", { body: "Thinking" })).json()) as { id: number; state: string };
    expect(draft.state).toBe("PENDING");
    expect((await asReviewer(`/reviews/${draft.id}/events`, "POST", { event: "COMMENT", body: "Thought" })).status).toBe(200);
    const [commented] = await receivers.ok.waitFor("submitted draft", reviewEvents("submitted", "commented"));
    expect(commented.json.review).toMatchObject({ id: draft.id, body: "Thought" });

    // The page's "Review changes" form.
    const form = await reviewer.web.post(
      `/${repo}/pull/${number}/reviews`,
      { body: "One more thing", event: "REQUEST_CHANGES" },
      { from: `/${repo}/pull/${number}/files` },
    );
    expect(form.status).toBe(303);
    const [changes] = await receivers.ok.waitFor("review from the page", reviewEvents("submitted", "changes_requested"));
    expect(changes.json).toMatchObject({ review: { body: "One more thing" }, sender: { login: reviewer.username } });

    // The owner dismisses the approval.
    const dismissed = await api(`/repos/${repo}/pulls/${number}/reviews/${approval.id}/dismissals`, {
      method: "PUT",
      body: { message: "Out of date" },
    });
    expect(dismissed.status).toBe(200);
    const [gone] = await receivers.ok.waitFor("pull_request_review dismissed", reviewEvents("dismissed", "dismissed"));
    expect(signed(gone)).toBe(true);
    expect(gone.json).toMatchObject({ review: { id: approval.id }, pull_request: { number }, sender: { login: owner.username } });
    const all = receivers.ok.got.filter(
      (r) => r.headers["x-github-event"] === "pull_request_review" && r.json.repository?.full_name === repo,
    );
    expect(all.map((r) => `${r.json.action}:${r.json.review.state}`)).toEqual([
      "submitted:approved",
      "submitted:commented",
      "submitted:changes_requested",
      "dismissed:dismissed",
    ]);

    // A line comment on its own, and a reply to it: pull_request_review_comment, created.
    const line = await asReviewer("/comments", "POST", { commit_id: tip, path: "topic.txt", line: 1, side: "RIGHT", body: "Why?" });
    expect(line.status).toBe(201);
    const lineId = ((await line.json()) as { id: number }).id;
    const commentEvent = (body: string) => (r: Received) =>
      r.headers["x-github-event"] === "pull_request_review_comment" && r.json.comment?.body === body;
    const [comment] = await receivers.ok.waitFor("pull_request_review_comment", commentEvent("Why?"));
    expect(signed(comment)).toBe(true);
    expect(comment.json).toMatchObject({
      action: "created",
      comment: { id: lineId, path: "topic.txt", line: 1, side: "RIGHT", commit_id: tip, user: { login: reviewer.username } },
      pull_request: { number },
      sender: { login: reviewer.username },
    });
    const reply = await api(`/repos/${repo}/pulls/${number}/comments/${lineId}/replies`, { method: "POST", body: { body: "Because." } });
    expect(reply.status).toBe(201);
    const [answer] = await receivers.ok.waitFor("reply", commentEvent("Because."));
    expect(answer.json).toMatchObject({ action: "created", comment: { in_reply_to_id: lineId }, sender: { login: owner.username } });
  });

  it("retries a failing and a hanging receiver while pushes succeed", async () => {
    const repo = await makeRepository("flaky", false);
    const failing = await addHook(repo, receivers.fail.url, ["push"]);
    await addHook(repo, receivers.hang.url, ["push"]);
    const src = await makeRepo(2);
    const pushed = await push(src, repo, "main");
    expect(pushed.code, pushed.stderr).toBe(0);
    // And the next push goes through too, while the first deliveries are still being retried.
    await commitFile(src, "more.txt", "more\n");
    expect((await push(src, repo, "main")).code).toBe(0);
    const tries = await receivers.fail.waitFor(
      "retried push",
      (r) => r.headers["x-github-event"] === "push" && r.json.before === "0".repeat(40),
      3,
    );
    expect(new Set(tries.map((t) => t.headers["x-github-delivery"])).size).toBe(1);
    expect(tries.every(signed)).toBe(true);
    await receivers.hang.waitFor(
      "retried push to the hanging receiver",
      (r) => r.headers["x-github-event"] === "push" && r.json.before === "0".repeat(40),
      2,
    );
    const log = (await (await api(`/repos/${repo}/hooks/${failing}/deliveries`)).json()) as {
      event: string;
      status_code: number;
      attempts: number;
    }[];
    expect(log.some((d) => d.event === "push" && d.status_code === 500 && d.attempts >= 3)).toBe(true);
  });

  it("sends a private repository's payloads only to its own hooks", async () => {
    const secretRepo = await makeRepository("secret-plans", true);
    const openRepo = await makeRepository("open-plans", false);
    await addHook(openRepo, receivers.other.url, ["*"]);
    const before = receivers.ok.got.length;
    await addHook(secretRepo, receivers.ok.url, ["push"]);
    const src = await makeRepo(1);
    expect((await push(src, secretRepo, "main")).code).toBe(0);
    expect((await push(src, openRepo, "main")).code).toBe(0);
    await receivers.ok.waitFor("private push", (r) => r.headers["x-github-event"] === "push" && r.json.repository.full_name === secretRepo);
    await receivers.other.waitFor("public push", (r) => r.headers["x-github-event"] === "push" && r.json.repository.full_name === openRepo);
    expect(receivers.other.got.every((r) => r.json.repository.full_name === openRepo)).toBe(true);
    expect(receivers.ok.got.slice(before).every((r) => r.json.repository.full_name === secretRepo)).toBe(true);
  });

  it("manages hooks on the settings page: add, ping, recent deliveries, redeliver, edit, delete", async () => {
    const repo = await makeRepository("paged", false);
    const base = `/${repo}/settings/hooks`;
    const bad = await owner.web.post(base, { url: "http://192.168.0.9/x", event_push: "1", active: "1" }, { from: base });
    expect(bad.status).toBe(422);
    expect(await bad.text()).toContain("private");
    const made = await owner.web.post(base, { url: receivers.page.url, secret: SECRET, event_push: "1", active: "1" }, { from: base });
    expect(made.status).toBe(303);
    const hookPath = made.headers.get("Location")!.replace(server.url, "");
    const id = Number(hookPath.split("/").pop());
    const [ping] = await receivers.page.waitFor("ping", (r) => r.headers["x-github-event"] === "ping" && r.json.hook_id === id);
    expect(signed(ping)).toBe(true);
    // Once delivered, the page shows the request and the response, and the secret nowhere.
    for (let i = 0; i < 100; i++) {
      const log = (await (await api(`/repos/${repo}/hooks/${id}/deliveries`)).json()) as { status_code: number }[];
      if (log[0]?.status_code === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const pageText = await (await owner.web.get(hookPath)).text();
    expect(pageText, pageText.slice(-3000)).toContain(String(ping.headers["x-github-delivery"]));
    expect(pageText).toContain("thanks");
    expect(pageText).not.toContain(SECRET.replace("'", "&#39;"));
    const delivery = /deliveries\/(\d+)\/redeliver/.exec(pageText)![1];
    expect((await owner.web.post(`${hookPath}/deliveries/${delivery}/redeliver`, {}, { from: hookPath })).status).toBe(200);
    await receivers.page.waitFor("redelivered ping", (r) => r.headers["x-github-event"] === "ping" && r.json.hook_id === id, 2);
    expect((await owner.web.post(`${hookPath}/ping`, {}, { from: hookPath })).status).toBe(200);
    await receivers.page.waitFor("third ping", (r) => r.headers["x-github-event"] === "ping" && r.json.hook_id === id, 3);
    const edited = await owner.web.post(hookPath, { url: receivers.page.url, event_issues: "1" }, { from: hookPath });
    expect(edited.status).toBe(200);
    expect(await (await api(`/repos/${repo}/hooks/${id}`)).json()).toMatchObject({
      events: ["issues"],
      active: false,
      config: { secret: "********" },
    });
    expect((await owner.web.post(`${hookPath}/delete`, {}, { from: hookPath })).status).toBe(303);
    expect((await api(`/repos/${repo}/hooks/${id}`)).status).toBe(404);
  });

  it("refuses hook URLs on private networks even with loopback allowed, and hides hooks from non-admins", async () => {
    const repo = await makeRepository("guarded", false);
    for (const url of ["http://10.0.0.5/x", "http://169.254.169.254/latest", "http://192.168.1.1/", "ftp://example.com/"]) {
      const res = await api(`/repos/${repo}/hooks`, { method: "POST", body: { config: { url }, events: ["push"] } });
      expect(res.status, url).toBe(422);
    }
    expect((await fetch(`${server.url}/api/v3/repos/${repo}/hooks`)).status).toBe(401);
  });
});
