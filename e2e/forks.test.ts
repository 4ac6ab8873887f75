// Forks against the real server with the real git client: a fork made on its page and
// through the API, pushed to, and shown as "forked from"; then the parent is force-pushed,
// garbage-collected (maintenance run until done, with no grace period) and deleted, and the
// fork still clones and passes `git fsck --strict`. Pull requests from the fork, opened on
// the parent's pages and through the API, follow the fork's pushes and merge into the parent. Also the storage a fork of an unchanged
// repository takes, against its parent's (printed, and in the README).
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, gitAuthEnv, signUp } from "./accounts";
import { git, gitRun, tempDir } from "./git";
import { LocalServer } from "./server";

const server = new LocalServer();
let owner: Account;
let forker: Account;

beforeAll(async () => {
  // No grace period: maintenance drops what the force-push left unreachable at once.
  await server.start({ vars: { GITFLARE_PRUNE_GRACE_SECONDS: "0" } });
  // The first account is the site admin, who may run maintenance.
  owner = await signUp(server.url, "fork-owner");
  forker = await signUp(server.url, "fork-user");
});
afterAll(() => server.stop());

const api = (who: Account, path: string, init: RequestInit = {}) =>
  fetch(`${server.url}/api/v3${path}`, {
    ...init,
    headers: { Authorization: who.auth, "Content-Type": "application/json", ...(init.headers as Record<string, string>) },
  });

async function run(who: Account, dir: string, ...args: string[]) {
  const r = await gitRun(dir, args, gitAuthEnv(who.auth));
  if (r.code !== 0) throw new Error(`git ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

/** Where a repository's bytes are, from the storage endpoint (its admin). */
async function storage(who: Account, full: string) {
  const res = await fetch(`${server.url}/api/repos/${full}/storage`, { headers: { Authorization: who.auth } });
  expect(res.status).toBe(200);
  return (await res.json()) as {
    database_bytes: number;
    files: { sqlite_bytes: number; r2_bytes: number; r2_shared_bytes: number };
    packs: { count: number };
    retired_packs: { count: number };
  };
}

/** Runs the repository's maintenance until it has nothing left to do. */
async function maintainUntilDone(full: string) {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${server.url}/api/repos/${full}/maintenance`, {
      method: "POST",
      headers: { Authorization: owner.auth, "Content-Type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    if (!((await res.json()) as { more: boolean }).more) return;
  }
  throw new Error("maintenance never finished");
}

/** Clones `full` as `who` and checks it with `git fsck --strict`; the clone's directory. */
async function cloneChecked(who: Account, full: string): Promise<string> {
  const dir = tempDir("gitflare-fork-clone-");
  await run(who, dir, "clone", "-q", `${server.url}/${full}.git`, "c");
  const clone = join(dir, "c");
  await git(clone, "fsck", "--strict", "--no-dangling");
  return clone;
}

describe("forks", () => {
  it("forks, pushes to the fork, and outlives the parent's force-push, GC and deletion", async () => {
    // A parent whose history is worth sharing: 40 commits of incompressible files.
    expect((await api(owner, "/user/repos", { method: "POST", body: JSON.stringify({ name: "upstream", private: false }) })).status).toBe(
      201,
    );
    const src = tempDir("gitflare-upstream-");
    await git(src, "init", "-q", "-b", "main");
    for (let i = 0; i < 40; i++) {
      writeFileSync(join(src, `f${i % 8}.bin`), randomBytes(24 * 1024).toString("base64"));
      await git(src, "add", "-A");
      await git(src, "commit", "-q", "-m", `commit ${i}`);
    }
    await git(src, "tag", "v1");
    // A branch only the parent will drop: its commit is in the packs the fork shares.
    await git(src, "checkout", "-q", "-b", "scratch");
    writeFileSync(join(src, "scratch.txt"), randomBytes(1024).toString("base64"));
    await git(src, "add", "-A");
    await git(src, "commit", "-q", "-m", "Scratch work");
    const scratch = (await git(src, "rev-parse", "HEAD")).trim();
    await git(src, "checkout", "-q", "main");
    await run(owner, src, "push", "-q", `${server.url}/${owner.username}/upstream.git`, "main", "v1", "scratch");

    // Fork on the page: the form, then the fork's page says where it came from.
    const form = await forker.web.get(`/${owner.username}/upstream/fork`);
    expect(form.status).toBe(200);
    const made = await forker.web.post(`/${owner.username}/upstream/fork`, { name: "upstream" });
    expect(made.status).toBe(303);
    expect(made.headers.get("Location")).toBe(`/${forker.username}/upstream`);
    const home = await (await forker.web.get(`/${forker.username}/upstream`)).text();
    expect(home).toContain(`forked from <a href="/${owner.username}/upstream">${owner.username}/upstream</a>`);
    const network = await (await fetch(`${server.url}/${owner.username}/upstream/forks`)).text();
    expect(network).toContain(`${forker.username}/upstream`);

    // In the API, as GitHub gives it.
    const forkJson = (await (await api(forker, `/repos/${forker.username}/upstream`)).json()) as {
      fork: boolean;
      parent: { full_name: string };
      source: { full_name: string };
    };
    expect(forkJson).toMatchObject({
      fork: true,
      parent: { full_name: `${owner.username}/upstream` },
      source: { full_name: `${owner.username}/upstream` },
    });
    const parentJson = (await (await api(owner, `/repos/${owner.username}/upstream`)).json()) as { forks_count: number };
    expect(parentJson.forks_count).toBe(1);
    const listed = (await (await api(owner, `/repos/${owner.username}/upstream/forks`)).json()) as { full_name: string }[];
    expect(listed.map((r) => r.full_name)).toEqual([`${forker.username}/upstream`]);

    // The fork's refs are the parent's.
    const refsOf = (full: string) => run(owner, src, "ls-remote", `${server.url}/${full}.git`);
    expect(await refsOf(`${forker.username}/upstream`)).toBe(await refsOf(`${owner.username}/upstream`));

    // What an unchanged fork stores itself, against its parent: file bytes in SQLite (DOFS)
    // and in R2, R2 objects it shares with the parent not counted as its own. The SQLite
    // databases' own size (tables, indexes and free pages) is printed too.
    const p = await storage(owner, `${owner.username}/upstream`);
    const f = await storage(forker, `${forker.username}/upstream`);
    const parentBytes = p.files.sqlite_bytes + p.files.r2_bytes;
    const forkBytes = f.files.sqlite_bytes + f.files.r2_bytes - f.files.r2_shared_bytes;
    console.log(
      `fork storage: parent ${parentBytes} bytes of files (DOFS ${p.files.sqlite_bytes}, R2 ${p.files.r2_bytes}), database ${p.database_bytes}; ` +
        `unchanged fork ${forkBytes} bytes (DOFS ${f.files.sqlite_bytes}, R2 owned ${f.files.r2_bytes - f.files.r2_shared_bytes}, ` +
        `R2 shared ${f.files.r2_shared_bytes}), database ${f.database_bytes}: ${((100 * forkBytes) / parentBytes).toFixed(2)}% of the parent's files`,
    );
    expect(f.files.r2_bytes - f.files.r2_shared_bytes).toBe(0);
    expect(forkBytes).toBeLessThan(parentBytes / 20);

    // The fork's owner pushes to it.
    const work = await cloneChecked(forker, `${forker.username}/upstream`);
    writeFileSync(join(work, "fork.txt"), "a change made in the fork\n");
    await git(work, "add", "-A");
    await git(work, "commit", "-q", "-m", "Change in the fork");
    await run(forker, work, "push", "-q", "origin", "main");

    // A pull request from a branch of the fork, opened on the parent's pages: git's link
    // after the push leads to the parent's comparison, whose form opens it.
    await git(work, "checkout", "-q", "-b", "feature");
    writeFileSync(join(work, "feature.txt"), "a feature from the fork\n");
    await git(work, "add", "-A");
    await git(work, "commit", "-q", "-m", "Feature from the fork");
    const pushed = await gitRun(work, ["push", "origin", "feature"], gitAuthEnv(forker.auth));
    expect(pushed.stderr).toContain(`/${forker.username}/upstream/pull/new/feature`);
    const offer = await forker.web.get(`/${forker.username}/upstream/pull/new/feature`);
    const compare = `/${owner.username}/upstream/compare/main...${forker.username}:feature`;
    expect(offer.headers.get("Location")).toBe(compare);
    expect(await (await forker.web.get(compare)).text()).toContain(`name="head" value="${forker.username}:feature"`);
    const opened = await forker.web.post(
      `/${owner.username}/upstream/pulls`,
      { base: "main", head: `${forker.username}:feature`, title: "Feature from the fork", body: "" },
      { from: compare },
    );
    expect(opened.status).toBe(303);
    const prPath = opened.headers.get("Location")!;
    const number = Number(prPath.split("/").pop());
    expect(await (await owner.web.get(prPath)).text()).toContain(`<code>${forker.username}:feature</code>`);

    // Another through the API, from a second branch.
    await git(work, "checkout", "-q", "-b", "second", "main");
    writeFileSync(join(work, "second.txt"), "second change\n");
    await git(work, "add", "-A");
    await git(work, "commit", "-q", "-m", "Second change");
    await run(forker, work, "push", "-q", "origin", "second");
    const viaApi = await api(forker, `/repos/${owner.username}/upstream/pulls`, {
      method: "POST",
      body: JSON.stringify({ title: "Second", head: `${forker.username}:second`, base: "main" }),
    });
    expect(viaApi.status).toBe(201);
    expect(((await viaApi.json()) as { head: { label: string } }).head.label).toBe(`${forker.username}:second`);

    // The fork's owner pushes again to the head branch: the parent's pull request follows.
    await git(work, "checkout", "-q", "feature");
    writeFileSync(join(work, "feature.txt"), "a feature from the fork, improved\n");
    const improved = (await git(work, "commit", "-q", "-am", "Improve the feature").then(() => git(work, "rev-parse", "HEAD"))).trim();
    await run(forker, work, "push", "-q", "origin", "feature");
    await expect
      .poll(
        async () =>
          ((await (await api(owner, `/repos/${owner.username}/upstream/pulls/${number}`)).json()) as { head: { sha: string } }).head.sha,
      )
      .toBe(improved);

    // The parent's owner merges it; the parent then holds the fork's commits.
    const merged = await api(owner, `/repos/${owner.username}/upstream/pulls/${number}/merge`, {
      method: "PUT",
      body: JSON.stringify({ sha: improved, merge_method: "merge" }),
    });
    expect(merged.status).toBe(200);
    const parentClone = await cloneChecked(owner, `${owner.username}/upstream`);
    expect((await git(parentClone, "log", "--format=%s", "-3")).split("\n")).toContain("Improve the feature");

    // The parent is force-pushed to an unrelated history as large as the old one (so that
    // compaction merges every pack, which alone prunes), collected, then deleted.
    const other = tempDir("gitflare-other-");
    await git(other, "init", "-q", "-b", "main");
    for (let i = 0; i < 40; i++) {
      writeFileSync(join(other, `g${i % 8}.bin`), randomBytes(24 * 1024).toString("base64"));
      await git(other, "add", "-A");
      await git(other, "commit", "-q", "-m", `new start ${i}`);
    }
    await run(owner, other, "push", "-q", "--force", `${server.url}/${owner.username}/upstream.git`, "main", ":refs/tags/v1", ":scratch");
    await maintainUntilDone(`${owner.username}/upstream`);
    // Compacted into one pack, the shared ones retired and deleted, and pruned: the scratch
    // commit is gone from the parent. (The old main stays: the pull requests' refs reach it.)
    const after = await storage(owner, `${owner.username}/upstream`);
    expect(after.packs.count).toBe(1);
    expect(after.retired_packs.count).toBe(0);
    expect((await api(owner, `/repos/${owner.username}/upstream/git/commits/${scratch}`)).status).toBe(404);
    await cloneChecked(forker, `${forker.username}/upstream`);
    expect((await api(owner, `/repos/${owner.username}/upstream`, { method: "DELETE" })).status).toBe(204);

    const clone = await cloneChecked(forker, `${forker.username}/upstream`);
    expect((await git(clone, "rev-list", "--count", "HEAD")).trim()).toBe("41");
    expect((await git(clone, "rev-list", "--count", "origin/feature")).trim()).toBe("43");
    expect((await git(clone, "rev-parse", "origin/scratch")).trim()).toBe(scratch);
    expect((await git(clone, "tag")).trim()).toBe("v1");
    await maintainUntilDone(`${forker.username}/upstream`);
    await cloneChecked(forker, `${forker.username}/upstream`);
    // With its parent gone, the fork stands alone.
    const alone = (await (await api(forker, `/repos/${forker.username}/upstream`)).json()) as { fork: boolean };
    expect(alone.fork).toBe(false);
  });

  it("keeps a fork of a private repository private, and only readers of the parent may fork it", async () => {
    expect((await api(owner, "/user/repos", { method: "POST", body: JSON.stringify({ name: "secret", private: true }) })).status).toBe(201);
    const src = tempDir("gitflare-secret-");
    await git(src, "init", "-q", "-b", "main");
    writeFileSync(join(src, "a.txt"), "secret\n");
    await git(src, "add", "-A");
    await git(src, "commit", "-q", "-m", "Secret");
    await run(owner, src, "push", "-q", `${server.url}/${owner.username}/secret.git`, "main");
    expect((await api(forker, `/repos/${owner.username}/secret/forks`, { method: "POST", body: "{}" })).status).toBe(404);
    expect((await forker.web.get(`/${owner.username}/secret/fork`)).status).toBe(404);
    await api(owner, `/repos/${owner.username}/secret/collaborators/${forker.username}`, {
      method: "PUT",
      body: JSON.stringify({ permission: "pull" }),
    });
    const res = await api(forker, `/repos/${owner.username}/secret/forks`, { method: "POST", body: "{}" });
    expect(res.status).toBe(202);
    expect(((await res.json()) as { private: boolean }).private).toBe(true);
    const publish = await api(forker, `/repos/${forker.username}/secret`, { method: "PATCH", body: JSON.stringify({ private: false }) });
    expect(publish.status).toBe(422);
    expect((await fetch(`${server.url}/${forker.username}/secret`)).status).toBe(404);
    await cloneChecked(forker, `${forker.username}/secret`);
    // Losing access to the parent takes the fork away too.
    const removed = await api(owner, `/repos/${owner.username}/secret/collaborators/${forker.username}`, { method: "DELETE" });
    expect(removed.status).toBe(204);
    expect((await api(forker, `/repos/${forker.username}/secret`)).status).toBe(404);
    const dir = tempDir("gitflare-lost-");
    expect((await gitRun(dir, ["clone", "-q", `${server.url}/${forker.username}/secret.git`, "c"], gitAuthEnv(forker.auth))).code).not.toBe(
      0,
    );
  });
});
