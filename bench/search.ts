// Code search on an express-sized repository: how long the index takes to build after
// the first push (per MB of indexed text), how long it takes to follow a small push,
// and how long queries take, first and warm. The index is built by alarm slices in the
// background, so build times are as a client sees them: from the push's end until the
// search API stops answering `incomplete_results: true`.
//
// It runs on its own server and state directory; the repository is generated like the main
// bench's (bench/generate.ts) or given with `--repo`.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, median } from "./exec";
import { LocalServer } from "../e2e/server";
import { generateRepo } from "./generate";
import { mulberry32 } from "../src/util/prng";

export interface SearchOptions {
  work: string;
  repo?: string;
  commits: number;
}

export interface SearchResult {
  repository: { commits: number | null; files: number; textMiB: number };
  build: { ms: number; msPerMiB: number };
  /** A larger tree of text in one push, for the index's throughput. */
  bulk: { files: number; textMiB: number; ms: number; msPerMiB: number };
  update: { files: number; ms: number };
  queries: { query: string; total: number; firstMs: number; warmMs: number }[];
  page: { firstMs: number; warmMs: number };
  date: string;
}

export async function searchBench(o: SearchOptions): Promise<SearchResult> {
  const work = join(o.work, "search");
  mkdirSync(work, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", HOME: work };
  const git = (cwd: string, ...a: string[]) => run("git", a, cwd, env);

  let source = o.repo;
  if (!source) {
    source = join(work, "source.git");
    console.log(`  search: generating a repository of ${o.commits} commits…`);
    await generateRepo(source, { commits: o.commits, binaryEvery: 400, binaryBytes: 1 << 20 });
  }
  // What the index holds: the text files of the default branch up to 384 KB.
  const tree = (await git(source, "ls-tree", "-r", "-l", "HEAD"))
    .split("\n")
    .filter(Boolean)
    .map((l) => ({ size: Number(l.split(/\s+/)[3]), path: l.slice(l.indexOf("\t") + 1) }));
  const indexed = tree.filter((f) => f.size <= 384 * 1024 && /\.(js|ts|md|c|h|py|txt|json)$/.test(f.path));
  const textMiB = indexed.reduce((n, f) => n + f.size, 0) / 2 ** 20;

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
    const search = async (q: string, repo = "bench/express") => {
      const t = performance.now();
      const res = await server.fetch(`/api/v3/search/code?q=${encodeURIComponent(`${q} repo:${repo}`)}`, {
        headers: { Accept: "application/vnd.github.text-match+json" },
      });
      const json = (await res.json()) as { total_count: number; incomplete_results: boolean };
      if (res.status !== 200) throw new Error(`search ${q}: ${res.status} ${JSON.stringify(json)}`);
      return { ms: performance.now() - t, total: json.total_count, incomplete: json.incomplete_results };
    };
    const caughtUp = (q: string) => caughtUpIn("bench/express", q);
    const caughtUpIn = async (repo: string, q: string) => {
      const t = performance.now();
      for (let i = 0; i < 6000; i++) {
        const r = await search(q, repo);
        if (!r.incomplete && r.total > 0) return performance.now() - t;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("the search index did not catch up within 5 minutes");
    };

    const wt = join(work, "wt");
    await git(work, "clone", "-q", "--no-local", source, wt);
    await git(wt, "checkout", "-q", "-B", "main");
    await git(wt, "push", "-q", remote, "main");
    const buildMs = await caughtUp("which");
    console.log(`  search: index of ${indexed.length} files (${textMiB.toFixed(1)} MiB) built in ${buildMs.toFixed(0)} ms`);

    // A small push: three files change.
    const changed = indexed.slice(0, 3).map((f) => f.path);
    for (const [i, f] of changed.entries()) writeFileSync(join(wt, f), `${readFileSync(join(wt, f), "utf8")}\nbenchNeedle${i} appended\n`);
    await git(wt, "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "commit", "-qam", "append needles");
    await git(wt, "push", "-q", remote, "main");
    const updateMs = await caughtUp("benchNeedle2");
    console.log(`  search: a push of ${changed.length} changed files indexed in ${updateMs.toFixed(0)} ms`);

    const queries: SearchResult["queries"] = [];
    for (const q of ["which", "benchNeedle1", '"the of and"', "would path:src/lib", "there language:python", "zzzNothingMatches"]) {
      const first = await search(q);
      const warm: number[] = [];
      for (let i = 0; i < 5; i++) warm.push((await search(q)).ms);
      queries.push({ query: q, total: first.total, firstMs: first.ms, warmMs: median(warm) });
      console.log(`  search: ${q}: ${first.total} files, ${first.ms.toFixed(0)} ms first, ${median(warm).toFixed(0)} ms warm`);
    }
    const pageOnce = async () => {
      const t = performance.now();
      const res = await server.fetch("/bench/express/search?q=which");
      await res.arrayBuffer();
      return performance.now() - t;
    };
    // Throughput: one push of a larger tree of text files, indexed from scratch.
    const bulkDir = join(work, "bulk");
    await git(work, "init", "-q", "-b", "main", bulkDir);
    const rand = mulberry32(7);
    const words = "alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega route handle request response".split(" ");
    let bulkBytes = 0;
    const bulkFiles = 2000;
    for (let i = 0; i < bulkFiles; i++) {
      const lines = Array.from({ length: 400 }, () => Array.from({ length: 8 }, () => words[Math.floor(rand() * words.length)]).join(" "));
      const text = `// file ${i} bulkNeedle${i}\n${lines.join("\n")}\n`;
      mkdirSync(join(bulkDir, `d${i % 20}`), { recursive: true });
      writeFileSync(join(bulkDir, `d${i % 20}`, `f${i}.js`), text);
      bulkBytes += text.length;
    }
    await git(bulkDir, "add", "-A");
    await git(bulkDir, "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "commit", "-qm", "bulk");
    await git(bulkDir, "push", "-q", `${server.url}/bench/bulk.git`, "main");
    const bulkMs = await caughtUpIn("bench/bulk", `bulkNeedle${bulkFiles - 1}`);
    const bulkMiB = bulkBytes / 2 ** 20;
    console.log(`  search: bulk index of ${bulkFiles} files (${bulkMiB.toFixed(1)} MiB) built in ${bulkMs.toFixed(0)} ms`);

    const pageFirst = await pageOnce();
    const pageWarm: number[] = [];
    for (let i = 0; i < 5; i++) pageWarm.push(await pageOnce());
    return {
      repository: { commits: o.repo ? null : o.commits, files: indexed.length, textMiB },
      build: { ms: buildMs, msPerMiB: buildMs / Math.max(textMiB, 1e-9) },
      bulk: { files: bulkFiles, textMiB: bulkMiB, ms: bulkMs, msPerMiB: bulkMs / bulkMiB },
      update: { files: changed.length, ms: updateMs },
      queries,
      page: { firstMs: pageFirst, warmMs: median(pageWarm) },
      date: new Date().toISOString(),
    };
  } finally {
    await server.stop();
  }
}

export function searchMarkdown(r: SearchResult): string {
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  const repo = r.repository.commits
    ? `a generated repository of ${r.repository.commits.toLocaleString("en-US")} commits (bench/generate.ts, as the main bench)`
    : "a given repository";
  const lines = [
    `On ${repo}, whose default branch has ${r.repository.files} text files (${r.repository.textMiB.toFixed(1)} MiB). Times are as a client measures them over HTTP on the local server, ${r.date.slice(0, 10)}; index times run from the end of \`git push\` until the search API stops answering \`incomplete_results: true\` (they include the half-second wait before the first slice and between slices). Target: warm queries under 100 ms.`,
    "",
    "| index | time |",
    "|---|---|",
    `| first build, whole branch | ${ms(r.build.ms)} (${ms(r.build.msPerMiB)} per MiB) |`,
    `| after a push changing ${r.update.files} files | ${ms(r.update.ms)} |`,
    `| first build of a push of ${r.bulk.files.toLocaleString("en-US")} text files (${r.bulk.textMiB.toFixed(1)} MiB) | ${ms(r.bulk.ms)} (${ms(r.bulk.msPerMiB)} per MiB) |`,
    "",
    "| query (`GET /api/v3/search/code`, text matches) | files | first | warm (median of 5) |",
    "|---|---|---|---|",
    ...r.queries.map((q) => `| \`${q.query.replaceAll("|", "\\|")}\` | ${q.total} | ${ms(q.firstMs)} | ${ms(q.warmMs)} |`),
    `| the search page, \`which\` | | ${ms(r.page.firstMs)} | ${ms(r.page.warmMs)} |`,
  ];
  return lines.join("\n") + "\n";
}
