// Storage after churn: what a repository costs in storage after many pushes of large
// blobs, once maintenance has come to rest, beside C git's own repository of the same
// history. Each push adds a commit that replaces one file with fresh random bytes, so
// every push's blob stays in history and nothing compresses or deltas.
//
// It runs on its own server and state directory, so that the Durable Object's SQLite file
// and the local R2 bucket on disk belong to this one repository.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./exec";
import { LocalServer, freePort } from "../e2e/server";
import { startCgitServer } from "./cgit-server";

export interface ChurnOptions {
  pushes: number;
  blobBytes: number;
  work: string;
}

/** The storage report of `GET /api/repos/:owner/:repo/storage`. */
interface Storage {
  database_bytes: number;
  files: { sqlite_bytes: number; r2_bytes: number };
  packs: { count: number; sqlite_bytes: number; r2_bytes: number };
  retired_packs: { count: number; sqlite_bytes: number; r2_bytes: number };
  maintenance_pending: boolean;
}

/** What the repository holds at one moment, through the API and on disk. */
export interface Reading {
  storage: Storage;
  /** The Durable Object's SQLite file on disk, with its -wal and -shm. */
  sqliteFileBytes: number;
  /** The local R2 bucket's blobs on disk. */
  r2DiskBytes: number;
}

export interface ChurnResult {
  pushes: number;
  blobBytes: number;
  /** Bytes of blobs pushed in all (the history's payload). */
  pushedBytes: number;
  /** After which push a clone began that stayed in flight until `held` was read. */
  heldFrom: number;
  /** Bytes of the held clone's answer, and whether its pack passed `git index-pack`. */
  heldClone: { bytes: number; indexed: boolean };
  /** Highest readings, taken after each push and each maintenance slice. */
  peak: { databaseBytes: number; sqliteFileBytes: number; retiredPacks: number; retiredBytes: number };
  /** Maintenance slices the benchmark ran to bring it to rest, each time (alarms ran others). */
  slices: number[];
  maintenanceMs: number[];
  /** Maintenance at rest with the clone still in flight. */
  held: Reading;
  /** Maintenance at rest again once the clone ended. */
  after: Reading;
  cgit: { countObjects: string; afterGc: string };
}

/** Bytes of every file under `dir`. */
function diskBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += diskBytes(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}

/** Where wrangler keeps the Repository objects' SQLite files and the R2 bucket's blobs. */
function stateDirs(state: string): { objects: string; r2: string } {
  const v3 = join(state, "v3");
  const objects = join(v3, "do", readdirSync(join(v3, "do")).find((d) => d.endsWith("-Repository")) ?? "Repository");
  return { objects, r2: join(v3, "r2", "gitflare-packs", "blobs") };
}

/** The largest object's SQLite file with its -wal and -shm: this repository's. */
function sqliteFileBytes(objects: string): number {
  if (!existsSync(objects)) return 0;
  const files = readdirSync(objects).filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
  const size = (f: string) => (existsSync(join(objects, f)) ? statSync(join(objects, f)).size : 0);
  const db = files.sort((a, b) => size(b) - size(a))[0];
  return db ? size(db) + size(`${db}-wal`) + size(`${db}-shm`) : 0;
}

export async function churnBench(o: ChurnOptions): Promise<ChurnResult> {
  const work = join(o.work, "churn");
  mkdirSync(work, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", HOME: work };
  const git = (cwd: string, ...a: string[]) => run("git", a, cwd, env);

  const server = new LocalServer(join(work, "state"));
  await server.start();
  const cgitRoot = join(work, "cgit");
  mkdirSync(cgitRoot);
  const cgitPort = await freePort();
  const cgit = await startCgitServer(cgitRoot, cgitPort);
  try {
    const account = await server.signUpAndUse("churn");
    Object.assign(env, {
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: `http.${server.url}/.extraHeader`,
      GIT_CONFIG_VALUE_0: `Authorization: ${account.auth}`,
    });
    await git(cgitRoot, "init", "-q", "--bare", "--initial-branch=main", "churn.git");
    await git(join(cgitRoot, "churn.git"), "config", "http.receivepack", "true");
    const remotes = [`${server.url}/churn/churn.git`, `http://127.0.0.1:${cgitPort}/churn.git`];
    const api = `/api/repos/churn/churn`;
    const storage = async (): Promise<Storage> => {
      const res = await server.fetch(`${api}/storage`);
      if (!res.ok) throw new Error(`storage: ${res.status} ${await res.text()}`);
      return (await res.json()) as Storage;
    };

    const src = join(work, "src");
    mkdirSync(src);
    await git(src, "init", "-q", "--initial-branch=main");
    const peak = { databaseBytes: 0, sqliteFileBytes: 0, retiredPacks: 0, retiredBytes: 0 };
    let dirs: ReturnType<typeof stateDirs> | null = null;
    const reading = async (): Promise<Reading> => {
      const s = await storage();
      dirs ??= stateDirs(server.stateDir);
      const r = { storage: s, sqliteFileBytes: sqliteFileBytes(dirs.objects), r2DiskBytes: diskBytes(dirs.r2) };
      peak.databaseBytes = Math.max(peak.databaseBytes, s.database_bytes);
      peak.sqliteFileBytes = Math.max(peak.sqliteFileBytes, r.sqliteFileBytes);
      peak.retiredPacks = Math.max(peak.retiredPacks, s.retired_packs.count);
      peak.retiredBytes = Math.max(peak.retiredBytes, s.retired_packs.sqlite_bytes + s.retired_packs.r2_bytes);
      return r;
    };
    // Maintenance to rest: the slices an alarm would run, one request each. An alarm's
    // slice running at the same moment answers `more` without work; then wait a little.
    const slices: number[] = [];
    const maintenanceMs: number[] = [];
    const toRest = async () => {
      const started = performance.now();
      let n = 0;
      for (;;) {
        const res = await server.fetch(`${api}/maintenance`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: "{}",
        });
        if (!res.ok) throw new Error(`maintenance: ${res.status} ${await res.text()}`);
        const r = (await res.json()) as { more: boolean; copied: number; tiered: number; deleted: number };
        n++;
        await reading();
        if (!r.more) break;
        if (r.copied + r.tiered + r.deleted === 0) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      slices.push(n);
      maintenanceMs.push(performance.now() - started);
      // Local SQLite (WAL) writes its log back into the database at checkpoints; let it.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      return reading();
    };

    // A clone that begins a third of the way in and is not read on until the end: its
    // answer is far larger than the socket's buffers, so its job stays in flight, and the
    // packs that repacks retire meanwhile must wait for it.
    const heldFrom = Math.max(1, Math.floor(o.pushes / 3));
    let heldClone: { reader: ReadableStreamDefaultReader<Uint8Array>; parts: Uint8Array[] } | null = null;
    for (let i = 0; i < o.pushes; i++) {
      writeFileSync(join(src, "data.bin"), randomBytes(o.blobBytes));
      await git(src, "add", "data.bin");
      await git(src, "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "commit", "-qm", `churn ${i}`);
      for (const remote of remotes) await git(src, "push", "-q", remote, "HEAD:refs/heads/main");
      if (i + 1 === heldFrom) {
        const tip = (await git(src, "rev-parse", "HEAD")).trim();
        const res = await server.fetch("/churn/churn.git/git-upload-pack", {
          method: "POST",
          headers: { "Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": "version=2" },
          body: Buffer.concat([
            pkt("command=fetch\n"),
            Buffer.from("0001"),
            pkt("ofs-delta\n"),
            pkt(`want ${tip}\n`),
            pkt("done\n"),
            Buffer.from("0000"),
          ]),
        });
        if (!res.ok || !res.body) throw new Error(`held clone: ${res.status}`);
        const reader = res.body.getReader();
        const first = await reader.read();
        heldClone = { reader, parts: first.value ? [first.value] : [] };
      }
      await reading();
      process.stdout.write(`\r  churn: ${i + 1}/${o.pushes} pushes`);
    }
    process.stdout.write("\n");
    const held = await toRest();

    // The clone carries on to the end, and its pack must be whole.
    let bytes = 0;
    for (;;) {
      const r = await heldClone!.reader.read();
      if (r.done) break;
      heldClone!.parts.push(r.value);
    }
    for (const p of heldClone!.parts) bytes += p.byteLength;
    writeFileSync(join(work, "held.pack"), packOf(Buffer.concat(heldClone!.parts)));
    const indexed = await git(work, "index-pack", join(work, "held.pack")).then(
      () => true,
      () => false,
    );
    const after = await toRest();
    console.log(`  churn: SQLite files in ${dirs!.objects}, R2 blobs in ${dirs!.r2}`);

    // What maintenance left serves a whole, sound clone.
    await git(work, "clone", "-q", "--bare", remotes[0], "check.git");
    await git(join(work, "check.git"), "fsck", "--connectivity-only");

    const bare = join(cgitRoot, "churn.git");
    const countObjects = await git(bare, "count-objects", "-vH");
    await git(bare, "gc", "-q");
    const afterGc = await git(bare, "count-objects", "-vH");
    return {
      pushes: o.pushes,
      blobBytes: o.blobBytes,
      pushedBytes: o.pushes * o.blobBytes,
      heldFrom,
      heldClone: { bytes, indexed },
      peak,
      slices,
      maintenanceMs,
      held,
      after,
      cgit: { countObjects, afterGc },
    };
  } finally {
    await server.stop();
    cgit.close();
  }
}

/** A pkt-line. */
function pkt(line: string): Buffer {
  return Buffer.concat([Buffer.from((line.length + 4).toString(16).padStart(4, "0")), Buffer.from(line)]);
}

/** The pack inside a v2 fetch answer: side band 1 after the `packfile` section line. */
function packOf(answer: Buffer): Buffer {
  const parts: Buffer[] = [];
  let inPack = false;
  for (let at = 0; at + 4 <= answer.length; ) {
    const len = Number.parseInt(answer.subarray(at, at + 4).toString(), 16);
    if (len < 4) {
      at += 4;
      continue;
    }
    const data = answer.subarray(at + 4, at + len);
    if (!inPack) inPack = data.toString() === "packfile\n";
    else if (data[0] === 1) parts.push(data.subarray(1));
    at += len;
  }
  return Buffer.concat(parts);
}

/** `size-pack` plus `size` (loose objects) of `git count-objects -v`, in bytes. */
function cgitBytes(countObjects: string): number {
  const field = (name: string) => {
    const m = new RegExp(`^${name}: ([\\d.]+) ?(\\w*)$`, "m").exec(countObjects);
    if (!m) return 0;
    const unit = { "": 1, bytes: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 }[m[2]] ?? 1;
    return Number(m[1]) * unit;
  };
  return field("size") + field("size-pack");
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export function churnMarkdown(r: ChurnResult): string {
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const h = r.held;
  const a = r.after;
  const oneLine = (s: string) =>
    s
      .trim()
      .split("\n")
      .filter((l) => /^(count|size|in-pack|packs|size-pack):/.test(l))
      .join(", ");
  const row = (what: string, f: (x: Reading) => string, peak = "") => `| ${what} | ${f(h)} | ${f(a)} | ${peak} |`;
  const tiers = (t: { count: number; sqlite_bytes: number; r2_bytes: number }) =>
    `${t.count}: ${mb(t.sqlite_bytes)} in SQLite, ${mb(t.r2_bytes)} in R2`;
  const lines = [
    `${r.pushes} pushes, each a commit that replaces one file with ${mb(r.blobBytes)} of random bytes (${mb(r.pushedBytes)} of history that does not compress), alarms running maintenance behind them. A clone begun after push ${r.heldFrom} is held open (not read on) until the end, so the packs that repacks retire meanwhile wait for it. Maintenance is then run to rest (${plural(r.slices[0], "slice")} by request, ${(r.maintenanceMs[0] / 1000).toFixed(1)} s); the clone is read to its end (${mb(r.heldClone.bytes)}, its pack ${r.heldClone.indexed ? "passes" : "FAILS"} \`git index-pack\`); maintenance is run to rest again (${plural(r.slices[1], "slice")}).`,
    "",
    "| | at rest, the clone still in flight | at rest, after the clone ended | peak |",
    "|---|---|---|---|",
    row("SQLite database (the object's `databaseSize`)", (x) => mb(x.storage.database_bytes), mb(r.peak.databaseBytes)),
    row("SQLite file on disk (with -wal, -shm)", (x) => mb(x.sqliteFileBytes), mb(r.peak.sqliteFileBytes)),
    row("file contents in SQLite (DOFS)", (x) => mb(x.storage.files.sqlite_bytes)),
    row("file contents in R2 (R2 blobs on disk)", (x) => `${mb(x.storage.files.r2_bytes)} (${mb(x.r2DiskBytes)})`),
    row("live packs", (x) => tiers(x.storage.packs)),
    row("retired packs waiting", (x) => tiers(x.storage.retired_packs), `${r.peak.retiredPacks}: ${mb(r.peak.retiredBytes)}`),
    `| C git as pushed (\`git count-objects -vH\`); after \`git gc\` | ${mb(cgitBytes(r.cgit.countObjects))} | ${mb(cgitBytes(r.cgit.afterGc))} | |`,
    "",
    `C git as pushed: ${oneLine(r.cgit.countObjects)}. After \`git gc\`: ${oneLine(r.cgit.afterGc)}.`,
    "",
    "`databaseSize` counts the pages in use. The file on disk keeps the pages that deleted files gave back on SQLite's free list, where later writes reuse them (a Durable Object may run neither `VACUUM` nor `PRAGMA auto_vacuum`/`incremental_vacuum`), so it stays near its high-water mark, which a full repack sets at about twice the live packs (the new pack is written before the old ones go). A clone of the result passes `git fsck --connectivity-only`.",
  ];
  return lines.join("\n") + "\n";
}
