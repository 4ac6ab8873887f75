// Code review inside workerd: where a line comment sits in a diff (./collab/anchors.ts),
// reviews and line comments through the GitHub-shaped API on a private repository (who
// may review, approve, dismiss, ask for reviews; pending drafts seen only by their
// author), threads, and what a later push does to a comment: outdated with its original
// hunk when its line changed, moved when lines were added above it. Also the functions
// protected branches call: approvingReviewers and dismissApprovals.
import { SELF, env } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { diffHunk, linesOn, relocate } from "../src/repo/collab/anchors";
import { OBJ_COMMIT } from "../src/git/object/object";
import { pktLine } from "../src/git/protocol/pkt-line";
import { concatBytes } from "../src/util/bytes";
import { Browserless } from "../e2e/accounts";
import { accountAuth, fromBase64 } from "./helpers";
import { buildPack, oidOf } from "./pack-builder";

const BASE = "http://gitflare.test";
const fx = inject("pullFixture");
const ZERO = "0".repeat(40);
let seq = 0;

// biome-ignore lint/suspicious/noExplicitAny: the API's answers, read field by field as the assertions need
type Json = Record<string, any>;

async function api(user: string | null, method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (user) headers.Authorization = await accountAuth(user);
  const res = await SELF.fetch(`${BASE}/api/v3${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : null) as Json };
}

/** A private repository of `owner` with a reader and a writer, holding the fixture's branches, and a PR from `clean`. */
async function reviewed(owner: string) {
  const name = `rv${Date.now().toString(36)}${seq++}`;
  const auth = await accountAuth(owner);
  const made = await SELF.fetch(`${BASE}/api/repos/${owner}/${name}`, {
    method: "POST",
    headers: { Authorization: auth, "Content-Type": "application/json" },
    body: JSON.stringify({ private: true }),
  });
  expect(made.status).toBe(201);
  await made.text();
  for (const [user, role] of [
    ["rv-reader", "read"],
    ["rv-writer", "write"],
  ]) {
    await accountAuth(user);
    const put = await SELF.fetch(`${BASE}/api/repos/${owner}/${name}/collaborators/${user}`, {
      method: "PUT",
      headers: { Authorization: auth, "Content-Type": "application/json" },
      body: JSON.stringify({ role }),
    });
    expect(put.status).toBe(200);
    await put.text();
  }
  const commands = Object.entries(fx.refs).map(([ref, oid]) => `${ZERO} ${oid} ${ref}`);
  const lines = commands.map((c, i) => pktLine(i === 0 ? `${c}\0report-status\n` : `${c}\n`));
  const push = await SELF.fetch(`${BASE}/${owner}/${name}/git-receive-pack`, {
    method: "POST",
    headers: { Authorization: auth, "Content-Type": "application/x-git-receive-pack-request" },
    body: concatBytes([...lines, new TextEncoder().encode("0000"), fromBase64(fx.pack)]),
  });
  expect(new TextDecoder().decode(await push.arrayBuffer())).toContain("unpack ok");
  const pr = await api(owner, "POST", `/repos/${owner}/${name}/pulls`, { title: "Review me", head: "clean", base: "main" });
  expect(pr.status).toBe(201);
  return { repo: `/repos/${owner}/${name}`, number: pr.json.number as number, stub: env.REPO.getByName(`${owner}/${name}`) };
}

beforeAll(async () => {
  await accountAuth("site-admin");
});

describe("anchors in a diff", () => {
  const hunks = [
    { oldStart: 3, oldLines: 3, newStart: 3, newLines: 4, lines: [" three", "-four", "+FOUR", "+four and a half", " five"] },
    { oldStart: 20, oldLines: 1, newStart: 21, newLines: 1, lines: ["-twenty", "+TWENTY"] },
  ];

  it("numbers each side's lines and GitHub's positions, and keeps the hunk down to the line", () => {
    const right = linesOn(hunks, "RIGHT");
    const left = linesOn(hunks, "LEFT");
    expect([...right.keys()]).toEqual([3, 4, 5, 6, 21]);
    expect([...left.keys()]).toEqual([3, 4, 5, 20]);
    expect(right.get(5)).toMatchObject({ text: "+four and a half", position: 4 });
    // The second hunk's header counts as a position, as GitHub counts it.
    expect(right.get(21)).toMatchObject({ text: "+TWENTY", position: 8 });
    expect(diffHunk(hunks, right.get(4)!)).toBe("@@ -3,3 +3,4 @@\n three\n-four\n+FOUR");
  });

  it("places a line again: where it was, moved by lines above, or gone", () => {
    const moved = [{ ...hunks[0], newStart: 5, lines: [" three", "-four", "+FOUR", "+four and a half", " five"] }];
    expect(relocate(hunks, { side: "RIGHT", line: 4, lineText: "+FOUR" })).toMatchObject({ line: 4 });
    expect(relocate(moved, { side: "RIGHT", line: 4, lineText: "+FOUR" })).toMatchObject({ line: 6 });
    expect(relocate(hunks, { side: "RIGHT", line: 4, lineText: "+four" })).toBeNull();
    expect(relocate(null, { side: "RIGHT", line: 4, lineText: "+FOUR" })).toBeNull();
    // Twice the same text elsewhere: not guessed.
    const twice = [{ ...hunks[0], lines: [" x", "+FOUR", "+FOUR"] }];
    expect(relocate(twice, { side: "RIGHT", line: 9, lineText: "+FOUR" })).toBeNull();
  });
});

describe("reviews through the API", () => {
  it("takes reviews with line comments, refuses what GitHub refuses, and keeps drafts to their author", async () => {
    const { repo, number, stub } = await reviewed("rv-owner");
    const head = fx.branches.clean.oid;
    const at = `${repo}/pulls/${number}`;

    // A reader reviews with two line comments, one on each side.
    const r = await api("rv-reader", "POST", `${at}/reviews`, {
      commit_id: head,
      body: "Some thoughts",
      event: "COMMENT",
      comments: [
        { path: "a.txt", line: 17, side: "RIGHT", body: "Why this line?" },
        { path: "a.txt", line: 17, side: "LEFT", body: "The old one was fine" },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ state: "COMMENTED", body: "Some thoughts", commit_id: head, user: { login: "rv-reader" } });
    const comments = await api("rv-reader", "GET", `${at}/reviews/${r.json.id}/comments`);
    expect(comments.json).toHaveLength(2);
    expect(comments.json[0]).toMatchObject({
      path: "a.txt",
      line: 17,
      original_line: 17,
      side: "RIGHT",
      commit_id: head,
      original_commit_id: head,
      pull_request_review_id: r.json.id,
      subject_type: "line",
    });
    expect(comments.json[0].diff_hunk).toMatch(/^@@ -\d+,\d+ \+\d+,\d+ @@\n[\s\S]*\n\+line 17 changed on the branch$/);
    expect(comments.json[1].diff_hunk).toMatch(/\n-line 17$/);
    expect(comments.json[0].position).toBeGreaterThan(0);

    // What GitHub refuses: a line outside the diff, a path not in it, a commit not in the PR,
    // the author's own verdict, a request for changes without a body.
    const bad = (extra: Json) => api("rv-reader", "POST", `${at}/reviews`, { event: "COMMENT", body: "x", ...extra });
    expect((await bad({ comments: [{ path: "a.txt", line: 2, body: "x" }] })).status).toBe(422);
    expect((await bad({ comments: [{ path: "nope.txt", line: 1, body: "x" }] })).status).toBe(422);
    expect((await bad({ commit_id: fx.main, comments: [{ path: "a.txt", line: 17, body: "x" }] })).status).toBe(422);
    expect((await bad({ comments: [{ path: "a.txt", line: 17, body: " " }] })).status).toBe(422);
    expect((await bad({ event: "MAYBE" })).status).toBe(422);
    const own = await api("rv-owner", "POST", `${at}/reviews`, { event: "APPROVE" });
    expect(own.status).toBe(422);
    expect(JSON.stringify(own.json)).toContain("Can not approve your own pull request");
    expect((await api("rv-owner", "POST", `${at}/reviews`, { event: "REQUEST_CHANGES", body: "no" })).status).toBe(422);
    expect((await api("rv-writer", "POST", `${at}/reviews`, { event: "REQUEST_CHANGES" })).status).toBe(422);
    // Nothing refused left anything behind.
    expect((await api("rv-reader", "GET", `${at}/reviews`)).json).toHaveLength(1);
    expect((await api("rv-reader", "GET", `${at}/comments`)).json).toHaveLength(2);

    // A draft: seen by its author only, in the reviews list; submitted with a verdict.
    const draft = await api("rv-writer", "POST", `${at}/reviews`, {
      comments: [{ path: "feature.txt", line: 1, body: "Name it better" }],
    });
    expect(draft.json.state).toBe("PENDING");
    expect(draft.json.submitted_at).toBeUndefined();
    expect((await api("rv-reader", "GET", `${at}/reviews`)).json.map((x: Json) => x.state)).toEqual(["COMMENTED"]);
    expect((await api("rv-writer", "GET", `${at}/reviews`)).json.map((x: Json) => x.state)).toEqual(["COMMENTED", "PENDING"]);
    expect((await api("rv-reader", "GET", `${at}/reviews/${draft.json.id}`)).status).toBe(404);
    expect((await api("rv-writer", "GET", `${at}/comments`)).json).toHaveLength(2);
    expect((await api("rv-writer", "POST", `${at}/reviews`, { body: "another draft" })).status).toBe(422);
    const sent = await api("rv-writer", "POST", `${at}/reviews/${draft.json.id}/events`, {
      event: "REQUEST_CHANGES",
      body: "Please rename",
    });
    expect(sent.json).toMatchObject({ state: "CHANGES_REQUESTED", body: "Please rename" });
    expect((await api("rv-reader", "GET", `${at}/comments`)).json).toHaveLength(3);
    expect(await stub.reviewDecisions([number])).toEqual({ [number]: "changes_requested" });

    // The writer approves after all: the latest verdict counts.
    const ok = await api("rv-writer", "POST", `${at}/reviews`, { event: "APPROVE" });
    expect(ok.json.state).toBe("APPROVED");
    expect(await stub.reviewDecisions([number])).toEqual({ [number]: "approved" });
    expect(await stub.approvingReviewers(number)).toEqual(["rv-writer"]);
    expect(await stub.approvingReviewers(number, head)).toEqual(["rv-writer"]);
    expect(await stub.approvingReviewers(number, fx.main)).toEqual([]);

    // Dismissing: writers only, approvals and requests for changes only.
    const dismiss = (user: string, id: number) =>
      api(user, "PUT", `${at}/reviews/${id}/dismissals`, { message: "Stale", event: "DISMISS" });
    expect((await dismiss("rv-reader", ok.json.id)).status).toBe(403);
    expect((await dismiss("rv-writer", r.json.id)).status).toBe(422);
    const gone = await dismiss("rv-owner", ok.json.id);
    expect(gone.json.state).toBe("DISMISSED");
    expect(await stub.approvingReviewers(number)).toEqual([]);
    expect(await stub.reviewDecisions([number])).toEqual({ [number]: null });

    // Strangers and anonymous callers see nothing of a private repository's reviews.
    expect((await api(null, "GET", `${at}/reviews`)).status).toBe(404);
    expect((await api("rv-stranger", "GET", `${at}/comments`)).status).toBe(404);
    expect((await api("rv-stranger", "POST", `${at}/reviews`, { event: "COMMENT", body: "hi" })).status).toBe(404);
  });

  it("keeps threads: replies, edits and deletions by who may", async () => {
    const { repo, number } = await reviewed("rv-owner2");
    const at = `${repo}/pulls/${number}`;
    const head = fx.branches.clean.oid;
    const one = await api("rv-reader", "POST", `${at}/comments`, { commit_id: head, path: "b.txt", line: 1, side: "RIGHT", body: "Hmm" });
    expect(one.status).toBe(201);
    expect(one.json).toMatchObject({ path: "b.txt", line: 1, side: "RIGHT", body: "Hmm" });
    expect((await api("rv-reader", "POST", `${at}/comments`, { path: "b.txt", line: 1, body: "no commit" })).status).toBe(422);
    const reply = await api("rv-owner2", "POST", `${at}/comments`, { in_reply_to: one.json.id, body: "Because" });
    expect(reply.json).toMatchObject({ in_reply_to_id: one.json.id, path: "b.txt", line: 1, diff_hunk: one.json.diff_hunk });
    const again = await api("rv-writer", "POST", `${at}/comments/${reply.json.id}/replies`, { body: "Agreed" });
    // A reply to a reply joins the thread's first comment, as on GitHub.
    expect(again.json.in_reply_to_id).toBe(one.json.id);
    expect((await api("rv-reader", "GET", `${at}/reviews`)).json.map((x: Json) => x.state)).toEqual([
      "COMMENTED",
      "COMMENTED",
      "COMMENTED",
    ]);

    expect((await api("rv-writer", "PATCH", `${repo}/pulls/comments/${one.json.id}`, { body: "edited by a writer" })).status).toBe(200);
    expect((await api("rv-reader", "PATCH", `${repo}/pulls/comments/${reply.json.id}`, { body: "not mine" })).status).toBe(403);
    const edited = await api("rv-reader", "PATCH", `${repo}/pulls/comments/${one.json.id}`, { body: "Hmm, edited" });
    expect(edited.json.body).toBe("Hmm, edited");
    expect((await api("rv-reader", "DELETE", `${repo}/pulls/comments/${reply.json.id}`)).status).toBe(403);
    expect((await api("rv-owner2", "DELETE", `${repo}/pulls/comments/${one.json.id}`)).status).toBe(204);
    expect((await api("rv-reader", "GET", `${repo}/pulls/comments/${one.json.id}`)).status).toBe(404);
    // The first reply heads the thread now.
    const left = (await api("rv-reader", "GET", `${at}/comments`)).json;
    expect(left.map((x: Json) => [x.body, x.in_reply_to_id ?? null])).toEqual([
      ["Because", null],
      ["Agreed", reply.json.id],
    ]);
  });

  it("asks collaborators for reviews; a review answers the request", async () => {
    const { repo, number, stub } = await reviewed("rv-owner3");
    const at = `${repo}/pulls/${number}`;
    expect((await api("rv-reader", "POST", `${at}/requested_reviewers`, { reviewers: ["rv-writer"] })).status).toBe(403);
    expect((await api("rv-owner3", "POST", `${at}/requested_reviewers`, { reviewers: ["rv-stranger"] })).status).toBe(422);
    expect((await api("rv-owner3", "POST", `${at}/requested_reviewers`, { reviewers: ["rv-owner3"] })).status).toBe(422);
    const asked = await api("rv-owner3", "POST", `${at}/requested_reviewers`, { reviewers: ["rv-writer", "RV-Reader"] });
    expect(asked.status).toBe(201);
    expect(asked.json.requested_reviewers.map((u: Json) => u.login)).toEqual(["rv-reader", "rv-writer"]);
    expect(await stub.reviewDecisions([number])).toEqual({ [number]: "review_required" });
    expect((await api("rv-reader", "GET", at)).json.requested_reviewers.map((u: Json) => u.login)).toEqual(["rv-reader", "rv-writer"]);
    await api("rv-writer", "POST", `${at}/reviews`, { event: "COMMENT", body: "Looked" });
    expect((await api("rv-reader", "GET", `${at}/requested_reviewers`)).json).toEqual({
      users: [expect.objectContaining({ login: "rv-reader" })],
      teams: [],
    });
    const removed = await api("rv-owner3", "DELETE", `${at}/requested_reviewers`, { reviewers: ["rv-reader"] });
    expect(removed.json.requested_reviewers).toEqual([]);
    expect(await stub.reviewDecisions([number])).toEqual({ [number]: null });
  });

  it("marks a comment outdated when a push changes its line, moves it when lines come above, and dismisses stale approvals", async () => {
    const { repo, number, stub } = await reviewed("rv-owner4");
    const at = `${repo}/pulls/${number}`;
    const head = fx.branches.clean.oid;
    const review = await api("rv-writer", "POST", `${at}/reviews`, {
      event: "APPROVE",
      comments: [
        { path: "a.txt", line: 17, body: "This line" },
        { path: "b.txt", line: 1, body: "And this one" },
        { path: "feature.txt", line: 1, body: "Untouched" },
      ],
    });
    expect(review.json.state).toBe("APPROVED");
    const before = (await api("rv-reader", "GET", `${at}/comments`)).json;

    // A later push: line 17 of a.txt changes again, and a line comes before line 1 of b.txt.
    const a = Array.from({ length: 20 }, (_, i) => `line ${i + 1}\n`);
    a[16] = "line 17 changed twice\n";
    const b = [
      "a new first line\n",
      "line 1 of b, changed\n",
      ...Array.from({ length: 9 }, (_, i) => `line ${i + 2} of b\n`),
      "appended on main\n",
    ];
    const pushed = await stub.commitFiles({
      parent: head,
      branch: "clean",
      createBranch: false,
      changes: [
        { kind: "update", path: "a.txt", content: a.join("") },
        { kind: "update", path: "b.txt", content: b.join("") },
      ],
      message: "Change it again",
      author: { name: "Fixture", email: "fixture@example.com" },
      when: { seconds: 1_750_000_000 },
    });
    expect(pushed.ok).toBe(true);
    if (!pushed.ok) return;
    const after = (await api("rv-reader", "GET", `${at}/comments`)).json;
    const [outdated, moved, same] = after as Json[];
    expect(outdated).toMatchObject({ line: null, position: null, original_line: 17, commit_id: head, original_commit_id: head });
    expect(outdated.diff_hunk).toBe(before[0].diff_hunk);
    expect(moved).toMatchObject({ line: 2, original_line: 1, commit_id: pushed.commit });
    expect(same).toMatchObject({ line: 1, original_line: 1, commit_id: pushed.commit });

    // New comments are made on the new head; the old one is still a commit of the PR.
    expect((await api("rv-reader", "POST", `${at}/comments`, { commit_id: head, path: "a.txt", line: 17, body: "old" })).status).toBe(201);

    // Protected branches: approvals given on an older head are stale.
    expect(await stub.approvingReviewers(number, pushed.commit)).toEqual([]);
    expect(await stub.dismissApprovals(number, pushed.commit)).toEqual(["rv-writer"]);
    expect(await stub.approvingReviewers(number)).toEqual([]);
    expect((await api("rv-reader", "GET", `${at}/reviews/${review.json.id}`)).json.state).toBe("DISMISSED");
    expect(await stub.dismissApprovals(number, pushed.commit)).toEqual([]);
  });
});

describe("reviews on a protected branch", () => {
  const rule = {
    required_status_checks: null,
    enforce_admins: true,
    required_pull_request_reviews: { required_approving_review_count: 1, dismiss_stale_reviews: true },
    restrictions: null,
  };

  /** A commit on top of `parent` with its tree (nothing changed, so the merge stays clean), as a pack. */
  async function emptyCommit(repo: string, parent: string, message: string) {
    const tree = (await api("rv-writer", "GET", `${repo}/git/commits/${parent}`)).json.tree.sha as string;
    const sig = "Fixture <fixture@example.com> 1750000000 +0000";
    const data = new TextEncoder().encode(`tree ${tree}\nparent ${parent}\nauthor ${sig}\ncommitter ${sig}\n\n${message}\n`);
    return { oid: oidOf(OBJ_COMMIT, data), pack: buildPack([{ type: OBJ_COMMIT, data }]) };
  }

  it("counts approvals by writers only, dismisses them when a push moves the head, and merges once approved", async () => {
    const { repo, number } = await reviewed("rv-owner5");
    const at = `${repo}/pulls/${number}`;
    expect((await api("rv-owner5", "PUT", `${repo}/branches/main/protection`, rule)).status).toBe(200);
    const merge = () => api("rv-owner5", "PUT", `${at}/merge`, { merge_method: "merge" });
    const blocked = "At least 1 approving review is required by reviewers with write access.";

    // The owner is an admin, and the rule enforces admins.
    expect(await merge()).toMatchObject({ status: 405, json: { message: blocked } });
    // A reader may approve, but their approval does not count.
    expect((await api("rv-reader", "POST", `${at}/reviews`, { event: "APPROVE" })).json.state).toBe("APPROVED");
    expect(await merge()).toMatchObject({ status: 405, json: { message: blocked } });

    // A writer's approval counts, until a push moves the head.
    const approval = await api("rv-writer", "POST", `${at}/reviews`, { event: "APPROVE" });
    expect(approval.json.state).toBe("APPROVED");
    const head = fx.branches.clean.oid;
    const next = await emptyCommit(repo, head, "One more");
    const command = `${head} ${next.oid} refs/heads/clean`;
    const pushed = await SELF.fetch(`${BASE}${repo.replace("/repos", "")}/git-receive-pack`, {
      method: "POST",
      headers: { Authorization: await accountAuth("rv-owner5"), "Content-Type": "application/x-git-receive-pack-request" },
      body: concatBytes([pktLine(`${command}\0report-status\n`), new TextEncoder().encode("0000"), next.pack]),
    });
    expect(new TextDecoder().decode(await pushed.arrayBuffer())).toContain("ok refs/heads/clean");
    expect((await api("rv-reader", "GET", `${at}/reviews/${approval.json.id}`)).json.state).toBe("DISMISSED");
    expect((await api("rv-reader", "GET", at)).json.head.sha).toBe(next.oid);
    expect(await merge()).toMatchObject({ status: 405, json: { message: blocked } });

    // Approved again on the new head: it merges.
    expect((await api("rv-writer", "POST", `${at}/reviews`, { event: "APPROVE" })).json).toMatchObject({
      state: "APPROVED",
      commit_id: next.oid,
    });
    const merged = await merge();
    expect(merged).toMatchObject({ status: 200, json: { merged: true } });
    expect((await api("rv-reader", "GET", at)).json).toMatchObject({ merged: true, state: "closed" });
  });

  it("refuses a REST move of a branch that requires pull requests, leaving the ref where it was", async () => {
    const { repo } = await reviewed("rv-owner6");
    expect((await api("rv-owner6", "PUT", `${repo}/branches/main/protection`, rule)).status).toBe(200);
    const made = await api("rv-writer", "POST", `${repo}/git/commits`, {
      message: "Straight to main",
      tree: (await api("rv-writer", "GET", `${repo}/git/commits/${fx.main}`)).json.tree.sha,
      parents: [fx.main],
    });
    expect(made.status).toBe(201);
    for (const user of ["rv-writer", "rv-owner6"]) {
      const moved = await api(user, "PATCH", `${repo}/git/refs/heads/main`, { sha: made.json.sha });
      expect(moved).toMatchObject({ status: 422, json: { message: "protected branch: changes must be made through a pull request" } });
    }
    expect((await api("rv-reader", "GET", `${repo}/git/ref/heads/main`)).json.object.sha).toBe(fx.main);
    // The same move on a branch no rule covers goes through.
    expect((await api("rv-writer", "POST", `${repo}/git/refs`, { ref: "refs/heads/side", sha: fx.main })).status).toBe(201);
    const side = await api("rv-writer", "PATCH", `${repo}/git/refs/heads/side`, { sha: made.json.sha });
    expect(side).toMatchObject({ status: 200, json: { object: { sha: made.json.sha } } });
    // A rule that does not bind admins lets the owner move main through the API, as a push may.
    expect((await api("rv-owner6", "PUT", `${repo}/branches/main/protection`, { ...rule, enforce_admins: false })).status).toBe(200);
    expect((await api("rv-writer", "PATCH", `${repo}/git/refs/heads/main`, { sha: made.json.sha })).status).toBe(422);
    expect((await api("rv-owner6", "PATCH", `${repo}/git/refs/heads/main`, { sha: made.json.sha })).status).toBe(200);
  });

  it("stops counting an approval once its reviewer loses write access, and refuses what GitHub refuses", async () => {
    const { repo, number } = await reviewed("rv-owner8");
    const at = `${repo}/pulls/${number}`;
    expect((await api("rv-owner8", "PUT", `${repo}/branches/main/protection`, rule)).status).toBe(200);
    expect((await api("rv-writer", "POST", `${at}/reviews`, { event: "APPROVE" })).json.state).toBe("APPROVED");
    // Made a reader after approving: as on GitHub, only current writers' approvals count.
    expect((await api("rv-owner8", "PUT", `${repo}/collaborators/rv-writer`, { permission: "pull" })).status).toBeLessThan(300);
    const merge = await api("rv-owner8", "PUT", `${at}/merge`, { merge_method: "merge" });
    expect(merge).toMatchObject({
      status: 405,
      json: { message: "At least 1 approving review is required by reviewers with write access." },
    });

    // A pending review is submitted with a verdict, not with PENDING.
    const draft = await api("rv-reader", "POST", `${at}/reviews`, { body: "Thinking" });
    expect(draft.json.state).toBe("PENDING");
    expect((await api("rv-reader", "POST", `${at}/reviews/${draft.json.id}/events`, { event: "PENDING" })).status).toBe(422);
    // A published reply may not hang under a draft comment, not even its author's own.
    const drafted = await api("rv-writer", "POST", `${at}/reviews`, {
      comments: [{ path: "a.txt", line: 17, side: "RIGHT", body: "draft note" }],
    });
    expect(drafted.json, JSON.stringify(drafted.json)).toMatchObject({ state: "PENDING" });
    const [note] = (await api("rv-writer", "GET", `${at}/reviews/${drafted.json.id}/comments`)).json as { id: number }[];
    const reply = await api("rv-writer", "POST", `${at}/comments`, { in_reply_to: note.id, body: "public reply" });
    expect(reply).toMatchObject({ status: 422 });
    // A page past any list is empty, not an error.
    expect((await api("rv-reader", "GET", `${at}/reviews?page=1e400`)).status).toBe(200);
  });

  it("moves a pull request's head when the API moves its branch, dismissing stale approvals", async () => {
    const { repo, number } = await reviewed("rv-owner7");
    const at = `${repo}/pulls/${number}`;
    expect((await api("rv-owner7", "PUT", `${repo}/branches/main/protection`, rule)).status).toBe(200);
    const approval = await api("rv-writer", "POST", `${at}/reviews`, { event: "APPROVE" });
    expect(approval.json.state).toBe("APPROVED");
    const head = fx.branches.clean.oid;
    const made = await api("rv-writer", "POST", `${repo}/git/commits`, {
      message: "One more, through the API",
      tree: (await api("rv-writer", "GET", `${repo}/git/commits/${head}`)).json.tree.sha,
      parents: [head],
    });
    expect((await api("rv-writer", "PATCH", `${repo}/git/refs/heads/clean`, { sha: made.json.sha })).status).toBe(200);
    expect((await api("rv-reader", "GET", at)).json.head.sha).toBe(made.json.sha);
    expect((await api("rv-reader", "GET", `${at}/reviews/${approval.json.id}`)).json.state).toBe("DISMISSED");
  });
});

describe("review on the pages", () => {
  async function signedIn(username: string): Promise<Browserless> {
    const b = new Browserless(BASE, (url, init) => SELF.fetch(url, init));
    const res = await b.post("/signup", { username, email: `${username}@example.com`, password: "correct horse" }, { from: "/signup" });
    expect(res.status).toBe(303);
    return b;
  }

  it("comments on a line from the files page, reviews, replies, resolves, and shows an outdated comment with its hunk", async () => {
    const owner = await signedIn("rvp-owner");
    const reviewer = await signedIn("rvp-rev");
    const { repo, number, stub } = await reviewed("rvp-owner");
    const path = repo.replace("/repos", "");
    const made = await SELF.fetch(`${BASE}/api/repos${path}`, {
      method: "PATCH",
      headers: { Authorization: await accountAuth("rvp-owner"), "Content-Type": "application/json" },
      body: JSON.stringify({ private: false }),
    });
    expect(made.status).toBe(200);
    await made.text();
    const files = `${path}/pull/${number}/files`;
    const head = fx.branches.clean.oid;

    // Anonymous visitors see the diff without forms; a signed-in one gets a "+" on each line.
    expect(await (await SELF.fetch(`${BASE}${files}`)).text()).not.toContain("Start a review");
    const page = await (await reviewer.get(files)).text();
    expect(page).toContain('aria-label="Comment on a.txt line 17"');
    expect(page).toContain("Review changes");

    // A comment into a new pending review: the reviewer sees it, marked pending; the owner does not.
    const posted = await reviewer.post(
      `${path}/pull/${number}/review-comments`,
      { path: "a.txt", line: "17", side: "RIGHT", commit_id: head, body: "Is **17** right?", action: "review" },
      { from: files },
    );
    expect(posted.status).toBe(303);
    const id = /#discussion_r(\d+)$/.exec(posted.headers.get("Location") ?? "")?.[1];
    expect(id).toBeDefined();
    const mine = await (await reviewer.get(files)).text();
    expect(mine).toContain(`id="discussion_r${id}"`);
    expect(mine).toContain("<strong>17</strong>");
    expect(mine).toContain("Pending");
    expect(mine).toContain("Add review comment");
    expect(await (await owner.get(files)).text()).not.toContain(`discussion_r${id}`);
    // A line outside the diff is refused and changes nothing.
    const outside = await reviewer.post(
      `${path}/pull/${number}/review-comments`,
      { path: "a.txt", line: "2", side: "RIGHT", commit_id: head, body: "nope", action: "single" },
      { from: files },
    );
    expect(outside.status).toBe(422);

    // "Review changes": requesting changes submits the pending review with its comment.
    const review = await reviewer.post(`${path}/pull/${number}/reviews`, { body: "Needs work", event: "REQUEST_CHANGES" }, { from: files });
    expect(review.status).toBe(303);
    const conversation = await (await owner.get(`${path}/pull/${number}`)).text();
    expect(conversation).toContain("requested changes");
    expect(conversation).toContain("Needs work");
    expect(conversation).toContain(`id="discussion_r${id}"`);
    expect(conversation).toMatch(/data-reviewer="rvp-rev"[\s\S]*changes requested/);
    expect(await (await owner.get(`${path}/pulls`)).text()).toContain("Changes requested");
    expect(await (await owner.get(files)).text()).toContain(`id="discussion_r${id}"`);

    // The author may not approve their own pull request.
    expect((await owner.post(`${path}/pull/${number}/reviews`, { body: "", event: "APPROVE" }, { from: files })).status).toBe(422);

    // The author replies in the thread and resolves it.
    const reply = await owner.post(
      `${path}/pull/${number}/review-comments/${id}/replies`,
      { body: "Yes, on purpose", back: "files" },
      { from: files },
    );
    expect(reply.status).toBe(303);
    expect(reply.headers.get("Location")).toContain(`${files}#discussion_r`);
    const resolved = await owner.post(`${path}/pull/${number}/review-threads/${id}`, { action: "resolve", back: "files" }, { from: files });
    expect(resolved.status).toBe(303);
    const after = await (await reviewer.get(files)).text();
    expect(after).toContain("Yes, on purpose");
    expect(after).toContain("resolved by rvp-owner");
    expect(after).toContain("Unresolve conversation");

    // A later push changes line 17: the comment is outdated, folded in the conversation
    // with the hunk it was written on, and gone from the files page.
    const a = Array.from({ length: 20 }, (_, i) => `line ${i + 1}\n`);
    a[16] = "line 17, third version\n";
    const pushed = await stub.commitFiles({
      parent: head,
      branch: "clean",
      createBranch: false,
      changes: [{ kind: "update", path: "a.txt", content: a.join("") }],
      message: "Again",
      author: { name: "Fixture", email: "fixture@example.com" },
      when: { seconds: 1_750_000_000 },
    });
    expect(pushed.ok).toBe(true);
    const later = await (await reviewer.get(`${path}/pull/${number}`)).text();
    expect(later).toContain(`data-outdated="${id}"`);
    expect(later).toMatch(/Outdated<\/span><\/summary><pre class="hunk-context">@@[^<]*\+line 17 changed on the branch<\/pre>/);
    expect(await (await reviewer.get(files)).text()).not.toContain(`id="discussion_r${id}"`);
  });
});
