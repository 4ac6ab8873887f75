// Pull-request records in the repository object: opening (and what is refused), the
// mergeability cached on the record, merging by the three methods with the sha guard,
// `Fixes #N` closing issues, and what a push does to open pull requests (head pushed or
// force-pushed, mergeability invalidated, merged by a push) and the link git prints for a
// new branch.
import { SELF, env } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { pktLine } from "../src/git/protocol/pkt-line";
import type { Repository } from "../src/repo/repository";
import { concatBytes } from "../src/util/bytes";
import { accountAuth, fromBase64, ownerFetch } from "./helpers";
import { buildPack } from "./pack-builder";

const fx = inject("pullFixture");
const ZERO = "0".repeat(40);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
let n = 0;

const alice = { id: 1, login: "alice" };
const merger = { name: "Mona Merger", email: "mona@example.com" };
const when = { seconds: 1_750_000_000, timezone: "+0200" };

async function receive(url: string, commands: string[], pack: Uint8Array, caps = "report-status atomic"): Promise<string> {
  const lines = commands.map((c, i) => pktLine(i === 0 ? `${c}\0${caps}\n` : `${c}\n`));
  const res = await ownerFetch(`${url}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body: concatBytes([...lines, enc("0000"), pack]),
  });
  return dec(new Uint8Array(await res.arrayBuffer()));
}

/** A repository holding the fixture's branches, and four issues (#1-#4) before any pull request. */
async function repository(): Promise<{ url: string; owner: string; stub: DurableObjectStub<Repository> }> {
  const owner = "prowner";
  const name = `${owner}/r${Date.now().toString(36)}${n++}`;
  const url = `http://gitflare.test/${name}`;
  const report = await receive(
    url,
    Object.entries(fx.refs).map(([ref, oid]) => `${ZERO} ${oid} ${ref}`),
    fromBase64(fx.pack),
  );
  expect(report).toContain("unpack ok");
  const stub = env.REPO.getByName(name);
  for (let i = 1; i <= 4; i++) expect(await stub.createIssue(alice, { title: `Issue ${i}`, body: "" })).toMatchObject({ ok: true });
  return { url, owner, stub };
}

/** Moves (or creates) a branch to a commit the repository has. */
async function move(url: string, branch: string, from: string, to: string, caps?: string): Promise<string> {
  const report = await receive(url, [`${from} ${to} refs/heads/${branch}`], buildPack([]), caps);
  expect(report).toContain(`ok refs/heads/${branch}`);
  return report;
}

const open = (stub: DurableObjectStub<Repository>, head: string, body = "", base = "main") =>
  stub.createPull(alice, { title: `The ${head} change`, body, base, head });

const mergeInput = (method: "merge" | "squash" | "rebase", sha?: string) => ({
  method,
  sha,
  committer: merger,
  when,
  headLabel: "alice/branch",
});

describe("pull request records", () => {
  it("opens from a branch into another, numbered after the issues, and refuses what GitHub refuses", async () => {
    const { url, stub } = await repository();
    const r = await open(stub, "clean", "A description");
    expect(r).toMatchObject({ ok: true });
    if (!r?.ok) return;
    expect(r.value.issue).toMatchObject({ number: 5, kind: "pull", state: "open", body: "A description" });
    expect(r.value).toMatchObject({ base: "main", head: "clean", headSha: fx.branches.clean.oid, baseSha: fx.main, merged: false });
    expect(r.value.commits).toBe(fx.branches.clean.commits.length);

    // The same head and base again, the same branch, missing branches, no commits between.
    expect(await open(stub, "clean")).toMatchObject({ ok: false, code: "invalid", field: "base" });
    expect(await open(stub, "main")).toMatchObject({ ok: false, code: "invalid", field: "head" });
    expect(await open(stub, "nope")).toMatchObject({ ok: false, code: "invalid", field: "head" });
    expect(await stub.createPull(alice, { title: "x", body: "", base: "nope", head: "clean" })).toMatchObject({ ok: false, field: "base" });
    await move(url, "level", ZERO, fx.main);
    expect(await open(stub, "level")).toMatchObject({ ok: false, message: "No commits between main and level" });
    // Refusals took no number.
    expect((await open(stub, "conflict"))?.ok && (await stub.pull(6))?.head).toBe("conflict");

    // Listed among the issues as pulls, and by its own list with filters.
    expect((await stub.listPulls({ state: "open", sort: "created", direction: "desc", offset: 0, limit: 30 }))?.total).toBe(2);
    expect(
      (await stub.listPulls({ state: "open", head: "clean", sort: "created", direction: "desc", offset: 0, limit: 30 }))?.items.map(
        (p) => p.issue.number,
      ),
    ).toEqual([5]);
    const issues = await stub.listIssues({
      state: "all",
      labels: [],
      text: [],
      sort: "created",
      direction: "desc",
      offset: 0,
      limit: 100,
      kind: "pull",
    });
    expect(issues?.items.map((i) => i.number)).toEqual([6, 5]);

    // Closing and reopening; changing the base.
    expect(await stub.updatePull(5, alice, { state: "closed" })).toMatchObject({ ok: true, value: { issue: { state: "closed" } } });
    expect(await stub.updatePull(5, alice, { state: "open" })).toMatchObject({ ok: true, value: { issue: { state: "open" } } });
    expect(await stub.updatePull(5, alice, { base: "nope" })).toMatchObject({ ok: false, field: "base" });
    expect(await stub.updatePull(5, alice, { base: "unicode" })).toMatchObject({ ok: true, value: { base: "unicode" } });
    const kinds = (await stub.issueEvents(5))?.map((e) => e.kind);
    expect(kinds).toEqual(["closed", "reopened", "base_ref_changed"]);
  });

  it("computes mergeability on read and caches it on the record", async () => {
    const { stub } = await repository();
    await open(stub, "clean");
    await open(stub, "conflict");
    const clean = await stub.pull(5);
    expect(clean).toMatchObject({ mergeable: true, mergeableState: "clean", mergeableKey: `${fx.main} ${fx.branches.clean.oid}` });
    const conflict = await stub.pull(6);
    expect(conflict).toMatchObject({ mergeable: false, mergeableState: "dirty", conflicts: fx.branches.conflict.merge.conflicts });
    expect(await stub.pull(99)).toBeNull();
  });
});

describe("merging a pull request", () => {
  it("merges, records the merge and closes the issues named by Fixes #N in the description and the commits", async () => {
    const { stub } = await repository();
    await open(stub, "unicode", "Fixes #1 and resolves #2. Not #6.");
    const stale = await stub.mergePullRequest(5, alice, mergeInput("squash", fx.branches.clean.oid));
    expect(stale).toMatchObject({ merged: false, status: 409 });
    const r = await stub.mergePullRequest(5, alice, mergeInput("squash", fx.branches.unicode.oid));
    expect(r).toMatchObject({ merged: true, closed: [1, 2, 3, 4] });
    const pull = await stub.pull(5);
    expect(pull).toMatchObject({ merged: true, mergeCommitSha: r?.merged ? r.sha : "", mergedBy: alice, issue: { state: "closed" } });
    expect((await stub.issueEvents(5))?.map((e) => e.kind)).toEqual(["merged", "closed"]);
    const closing = (await stub.issueEvents(1))?.at(-1);
    expect(closing).toMatchObject({ kind: "closed", stateReason: "completed", pull: 5 });
    expect(await stub.issue(1)).toMatchObject({ state: "closed", stateReason: "completed" });
    // A merged pull request is not merged again, nor reopened.
    expect(await stub.mergePullRequest(5, alice, mergeInput("merge"))).toMatchObject({ merged: false, status: 405 });
    expect(await stub.updatePull(5, alice, { state: "open" })).toMatchObject({ ok: false });
  });

  it("refuses a conflicting pull request with 405, and leaves issues alone when the base is not the default branch", async () => {
    const { stub } = await repository();
    await open(stub, "conflict");
    expect(await stub.mergePullRequest(5, alice, mergeInput("merge"))).toMatchObject({
      merged: false,
      status: 405,
      conflicts: fx.branches.conflict.merge.conflicts,
    });
    await stub.createPull(alice, { title: "Into clean", body: "Fixes #1", base: "clean", head: "unicode" });
    expect(await stub.mergePullRequest(6, alice, mergeInput("merge"))).toMatchObject({ merged: true, closed: [] });
    expect(await stub.issue(1)).toMatchObject({ state: "open" });
  });

  it("deletes the head branch only if it has not moved, and never the default branch", async () => {
    const { stub } = await repository();
    expect(await stub.deleteBranch("clean", fx.branches.conflict.oid)).toMatchObject({ ok: false, status: 409 });
    expect(await stub.deleteBranch("main", fx.main)).toMatchObject({ ok: false, status: 422 });
    expect(await stub.deleteBranch("nope", fx.main)).toMatchObject({ ok: false, status: 404 });
    expect(await stub.deleteBranch("clean", fx.branches.clean.oid)).toEqual({ ok: true });
    expect(await stub.pullMergeability("main", "clean")).toMatchObject({ missing: "head" });
  });
});

describe("pull requests after a push", () => {
  it("follows the head: pushed, force-pushed, mergeability recomputed", async () => {
    const { url, stub } = await repository();
    await move(url, "topic", ZERO, fx.branches.clean.commits[0]);
    await open(stub, "topic");
    expect(await stub.pull(5)).toMatchObject({ mergeable: true });
    await move(url, "topic", fx.branches.clean.commits[0], fx.branches.clean.oid);
    await move(url, "topic", fx.branches.clean.oid, fx.branches.conflict.oid);
    const events = await stub.issueEvents(5);
    expect(events?.map((e) => [e.kind, e.before, e.after, e.actor.login])).toEqual([
      ["head_ref_pushed", fx.branches.clean.commits[0], fx.branches.clean.oid, "prowner"],
      ["head_ref_force_pushed", fx.branches.clean.oid, fx.branches.conflict.oid, "prowner"],
    ]);
    expect(await stub.pull(5)).toMatchObject({ headSha: fx.branches.conflict.oid, mergeable: false, mergeableState: "dirty" });
  });

  it("marks a pull request merged when its head reaches the base by a push", async () => {
    const { url, stub } = await repository();
    await open(stub, "clean", "Fixes #2");
    await open(stub, "conflict");
    await move(url, "main", fx.main, fx.branches.clean.oid);
    expect(await stub.pull(5)).toMatchObject({ merged: true, mergeCommitSha: fx.branches.clean.oid, issue: { state: "closed" } });
    expect(await stub.issue(2)).toMatchObject({ state: "closed" });
    // The other pull request's base moved: its record follows.
    expect(await stub.pull(6)).toMatchObject({ merged: false, baseSha: fx.branches.clean.oid });
  });

  it("tells the pusher of a new branch where to open a pull request, on side band 2", async () => {
    const { url, stub } = await repository();
    const report = await move(url, "feature", ZERO, fx.branches.clean.oid, "report-status side-band-64k");
    expect(report).toContain("\x02\nCreate a pull request for 'feature' on Gitflare by visiting:\n     http://gitflare.test/");
    expect(report).toContain("/pull/new/feature\n");
    expect(report.indexOf("Create a pull request")).toBeLessThan(report.indexOf("unpack ok"));
    // Not without side band, not for the default branch, and an open one is linked instead.
    expect(await move(url, "feature2", ZERO, fx.branches.clean.oid)).not.toContain("pull request");
    await open(stub, "feature");
    await move(url, "feature", fx.branches.clean.oid, ZERO, "report-status side-band-64k");
    const again = await move(url, "feature", ZERO, fx.branches.clean.oid, "report-status side-band-64k");
    expect(again).toContain("View pull request for feature => main:");
    expect(again).toContain("/pull/5\n");
  });
});

describe("the pulls API in GitHub's shapes", () => {
  async function api(user: string | null, method: string, path: string, body?: unknown) {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (user) headers.Authorization = await accountAuth(user);
    return SELF.fetch(`http://gitflare.test/api/v3${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  it("opens, reads, lists, edits and merges a pull request; writers only open and merge", async () => {
    const { url, owner, stub } = await repository();
    const repo = new URL(url).pathname.slice(1);
    // A reader may see the pull requests but neither open nor merge one.
    await accountAuth("pr-stranger");
    const grant = await ownerFetch(`http://gitflare.test/api/repos/${repo}/collaborators/pr-stranger`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ role: "read" }),
    });
    expect(grant.status).toBe(200);
    await grant.text();
    const stranger = await api("pr-stranger", "POST", `/repos/${repo}/pulls`, { title: "T", head: "clean", base: "main" });
    expect(stranger.status).toBe(403);
    const bad = await api(owner, "POST", `/repos/${repo}/pulls`, { title: "T", head: "clean", base: "clean" });
    expect(bad.status).toBe(422);
    const made = await api(owner, "POST", `/repos/${repo}/pulls`, {
      title: "Clean",
      head: `${owner}:clean`,
      base: "main",
      body: "Fixes #1",
    });
    expect(made.status).toBe(201);
    const pr = (await made.json()) as Record<string, unknown>;
    // As on GitHub, the new pull request's mergeability is not known yet; the next read computes it.
    expect(pr).toMatchObject({
      number: 5,
      state: "open",
      merged: false,
      mergeable: null,
      mergeable_state: "unknown",
      commits: fx.branches.clean.commits.length,
    });
    const read = (await (await api("pr-stranger", "GET", `/repos/${repo}/pulls/5`)).json()) as Record<string, unknown>;
    expect(read).toMatchObject({ mergeable: true, mergeable_state: "clean" });
    expect(pr).toHaveProperty("head", expect.objectContaining({ label: `${owner}:clean`, ref: "clean", sha: fx.branches.clean.oid }));
    expect(pr).toHaveProperty("base", expect.objectContaining({ label: `${owner}:main`, ref: "main", sha: fx.main }));
    expect(pr.changed_files).toBeGreaterThan(0);
    expect((await api(owner, "POST", `/repos/${repo}/pulls`, { title: "Again", head: "clean", base: "main" })).status).toBe(422);

    const list = (await (await api("pr-stranger", "GET", `/repos/${repo}/pulls?head=${owner}:clean`)).json()) as { number: number }[];
    expect(list.map((p) => p.number)).toEqual([5]);
    const asIssue = (await (await api("pr-stranger", "GET", `/repos/${repo}/issues/5`)).json()) as Record<string, unknown>;
    expect(asIssue).toHaveProperty("pull_request.url", expect.stringMatching(/\/pulls\/5$/));

    const commits = (await (await api("pr-stranger", "GET", `/repos/${repo}/pulls/5/commits`)).json()) as { sha: string }[];
    expect(commits.map((c) => c.sha)).toEqual(fx.branches.clean.commits);
    const files = (await (await api("pr-stranger", "GET", `/repos/${repo}/pulls/5/files`)).json()) as Record<string, unknown>[];
    expect(files[0]).toMatchObject({ status: "modified" });
    expect(files[0]).toHaveProperty("patch", expect.stringMatching(/^@@ -\d+,\d+ \+\d+,\d+ @@\n/));

    const edited = await api(owner, "PATCH", `/repos/${repo}/pulls/5`, { title: "Clean it" });
    expect(((await edited.json()) as { title: string }).title).toBe("Clean it");

    expect((await api("pr-stranger", "GET", `/repos/${repo}/pulls/5/merge`)).status).toBe(404);
    expect((await api("pr-stranger", "PUT", `/repos/${repo}/pulls/5/merge`, {})).status).toBe(403);
    const stale = await api(owner, "PUT", `/repos/${repo}/pulls/5/merge`, { sha: fx.branches.conflict.oid });
    expect(stale.status).toBe(409);
    const merged = await api(owner, "PUT", `/repos/${repo}/pulls/5/merge`, { merge_method: "merge", sha: fx.branches.clean.oid });
    expect(merged.status).toBe(200);
    const answer = (await merged.json()) as { sha: string; merged: boolean; message: string };
    expect(answer).toMatchObject({ merged: true, message: "Pull Request successfully merged" });
    expect((await api("pr-stranger", "GET", `/repos/${repo}/pulls/5/merge`)).status).toBe(204);
    const after = (await (await api("pr-stranger", "GET", `/repos/${repo}/pulls/5`)).json()) as Record<string, unknown>;
    expect(after).toMatchObject({ state: "closed", merged: true, merge_commit_sha: answer.sha, merged_by: { login: owner } });
    expect(await stub.issue(1)).toMatchObject({ state: "closed" });

    await api(owner, "POST", `/repos/${repo}/pulls`, { title: "Conflict", head: "conflict", base: "main" });
    const conflict = (await (await api("pr-stranger", "GET", `/repos/${repo}/pulls/6`)).json()) as Record<string, unknown>;
    expect(conflict).toMatchObject({ mergeable: false, mergeable_state: "dirty" });
    const refused = await api(owner, "PUT", `/repos/${repo}/pulls/6/merge`, { merge_method: "squash" });
    expect(refused.status).toBe(405);
    expect(((await refused.json()) as { message: string }).message).toBe("Pull Request is not mergeable");
  });
});
