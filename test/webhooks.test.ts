// Webhooks inside workerd: the SSRF rules, signatures, sealed secrets, the retry
// schedule, push payloads built from a real push, and the one alarm shared with
// maintenance. Deliveries to a real receiver are in e2e/webhooks.test.ts.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { concatBytes } from "../src/util/bytes";
import { pktLine } from "../src/git/protocol/pkt-line";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TREE, fromHex } from "../src/git/object/object";
import { hookUrlProblem } from "../src/repo/webhooks/ssrf";
import { hmacHex, signatureHeaders } from "../src/repo/webhooks/sign";
import { openSecret, sealSecret } from "../src/repo/webhooks/secret";
import { DEFAULT_RETRY_MS, hookTiming, retryAt } from "../src/repo/webhooks/schedule";
import type { HookSite } from "../src/util/hook-site";
import { issueActions, pullActions } from "../src/api/v3/hook-events";
import type { Issue } from "../src/repo/collab";
import { buildPack, oidOf } from "./pack-builder";
import { inRepo, ownerFetch } from "./helpers";

const ZERO = "0".repeat(40);
const enc = (s: string) => new TextEncoder().encode(s);
let n = 0;

function repoFixture() {
  const name = `hooks/r${Date.now().toString(36)}${n++}`;
  return { name, url: `http://gitflare.test/${name}`, stub: env.REPO.getByName(name) };
}

const site = (name: string): HookSite => ({
  origin: "http://gitflare.test",
  id: 7,
  owner: { id: 1, login: name.split("/")[0] },
  name: name.split("/")[1],
  private: true,
  description: "",
});

/** Pushes one commit that adds `n<i>.txt` (and changes file.txt) on top of `parent`. */
async function pushCommit(url: string, ref: string, parent: string | null, i: number, old = parent): Promise<string> {
  const blob = enc(`content of commit ${i}\n`);
  const tree = concatBytes([
    enc("100644 file.txt\0"),
    fromHex(oidOf(OBJ_BLOB, blob)),
    enc(`100644 n${i}.txt\0`),
    fromHex(oidOf(OBJ_BLOB, blob)),
  ]);
  const commit = enc(
    `tree ${oidOf(OBJ_TREE, tree)}\n${parent ? `parent ${parent}\n` : ""}author A <a@b> ${1700000000 + i} +0200\ncommitter C <c@d> ${1700000000 + i} +0200\n\ncommit ${i}\n`,
  );
  const pack = buildPack([
    { type: OBJ_COMMIT, data: commit },
    { type: OBJ_TREE, data: tree },
    { type: OBJ_BLOB, data: blob },
  ]);
  const oid = oidOf(OBJ_COMMIT, commit);
  const body = concatBytes([pktLine(`${old ?? ZERO} ${oid} ${ref}\0report-status\n`), enc("0000"), pack]);
  const res = await ownerFetch(`${url}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body,
  });
  expect(await res.text()).toContain(`ok ${ref}`);
  return oid;
}

describe("hook URLs (SSRF)", () => {
  const refused = [
    "http://127.0.0.1/",
    "http://127.1.2.3:8080/x",
    "http://localhost/",
    "http://foo.localhost/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fe80::1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://2130706433/",
    "http://0x7f.0.0.1/",
    "http://printer.local/",
    "http://metadata.google.internal/",
    "http://db.internal/",
    "http://intranet/",
    "ftp://example.com/",
    "file:///etc/passwd",
    "http://user:pw@example.com/",
    "not a url",
  ];
  const allowed = [
    "https://example.com/hook",
    "http://8.8.8.8/",
    "http://172.32.0.1/",
    "http://[2606:4700::1111]/",
    "https://hooks.example.org:8443/x?y=1",
  ];

  it("refuses private, loopback, link-local, CGNAT, metadata and non-public names in production", () => {
    for (const url of refused) expect(hookUrlProblem(url, false), url).not.toBeNull();
    for (const url of allowed) expect(hookUrlProblem(url, false), url).toBeNull();
  });

  it("lets only loopback through when GITFLARE_HOOKS_ALLOW_LOOPBACK is set", () => {
    for (const url of ["http://127.0.0.1:9999/", "http://localhost:1234/", "http://[::1]/"])
      expect(hookUrlProblem(url, true), url).toBeNull();
    for (const url of ["http://10.0.0.1/", "http://169.254.169.254/", "http://192.168.0.1/", "http://0.0.0.0/"])
      expect(hookUrlProblem(url, true), url).not.toBeNull();
  });
});

describe("signatures and secrets", () => {
  it("signs as GitHub documents (X-Hub-Signature-256)", async () => {
    // The example in GitHub's "Validating webhook deliveries".
    expect(await hmacHex("SHA-256", "It's a Secret to Everybody", "Hello, World!")).toBe(
      "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    );
    const headers = await signatureHeaders("s3cret", "{}");
    expect(headers["X-Hub-Signature-256"]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(headers["X-Hub-Signature"]).toMatch(/^sha1=[0-9a-f]{40}$/);
    expect(await signatureHeaders("", "{}")).toEqual({});
  });

  it("seals secrets under the key, and only that key opens them", async () => {
    const sealed = await sealSecret("hunter2", "key-one");
    expect(sealed).not.toContain("hunter2");
    expect(sealed).not.toBe(await sealSecret("hunter2", "key-one"));
    expect(await openSecret(sealed, "key-one")).toBe("hunter2");
    await expect(openSecret(sealed, "key-two")).rejects.toThrow();
    expect(await sealSecret("", "key-one")).toBe("");
  });
});

describe("retry schedule", () => {
  it("tries six times over about two hours by default, and the variable shortens it", () => {
    const t = hookTiming({});
    expect(t.retryMs).toEqual(DEFAULT_RETRY_MS);
    expect(t.timeoutMs).toBe(10_000);
    const waits = [1, 2, 3, 4, 5].map((a) => retryAt(t, a, 0));
    expect(waits).toEqual([60_000, 300_000, 900_000, 1_800_000, 3_600_000]);
    expect(waits.reduce((s, w) => s! + w!, 0)).toBeGreaterThanOrEqual(3_600_000);
    expect(retryAt(t, 6, 0)).toBeNull();
    const fast = hookTiming({ GITFLARE_HOOK_RETRY_MS: "100, 200", GITFLARE_HOOK_TIMEOUT_MS: "500" });
    expect([retryAt(fast, 1, 1000), retryAt(fast, 2, 1000), retryAt(fast, 3, 1000)]).toEqual([1100, 1200, null]);
    expect(fast.timeoutMs).toBe(500);
  });
});

describe("event actions", () => {
  const issue = (over: Partial<Issue>): Issue => ({
    id: 1,
    number: 1,
    kind: "issue",
    title: "T",
    body: "B",
    state: "open",
    stateReason: null,
    author: { id: 1, login: "a" },
    labels: [],
    assignees: [],
    comments: 0,
    createdAt: 0,
    updatedAt: 0,
    closedAt: null,
    closedBy: null,
    ...over,
  });
  const bug = { id: 3, name: "bug", color: "ff0000", description: "" };

  it("names an issue's change as GitHub's issues actions, with what it was", () => {
    expect(issueActions(null, issue({}))).toEqual([{ action: "opened", extra: {} }]);
    expect(issueActions(issue({}), issue({ title: "U", state: "closed", labels: [bug] }))).toEqual([
      { action: "edited", extra: { changes: { title: { from: "T" } } } },
      { action: "closed", extra: {} },
      { action: "labeled", extra: { label: bug } },
    ]);
    expect(issueActions(issue({ state: "closed", labels: [bug] }), issue({}))).toEqual([
      { action: "reopened", extra: {} },
      { action: "unlabeled", extra: { label: bug } },
    ]);
    expect(issueActions(issue({}), issue({}))).toEqual([]);
  });

  it("names a pull request's change as pull_request actions", () => {
    const pr = { title: "T", body: "B", state: "open", base: "main" };
    expect(pullActions(pr, { ...pr, body: "C", base: "dev" })).toEqual([
      { action: "edited", extra: { changes: { body: { from: "B" }, base: { ref: { from: "main" } } } } },
    ]);
    expect(pullActions(pr, { ...pr, state: "closed" })).toEqual([{ action: "closed" }]);
    expect(pullActions({ ...pr, state: "closed" }, pr)).toEqual([{ action: "reopened" }]);
  });
});

describe("hooks in the repository", () => {
  it("validates hooks and never hands the secret back", async () => {
    const { name, url, stub } = repoFixture();
    await pushCommit(url, "refs/heads/main", null, 1);
    const bad = await stub.createHook({ url: "http://10.1.2.3/x" }, site(name), null);
    expect(bad).toMatchObject({ ok: false, status: 422, field: "url" });
    expect(await stub.createHook({ url: "https://example.com/", events: ["nope"] }, site(name), null)).toMatchObject({
      ok: false,
      field: "events",
    });
    const made = await stub.createHook({ url: "http://127.0.0.1:9/hook", secret: "shh", events: ["push", "issues"] }, site(name), null);
    if (!made?.ok) throw new Error(JSON.stringify(made));
    expect(made.value).toMatchObject({ url: "http://127.0.0.1:9/hook", hasSecret: true, events: ["push", "issues"], active: true });
    expect(JSON.stringify(await stub.listHooks())).not.toContain("shh");
    // The ping is queued at once.
    expect((await stub.hookDeliveries(made.value.id))!.map((d) => d.event)).toEqual(["ping"]);
    const edited = await stub.updateHook(made.value.id, { active: false }, ["create"], ["issues"]);
    expect(edited).toMatchObject({ ok: true, value: { active: false, events: ["push", "create"], hasSecret: true } });
    expect(await stub.deleteHook(made.value.id)).toBe(true);
    expect(await stub.hook(made.value.id)).toBeNull();
  });

  it("builds push and create payloads in GitHub's shape from the refs a push moved", async () => {
    const { name, url, stub } = repoFixture();
    const first = await pushCommit(url, "refs/heads/main", null, 1);
    const made = await stub.createHook({ url: "http://127.0.0.1:9/hook", events: ["push", "create", "delete"] }, site(name), null);
    if (!made?.ok) throw new Error("no hook");
    const second = await pushCommit(url, "refs/heads/main", first, 2);
    const branch = await pushCommit(url, "refs/heads/topic", second, 3, null);
    await stub.runHooks();
    const list = (await stub.hookDeliveries(made.value.id))!;
    expect(list.map((d) => d.event).sort()).toEqual(["create", "ping", "push", "push"]);
    const payloadOf = async (event: string, ref: string) => {
      for (const d of list.filter((x) => x.event === event)) {
        const p = JSON.parse((await stub.hookDelivery(made.value.id, d.id))!.payload);
        if (p.ref === ref) return p;
      }
      throw new Error(`no ${event} for ${ref}`);
    };
    const push = await payloadOf("push", "refs/heads/main");
    expect(push).toMatchObject({
      ref: "refs/heads/main",
      before: first,
      after: second,
      created: false,
      deleted: false,
      forced: false,
      base_ref: null,
      repository: {
        id: expect.any(Number),
        name: name.split("/")[1],
        full_name: name,
        private: true,
        default_branch: "main",
        clone_url: `${url}.git`,
      },
      pusher: { name: "hooks" },
      sender: { login: "hooks", type: "User" },
    });
    expect(push.commits).toHaveLength(1);
    expect(push.commits[0]).toMatchObject({
      id: second,
      distinct: true,
      message: "commit 2",
      added: ["n2.txt"],
      removed: ["n1.txt"],
      modified: ["file.txt"],
      author: { name: "A", email: "a@b" },
      committer: { name: "C", email: "c@d" },
    });
    expect(push.commits[0].timestamp).toMatch(/\+02:00$/);
    expect(push.head_commit.id).toBe(second);
    const created = await payloadOf("push", "refs/heads/topic");
    expect(created).toMatchObject({ created: true, before: ZERO, after: branch });
    expect(created.commits.map((c: { id: string }) => c.id)).toEqual([branch]);
    expect(await payloadOf("create", "topic")).toMatchObject({ ref_type: "branch", master_branch: "main", pusher_type: "user" });
  });

  it("retries a failed delivery on the schedule and settles it after the last attempt", async () => {
    const { name, url, stub } = repoFixture();
    await pushCommit(url, "refs/heads/main", null, 1);
    // Port 9 (discard) has no listener here: every attempt fails at once.
    const made = await stub.createHook({ url: "http://127.0.0.1:9/hook", secret: "s" }, site(name), null);
    if (!made?.ok) throw new Error("no hook");
    let now = Date.now();
    const ping = () => stub.hookDeliveries(made.value.id).then((l) => l!.find((d) => d.event === "ping")!);
    await stub.runHooks(now);
    expect(await ping()).toMatchObject({ attempts: 1, status: "pending", statusCode: null });
    for (const [i, wait] of DEFAULT_RETRY_MS.entries()) {
      const d = await ping();
      expect(d.nextAt! - now).toBeGreaterThanOrEqual(wait);
      // Not due yet: nothing is sent.
      await stub.runHooks(d.nextAt! - 1);
      expect((await ping()).attempts).toBe(i + 1);
      now = d.nextAt!;
      await stub.runHooks(now);
    }
    expect(await ping()).toMatchObject({ attempts: 6, status: "failed", nextAt: null });
    const detail = (await stub.hookDelivery(made.value.id, (await ping()).id))!;
    expect(detail.requestHeaders).toMatchObject({ "X-GitHub-Event": "ping", "User-Agent": "GitHub-Hookshot/gitflare" });
    expect(detail.requestHeaders["X-Hub-Signature-256"]).toBe(`sha256=${await hmacHex("SHA-256", "s", detail.payload)}`);
  });

  it("shares the one alarm with maintenance: the earliest time either needs", async () => {
    const { name, url, stub } = repoFixture();
    const first = await pushCommit(url, "refs/heads/main", null, 1);
    const made = await stub.createHook({ url: "http://127.0.0.1:9/hook", events: ["issues"] }, site(name), null);
    if (!made?.ok) throw new Error("no hook");
    await inRepo(stub as never, async (repo, state) => {
      // Maintenance first comes to rest (the commit-graph, the pack's bitmaps).
      for (let i = 0; i < 50 && (await repo.maintenanceSlice()).more; i++);
      // A far alarm is moved earlier for the ping; a hook never moves it later.
      await state.storage.setAlarm(Date.now() + 3_600_000);
      await repo.emitHookEvent("issues", "opened", { issue: { number: 1 } }, site(name), null);
      expect((await state.storage.getAlarm())!).toBeLessThanOrEqual(Date.now() + 1000);
      // One pack, nothing for maintenance: the alarm sends the deliveries and sleeps until their retry.
      await repo.alarm();
      const deliveries = repo.hookDeliveries(made.value.id)!;
      expect(deliveries.map((d) => [d.event, d.attempts, d.status])).toEqual([
        ["issues", 1, "pending"],
        ["ping", 1, "pending"],
      ]);
      const retry = Math.min(...deliveries.map((d) => d.nextAt!));
      expect(await state.storage.getAlarm()).toBe(retry);
      // A second push leaves two packs: maintenance wants the alarm sooner, and gets it.
      await pushCommit(url, "refs/heads/main", first, 2);
      expect(repo.packs().length).toBe(2);
      expect((await state.storage.getAlarm())!).toBeLessThan(retry);
      // Not while git calls come in (src/repo/git-first.ts): the push was one, just now.
      await repo.alarm();
      expect(repo.packs().length).toBe(2);
      // Then that alarm runs maintenance, and leaves the deliveries to their time.
      await scheduler.wait(2_100);
      for (let i = 0; i < 20 && repo.packs().length > 1; i++) await repo.alarm();
      expect(repo.packs().length).toBe(1);
      expect(repo.hookDeliveries(made.value.id)!.every((d) => d.attempts === 1)).toBe(true);
      expect((await state.storage.getAlarm())!).toBeLessThanOrEqual(retry);
    });
  });
});
