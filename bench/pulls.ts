// Pull requests on an express-sized repository: the pull request's pages first and warm,
// the time to compute mergeability (on first read, and again after a push to the head
// invalidates it), and the time to merge with each method. Each pull request is a topic
// branch of a few commits touching several files, while the base moved on other files,
// so that mergeability and the merge are real three-way merges, not fast-forwards.
//
// It runs on its own server and state directory; the repository is generated like the main
// bench's (bench/generate.ts) or given with `--repo`.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, median } from "./exec";
import { LocalServer } from "../e2e/server";
import { generateRepo } from "./generate";

export interface PullsOptions {
  work: string;
  /** A repository to use instead of a generated one. */
  repo?: string;
  commits: number;
}

export interface PullsResult {
  repository: { commits: number | null; objects: number; packMiB: number };
  pullRequest: { commits: number; files: number };
  pages: { page: string; status: number; firstMs: number; warmMs: number }[];
  /** Milliseconds until `GET …/pulls/N` answered a `mergeable` that is not null, and the reads it took. */
  mergeability: { when: string; ms: number; reads: number; mergeable: boolean | null }[];
  merges: { method: string; ms: number; status: number; parents: number }[];
  date: string;
}

export async function pullsBench(o: PullsOptions): Promise<PullsResult> {
  const work = join(o.work, "pulls");
  mkdirSync(work, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", HOME: work };
  const git = (cwd: string, ...a: string[]) => run("git", a, cwd, env);

  let source = o.repo;
  if (!source) {
    source = join(work, "source.git");
    console.log(`  pulls: generating a repository of ${o.commits} commits…`);
    await generateRepo(source, { commits: o.commits, binaryEvery: 400, binaryBytes: 1 << 20 });
  }
  const counts = await git(source, "count-objects", "-v");
  const repository = {
    commits: o.repo ? null : o.commits,
    objects: Number(/in-pack: (\d+)/.exec(counts)?.[1] ?? 0),
    packMiB: Number(/size-pack: (\d+)/.exec(counts)?.[1] ?? 0) / 1024,
  };

  const server = new LocalServer(join(work, "state"));
  await server.start();
  try {
    const account = await server.signUpAndUse("bench");
    Object.assign(env, {
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: `http.${server.url}/.extraHeader`,
      GIT_CONFIG_VALUE_0: `Authorization: ${account.auth}`,
    });
    const remote = `${server.url}/bench/express.git`;
    const api = "/api/v3/repos/bench/express";
    const call = async (method: string, path: string, body?: unknown) => {
      const t = performance.now();
      const res = await server.fetch(api + path, {
        method,
        headers: { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = res.status === 204 ? null : await res.json();
      return { status: res.status, json: json as Record<string, unknown>, ms: performance.now() - t };
    };

    // The base branch, then topic branches from it while the base moves on other files.
    const wt = join(work, "wt");
    await git(work, "clone", "-q", "--no-local", source, wt);
    await git(wt, "checkout", "-q", "-B", "main");
    await git(wt, "push", "-q", remote, "main");
    const text = (await git(wt, "ls-files"))
      .split("\n")
      .filter((f) => /\.(js|ts|c|h|py|md)$/.test(f))
      .filter((f) => readFileSync(join(wt, f), "utf8").split("\n").length > 60);
    const fork = (await git(wt, "rev-parse", "HEAD")).trim();
    const commitEdits = async (files: string[], message: string) => {
      for (const f of files) {
        const lines = readFileSync(join(wt, f), "utf8").split("\n");
        const at = Math.floor(lines.length / 2);
        lines.splice(at, 1, `${lines[at]} (${message})`);
        writeFileSync(join(wt, f), lines.join("\n"));
      }
      await git(wt, "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "commit", "-qam", message);
    };
    /** A topic branch from `fork`: three commits over `files`, pushed. */
    const topic = async (name: string, files: string[]) => {
      await git(wt, "checkout", "-q", "-b", name, fork);
      for (let i = 0; i < 3; i++) await commitEdits(files.slice(i * 3, i * 3 + 4), `${name} part ${i + 1}`);
      await git(wt, "push", "-q", remote, name);
    };
    // Disjoint files per branch: every pull request merges cleanly.
    const slice = (n: number) => text.slice(n * 10, n * 10 + 10);
    await topic("topic-merge", slice(0));
    await topic("topic-squash", slice(1));
    await git(wt, "checkout", "-q", "main");
    await commitEdits(slice(2).slice(0, 3), "base moves on");
    await git(wt, "push", "-q", remote, "main");

    const open = async (head: string) => {
      const r = await call("POST", "/pulls", { title: `Merge ${head}`, head, base: "main", body: "A typical change." });
      if (r.status !== 201) throw new Error(`open ${head}: ${r.status} ${JSON.stringify(r.json)}`);
      return r.json.number as number;
    };
    const mergeability: PullsResult["mergeability"] = [];
    const untilKnown = async (n: number, when: string) => {
      const t = performance.now();
      let reads = 0;
      let mergeable: boolean | null = null;
      for (; reads < 500 && mergeable === null; reads++) mergeable = (await call("GET", `/pulls/${n}`)).json.mergeable as boolean | null;
      const row = { when, ms: performance.now() - t, reads, mergeable };
      mergeability.push(row);
      console.log(`  pulls: mergeability ${when}: ${row.ms.toFixed(0)} ms (${reads} reads), mergeable ${mergeable}`);
    };

    const first = await open("topic-merge");
    await untilKnown(first, "first read after opening");
    await untilKnown(first, "again, known");

    const base = `${server.url}/bench/express`;
    const pages: PullsResult["pages"] = [];
    for (const [page, path] of [
      ["pull request (conversation)", `/pull/${first}`],
      ["pull request commits", `/pull/${first}/commits`],
      ["pull request files", `/pull/${first}/files`],
      ["pull requests list", "/pulls"],
    ]) {
      const once = async () => {
        const t = performance.now();
        const res = await server.fetch(base.slice(server.url.length) + path);
        await res.arrayBuffer();
        return { ms: performance.now() - t, status: res.status };
      };
      const one = await once();
      const warm: number[] = [];
      for (let i = 0; i < 5; i++) warm.push((await once()).ms);
      pages.push({ page, status: one.status, firstMs: one.ms, warmMs: median(warm) });
      console.log(`  pulls: page ${page}: ${one.status} ${one.ms.toFixed(0)} ms first, ${median(warm).toFixed(0)} ms warm`);
    }

    // A push to the head: the known mergeability no longer holds.
    await git(wt, "checkout", "-q", "topic-merge");
    await commitEdits(slice(0).slice(8, 10), "topic-merge follow-up");
    await git(wt, "push", "-q", remote, "topic-merge");
    await untilKnown(first, "after a push to the head");

    const pull = (await call("GET", `/pulls/${first}`)).json as { commits: number; changed_files: number };
    const merges: PullsResult["merges"] = [];
    const merge = async (n: number, method: string) => {
      const r = await call("PUT", `/pulls/${n}/merge`, { merge_method: method });
      if (r.status !== 200) throw new Error(`merge ${n} (${method}): ${r.status} ${JSON.stringify(r.json)}`);
      await git(wt, "fetch", "-q", remote, "main");
      const parents = (await git(wt, "log", "-1", "--format=%P", "FETCH_HEAD")).trim().split(" ").length;
      merges.push({ method, ms: r.ms, status: r.status, parents });
      console.log(`  pulls: merge (${method}): ${r.ms.toFixed(0)} ms, ${parents} parent(s)`);
    };
    await merge(first, "merge");

    // The second pull request: its base moved under it (the merge above), then squashed.
    const second = await open("topic-squash");
    await untilKnown(second, "second pull request, base moved by a merge");
    await merge(second, "squash");

    // What the merges left is sound for C git.
    const check = join(work, "check.git");
    await git(work, "clone", "-q", "--bare", remote, check);
    await git(check, "fsck", "--strict", "--no-dangling");
    return {
      repository,
      pullRequest: { commits: pull.commits, files: pull.changed_files },
      pages,
      mergeability,
      merges,
      date: new Date().toISOString(),
    };
  } finally {
    await server.stop();
  }
}

export function pullsMarkdown(r: PullsResult): string {
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  const repo = r.repository.commits
    ? `a generated repository of ${r.repository.commits.toLocaleString("en-US")} commits (${r.repository.objects.toLocaleString("en-US")} objects, ${r.repository.packMiB.toFixed(1)} MiB pack; bench/generate.ts, as the main bench)`
    : `a given repository (${r.repository.objects.toLocaleString("en-US")} objects, ${r.repository.packMiB.toFixed(1)} MiB pack)`;
  const lines = [
    `On ${repo}: each pull request is a topic branch of 3 commits touching 10 files, while the base moved on 3 other files (the first pull request: ${r.pullRequest.commits} commits, ${r.pullRequest.files} files after a follow-up push). Times are as a client measures them over HTTP on the local server, ${r.date.slice(0, 10)}. Targets: warm pages under 100 ms; mergeability of a typical pull request under 500 ms.`,
    "",
    "| page | first request | warm (median of 5) |",
    "|---|---|---|",
    ...r.pages.map((p) => `| ${p.page} | ${ms(p.firstMs)} | ${ms(p.warmMs)} |`),
    "",
    "| mergeability (`GET /api/v3/repos/o/r/pulls/N` until `mergeable` is not null) | time | reads |",
    "|---|---|---|",
    ...r.mergeability.map((m) => `| ${m.when} | ${ms(m.ms)} | ${m.reads} |`),
    "",
    "| merge (`PUT /api/v3/repos/o/r/pulls/N/merge`) | time | parents of the new base tip |",
    "|---|---|---|",
    ...r.merges.map((m) => `| ${m.method === "merge" ? "merge commit" : m.method} | ${ms(m.ms)} | ${m.parents} |`),
    "",
    "A bare clone after the merges passes `git fsck --strict`.",
  ];
  return lines.join("\n") + "\n";
}
