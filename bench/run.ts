// `npm run bench`: Gitflare against C git's `git http-backend` on the same repository,
// on the same machine, in one run. Prints a table and writes docs/bench/results.json,
// results.md and ratios.svg.
//
//   npm run bench -- [--commits 3000] [--repo /path/to/repo] [--refs 1000] [--out docs/bench]
//                    [--churn-pushes 30] [--churn-mib 2] [--pulls-commits 6000] [--search-commits 6000]
//                    [--only transfer|churn|pulls|search|load|large]
//                    [--load-commits 5000] [--load-rounds 4] [--load-clones 16] [--after-pushes 100]
//
// `--only transfer` runs only the push, clone and fetch table (and the pages);
// `--only churn` runs only the storage-after-churn measurement (bench/churn.ts), which
// writes churn.json and churn.md; `--only pulls` only the pull request measurement
// (bench/pulls.ts), which writes pulls.json and pulls.md; `--only search` only the code
// search measurement (bench/search.ts), which writes search.json and search.md.
//
// The load test (bench/load.ts, issue 12) runs last, on its own repository: an
// express-sized history grown by 20 pushes of a 5 MiB blob each, then rounds of
// concurrent clones with pushes in flight; `--only load` runs only it.
//
// `--only large` (bench/large.ts, issue 15) runs the large-repository table alone, on the
// generator's `large` preset (or `--large-repo DIR`): push, clones, fetch after
// `--after-pushes` pushes, and `--large-clones 1,8,32` concurrent clones; it writes
// large.json and large.md. `--large-snapshot-mib N` adds an untimed clone that takes a heap
// snapshot once the isolate holds N MiB.
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { LocalServer, freePort } from "../e2e/server";
import { startCgitServer } from "./cgit-server";
import { CountingProxy, type RequestRecord } from "./proxy";
import { PRESETS, generateRepo } from "./generate";
import { largeBench, largeMarkdown } from "./large";
import { renderChart } from "./chart";
import { Inspector } from "./inspector";
import { churnBench, churnMarkdown } from "./churn";
import { pullsBench, pullsMarkdown } from "./pulls";
import { searchBench, searchMarkdown } from "./search";
import { type Invocations, invocations, stepLines } from "./worker-log";
import { type GrowOptions, type LoadOptions, type TargetResult, gitRunner, loadMarkdown, loadTargets } from "./load";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ""), process.argv[i + 1]);
const commits = Number(args.get("commits") ?? 3000);
const extraRefs = Number(args.get("refs") ?? 1000);
const afterPushes = Number(args.get("after-pushes") ?? 100);
const outDir = resolve(args.get("out") ?? "docs/bench");
const only = args.get("only");
const churnOptions = { pushes: Number(args.get("churn-pushes") ?? 30), blobBytes: Number(args.get("churn-mib") ?? 2) * 2 ** 20 };
const work = mkdtempSync(join(tmpdir(), "gitflare-bench-"));
const env = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", HOME: work };

/** Runs git without blocking the event loop: the proxies live in this process. */
function git(cwd: string, ...a: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("git", a, { cwd, env, maxBuffer: 1 << 30 }, (err, stdout, stderr) =>
      err ? reject(new Error(`git ${a.join(" ")} failed:\n${stderr}`)) : resolve(String(stdout)),
    );
  });
}

/** Resident memory of the workerd processes in the server's process group, in bytes. */
function workerdRss(group: number): number {
  let total = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== group || !stat.includes("(workerd)")) continue;
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (rss) total += Number(rss[1]) * 1024;
    } catch {
      // The process ended between listing and reading.
    }
  }
  return total;
}

interface Measure extends Invocations {
  ms: number;
  bytes: number;
  longestRequestMs: number;
  /** The Worker's log lines about stepped work, as printed. */
  steps?: string[];
  peakRss?: number;
  /** Peak of the isolate's JS heap plus ArrayBuffers during the operation (garbage not yet collected included). */
  peakHeap?: number;
  /** Peak of the same after a full collection: live memory. */
  peakLive?: number;
}

interface Row {
  op: string;
  gitflare: Measure;
  cgit: Measure;
}

/** Storage after churn: measured on its own server, written beside the other results. */
async function churn() {
  console.log(`storage after churn: ${churnOptions.pushes} pushes of ${churnOptions.blobBytes / 2 ** 20} MiB…`);
  const result = await churnBench({ ...churnOptions, work });
  const md = churnMarkdown(result);
  writeFileSync(join(outDir, "churn.json"), JSON.stringify(result, null, 2) + "\n");
  writeFileSync(join(outDir, "churn.md"), md);
  if (outDir === resolve("docs/bench")) replaceBetween(resolve("README.md"), "churn", md);
  console.log("\n" + md);
}

/** Pull requests on an express-sized repository: on its own server, written beside the other results. */
async function pulls() {
  const pullsCommits = Number(args.get("pulls-commits") ?? 6000);
  console.log(`pull requests on ${args.get("repo") ?? `a generated repository of ${pullsCommits} commits`}…`);
  const result = await pullsBench({ work, repo: args.get("repo") ? resolve(args.get("repo")!) : undefined, commits: pullsCommits });
  const md = pullsMarkdown(result);
  writeFileSync(join(outDir, "pulls.json"), JSON.stringify(result, null, 2) + "\n");
  writeFileSync(join(outDir, "pulls.md"), md);
  if (outDir === resolve("docs/bench")) replaceBetween(resolve("README.md"), "pulls", md);
  console.log("\n" + md);
}

/** Code search on an express-sized repository: on its own server, written beside the other results. */
async function search() {
  const searchCommits = Number(args.get("search-commits") ?? 6000);
  console.log(`code search on ${args.get("repo") ?? `a generated repository of ${searchCommits} commits`}…`);
  const result = await searchBench({ work, repo: args.get("repo") ? resolve(args.get("repo")!) : undefined, commits: searchCommits });
  const md = searchMarkdown(result);
  writeFileSync(join(outDir, "search.json"), JSON.stringify(result, null, 2) + "\n");
  writeFileSync(join(outDir, "search.md"), md);
  if (outDir === resolve("docs/bench")) replaceBetween(resolve("README.md"), "search", md);
  console.log("\n" + md);
}

/** The large-repository table (issue 15): on its own server, written beside the other results. */
async function large() {
  let source = args.get("large-repo");
  if (source) source = resolve(source);
  else {
    source = join(work, "large-source.git");
    console.log("generating the large preset…");
    const t = performance.now();
    await generateRepo(source, PRESETS.large);
    console.log(`generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const result = await largeBench({
    work,
    source,
    label: args.get("large-label") ?? (args.get("large-repo") ? source : "the generator's `large` preset"),
    afterPushes,
    concurrency: (args.get("large-clones") ?? "1,8,32").split(",").map(Number),
    snapshotOverBytes: Number(args.get("large-snapshot-mib") ?? 0) * 2 ** 20,
  });
  const md = largeMarkdown(result);
  writeFileSync(join(outDir, "large.json"), JSON.stringify(result, null, 2) + "\n");
  writeFileSync(join(outDir, "large.md"), md);
  writeFileSync(join(outDir, "large.svg"), renderChart(result.rows));
  if (outDir === resolve("docs/bench")) replaceBetween(resolve("README.md"), "bench-large", md);
  console.log("\n" + md);
}

/** Replaces what lies between `<!-- name:start -->` and `<!-- name:end -->` in a file. */
function replaceBetween(file: string, name: string, content: string) {
  const text = readFileSync(file, "utf8");
  const a = text.indexOf(`<!-- ${name}:start -->`);
  const b = text.indexOf(`<!-- ${name}:end -->`);
  if (a >= 0 && b > a) writeFileSync(file, text.slice(0, a + `<!-- ${name}:start -->`.length) + "\n" + content + text.slice(b));
}

/**
 * The load test against a fresh Gitflare server (with its inspector, for the isolate's
 * heap) and C git's http-backend, on a repository of its own. Writes load.json and
 * load.md into the output directory and returns the Markdown.
 */
async function loadSection(): Promise<string> {
  const grow: GrowOptions = {
    blobPushes: Number(args.get("load-blobs") ?? 20),
    blobBytes: Number(args.get("load-blob-mib") ?? 5) * 2 ** 20,
  };
  const load: LoadOptions = {
    concurrency: Number(args.get("load-clones") ?? 16),
    rounds: Number(args.get("load-rounds") ?? 4),
    pushesInFlight: 2,
    pushBlobBytes: grow.blobBytes,
  };
  const loadCommits = Number(args.get("load-commits") ?? 5000);
  const source = join(work, "load-source.git");
  console.log(`load test: generating ${loadCommits} commits…`);
  await generateRepo(source, { commits: loadCommits, extraRefs: 0 });
  const count = execFileSync("git", ["count-objects", "-v"], { cwd: source }).toString();
  const repo = `${loadCommits} commits, ${/in-pack: (\d+)/.exec(count)?.[1]} objects, ${(Number(/size-pack: (\d+)/.exec(count)?.[1]) / 1024).toFixed(1)} MiB pack`;
  const server = new LocalServer(join(work, "load-state"));
  const inspectorPort = await freePort();
  await server.start({ inspectorPort });
  const cgitRoot = join(work, "load-cgit");
  mkdirSync(cgitRoot);
  const cgitPort = await freePort();
  const cgit = await startCgitServer(cgitRoot, cgitPort);
  let results: TargetResult[] = [];
  try {
    const inspector = await Inspector.connect(inspectorPort);
    const account = await server.signUpAndUse("load");
    // Past wrangler's dev proxy, which loses POSTs on a connection race (e2e/server.ts).
    const direct = await server.directUrl();
    await git(cgitRoot, "init", "-q", "--bare", "--initial-branch=main", "load.git");
    await git(join(cgitRoot, "load.git"), "config", "http.receivepack", "true");
    const run = gitRunner({
      ...env,
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: `http.${direct}/.extraHeader`,
      GIT_CONFIG_VALUE_0: `Authorization: ${account.auth}`,
    });
    results = await loadTargets(
      run,
      work,
      source,
      [
        {
          name: "Gitflare",
          url: `${direct}/load/load.git`,
          heap: () => inspector.heap(),
          // Its maintenance would go on working beside C git's turn.
          done: async () => {
            inspector.close();
            writeFileSync(join(work, "load-gitflare.log"), server.output());
            await server.stop();
          },
        },
        { name: "C git", url: `http://127.0.0.1:${cgitPort}/load.git` },
      ],
      grow,
      load,
      30_000,
      (line) => console.log(line),
    );
  } finally {
    await server.stop();
    cgit.close();
  }
  const md = loadMarkdown(results, load, grow, repo);
  writeFileSync(join(outDir, "load.json"), JSON.stringify({ repository: repo, grow, load, results }, null, 2) + "\n");
  writeFileSync(join(outDir, "load.md"), md);
  if (outDir === resolve("docs/bench")) replaceBetween(resolve("README.md"), "load", md);
  console.log("\n" + md);
  return md;
}

async function main() {
  mkdirSync(outDir, { recursive: true });
  if (only === "churn") return churn();
  if (only === "pulls") return pulls();
  if (only === "search") return search();
  if (only === "large") return large();
  if (only === "load") {
    await loadSection();
    return;
  }
  if (only && only !== "transfer") throw new Error(`--only takes "transfer", "churn", "pulls", "search", "load" or "large", not ${only}`);
  let source = args.get("repo");
  if (!source) {
    source = join(work, "source.git");
    console.log(`generating a repository of ${commits} commits and ${extraRefs} extra refs…`);
    await generateRepo(source, { commits, binaryEvery: 400, binaryBytes: 1 << 20, extraRefs });
  } else {
    source = resolve(source);
  }
  const sizePack = execFileSync("git", ["count-objects", "-v"], { cwd: source }).toString();
  const objects = Number(/in-pack: (\d+)/.exec(sizePack)?.[1] ?? 0);
  const packKiB = Number(/size-pack: (\d+)/.exec(sizePack)?.[1] ?? 0);
  const refCount = (await git(source, "for-each-ref")).split("\n").filter(Boolean).length;
  console.log(`repository: ${objects} objects, ${(packKiB / 1024).toFixed(1)} MiB pack, ${refCount} refs`);

  const gitflare = new LocalServer(join(work, "state"));
  const inspectorPort = await freePort();
  await gitflare.start({ inspectorPort });
  const inspector = await Inspector.connect(inspectorPort);
  // Gitflare's side pushes and reads as the owner, with a token sent on every request
  // (scoped to Gitflare's URL), so no run pays for a 401 round trip.
  const account = await gitflare.signUpAndUse("bench");
  const cgitRoot = join(work, "cgit");
  mkdirSync(cgitRoot);
  const cgitPort = await freePort();
  const cgit = await startCgitServer(cgitRoot, cgitPort);
  const proxies = { gitflare: new CountingProxy(gitflare.port), cgit: new CountingProxy(cgitPort) };
  const ports = { gitflare: await freePort(), cgit: await freePort() };
  await proxies.gitflare.start(ports.gitflare);
  await proxies.cgit.start(ports.cgit);
  Object.assign(env, {
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: `http.http://127.0.0.1:${ports.gitflare}/.extraHeader`,
    GIT_CONFIG_VALUE_0: `Authorization: ${account.auth}`,
  });
  const url = (t: "gitflare" | "cgit", repo: string) => `http://127.0.0.1:${ports[t]}/${t === "gitflare" ? "bench/" : ""}${repo}.git`;
  // HEAD must name main, as Gitflare's first push makes it, or a --depth clone (which is
  // single-branch) of C git's copy would follow a HEAD that names nothing.
  await git(cgitRoot, "init", "-q", "--bare", "--initial-branch=main", "main.git");
  await git(join(cgitRoot, "main.git"), "config", "http.receivepack", "true");

  await new Promise((r) => setTimeout(r, 1000));
  const idleRss = workerdRss(gitflare.processGroup!);
  const rows: Row[] = [];

  async function measure(op: string, fn: (t: "gitflare" | "cgit") => void | Promise<void>, bytesOf: (recs: RequestRecord[]) => number) {
    const row = { op } as Row;
    for (const t of ["gitflare", "cgit"] as const) {
      proxies[t].take();
      let peak = 0;
      let peakHeap = 0;
      const sampleHeap = async () => {
        const h = await inspector.heap();
        peakHeap = Math.max(peakHeap, h.js + h.buffers);
      };
      if (t === "gitflare") await sampleHeap();
      // Live memory: a full collection and a reading each second while the operation runs
      // (not sooner: forced collections slow the worker, and short operations would pay most).
      let running = t === "gitflare";
      let peakLive = 0;
      const liveLoop = (async () => {
        for (;;) {
          await new Promise((r) => setTimeout(r, 1000));
          if (!running) return;
          const h = await inspector.liveHeap();
          if (running) peakLive = Math.max(peakLive, h.js + h.buffers);
        }
      })();
      const sampler =
        t === "gitflare"
          ? setInterval(() => {
              peak = Math.max(peak, workerdRss(gitflare.processGroup!));
              void sampleHeap();
            }, 50)
          : null;
      const logMark = gitflare.mark();
      const started = performance.now();
      await fn(t);
      const ms = performance.now() - started;
      if (sampler) clearInterval(sampler);
      running = false;
      void liveLoop;
      // Let the proxy see the end of the last response before reading its records.
      await new Promise((r) => setTimeout(r, 50));
      const recs = proxies[t].take();
      row[t] = {
        ms,
        bytes: bytesOf(recs),
        longestRequestMs: Math.max(0, ...recs.map((r) => r.ms)),
        ...invocations(recs, t === "gitflare" ? gitflare.outputSince(logMark) : null),
        ...(t === "gitflare" ? { steps: stepLines(gitflare.outputSince(logMark)) } : {}),
        ...(t === "gitflare" ? { peakRss: Math.max(peak, workerdRss(gitflare.processGroup!)), peakHeap, peakLive } : {}),
      };
    }
    rows.push(row);
    const r = row;
    console.log(
      `${op.padEnd(24)} gitflare ${r.gitflare.ms.toFixed(0).padStart(7)} ms  cgit ${r.cgit.ms.toFixed(0).padStart(7)} ms  ` +
        `ratio ${(r.gitflare.ms / r.cgit.ms).toFixed(2)}  bytes ${(r.gitflare.bytes / Math.max(1, r.cgit.bytes)).toFixed(3)}  ` +
        `isolate heap peak ${((r.gitflare.peakHeap ?? 0) / 2 ** 20).toFixed(1)} MiB, live ${((r.gitflare.peakLive ?? 0) / 2 ** 20).toFixed(1)} MiB` +
        `  longest invocation ${r.gitflare.longestInvocationMs} ms` +
        (r.gitflare.steppedInvocations ? ` of ${r.gitflare.steppedInvocations} in steps` : "") +
        (r.gitflare.uploadBusyMs !== null ? `  object busy ${r.gitflare.uploadBusyMs} ms` : ""),
    );
    for (const line of r.gitflare.steps ?? []) console.log(`    ${line}`);
  }
  const uploadBytes = (recs: RequestRecord[]) =>
    recs.filter((r) => r.path.endsWith("git-upload-pack")).reduce((s, r) => s + r.responseBytes, 0);
  const receiveBytes = (recs: RequestRecord[]) =>
    recs.filter((r) => r.path.endsWith("git-receive-pack")).reduce((s, r) => s + r.requestBytes, 0);
  const allBytes = (recs: RequestRecord[]) => recs.reduce((s, r) => s + r.responseBytes, 0);

  await measure(
    "push (full, into empty)",
    async (t) => void (await git(source!, "push", "-q", url(t, "main"), "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*")),
    receiveBytes,
  );
  // The first clone after the push finds the Durable Object's caches cold; the next ones warm.
  await measure(
    "clone (v2, first)",
    async (t) => void (await git(work, "-c", "protocol.version=2", "clone", "-q", "--bare", url(t, "main"), `${t}-v2.git`)),
    uploadBytes,
  );
  await measure(
    "clone (v2, again)",
    async (t) => void (await git(work, "-c", "protocol.version=2", "clone", "-q", "--bare", url(t, "main"), `${t}-v2b.git`)),
    uploadBytes,
  );
  await measure(
    "clone (v0)",
    async (t) => void (await git(work, "-c", "protocol.version=0", "clone", "-q", "--bare", url(t, "main"), `${t}-v0.git`)),
    uploadBytes,
  );
  await measure(
    "shallow clone (--depth 1)",
    async (t) => void (await git(work, "clone", "-q", "--depth", "1", url(t, "main"), `${t}-shallow`)),
    uploadBytes,
  );

  // One new commit: pushed to both, then fetched into the earlier clones.
  const wt = join(work, "worktree");
  await git(work, "clone", "-q", "--no-local", source, wt);
  const file = (await git(wt, "ls-files")).split("\n").find((f) => f.endsWith(".md") || f.endsWith(".c")) ?? "README";
  writeFileSync(join(wt, file), readFileSync(join(wt, file), "utf8") + "one more line\n");
  await git(wt, "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "commit", "-qam", "one more commit");
  await measure(
    "incremental push (1 commit)",
    async (t) => void (await git(wt, "push", "-q", url(t, "main"), "HEAD:refs/heads/main")),
    receiveBytes,
  );
  await measure(
    "incremental fetch (1 commit)",
    async (t) => void (await git(join(work, `${t}-v2.git`), "fetch", "-q", "origin", "+refs/heads/*:refs/heads/*")),
    uploadBytes,
  );
  // A busy repository: many one-commit pushes, and no maintenance in between (the server
  // runs none for 10 s after a push; these follow each other faster). A full clone then
  // costs the first push's pack sent as stored plus what the pushes added.
  for (let i = 0; i < afterPushes; i++) {
    writeFileSync(join(wt, file), readFileSync(join(wt, file), "utf8") + `push ${i}\n`);
    await git(wt, "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "commit", "-qam", `push ${i}`);
    for (const t of ["gitflare", "cgit"] as const) await git(wt, "push", "-q", url(t, "main"), "HEAD:refs/heads/main");
  }
  await measure(
    `clone (v2, after ${afterPushes} pushes)`,
    async (t) => void (await git(work, "-c", "protocol.version=2", "clone", "-q", "--bare", url(t, "main"), `${t}-after.git`)),
    uploadBytes,
  );
  await measure(
    `fetch after ${afterPushes} pushes`,
    async (t) => void (await git(join(work, `${t}-v2b.git`), "fetch", "-q", "origin", "+refs/heads/*:refs/heads/*")),
    uploadBytes,
  );
  await measure(`ls-remote (${refCount} refs)`, async (t) => void (await git(work, "ls-remote", url(t, "main"))), allBytes);

  // Web pages: the repository home from cold (a fresh server process), then every page warm.
  inspector.close();
  await gitflare.stop();
  await gitflare.start();
  const pages = await timePages(`http://127.0.0.1:${gitflare.port}/bench/main`, join(work, "worktree"), account.auth);
  for (const p of pages)
    console.log(
      `page ${p.page.padEnd(28)} ${p.status} ${p.coldMs.toFixed(0).padStart(6)} ms first, ${p.warmMs.toFixed(0).padStart(5)} ms warm`,
    );

  // Correctness: the Gitflare clone is complete and sound.
  await git(join(work, "gitflare-v2.git"), "fsck", "--connectivity-only");
  // The clone after the pushes reused a pack and appended to it: the same objects as C git
  // sent, none twice.
  await git(join(work, "gitflare-after.git"), "fsck", "--connectivity-only");
  const inPack = async (dir: string) => /in-pack: (\d+)/.exec(await git(join(work, dir), "count-objects", "-v"))?.[1];
  const [ours, theirs] = [await inPack("gitflare-after.git"), await inPack("cgit-after.git")];
  if (ours !== theirs) throw new Error(`the clone after the pushes holds ${ours} objects, C git's ${theirs}`);

  await gitflare.stop();
  writeFileSync(join(work, "gitflare.log"), gitflare.output());
  console.log(`server log (tail): ${join(work, "gitflare.log")}`);
  await proxies.gitflare.stop();
  await proxies.cgit.stop();
  cgit.close();

  const machine = {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    git: execFileSync("git", ["--version"]).toString().trim(),
    date: new Date().toISOString(),
  };
  const result = {
    machine,
    repository: { objects, packMiB: packKiB / 1024, refs: refCount, commits: args.get("repo") ? null : commits },
    idleRss,
    rows,
    pages,
  };
  // `--only transfer` keeps the load figures of the last full run.
  const loadMd = only === "transfer" ? readFileSync(join(outDir, "load.md"), "utf8") : await loadSection();
  writeFileSync(join(outDir, "results.json"), JSON.stringify(result, null, 2) + "\n");
  writeFileSync(join(outDir, "ratios.svg"), renderChart(rows));
  writeFileSync(join(outDir, "results.md"), `${markdown(result)}\n### Concurrent clones under load\n\n${loadMd}`);
  if (outDir === resolve("docs/bench")) replaceBetween(resolve("README.md"), "bench", markdown(result));
  console.log("\n" + markdown(result));
  if (only === "transfer") return;
  await churn();
  await pulls();
  await search();
}

/** Times each kind of page: first request (cold for the first page), then the median of 5. */
async function timePages(base: string, worktree: string, auth: string) {
  const file = (await git(worktree, "ls-files")).split("\n").find((f) => f.includes("/") && /\.(js|ts|c|py)$/.test(f)) ?? "";
  const dir = file.slice(0, file.lastIndexOf("/"));
  const head = (await git(worktree, "rev-parse", "HEAD")).trim();
  const firstTag = (await git(worktree, "tag", "--sort=creatordate")).split("\n").find(Boolean) ?? "main";
  const list: [string, string][] = [
    ["repository home", ""],
    ["tree", `/tree/main/${dir}`],
    ["blob", `/blob/main/${file}`],
    ["raw", `/raw/main/${file}`],
    ["blame", `/blame/main/${file}`],
    ["commits", "/commits/main"],
    ["file history", `/commits/main?path=${encodeURIComponent(file)}`],
    ["commit", `/commit/${head}`],
    ["compare", `/compare/${firstTag}...main`],
    ["branches", "/branches"],
    ["tags", "/tags"],
  ];
  const out: { page: string; status: number; coldMs: number; warmMs: number }[] = [];
  for (const [name, path] of list) {
    const once = async () => {
      const t = performance.now();
      const res = await fetch(base + path, { headers: { Authorization: auth } });
      await res.arrayBuffer();
      return { ms: performance.now() - t, status: res.status };
    };
    const first = await once();
    const warm: number[] = [];
    for (let i = 0; i < 5; i++) warm.push((await once()).ms);
    warm.sort((a, b) => a - b);
    out.push({ page: name, status: first.status, coldMs: first.ms, warmMs: warm[2] });
  }
  return out;
}

function markdown(r: {
  machine: Record<string, unknown>;
  repository: { objects: number; packMiB: number; refs: number };
  idleRss: number;
  rows: Row[];
  pages: { page: string; status: number; coldMs: number; warmMs: number }[];
}): string {
  const mb = (b: number) => (b / 2 ** 20).toFixed(1);
  const lines = [
    `Repository: ${r.repository.objects} objects, ${r.repository.packMiB.toFixed(1)} MiB pack after \`git gc\`, ${r.repository.refs} refs.`,
    `Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, ${r.machine.node}, ${r.machine.git}, ${String(r.machine.date).slice(0, 10)}.`,
    `workerd resident memory when idle: ${mb(r.idleRss)} MiB.`,
    "",
    'Isolate memory is the V8 isolate\'s JS heap plus ArrayBuffers, which is what the 128 MB limit counts: "peak" is sampled every 50 ms with garbage not yet collected included; "live" is read after a full collection forced each second while the operation runs ("–" for operations shorter than that). RSS is the whole workerd process, SQLite included.',
    "",
    'Large work is done in steps, each its own Durable Object invocation: a push body over 64 MiB (or of unknown length) is received in 64 MiB segments, a pack of 32 MiB or more is indexed in slices, and a clone or fetch answer over 1 MiB is produced 4 MiB per step (the object walk before it pausing every 16,384 objects). "Longest invocation" is the longest of those (or of a whole request done in one), as the Worker timed them; "steps" counts the invocations stepped work took. "Object busy" is the sum of the Durable Object\'s invocations for the upload-pack requests of a clone or fetch, as the Worker logs it ("–" where it logs none).',
    "",
    "| operation | Gitflare | C git | time ratio | bytes (Gitflare) | bytes ratio | longest request | longest invocation (steps) | object busy | isolate live peak | isolate heap peak | workerd peak RSS (above idle) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const row of r.rows) {
    const g = row.gitflare;
    const c = row.cgit;
    lines.push(
      `| ${row.op} | ${g.ms.toFixed(0)} ms | ${c.ms.toFixed(0)} ms | ${(g.ms / c.ms).toFixed(2)}× | ${g.bytes.toLocaleString("en-US")} | ${c.bytes ? (g.bytes / c.bytes).toFixed(3) + "×" : "–"} | ${g.longestRequestMs.toFixed(0)} ms | ${g.longestInvocationMs} ms${g.steppedInvocations ? ` (${g.steppedInvocations})` : ""} | ${g.uploadBusyMs !== null ? `${g.uploadBusyMs} ms` : "–"} | ${g.peakLive ? `${mb(g.peakLive)} MiB` : "–"} | ${mb(g.peakHeap ?? 0)} MiB | ${mb(g.peakRss ?? 0)} MiB (+${mb(Math.max(0, (g.peakRss ?? 0) - r.idleRss))}) |`,
    );
  }
  lines.push("", "| web page | first request | warm (median of 5) |", "|---|---|---|");
  for (const p of r.pages) lines.push(`| ${p.page} | ${p.coldMs.toFixed(0)} ms | ${p.warmMs.toFixed(0)} ms |`);
  return lines.join("\n") + "\n";
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
