// Protected branches and commit statuses on pages, through the Worker as a signed-in
// browser uses them: the Branches settings page saves and deletes rules (admins only),
// icons beside commits and branches, the checks box with links only for http(s) URLs, and
// a pull request's merge box that lists what blocks the merge and disables its buttons.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TREE, fromHex } from "../src/git/object/object";
import { pktLine } from "../src/git/protocol/pkt-line";
import { concatBytes } from "../src/util/bytes";
import { Browserless } from "../e2e/accounts";
import { accountAuth, ownerFetch } from "./helpers";
import { buildPack, oidOf } from "./pack-builder";

const BASE = "http://gitflare.test";
const ZERO = "0".repeat(40);
const utf8 = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
let seq = 0;

function commit(parent: string | null, text: string) {
  const blob = utf8(text);
  const tree = concatBytes([utf8("100644 file.txt\0"), fromHex(oidOf(OBJ_BLOB, blob))]);
  const sig = "Pat <pat@example.com> 1700000000 +0000";
  const data = utf8(`tree ${oidOf(OBJ_TREE, tree)}\n${parent ? `parent ${parent}\n` : ""}author ${sig}\ncommitter ${sig}\n\n${text}\n`);
  return {
    oid: oidOf(OBJ_COMMIT, data),
    objects: [
      { type: OBJ_BLOB, data: blob },
      { type: OBJ_TREE, data: tree },
      { type: OBJ_COMMIT, data },
    ],
  };
}

async function setup() {
  const owner = `pages${Date.now().toString(36)}${seq++}`;
  const web = new Browserless(BASE, (url, init) => SELF.fetch(url, init));
  const signup = await web.post(
    "/signup",
    { username: owner, email: `${owner}@example.com`, password: "correct horse" },
    { from: "/signup" },
  );
  expect(signup.status).toBe(303);
  const path = `/${owner}/guarded`;
  const first = commit(null, "one");
  const second = commit(first.oid, "two");
  const res = await ownerFetch(`${BASE}${path}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body: concatBytes([
      pktLine(`${ZERO} ${first.oid} refs/heads/main\0report-status\n`),
      pktLine(`${ZERO} ${second.oid} refs/heads/feature\n`),
      utf8("0000"),
      buildPack([...first.objects, ...second.objects]),
    ]),
  });
  expect(dec(new Uint8Array(await res.arrayBuffer()))).toContain("ok refs/heads/feature");
  const auth = await accountAuth(owner);
  const api = (p: string, init: RequestInit = {}) =>
    SELF.fetch(`${BASE}/api/v3/repos${path}${p}`, { ...init, headers: { Authorization: auth, "Content-Type": "application/json" } });
  return { owner, web, path, first, second, api };
}

describe("protection and statuses on pages", () => {
  it("saves rules on the Branches page, shows statuses, and blocks the merge box", async () => {
    const f = await setup();
    // Statuses: a pending CI with an https link, and a context whose URL must not become a link.
    const post = (sha: string, body: unknown) => f.api(`/statuses/${sha}`, { method: "POST", body: JSON.stringify(body) });
    expect(
      (await post(f.second.oid, { state: "pending", context: "ci", target_url: "https://ci.example/run/7", description: "building" }))
        .status,
    ).toBe(201);
    expect((await post(f.second.oid, { state: "success", context: "lint", target_url: "javascript:alert(1)" })).status).toBe(201);
    expect((await post(f.first.oid, { state: "failure", context: "ci" })).status).toBe(201);

    const commitPage = await (await f.web.get(`${f.path}/commit/${f.second.oid}`)).text();
    expect(commitPage).toContain('<span class="ci pending"');
    expect(commitPage).toContain('href="https://ci.example/run/7"');
    expect(commitPage).toContain("<b>lint</b>");
    expect(commitPage).not.toContain("javascript:alert");
    const log = await (await f.web.get(`${f.path}/commits/feature`)).text();
    expect(log).toContain('class="ci pending"');
    expect(log).toContain('class="ci failure"');

    // The Branches settings page: a rule for main with a required check, binding admins.
    const saved = await f.web.post(
      `${f.path}/settings/branches`,
      { pattern: "main", require_pull_request: "1", required_approvals: "0", required_checks: "ci\n", enforce_admins: "1" },
      { from: `${f.path}/settings/branches` },
    );
    expect(saved.status).toBe(200);
    expect(await saved.text()).toContain("Saved the rule for main.");
    const rule = (await (await f.api("/branches/main/protection")).json()) as { required_status_checks: { contexts: string[] } };
    expect(rule.required_status_checks.contexts).toEqual(["ci"]);
    const bad = await f.web.post(`${f.path}/settings/branches`, { pattern: "bad..name" }, { from: `${f.path}/settings/branches` });
    expect(bad.status).toBe(400);
    expect((await SELF.fetch(`${BASE}${f.path}/settings/branches`, { redirect: "manual" })).status).not.toBe(200);

    // The browser editor may not commit to main directly; nothing moves.
    const edit = await f.web.post(
      `${f.path}/edit/main/file.txt`,
      {
        parent: f.first.oid,
        branch: "main",
        from: "file.txt",
        filename: "file.txt",
        content: "edited\n",
        message: "Edit",
        target: "direct",
      },
      { from: `${f.path}/edit/main/file.txt` },
    );
    expect(edit.status).toBe(403);
    expect(await edit.text()).toContain("protected branch: changes must be made through a pull request");
    expect(((await (await f.api("/branches/main")).json()) as { commit: { sha: string } }).commit.sha).toBe(f.first.oid);

    const branches = await (await f.web.get(`${f.path}/branches`)).text();
    expect(branches).toMatch(/>main<\/a>.*class="protected"/s);

    const pr = await f.api("/pulls", { method: "POST", body: JSON.stringify({ title: "Feature", head: "feature", base: "main" }) });
    expect(pr.status).toBe(201);
    const { number } = (await pr.json()) as { number: number };
    const prPage = async () => (await (await f.web.get(`${f.path}/pull/${number}`)).text()).replace(/\s+/g, " ");
    let text = await prPage();
    expect(text).toContain("Merging is blocked");
    expect(text).toContain("Required status check &quot;ci&quot; is pending.");
    expect(text).toMatch(/value="merge" disabled/);
    expect(text).toContain('id="checks"');
    const refused = await f.web.post(
      `${f.path}/pull/${number}/merge`,
      { method: "merge", sha: f.second.oid },
      { from: `${f.path}/pull/${number}` },
    );
    expect(refused.status).toBe(405);

    expect((await post(f.second.oid, { state: "success", context: "ci" })).status).toBe(201);
    text = await prPage();
    expect(text).toContain("Branch protection requirements are met");
    expect(text).not.toMatch(/value="merge" disabled/);

    const deleted = await f.web.post(`${f.path}/settings/branches/delete`, { pattern: "main" }, { from: `${f.path}/settings/branches` });
    expect(deleted.status).toBe(200);
    expect((await f.api("/branches/main/protection")).status).toBe(404);
  });
});
