// The permission matrix: every caller against a public and a private repository, for
// every operation, through the real server. Git operations run the real git client;
// page operations use a signed-in browser session (or the token, for the token caller).
// Each cell checks the outcome and, for changes, that the state changed only when allowed.
// The table goes to e2e/out/permissions.md; `npm run docs` puts it in the README.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalServer } from "./server";
import { writeGenerated } from "./generated";
import { type Account, basic, gitAuthEnv, makeToken, signUp } from "./accounts";
import { git, gitRun, makeRepo, tempDir } from "./git";

type Caller = "anonymous" | "stranger" | "reader" | "writer" | "admin" | "owner" | "read-scoped token";
type Op =
  | "clone"
  | "fetch"
  | "push"
  | "delete branch"
  | "tree"
  | "blob"
  | "raw"
  | "archive"
  | "export"
  | "commits"
  | "search code"
  | "search code (API)"
  | "site-wide search"
  | "open issue"
  | "comment"
  | "label"
  | "close issue"
  | "open PR"
  | "merge PR"
  | "edit file"
  | "read statuses"
  | "post status"
  | "protection settings"
  | "read file (API)"
  | "write file (API)"
  | "move ref (API)"
  | "review PR"
  | "request review"
  | "dismiss review"
  | "settings"
  | "collaborators"
  | "list hooks"
  | "add hook"
  | "rename"
  | "LFS download"
  | "LFS upload"
  | "LFS list locks"
  | "LFS lock"
  | "fork"
  | "open PR from fork"
  | "merge PR from fork"
  | "delete";
type Vis = "public" | "private";

const CALLERS: Caller[] = ["anonymous", "stranger", "reader", "writer", "admin", "owner", "read-scoped token"];
const OPS: Op[] = [
  "clone",
  "fetch",
  "push",
  "delete branch",
  "tree",
  "blob",
  "raw",
  "archive",
  "export",
  "commits",
  "search code",
  "search code (API)",
  "site-wide search",
  "open issue",
  "comment",
  "label",
  "close issue",
  "open PR",
  "merge PR",
  "edit file",
  "read statuses",
  "post status",
  "protection settings",
  "read file (API)",
  "write file (API)",
  "move ref (API)",
  "review PR",
  "request review",
  "dismiss review",
  "settings",
  "collaborators",
  "list hooks",
  "add hook",
  "rename",
  "fork",
  "open PR from fork",
  "merge PR from fork",
  "delete",
  "LFS download",
  "LFS upload",
  "LFS list locks",
  "LFS lock",
];
const READ_OPS: Op[] = [
  "clone",
  "fetch",
  "tree",
  "blob",
  "raw",
  "archive",
  "export",
  "commits",
  "search code",
  "search code (API)",
  // Allowed: the repository and its issue are among the caller's results.
  "site-wide search",
  "read statuses",
  "read file (API)",
  "LFS download",
  "LFS list locks",
];
// Asking for reviews: the pull request's author or a writer (the PR here is the owner's).
const WRITE_OPS: Op[] = [
  "push",
  "delete branch",
  "label",
  "close issue",
  "open PR",
  "merge PR",
  "edit file",
  "post status",
  "write file (API)",
  "move ref (API)",
  "merge PR from fork",
  "request review",
  "dismiss review",
  "LFS upload",
  "LFS lock",
];
/**
 * Anyone signed in who can see the repository may take part; a token needs the write scope.
 * Reviewing (here a line comment) is taking part, as on GitHub.
 */
const PARTICIPATE_OPS: Op[] = ["open issue", "comment", "review PR", "fork"];

/** What a Git host should allow, as GitHub and Gitea do. */
function expected(caller: Caller, vis: Vis, op: Op): boolean {
  const rank = { anonymous: 0, stranger: 0, reader: 1, writer: 2, admin: 3, owner: 3, "read-scoped token": 1 }[caller];
  // From the writer's fork, which is as private as the base: reading it too is needed, which
  // on a private base only the writer (its owner) and the site admin (the owner here) have.
  if (op === "open PR from fork")
    return caller !== "anonymous" && caller !== "read-scoped token" && (vis === "public" || caller === "writer" || caller === "owner");
  if (PARTICIPATE_OPS.includes(op)) return caller !== "anonymous" && caller !== "read-scoped token" && (vis === "public" || rank >= 1);
  const need = READ_OPS.includes(op) ? 1 : WRITE_OPS.includes(op) ? 2 : 3;
  const effective = vis === "public" ? Math.max(rank, 1) : rank;
  return effective >= need;
}

const server = new LocalServer();
const accounts = new Map<Caller, Account>();
let src: string;
const results: Record<Vis, Record<Caller, Partial<Record<Op, boolean>>>> = { public: {} as never, private: {} as never };

const name = (vis: Vis) => `matrix-${vis}`;

/** The Authorization header a caller's git and page requests carry, if any. */
function authOf(caller: Caller): string | null {
  if (caller === "anonymous") return null;
  return accounts.get(caller)!.auth;
}

function gitAs(caller: Caller, cwd: string, ...args: string[]) {
  const auth = authOf(caller);
  return gitRun(cwd, args, auth ? gitAuthEnv(auth) : {});
}

const owner = () => accounts.get("owner")!;
const ownerApi = (path: string, init: RequestInit = {}) =>
  fetch(`${server.url}/api/repos/${owner().username}/${path}`, {
    ...init,
    headers: { Authorization: owner().auth, "Content-Type": "application/json", ...(init.headers as Record<string, string>) },
  });

async function remoteRefs(vis: Vis): Promise<string> {
  return git(
    src,
    "-c",
    `http.extraHeader=Authorization: ${owner().auth}`,
    "ls-remote",
    `${server.url}/${owner().username}/${name(vis)}.git`,
  );
}

/** A page request as the caller: session cookie for people, the token for the token caller. */
async function pageAs(caller: Caller, path: string): Promise<number> {
  if (caller === "anonymous") return (await fetch(server.url + path, { redirect: "manual" })).status;
  if (caller === "read-scoped token")
    return (await fetch(server.url + path, { redirect: "manual", headers: { Authorization: authOf(caller)! } })).status;
  return (await accounts.get(caller)!.web.get(path)).status;
}

/** A settings change as the caller: a form for people (with their CSRF token), the API for the token. */
async function changeAs(
  caller: Caller,
  repoPath: string,
  form: { path: string; fields: Record<string, string> },
  api: { method: string; path: string; body?: unknown },
): Promise<number> {
  if (caller === "anonymous") {
    return (
      await fetch(`${server.url}/${repoPath}${form.path}`, { method: "POST", body: new URLSearchParams(form.fields), redirect: "manual" })
    ).status;
  }
  if (caller === "read-scoped token") {
    const res = await fetch(`${server.url}/api/repos/${repoPath}${api.path}`, {
      method: api.method,
      headers: { Authorization: authOf(caller)!, "Content-Type": "application/json" },
      body: api.body === undefined ? undefined : JSON.stringify(api.body),
    });
    return res.status;
  }
  return (await accounts.get(caller)!.web.post(`/${repoPath}${form.path}`, form.fields, { from: "/" })).status;
}

const ok = (status: number) => status >= 200 && status < 400;

/** An issue change as the caller: a form for people, the GitHub-shaped API for the token. */
async function issueChangeAs(
  caller: Caller,
  repoPath: string,
  form: { path: string; fields: Record<string, string> },
  api: { method: string; path: string; body: unknown },
): Promise<number> {
  if (caller === "anonymous")
    return (
      await fetch(`${server.url}/${repoPath}${form.path}`, { method: "POST", body: new URLSearchParams(form.fields), redirect: "manual" })
    ).status;
  if (caller === "read-scoped token")
    return (
      await fetch(`${server.url}/api/v3/repos/${repoPath}${api.path}`, {
        method: api.method,
        headers: { Authorization: authOf(caller)!, "Content-Type": "application/json" },
        body: JSON.stringify(api.body),
      })
    ).status;
  return (await accounts.get(caller)!.web.post(`/${repoPath}${form.path}`, form.fields, { from: "/" })).status;
}

/** A pull-request call through the GitHub-shaped API, with the caller's token (no pages for pull requests yet). */
async function pullApiAs(caller: Caller, repoPath: string, method: string, path: string, body: unknown): Promise<number> {
  const auth = authOf(caller);
  const res = await fetch(`${server.url}/api/v3/repos/${repoPath}${path}`, {
    method,
    headers: { ...(auth ? { Authorization: auth } : {}), "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

/** A search API call as the caller: the total and the full names of the items' repositories. */
async function searchAs(caller: Caller, path: string): Promise<{ status: number; total: number; names: string[] }> {
  const auth = authOf(caller);
  const res = await fetch(`${server.url}/api/v3${path}`, { headers: auth ? { Authorization: auth } : {} });
  const json = (await res.json()) as { total_count?: number; items?: { full_name?: string }[] };
  return { status: res.status, total: json.total_count ?? 0, names: (json.items ?? []).map((i) => i.full_name ?? "") };
}

/** Waits until `check` holds: the search index and the issue mirror follow changes in the background. */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300 && !(await check()); i++) await new Promise((r) => setTimeout(r, 100));
  expect(await check()).toBe(true);
}

/** A branch one commit behind main, pushed by the owner: a base with something to merge. */
async function behindBranch(url: string, branch: string): Promise<string> {
  await git(src, "-c", `http.extraHeader=Authorization: ${owner().auth}`, "push", "-q", url, `main~1:refs/heads/${branch}`);
  return branch;
}

/** The owner's view of issue #1 of the repository (made in beforeAll). */
const ownerIssue = async (repo: string) =>
  (await (
    await fetch(`${server.url}/api/v3/repos/${owner().username}/${repo}/issues/1`, { headers: { Authorization: owner().auth } })
  ).json()) as { state: string; labels: { name: string }[] };

const LFS = "application/vnd.git-lfs+json";

/** A Git LFS call with the caller's token (git-lfs sends git's credentials). */
async function lfsAs(caller: Caller, repoPath: string, method: string, path: string, body?: unknown): Promise<Response> {
  const auth = authOf(caller);
  return fetch(`${server.url}/${repoPath}.git/info/lfs${path}`, {
    method,
    headers: { ...(auth ? { Authorization: auth } : {}), Accept: LFS, "Content-Type": LFS },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function sha256(data: Uint8Array): Promise<string> {
  return Buffer.from(await crypto.subtle.digest("SHA-256", data)).toString("hex");
}

type LfsBatch = { objects: { actions?: Record<string, { href: string }> }[] };

/** Uploads `data` as the caller through the batch API and basic transfer; the upload's status. */
async function lfsUploadAs(caller: Caller, repoPath: string, data: Uint8Array): Promise<number> {
  const object = { oid: await sha256(data), size: data.length };
  const planned = await lfsAs(caller, repoPath, "POST", "/objects/batch", { operation: "upload", objects: [object] });
  if (planned.status !== 200) {
    await planned.arrayBuffer();
    return planned.status;
  }
  const href = ((await planned.json()) as LfsBatch).objects[0].actions?.upload.href;
  if (!href) return 409;
  const auth = authOf(caller);
  const put = await fetch(href, { method: "PUT", headers: auth ? { Authorization: auth } : {}, body: data });
  await put.arrayBuffer();
  return put.status;
}

/** Whether the repository holds `data` in LFS, as its owner sees it. */
async function lfsHolds(repoPath: string, data: Uint8Array): Promise<boolean> {
  const res = await lfsAs("owner", repoPath, "POST", "/objects/batch", {
    operation: "download",
    objects: [{ oid: await sha256(data), size: data.length }],
  });
  return !!((await res.json()) as LfsBatch).objects[0].actions;
}

/** The LFS object the download cells fetch, uploaded by the owner. */
const lfsObject = new TextEncoder().encode("an object stored with Git LFS\n");

beforeAll(async () => {
  await server.start();
  // The first account is the site admin; the owner is made first so that no other
  // caller has site-wide powers.
  for (const caller of ["owner", "stranger", "reader", "writer", "admin"] as const)
    accounts.set(caller, await signUp(server.url, `${caller}-user`));
  accounts.set("read-scoped token", { ...owner(), token: "", auth: "" });
  const narrow = await makeToken(owner().web, "narrow", "read");
  accounts.set("read-scoped token", { ...owner(), token: narrow, auth: basic(owner().username, narrow) });
  accounts.set("extra" as Caller, await signUp(server.url, "extra-user"));

  src = await makeRepo(3);
  for (const vis of ["public", "private"] as const) {
    await createShared(name(vis), vis);
    await git(
      src,
      "-c",
      `http.extraHeader=Authorization: ${owner().auth}`,
      "push",
      "-q",
      `${server.url}/${owner().username}/${name(vis)}.git`,
      "main",
    );
    // Issue #1, the owner's, for the comment, label and close cells, and the label they use.
    const made = await fetch(`${server.url}/api/v3/repos/${owner().username}/${name(vis)}/issues`, {
      method: "POST",
      headers: { Authorization: owner().auth, "Content-Type": "application/json" },
      body: JSON.stringify({ title: "The owner's issue", labels: ["triage"] }),
    });
    expect(made.status).toBe(201);
    labelIds[vis] = ((await made.json()) as { labels: { id: number }[] }).labels[0].id;
    await fetch(`${server.url}/api/v3/repos/${owner().username}/${name(vis)}/issues/1/labels/triage`, {
      method: "DELETE",
      headers: { Authorization: owner().auth },
    });
    // The owner's pull request the review cells act on: main (which adds file2.txt) into a branch behind it.
    const url = `${server.url}/${owner().username}/${name(vis)}.git`;
    const base = await behindBranch(url, "review-base");
    const pr = await fetch(`${server.url}/api/v3/repos/${owner().username}/${name(vis)}/pulls`, {
      method: "POST",
      headers: { Authorization: owner().auth, "Content-Type": "application/json" },
      body: JSON.stringify({ title: "To review", head: "main", base }),
    });
    expect(pr.status).toBe(201);
    const made2 = (await pr.json()) as { number: number; head: { sha: string } };
    reviewPulls[vis] = { number: made2.number, head: made2.head.sha };
    expect(await lfsUploadAs("owner", `${owner().username}/${name(vis)}`, lfsObject)).toBe(200);
    // The writer's fork, with a branch per caller for each pull-request-from-a-fork cell.
    const writer = accounts.get("writer")!;
    const forked = await fetch(`${server.url}/api/v3/repos/${owner().username}/${name(vis)}/forks`, {
      method: "POST",
      headers: { Authorization: writer.auth, "Content-Type": "application/json" },
      body: "{}",
    });
    expect(forked.status).toBe(202);
    const pushes: string[] = [];
    for (const caller of CALLERS)
      for (const kind of ["open", "merge"]) {
        const branch = forkBranch(kind, caller);
        const sha = (await git(src, "commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", `${branch} in the fork`)).trim();
        pushes.push(`${sha}:refs/heads/${branch}`);
      }
    await git(
      src,
      "-c",
      `http.extraHeader=Authorization: ${writer.auth}`,
      "push",
      "-q",
      `${server.url}/${writer.username}/${name(vis)}.git`,
      ...pushes,
    );
    const repoPath = `${owner().username}/${name(vis)}`;
    await eventually(
      async () => (await searchAs("owner", `/search/code?q=${encodeURIComponent(`"changed in 2" repo:${repoPath}`)}`)).total > 0,
    );
    await eventually(
      async () => (await searchAs("owner", `/search/issues?q=${encodeURIComponent(`"owner's issue" repo:${repoPath}`)}`)).total > 0,
    );
  }
});
const forkBranch = (kind: string, caller: Caller) => `fork-${kind}-${caller.replace(/\W/g, "")}`;
const reviewPulls: Record<Vis, { number: number; head: string }> = { public: { number: 0, head: "" }, private: { number: 0, head: "" } };
const labelIds: Record<Vis, number> = { public: 0, private: 0 };
afterAll(async () => {
  await server.stop();
  // One row per operation; each cell is public / private.
  const mark = (v: Vis, c: Caller, op: Op) => (results[v][c]?.[op] === undefined ? "?" : results[v][c]![op] ? "✓" : "✗");
  const lines = [
    "| operation | " + CALLERS.join(" | ") + " |",
    "|---|" + CALLERS.map(() => ":-:").join("|") + "|",
    ...OPS.map((op) => `| ${op} | ` + CALLERS.map((c) => `${mark("public", c, op)} / ${mark("private", c, op)}`).join(" | ") + " |"),
  ];
  // Only a complete run (not one filtered with -t) writes the table, to e2e/out/permissions.md
  // (`npm run docs` puts it in the README).
  if (!lines.some((l) => l.includes("?"))) writeGenerated("permissions.md", lines.join("\n") + "\n");
});

/** A repository of the owner's with the three collaborators. */
async function createShared(repo: string, vis: Vis): Promise<void> {
  const res = await ownerApi(repo, { method: "POST", body: JSON.stringify({ private: vis === "private" }) });
  expect(res.status).toBe(201);
  for (const [caller, role] of [
    ["reader", "read"],
    ["writer", "write"],
    ["admin", "admin"],
  ] as const) {
    const put = await ownerApi(`${repo}/collaborators/${accounts.get(caller)!.username}`, {
      method: "PUT",
      body: JSON.stringify({ role }),
    });
    expect(put.status).toBe(200);
  }
}

async function cell(vis: Vis, caller: Caller, op: Op): Promise<boolean> {
  const repo = name(vis);
  const repoPath = `${owner().username}/${repo}`;
  const url = `${server.url}/${repoPath}.git`;
  switch (op) {
    case "clone": {
      const dir = tempDir();
      return (await gitAs(caller, dir, "clone", "-q", url, "c")).code === 0;
    }
    case "fetch": {
      const dir = tempDir();
      await git(dir, "init", "-q");
      return (await gitAs(caller, dir, "fetch", "-q", url, "main")).code === 0;
    }
    case "push": {
      const branch = `push-${caller.replace(/\W/g, "")}`;
      const r = await gitAs(caller, src, "push", "-q", url, `main:refs/heads/${branch}`);
      const landed = (await remoteRefs(vis)).includes(`refs/heads/${branch}`);
      expect(landed).toBe(r.code === 0);
      return landed;
    }
    case "delete branch": {
      const branch = `del-${caller.replace(/\W/g, "")}`;
      await git(src, "-c", `http.extraHeader=Authorization: ${owner().auth}`, "push", "-q", url, `main:refs/heads/${branch}`);
      const r = await gitAs(caller, src, "push", "-q", url, `:refs/heads/${branch}`);
      const gone = !(await remoteRefs(vis)).includes(`refs/heads/${branch}`);
      expect(gone).toBe(r.code === 0);
      return gone;
    }
    case "read file (API)": {
      const status = await pullApiAs(caller, repoPath, "GET", "/contents/data.txt", undefined);
      return ok(status);
    }
    case "write file (API)": {
      // The contents API commits to a branch of its own, so that main stays as the other cells expect.
      const branch = await behindBranch(url, `api-file-${caller.replace(/\W/g, "")}`);
      const path = `by-${caller.replace(/\W/g, "")}.txt`;
      const status = await pullApiAs(caller, repoPath, "PUT", `/contents/${path}`, {
        message: `written by ${caller}`,
        content: btoa(caller),
        branch,
      });
      const there = await fetch(`${server.url}/api/v3/repos/${repoPath}/contents/${path}?ref=${branch}`, {
        headers: { Authorization: owner().auth },
      });
      await there.arrayBuffer();
      expect(there.status === 200).toBe(ok(status));
      return there.status === 200;
    }
    case "move ref (API)": {
      // A fast-forward of a branch one commit behind main, through the git data API.
      const branch = await behindBranch(url, `api-ref-${caller.replace(/\W/g, "")}`);
      const refOf = async (ref: string) =>
        (
          (await (
            await fetch(`${server.url}/api/v3/repos/${repoPath}/git/ref/heads/${ref}`, { headers: { Authorization: owner().auth } })
          ).json()) as { object: { sha: string } }
        ).object.sha;
      const main = await refOf("main");
      const status = await pullApiAs(caller, repoPath, "PATCH", `/git/refs/heads/${branch}`, { sha: main });
      const moved = (await refOf(branch)) === main;
      expect(moved).toBe(ok(status));
      return moved;
    }
    case "tree":
      return ok(await pageAs(caller, `/${repoPath}/tree/main`));
    case "blob":
      return ok(await pageAs(caller, `/${repoPath}/blob/main/data.txt`));
    case "raw":
      return ok(await pageAs(caller, `/${repoPath}/raw/main/data.txt`));
    case "archive":
      return ok(await pageAs(caller, `/${repoPath}/archive/main.tar.gz`));
    case "export":
      return ok(await pageAs(caller, `/${repoPath}/export.tar`));
    case "commits":
      return ok(await pageAs(caller, `/${repoPath}/commits/main`));
    case "search code":
      return ok(await pageAs(caller, `/${repoPath}/search?q=${encodeURIComponent('"changed in 2"')}`));
    case "search code (API)": {
      const found = await searchAs(caller, `/search/code?q=${encodeURIComponent(`"changed in 2" repo:${repoPath}`)}`);
      return found.status === 200 && found.total > 0;
    }
    case "site-wide search": {
      const [issues, repos] = await Promise.all([
        searchAs(caller, `/search/issues?q=${encodeURIComponent(`"owner's issue" repo:${repoPath}`)}`),
        searchAs(caller, `/search/repositories?q=${encodeURIComponent(repo)}`),
      ]);
      expect([issues.status, repos.status]).toEqual([200, 200]);
      const listed = repos.names.includes(repoPath);
      // The issue shows exactly where its repository does.
      expect(issues.total > 0).toBe(listed);
      return listed;
    }
    case "open issue": {
      const title = `opened by ${caller}`;
      const status = await issueChangeAs(
        caller,
        repoPath,
        { path: "/issues", fields: { title } },
        { method: "POST", path: "/issues", body: { title } },
      );
      const list = (await (
        await fetch(`${server.url}/api/v3/repos/${repoPath}/issues?state=all&per_page=100`, { headers: { Authorization: owner().auth } })
      ).json()) as { title: string }[];
      const opened = list.some((i) => i.title === title);
      expect(opened).toBe(ok(status));
      return opened;
    }
    case "comment": {
      const body = `comment by ${caller}`;
      const status = await issueChangeAs(
        caller,
        repoPath,
        { path: "/issues/1/comments", fields: { body, action: "comment" } },
        { method: "POST", path: "/issues/1/comments", body: { body } },
      );
      const list = (await (
        await fetch(`${server.url}/api/v3/repos/${repoPath}/issues/1/comments?per_page=100`, { headers: { Authorization: owner().auth } })
      ).json()) as { body: string }[];
      const commented = list.some((cm) => cm.body === body);
      expect(commented).toBe(ok(status));
      return commented;
    }
    case "label": {
      const status = await issueChangeAs(
        caller,
        repoPath,
        { path: "/issues/1/labels", fields: { [`label_${labelIds[vis]}`]: "triage" } },
        { method: "POST", path: "/issues/1/labels", body: { labels: ["triage"] } },
      );
      const labelled = (await ownerIssue(repo)).labels.some((l) => l.name === "triage");
      expect(labelled).toBe(ok(status));
      if (labelled)
        await fetch(`${server.url}/api/v3/repos/${repoPath}/issues/1/labels/triage`, {
          method: "DELETE",
          headers: { Authorization: owner().auth },
        });
      return labelled;
    }
    case "open PR": {
      // From main into a branch one commit behind it, made for this cell.
      const base = await behindBranch(url, `pr-${caller.replace(/\W/g, "")}`);
      const status = await pullApiAs(caller, repoPath, "POST", "/pulls", { title: `PR by ${caller}`, head: "main", base });
      const list = (await (
        await fetch(`${server.url}/api/v3/repos/${repoPath}/pulls?state=all&base=${base}`, { headers: { Authorization: owner().auth } })
      ).json()) as { title: string }[];
      const opened = list.some((p) => p.title === `PR by ${caller}`);
      expect(opened).toBe(ok(status));
      return opened;
    }
    case "merge PR": {
      const base = await behindBranch(url, `merge-${caller.replace(/\W/g, "")}`);
      const made = await fetch(`${server.url}/api/v3/repos/${repoPath}/pulls`, {
        method: "POST",
        headers: { Authorization: owner().auth, "Content-Type": "application/json" },
        body: JSON.stringify({ title: `To merge by ${caller}`, head: "main", base }),
      });
      expect(made.status).toBe(201);
      const { number } = (await made.json()) as { number: number };
      const status = await pullApiAs(caller, repoPath, "PUT", `/pulls/${number}/merge`, { merge_method: "merge" });
      const merged =
        (await fetch(`${server.url}/api/v3/repos/${repoPath}/pulls/${number}/merge`, { headers: { Authorization: owner().auth } }))
          .status === 204;
      expect(merged).toBe(ok(status));
      return merged;
    }
    case "edit file": {
      // The browser editor's form, committing to a new branch so that main stays as the other cells expect.
      // It takes forms from signed-in sessions only, so the token caller posts it with its token.
      const branch = `edit-${caller.replace(/\W/g, "")}`;
      const parent = (await remoteRefs(vis))
        .split("\n")
        .find((l) => l.endsWith("\trefs/heads/main"))!
        .split("\t")[0];
      const fields = {
        parent,
        branch: "main",
        from: "data.txt",
        filename: "data.txt",
        content: `edited by ${caller}\n`,
        message: `Edit by ${caller}`,
        target: "branch",
        new_branch: branch,
      };
      const path = `/${repoPath}/edit/main/data.txt`;
      const auth = authOf(caller);
      const status =
        caller === "anonymous" || caller === "read-scoped token"
          ? (
              await fetch(server.url + path, {
                method: "POST",
                body: new URLSearchParams(fields),
                redirect: "manual",
                headers: auth ? { Authorization: auth } : {},
              })
            ).status
          : (await accounts.get(caller)!.web.post(path, fields, { from: "/" })).status;
      const landed = (await remoteRefs(vis)).includes(`refs/heads/${branch}`);
      // A commit to a new branch answers 201 with the offer to open a pull request.
      expect(landed).toBe(status === 201);
      return landed;
    }
    case "read statuses": {
      const auth = authOf(caller);
      const res = await fetch(`${server.url}/api/v3/repos/${repoPath}/commits/main/status`, {
        headers: auth ? { Authorization: auth } : {},
      });
      const body = (await res.json()) as { state?: string };
      if (ok(res.status)) expect(body.state).toBeDefined();
      return ok(res.status);
    }
    case "post status": {
      const context = `ci/${caller.replace(/\W/g, "")}`;
      const sha = (await remoteRefs(vis))
        .split("\n")
        .find((l) => l.endsWith("\trefs/heads/main"))!
        .split("\t")[0];
      const status = await pullApiAs(caller, repoPath, "POST", `/statuses/${sha}`, { state: "success", context });
      const list = (await (
        await fetch(`${server.url}/api/v3/repos/${repoPath}/commits/${sha}/statuses?per_page=100`, {
          headers: { Authorization: owner().auth },
        })
      ).json()) as { context: string }[];
      const posted = list.some((s) => s.context === context);
      expect(posted).toBe(ok(status));
      return posted;
    }
    case "protection settings": {
      // A rule for a branch no other cell pushes, so that it changes nothing else.
      const branch = `guarded-${caller.replace(/\W/g, "")}`;
      const rule = { required_status_checks: null, enforce_admins: false, required_pull_request_reviews: null, restrictions: null };
      const status = await pullApiAs(caller, repoPath, "PUT", `/branches/${branch}/protection`, rule);
      const set =
        (await fetch(`${server.url}/api/v3/repos/${repoPath}/branches/${branch}/protection`, { headers: { Authorization: owner().auth } }))
          .status === 200;
      expect(set).toBe(ok(status));
      return set;
    }
    case "review PR": {
      const { number, head } = reviewPulls[vis];
      const body = `line comment by ${caller}`;
      const status = await issueChangeAs(
        caller,
        repoPath,
        {
          path: `/pull/${number}/review-comments`,
          fields: { path: "file2.txt", line: "1", side: "RIGHT", commit_id: head, body, action: "single" },
        },
        { method: "POST", path: `/pulls/${number}/reviews`, body: { event: "COMMENT", comments: [{ path: "file2.txt", line: 1, body }] } },
      );
      const list = (await (
        await fetch(`${server.url}/api/v3/repos/${repoPath}/pulls/${number}/comments?per_page=100`, {
          headers: { Authorization: owner().auth },
        })
      ).json()) as { body: string }[];
      const reviewed = list.some((cm) => cm.body === body);
      expect(reviewed).toBe(ok(status));
      return reviewed;
    }
    case "request review": {
      const { number } = reviewPulls[vis];
      const reader = accounts.get("reader")!.username;
      const status = await issueChangeAs(
        caller,
        repoPath,
        { path: `/pull/${number}/reviewers`, fields: { login: reader, action: "add" } },
        { method: "POST", path: `/pulls/${number}/requested_reviewers`, body: { reviewers: [reader] } },
      );
      const at = `${server.url}/api/v3/repos/${repoPath}/pulls/${number}/requested_reviewers`;
      const { users } = (await (await fetch(at, { headers: { Authorization: owner().auth } })).json()) as { users: { login: string }[] };
      const asked = users.some((u) => u.login === reader);
      expect(asked).toBe(ok(status));
      if (asked)
        await fetch(at, {
          method: "DELETE",
          headers: { Authorization: owner().auth, "Content-Type": "application/json" },
          body: JSON.stringify({ reviewers: [reader] }),
        });
      return asked;
    }
    case "dismiss review": {
      // An approval by the writer, for this cell to dismiss.
      const { number } = reviewPulls[vis];
      const made = await fetch(`${server.url}/api/v3/repos/${repoPath}/pulls/${number}/reviews`, {
        method: "POST",
        headers: { Authorization: accounts.get("writer")!.auth, "Content-Type": "application/json" },
        body: JSON.stringify({ event: "APPROVE" }),
      });
      expect(made.status).toBe(200);
      const { id } = (await made.json()) as { id: number };
      const status = await issueChangeAs(
        caller,
        repoPath,
        { path: `/pull/${number}/reviews/${id}/dismiss`, fields: { message: `dismissed by ${caller}` } },
        { method: "PUT", path: `/pulls/${number}/reviews/${id}/dismissals`, body: { message: `dismissed by ${caller}` } },
      );
      const now = (await (
        await fetch(`${server.url}/api/v3/repos/${repoPath}/pulls/${number}/reviews/${id}`, { headers: { Authorization: owner().auth } })
      ).json()) as { state: string };
      const dismissed = now.state === "DISMISSED";
      expect(dismissed).toBe(ok(status));
      return dismissed;
    }
    case "close issue": {
      const status = await issueChangeAs(
        caller,
        repoPath,
        { path: "/issues/1/comments", fields: { body: "", action: "close" } },
        { method: "PATCH", path: "/issues/1", body: { state: "closed" } },
      );
      const closed = (await ownerIssue(repo)).state === "closed";
      expect(closed).toBe(ok(status));
      if (closed)
        await fetch(`${server.url}/api/v3/repos/${repoPath}/issues/1`, {
          method: "PATCH",
          headers: { Authorization: owner().auth, "Content-Type": "application/json" },
          body: '{"state":"open"}',
        });
      return closed;
    }
    case "settings": {
      const description = `set by ${caller}`;
      const status = await changeAs(
        caller,
        repoPath,
        { path: "/settings", fields: { description, visibility: vis, default_branch: "main" } },
        { method: "PATCH", path: "", body: { description } },
      );
      const now = (await (await ownerApi(repo)).json()) as { description: string; private: boolean };
      expect(now.private).toBe(vis === "private");
      expect(now.description === description).toBe(ok(status));
      return now.description === description;
    }
    case "collaborators": {
      const extra = accounts.get("extra" as Caller)!.username;
      const status = await changeAs(
        caller,
        repoPath,
        { path: "/settings/collaborators", fields: { username: extra, role: "read" } },
        { method: "PUT", path: `/collaborators/${extra}`, body: { role: "read" } },
      );
      const list = (await (await ownerApi(`${repo}/collaborators`)).json()) as { username: string }[];
      const added = list.some((u) => u.username === extra);
      expect(added).toBe(ok(status));
      if (added) expect((await ownerApi(`${repo}/collaborators/${extra}`, { method: "DELETE" })).status).toBe(204);
      return added;
    }
    case "list hooks": {
      // Reading hooks is an admin's business too (their URLs and events), as on GitHub.
      const auth = authOf(caller);
      const res = await fetch(`${server.url}/api/v3/repos/${repoPath}/hooks`, { headers: auth ? { Authorization: auth } : {} });
      const listed = res.status === 200 && Array.isArray(await res.json());
      return listed;
    }
    case "add hook": {
      // A `.invalid` host: saved like any public URL, and its deliveries go nowhere.
      const url = `https://${caller.replace(/\W/g, "")}.example.invalid/hook`;
      const status = await issueChangeAs(
        caller,
        repoPath,
        { path: "/settings/hooks", fields: { url, event_push: "1" } },
        { method: "POST", path: "/hooks", body: { config: { url }, events: ["push"], active: false } },
      );
      const hooks = (await (
        await fetch(`${server.url}/api/v3/repos/${repoPath}/hooks`, { headers: { Authorization: owner().auth } })
      ).json()) as { id: number; config: { url: string } }[];
      const added = hooks.find((h) => h.config.url === url);
      expect(Boolean(added)).toBe(ok(status));
      if (added)
        expect(
          (
            await fetch(`${server.url}/api/v3/repos/${repoPath}/hooks/${added.id}`, {
              method: "DELETE",
              headers: { Authorization: owner().auth },
            })
          ).status,
        ).toBe(204);
      return Boolean(added);
    }
    case "rename": {
      const status = await changeAs(
        caller,
        repoPath,
        { path: "/settings/rename", fields: { name: `${repo}-renamed` } },
        { method: "PATCH", path: "", body: { name: `${repo}-renamed` } },
      );
      const renamed = (await ownerApi(`${repo}-renamed`, { redirect: "manual" })).status === 200;
      expect(renamed).toBe(ok(status));
      if (renamed) expect((await ownerApi(`${repo}-renamed`, { method: "PATCH", body: JSON.stringify({ name: repo }) })).status).toBe(200);
      return renamed;
    }
    case "LFS download": {
      const res = await lfsAs(caller, repoPath, "POST", "/objects/batch", {
        operation: "download",
        objects: [{ oid: await sha256(lfsObject), size: lfsObject.length }],
      });
      if (res.status !== 200) {
        await res.arrayBuffer();
        return false;
      }
      const href = ((await res.json()) as LfsBatch).objects[0].actions?.download.href;
      const auth = authOf(caller);
      const got = await fetch(href!, { headers: auth ? { Authorization: auth } : {} });
      return got.status === 200 && Buffer.from(await got.arrayBuffer()).equals(Buffer.from(lfsObject));
    }
    case "LFS upload": {
      const data = new TextEncoder().encode(`uploaded by ${caller} to the ${vis} repository\n`);
      const stored = (await lfsUploadAs(caller, repoPath, data)) === 200;
      expect(await lfsHolds(repoPath, data)).toBe(stored);
      return stored;
    }
    case "LFS list locks": {
      const res = await lfsAs(caller, repoPath, "GET", "/locks");
      return res.status === 200 && Array.isArray(((await res.json()) as { locks: unknown }).locks);
    }
    case "LFS lock": {
      const path = `locked-by-${caller.replace(/\W/g, "")}.bin`;
      const res = await lfsAs(caller, repoPath, "POST", "/locks", { path });
      const made = (await res.json()) as { lock?: { id: string } };
      if (res.status !== 201) return false;
      const unlocked = await lfsAs(caller, repoPath, "POST", `/locks/${made.lock!.id}/unlock`, {});
      expect(unlocked.status).toBe(200);
      await unlocked.arrayBuffer();
      return true;
    }
    case "fork": {
      // Into the caller's own account, under a name of its own; a read-scoped token may not
      // create one. The writer already has a fork (for the pull-request cells): forking again
      // answers that one, as on GitHub.
      const forkName = `${repo}-fork-${caller.replace(/\W/g, "")}`;
      const status = await issueChangeAs(
        caller,
        repoPath,
        { path: "/fork", fields: { name: forkName } },
        { method: "POST", path: "/forks", body: { name: forkName } },
      );
      if (caller === "anonymous") return false;
      const self = caller === "read-scoped token" ? owner() : accounts.get(caller)!;
      // The site admin (the owner here) sees every fork.
      const forks = (await (
        await fetch(`${server.url}/api/v3/repos/${repoPath}/forks?per_page=100`, { headers: { Authorization: owner().auth } })
      ).json()) as { name: string; owner: { login: string }; fork: boolean; private: boolean }[];
      const made = forks.find((f) => f.owner.login === self.username);
      expect(Boolean(made)).toBe(ok(status));
      if (made) {
        expect(made).toMatchObject({ fork: true, private: vis === "private" });
        if (made.name === forkName) {
          const gone = await fetch(`${server.url}/api/v3/repos/${self.username}/${forkName}`, {
            method: "DELETE",
            headers: { Authorization: self.auth },
          });
          expect(gone.status).toBe(204);
        }
      }
      return Boolean(made);
    }
    case "open PR from fork": {
      const head = `${accounts.get("writer")!.username}:${forkBranch("open", caller)}`;
      const status = await pullApiAs(caller, repoPath, "POST", "/pulls", { title: `From the fork, by ${caller}`, head, base: "main" });
      const listed = (await (
        await fetch(`${server.url}/api/v3/repos/${repoPath}/pulls?head=${head}`, { headers: { Authorization: owner().auth } })
      ).json()) as unknown[];
      expect(listed.length === 1).toBe(status === 201);
      return listed.length === 1;
    }
    case "merge PR from fork": {
      const writer = accounts.get("writer")!;
      const opened = await fetch(`${server.url}/api/v3/repos/${repoPath}/pulls`, {
        method: "POST",
        headers: { Authorization: writer.auth, "Content-Type": "application/json" },
        body: JSON.stringify({ title: `To merge, by ${caller}`, head: `${writer.username}:${forkBranch("merge", caller)}`, base: "main" }),
      });
      expect(opened.status).toBe(201);
      const { number } = (await opened.json()) as { number: number };
      const status = await pullApiAs(caller, repoPath, "PUT", `/pulls/${number}/merge`, {});
      const now = (await (
        await fetch(`${server.url}/api/v3/repos/${repoPath}/pulls/${number}`, { headers: { Authorization: owner().auth } })
      ).json()) as { merged: boolean };
      expect(now.merged).toBe(status === 200);
      return now.merged;
    }
    case "delete": {
      // Allowed deletes need a repository of their own; refused ones try the shared one.
      const target = expected(caller, vis, "delete") ? `doomed-${vis}-${caller.replace(/\W/g, "")}` : repo;
      if (target !== repo) await createShared(target, vis);
      const status = await changeAs(
        caller,
        `${owner().username}/${target}`,
        { path: "/settings/delete", fields: { confirm: `${owner().username}/${target}` } },
        { method: "DELETE", path: "" },
      );
      const exists = (await ownerApi(target, { redirect: "manual" })).status === 200;
      expect(exists).toBe(!ok(status));
      return !exists;
    }
  }
}

describe("permission matrix", () => {
  for (const vis of ["public", "private"] as const) {
    for (const caller of CALLERS) {
      it(`${caller} on a ${vis} repository`, async () => {
        results[vis][caller] = {};
        const wrong: string[] = [];
        for (const op of OPS) {
          const allowed = await cell(vis, caller, op);
          results[vis][caller][op] = allowed;
          if (allowed !== expected(caller, vis, op))
            wrong.push(`${op}: ${allowed ? "allowed" : "denied"}, expected ${expected(caller, vis, op) ? "allow" : "deny"}`);
        }
        expect(wrong).toEqual([]);
      });
    }
  }
});

describe("renames", () => {
  it("keeps the old git and web URLs working through redirects", async () => {
    await createShared("before", "private");
    const oldUrl = `${server.url}/${owner().username}/before.git`;
    const auth = gitAuthEnv(owner().auth);
    const clone = tempDir();
    expect((await gitRun(src, ["push", "-q", oldUrl, "main"], auth)).code).toBe(0);
    expect((await gitRun(clone, ["clone", "-q", oldUrl, "c"], auth)).code).toBe(0);
    expect((await ownerApi("before", { method: "PATCH", body: JSON.stringify({ name: "after" }) })).status).toBe(200);

    // A clone, a fetch from an existing clone and a push, all on the old URL.
    const again = await gitRun(clone, ["clone", oldUrl, "d"], auth);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("redirecting to");
    expect((await gitRun(join(clone, "c"), ["fetch", "-q", "origin"], auth)).code).toBe(0);
    const push = await gitRun(src, ["push", "-q", oldUrl, "main:refs/heads/via-old-url"], auth);
    expect(push.code, push.stderr).toBe(0);
    expect(
      await git(src, "-c", `http.extraHeader=Authorization: ${owner().auth}`, "ls-remote", `${server.url}/${owner().username}/after.git`),
    ).toContain("refs/heads/via-old-url");

    const page = await owner().web.get(`/${owner().username}/before/commits/main`);
    expect(page.status).toBe(301);
    expect(page.headers.get("Location")).toBe(`${server.url}/${owner().username}/after/commits/main`);
    // Callers who cannot see the repository learn nothing from the old name either.
    expect((await fetch(`${server.url}/${owner().username}/before`, { redirect: "manual" })).status).toBe(404);
  });
});
