// Protected branches and commit statuses inside workerd: the branch globs, every rule of
// the ref policy and the admin bypass, the merge gate's counts, and the statuses and
// protection endpoints of /api/v3 through the Worker, with a push refused by a rule.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TREE } from "../src/git/object/object";
import { pktLine } from "../src/git/protocol/pkt-line";
import type { RefActor } from "../src/git/ref-transaction";
import type { BranchRule, StatusState } from "../src/repo/collab";
import { ProtectionPolicy, branchMatches, defaultRule, mergeGate, ruleFor } from "../src/repo/protection";
import { concatBytes } from "../src/util/bytes";
import { accountAuth, ownerFetch } from "./helpers";
import { buildPack, oidOf } from "./pack-builder";

const ZERO = "0".repeat(40);
const A = "a".repeat(40);
const B = "b".repeat(40);
const C = "c".repeat(40);
const utf8 = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe("branch patterns", () => {
  it("match as git's wildmatch with pathname semantics", () => {
    expect(branchMatches("main", "main")).toBe(true);
    expect(branchMatches("main", "main2")).toBe(false);
    expect(branchMatches("release/*", "release/1.0")).toBe(true);
    expect(branchMatches("release/*", "release/1.0/hotfix")).toBe(false);
    expect(branchMatches("release/*", "release")).toBe(false);
    expect(branchMatches("release/**", "release/1.0/hotfix")).toBe(true);
    expect(branchMatches("**/fix", "a/b/fix")).toBe(true);
    expect(branchMatches("**/fix", "fix")).toBe(true);
    expect(branchMatches("a/**/b", "a/b")).toBe(true);
    expect(branchMatches("a/**/b", "a/x/y/b")).toBe(true);
    expect(branchMatches("v?", "v1")).toBe(true);
    expect(branchMatches("v?", "v10")).toBe(false);
    expect(branchMatches("v[0-9].x", "v3.x")).toBe(true);
    expect(branchMatches("v[!0-9].x", "v3.x")).toBe(false);
    expect(branchMatches("feat.x", "featzx")).toBe(false);
    expect(branchMatches("a+b", "a+b")).toBe(true);
    expect(branchMatches("*", "main")).toBe(true);
    expect(branchMatches("*", "a/b")).toBe(false);
  });

  it("pick the exact rule, then the longest matching glob", () => {
    const rules = [defaultRule("*"), defaultRule("release/*"), defaultRule("release/1.0"), defaultRule("**")];
    expect(ruleFor(rules, "release/1.0")?.pattern).toBe("release/1.0");
    expect(ruleFor(rules, "release/2.0")?.pattern).toBe("release/*");
    expect(ruleFor(rules, "main")?.pattern).toBe("*");
    expect(ruleFor(rules, "x/y")?.pattern).toBe("**");
    expect(ruleFor([defaultRule("release/*")], "main")).toBeNull();
  });
});

describe("the ref policy", () => {
  // A history A <- B; C is unrelated (a force push from B to C).
  const parents: Record<string, string[]> = { [A]: [], [B]: [A], [C]: [] };
  const isAncestor = (a: string, d: string): boolean => a === d || parents[d].some((p) => isAncestor(a, p));
  function policy(rule: Partial<BranchRule>, checks: Record<string, StatusState> = {}) {
    return new ProtectionPolicy({
      rules: () => [{ ...defaultRule("main"), ...rule }],
      checks: () => new Map(Object.entries(checks)),
      isAncestor,
    });
  }
  const push: RefActor = { via: "push", user: "pat" };
  const admin: RefActor = { via: "push", user: "ada", admin: true };
  const merge: RefActor = { via: "merge", user: "pat" };
  const main = (old: string, next: string) => ({ name: "refs/heads/main", old, new: next });

  it("leaves unprotected branches and tags alone", () => {
    const p = policy({ requirePullRequest: true });
    expect(p.refuse({ name: "refs/heads/other", old: A, new: C }, push)).toBeNull();
    expect(p.refuse({ name: "refs/tags/main", old: A, new: ZERO }, push)).toBeNull();
  });

  it("refuses direct changes when a pull request is required, but not a merge", () => {
    const p = policy({ requirePullRequest: true });
    expect(p.refuse(main(A, B), push)).toBe("protected branch: changes must be made through a pull request");
    expect(p.refuse(main(A, B), { via: "editor", user: "pat" })).toMatch(/pull request/);
    expect(p.refuse(main(A, B), { via: "api", user: "pat" })).toMatch(/pull request/);
    expect(p.refuse(main(A, B), merge)).toBeNull();
    // Creating the branch is allowed; the rule binds from then on.
    expect(p.refuse(main(ZERO, A), push)).toBeNull();
  });

  it("refuses force pushes unless allowed", () => {
    expect(policy({}).refuse(main(B, C), push)).toBe("protected branch: cannot force-push to this branch");
    expect(policy({}).refuse(main(B, A), push)).toBe("protected branch: cannot force-push to this branch");
    expect(policy({}).refuse(main(A, B), push)).toBeNull();
    expect(policy({ allowForcePushes: true }).refuse(main(B, C), push)).toBeNull();
  });

  it("refuses deletion unless allowed", () => {
    expect(policy({}).refuse(main(B, ZERO), push)).toBe("protected branch: cannot delete this branch");
    expect(policy({ allowForcePushes: true }).refuse(main(B, ZERO), push)).toMatch(/cannot delete/);
    expect(policy({ allowDeletions: true }).refuse(main(B, ZERO), push)).toBeNull();
  });

  it("asks required checks to pass on the pushed commit", () => {
    expect(policy({ requiredChecks: ["ci"] }).refuse(main(A, B), push)).toBe('protected branch: required status check "ci" is expected');
    expect(policy({ requiredChecks: ["ci"] }, { ci: "pending" }).refuse(main(A, B), push)).toMatch(/"ci" is pending/);
    expect(policy({ requiredChecks: ["ci", "lint"] }, { ci: "success", lint: "failure" }).refuse(main(A, B), push)).toMatch(
      /"lint" is failure/,
    );
    expect(policy({ requiredChecks: ["ci"] }, { ci: "success" }).refuse(main(A, B), push)).toBeNull();
  });

  it("lets admins bypass unless the rule enforces admins", () => {
    const loose = policy({ requirePullRequest: true });
    expect(loose.refuse(main(A, B), admin)).toBeNull();
    expect(loose.refuse(main(B, C), admin)).toBeNull();
    expect(loose.refuse(main(B, ZERO), admin)).toBeNull();
    const strict = policy({ requirePullRequest: true, enforceAdmins: true });
    expect(strict.refuse(main(A, B), admin)).toMatch(/pull request/);
    expect(strict.refuse(main(B, C), admin)).toMatch(/force-push/);
    expect(strict.refuse(main(B, ZERO), admin)).toMatch(/delete/);
  });
});

describe("the merge gate", () => {
  const asked: (string | null)[] = [];
  const approvals = (reviewers: string[]) => (_n: number, head: string | null) => {
    asked.push(head);
    return reviewers;
  };
  const gate = (rule: Partial<BranchRule> | null, reviewers: string[], checks: Record<string, StatusState> = {}, upToDate = true) =>
    mergeGate({
      rule: rule && { ...defaultRule("main"), requirePullRequest: true, ...rule },
      prNumber: 7,
      head: B,
      author: "pat",
      approvals: approvals(reviewers),
      checks: new Map(Object.entries(checks)),
      upToDate,
    });

  it("counts distinct approvers other than the author", () => {
    expect(gate({ requiredApprovals: 2 }, ["ada"]).blockers).toEqual([
      "At least 2 approving reviews are required by reviewers with write access.",
    ]);
    expect(gate({ requiredApprovals: 2 }, ["ada", "ada", "pat"]).blockers).toHaveLength(1);
    expect(gate({ requiredApprovals: 2 }, ["ada", "bo"]).blockers).toEqual([]);
    expect(gate({ requiredApprovals: 1 }, []).blockers).toEqual([
      "At least 1 approving review is required by reviewers with write access.",
    ]);
    expect(gate({ requiredApprovals: 0 }, []).blockers).toEqual([]);
    expect(gate(null, []).blockers).toEqual([]);
  });

  it("asks for approvals of the head only when stale ones are dismissed", () => {
    asked.length = 0;
    gate({ requiredApprovals: 1, dismissStaleReviews: true }, ["ada"]);
    gate({ requiredApprovals: 1 }, ["ada"]);
    expect(asked).toEqual([B, null]);
  });

  it("lists required checks that are not success, and an out-of-date head under strict", () => {
    const g = gate({ requiredChecks: ["ci", "lint", "e2e"] }, [], { ci: "success", lint: "pending", e2e: "error" });
    expect(g.blockers).toEqual(['Required status check "lint" is pending.', 'Required status check "e2e" is failing.']);
    expect(g.checks).toEqual([
      { context: "ci", state: "success" },
      { context: "lint", state: "pending" },
      { context: "e2e", state: "error" },
    ]);
    expect(gate({ requiredChecks: ["ci"] }, []).blockers).toEqual(['Required status check "ci" is expected.']);
    expect(gate({ requiredChecks: ["ci"], strictChecks: true }, [], { ci: "success" }, false).blockers).toEqual([
      "Head branch is out of date with the base branch.",
    ]);
  });
});

// ---- through the Worker ----------------------------------------------------------------

let seq = 0;

function commit(parent: string | null, text: string) {
  const blob = utf8(text);
  const tree = concatBytes([
    utf8("100644 file.txt\0"),
    Uint8Array.from(
      oidOf(OBJ_BLOB, blob)
        .match(/../g)!
        .map((h) => parseInt(h, 16)),
    ),
  ]);
  const sig = "Pat <pat@example.com> 1700000000 +0000";
  const data = utf8(`tree ${oidOf(OBJ_TREE, tree)}\n${parent ? `parent ${parent}\n` : ""}author ${sig}\ncommitter ${sig}\n\n${text}\n`);
  return {
    oid: oidOf(OBJ_COMMIT, data),
    pack: buildPack([
      { type: OBJ_BLOB, data: blob },
      { type: OBJ_TREE, data: tree },
      { type: OBJ_COMMIT, data },
    ]),
  };
}

async function receive(url: string, commands: string[], pack: Uint8Array, auth?: string): Promise<string> {
  const lines = commands.map((c, i) => pktLine(i === 0 ? `${c}\0report-status atomic\n` : `${c}\n`));
  const res = await ownerFetch(`${url}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request", ...(auth ? { Authorization: auth } : {}) },
    body: concatBytes([...lines, utf8("0000"), pack]),
  });
  return dec(new Uint8Array(await res.arrayBuffer()));
}

async function repository() {
  const owner = `prot${Date.now().toString(36)}${seq++}`;
  const name = `r${seq++}`;
  const url = `http://gitflare.test/${owner}/${name}`;
  const first = commit(null, "one");
  expect(await receive(url, [`${ZERO} ${first.oid} refs/heads/main`], first.pack)).toContain("ok refs/heads/main");
  const api = `http://gitflare.test/api/v3/repos/${owner}/${name}`;
  const call = async (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has("Authorization")) headers.set("Authorization", await accountAuth(owner));
    if (init.body) headers.set("Content-Type", "application/json");
    return SELF.fetch(`${api}${path}`, { ...init, headers });
  };
  return { owner, name, url, api, call, first };
}

describe("the statuses API", () => {
  it("records statuses, lists them newest first and combines the latest of each context", async () => {
    const r = await repository();
    const post = (body: unknown) => r.call(`/statuses/${r.first.oid}`, { method: "POST", body: JSON.stringify(body) });
    const a = await post({ state: "pending", context: "ci", target_url: "https://ci.example/1", description: "running" });
    expect(a.status).toBe(201);
    const aj = (await a.json()) as Record<string, unknown>;
    expect(aj).toMatchObject({ state: "pending", context: "ci", target_url: "https://ci.example/1", description: "running" });
    expect((aj.creator as { login: string }).login).toBe(r.owner);
    expect(((await (await post({ state: "success" })).json()) as { context: string }).context).toBe("default");
    expect((await post({ state: "success", context: "ci" })).status).toBe(201);

    const combined = (await (await r.call("/commits/main/status")).json()) as Record<string, unknown>;
    expect(combined).toMatchObject({ state: "success", sha: r.first.oid, total_count: 2 });
    expect((combined.statuses as { context: string; state: string }[]).map((s) => [s.context, s.state])).toEqual([
      ["ci", "success"],
      ["default", "success"],
    ]);
    expect((combined.repository as { full_name: string }).full_name).toBe(`${r.owner}/${r.name}`);

    const list = (await (await r.call(`/commits/${r.first.oid}/statuses`)).json()) as { state: string; context: string }[];
    expect(list.map((s) => `${s.context}:${s.state}`)).toEqual(["ci:success", "default:success", "ci:pending"]);
    const alias = (await (await r.call("/statuses/main")).json()) as unknown[];
    expect(alias).toEqual(list);
    const paged = await r.call("/commits/main/statuses?per_page=1&page=2");
    expect(((await paged.json()) as { context: string }[]).map((s) => s.context)).toEqual(["default"]);
    expect(paged.headers.get("Link")).toContain('rel="next"');

    expect((await post({ state: "failure", context: "lint" })).status).toBe(201);
    expect(((await (await r.call("/commits/main/status")).json()) as { state: string }).state).toBe("failure");
  });

  it("refuses bad input and answers pending with no statuses", async () => {
    const r = await repository();
    expect(((await (await r.call("/commits/main/status")).json()) as { state: string; total_count: number }).state).toBe("pending");
    const post = (sha: string, body: unknown) => r.call(`/statuses/${sha}`, { method: "POST", body: JSON.stringify(body) });
    expect((await post(r.first.oid, { state: "done" })).status).toBe(422);
    expect((await post(r.first.oid, {})).status).toBe(422);
    expect((await post(r.first.oid, { state: "success", context: "x".repeat(300) })).status).toBe(422);
    const missing = await post("d".repeat(40), { state: "success" });
    expect(missing.status).toBe(422);
    expect(((await missing.json()) as { message: string }).message).toBe(`No commit found for SHA: ${"d".repeat(40)}`);
    expect((await r.call("/commits/nosuch/status")).status).toBe(404);
    expect(((await (await r.call(`/commits/${r.first.oid}/statuses`)).json()) as unknown[]).length).toBe(0);
  });
});

describe("the protection API and the push it refuses", () => {
  const body = {
    required_status_checks: { strict: false, contexts: ["ci"] },
    enforce_admins: true,
    required_pull_request_reviews: { required_approving_review_count: 1, dismiss_stale_reviews: true },
    restrictions: null,
    allow_force_pushes: false,
    allow_deletions: false,
  };

  it("sets, reads and removes a rule; branches show it; a direct push is refused", async () => {
    const r = await repository();
    expect((await r.call("/branches/main/protection")).status).toBe(404);
    const put = await r.call("/branches/main/protection", { method: "PUT", body: JSON.stringify(body) });
    expect(put.status).toBe(200);
    const pj = (await put.json()) as Record<string, { enabled?: boolean; contexts?: string[]; required_approving_review_count?: number }>;
    expect(pj.required_status_checks.contexts).toEqual(["ci"]);
    expect(pj.required_pull_request_reviews.required_approving_review_count).toBe(1);
    expect(pj.enforce_admins.enabled).toBe(true);
    expect(pj.allow_force_pushes.enabled).toBe(false);
    expect(await (await r.call("/branches/main/protection")).json()).toEqual(pj);

    const branch = (await (await r.call("/branches/main")).json()) as { protected: boolean; commit: { sha: string }; protection: unknown };
    expect(branch.protected).toBe(true);
    expect(branch.commit.sha).toBe(r.first.oid);
    expect(branch.protection).toMatchObject({ enabled: true, required_status_checks: { enforcement_level: "everyone", contexts: ["ci"] } });
    const list = (await (await r.call("/branches")).json()) as { name: string; protected: boolean }[];
    expect(list).toEqual([expect.objectContaining({ name: "main", protected: true })]);
    expect((await r.call("/branches/nosuch")).status).toBe(404);

    // The owner is an admin, and the rule enforces admins.
    const second = commit(r.first.oid, "two");
    const refused = await receive(r.url, [`${r.first.oid} ${second.oid} refs/heads/main`], second.pack);
    expect(refused).toContain("ng refs/heads/main protected branch: changes must be made through a pull request");
    expect(((await (await r.call("/branches/main")).json()) as { commit: { sha: string } }).commit.sha).toBe(r.first.oid);
    // Atomic: a second, unprotected ref in the same push is refused with it.
    const both = await receive(
      r.url,
      [`${r.first.oid} ${second.oid} refs/heads/main`, `${ZERO} ${second.oid} refs/heads/side`],
      second.pack,
    );
    expect(both).toContain("ng refs/heads/side atomic push failed");
    expect((await r.call("/branches/side")).status).toBe(404);

    expect((await r.call("/branches/main/protection", { method: "DELETE" })).status).toBe(204);
    expect((await r.call("/branches/main/protection", { method: "DELETE" })).status).toBe(404);
    expect(await receive(r.url, [`${r.first.oid} ${second.oid} refs/heads/main`], second.pack)).toContain("ok refs/heads/main");
  });

  it("takes globs, lets admins bypass a rule that does not enforce admins, and refuses bad bodies", async () => {
    const r = await repository();
    const glob = await r.call(`/branches/${encodeURIComponent("release/*")}/protection`, {
      method: "PUT",
      body: JSON.stringify({ ...body, enforce_admins: false }),
    });
    expect(glob.status).toBe(200);
    const two = commit(r.first.oid, "two");
    expect(await receive(r.url, [`${ZERO} ${r.first.oid} refs/heads/release/1`], buildPack([]))).toContain("ok refs/heads/release/1");
    expect((await (await r.call("/branches/release/1")).json()) as { protected: boolean }).toMatchObject({ protected: true });
    // The owner bypasses; a writer does not.
    const writer = `w${r.owner}`;
    await accountAuth(writer);
    const add = await SELF.fetch(`http://gitflare.test/api/repos/${r.owner}/${r.name}/collaborators/${writer}`, {
      method: "PUT",
      headers: { Authorization: await accountAuth(r.owner), "Content-Type": "application/json" },
      body: JSON.stringify({ role: "write" }),
    });
    expect(add.status).toBeLessThan(300);
    const asWriter = await receive(r.url, [`${r.first.oid} ${two.oid} refs/heads/release/1`], two.pack, await accountAuth(writer));
    expect(asWriter).toContain("ng refs/heads/release/1 protected branch: changes must be made through a pull request");
    expect(await receive(r.url, [`${r.first.oid} ${two.oid} refs/heads/release/1`], two.pack)).toContain("ok refs/heads/release/1");

    const bad = async (b: unknown) => (await r.call("/branches/main/protection", { method: "PUT", body: JSON.stringify(b) })).status;
    expect(await bad({ ...body, restrictions: { users: [] } })).toBe(422);
    const { enforce_admins: _, ...missing } = body;
    expect(await bad(missing)).toBe(422);
    expect(await bad({ ...body, required_pull_request_reviews: { required_approving_review_count: -1 } })).toBe(422);
    expect(await bad({ ...body, required_status_checks: { contexts: ["ci"] } })).toBe(422);
    expect((await r.call("/branches/main/protection")).status).toBe(404);
    // Only admins manage protection.
    expect((await r.call("/branches/main/protection", { headers: { Authorization: await accountAuth(writer) } })).status).toBe(403);
  });
});
