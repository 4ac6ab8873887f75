// Stepped work survives the repository's object restarting (a deploy, a migration, an
// eviction): its jobs are recorded in SQLite and a fresh instance resumes them. Here the
// object is evicted between steps of every kind (clone answers, push segments, index
// slices), both through the RPC contract and through the Worker, and every operation
// must complete with the bytes an uninterrupted one gives. Maintenance slices are
// evicted between in test/maintenance.test.ts.
import { concatBytes } from "../src/util/bytes";
import { abortAllDurableObjects, env } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { pktLine } from "../src/git/protocol/pkt-line";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TREE, fromHex } from "../src/git/object/object";
import { type RawEntry, buildPack, oidOf } from "./pack-builder";
import type { StepConfig } from "../src/repo/git-http";
import type { Repository } from "../src/repo/repository";
import type { UploadStep } from "../src/repo/contract";
import { STALE_MS } from "../src/repo/jobs";
import { ANSWERS_DIR } from "../src/repo/answers";
import { fromBase64, inRepo, ownerFetch } from "./helpers";

const fixtures = inject("fixtures");
const ZERO = "0".repeat(40);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: ArrayBuffer | Uint8Array) => new TextDecoder().decode(b);
let n = 0;

type Stub = DurableObjectStub<Repository>;

function repoName(prefix: string): { name: string; url: string } {
  const name = `${prefix}/r${Date.now().toString(36)}${n++}`;
  return { name, url: `http://gitflare.test/${name}` };
}

/**
 * Evicts every object, then builds the repository's fresh instance and gives it the
 * test's step sizes (a fresh instance starts from the Worker's variables).
 */
async function evicted(name: string, config: Partial<StepConfig>): Promise<Stub> {
  await abortAllDurableObjects();
  const stub = env.REPO.getByName(name);
  await inRepo(stub, (repo) => {
    Object.assign(repo.git.config, config);
  });
  return stub;
}

/** Deletes the complete answers the repository keeps to share, as if it had none. */
async function forgetAnswers(name: string): Promise<void> {
  await inRepo(env.REPO.getByName(name), (repo) => {
    if (repo.fs.exists(ANSWERS_DIR)) for (const f of repo.fs.readdir(ANSWERS_DIR)) repo.fs.unlink(`${ANSWERS_DIR}/${f}`);
  });
}

function configure(name: string, config: Partial<StepConfig>): Promise<Stub> {
  const stub = env.REPO.getByName(name);
  return inRepo(stub, (repo) => {
    Object.assign(repo.git.config, config);
  }).then(() => stub);
}

async function push(url: string, ref: string, tip: string, pack: Uint8Array): Promise<void> {
  const res = await ownerFetch(`${url}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body: concatBytes([pktLine(`${ZERO} ${tip} ${ref}\0report-status\n`), enc("0000"), pack]),
  });
  expect(dec(await res.arrayBuffer())).toContain(`ok ${ref}`);
}

/** A commit of eight 48 KiB random files: a pack of about 400 KB that does not compress. */
function bulkyCommit(): { pack: Uint8Array; commit: string } {
  const entries: RawEntry[] = [];
  const tree: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) {
    const blob = new Uint8Array(48 * 1024);
    crypto.getRandomValues(blob);
    entries.push({ type: OBJ_BLOB, data: blob });
    tree.push(enc(`100644 f${i}\0`), fromHex(oidOf(OBJ_BLOB, blob)));
  }
  const treeData = concatBytes(tree);
  const commit = enc(`tree ${oidOf(OBJ_TREE, treeData)}\nauthor A <a@b> 1700000000 +0000\ncommitter A <a@b> 1700000000 +0000\n\nbulk\n`);
  entries.push({ type: OBJ_TREE, data: treeData }, { type: OBJ_COMMIT, data: commit });
  return { pack: buildPack(entries), commit: oidOf(OBJ_COMMIT, commit) };
}

const fetchV2 = (lines: string[]) =>
  concatBytes([pktLine("command=fetch\n"), enc("0001"), ...lines.map((l) => pktLine(`${l}\n`)), enc("0000")]);

interface Request {
  label: string;
  name: string;
  url: string;
  body: Uint8Array;
  version: 0 | 2;
}

/**
 * Answers to resume: clones of a repository of one large pushed pack (sent as stored),
 * under v2 and v0, and a fetch of the fixture history (a walk, with its checkpoints).
 */
async function requests(): Promise<Request[]> {
  const bulky = repoName("restart-up");
  const { pack, commit } = bulkyCommit();
  await push(bulky.url, "refs/heads/main", commit, pack);
  const history = repoName("restart-up");
  await push(history.url, "refs/heads/main", fixtures.head, fromBase64(fixtures.ofsPack.pack));
  return [
    { label: "v2 clone", ...bulky, body: fetchV2(["ofs-delta", `want ${commit}`, "done"]), version: 2 },
    {
      label: "v0 clone",
      ...bulky,
      body: concatBytes([pktLine(`want ${commit} side-band-64k ofs-delta\n`), enc("0000"), pktLine("done\n")]),
      version: 0,
    },
    {
      label: "v2 fetch",
      ...history,
      body: fetchV2(["ofs-delta", "thin-pack", `want ${fixtures.head}`, `have ${fixtures.base}`, "done"]),
      version: 2,
    },
  ];
}

/** A whole answer straight from the object, with no eviction. */
async function answer(stub: Stub, body: Uint8Array, version: 0 | 2): Promise<Uint8Array> {
  const start = await stub.uploadPack(new Response(body).body!, version);
  if (start.kind !== "answer") throw new Error(start.message);
  const parts = [start.bytes];
  let offset = start.bytes.byteLength;
  while (start.job) {
    const s = await stub.uploadStep(start.job, offset);
    if (s.failed) throw new Error(s.failed);
    parts.push(s.bytes);
    offset += s.bytes.byteLength;
    if (s.done) break;
  }
  return concatBytes(parts);
}

const SMALL_STEPS: Partial<StepConfig> = { firstBytes: 1500, stepBytes: 2500, walkObjects: 4 };

describe("a clone or fetch answer", () => {
  it("is resumed by a fresh instance after every step that carried bytes, byte for byte", async () => {
    for (const { label, name, body, version } of await requests()) {
      const whole = await answer(await configure(name, SMALL_STEPS), body, version);
      // Not kept to share: the fresh instances make this answer again, not read it back.
      await forgetAnswers(name);
      let stub = await evicted(name, SMALL_STEPS);
      const start = await stub.uploadPack(new Response(body).body!, version);
      if (start.kind !== "answer" || !start.job) throw new Error(`${label}: expected a job`);
      const parts = [start.bytes];
      let offset = start.bytes.byteLength;
      let carried = 0;
      let catchingUp = 0;
      for (;;) {
        const s: UploadStep = await stub.uploadStep(start.job, offset);
        expect(s.failed, label).toBeUndefined();
        parts.push(s.bytes);
        offset += s.bytes.byteLength;
        if (s.done) break;
        // A fresh instance first makes again, in steps, what the Worker already has.
        if (s.bytes.byteLength === 0) {
          catchingUp++;
          continue;
        }
        carried++;
        stub = await evicted(name, SMALL_STEPS);
      }
      expect(concatBytes(parts), label).toEqual(whole);
      expect(carried, label).toBeGreaterThan(0);
      expect(catchingUp, label).toBeGreaterThan(0);
    }
  });

  it("goes on through the Worker when the object is evicted between the steps a client reads", async () => {
    for (const { label, name, url, body, version } of await requests()) {
      const whole = await answer(await configure(name, SMALL_STEPS), body, version);
      // Not kept to share (../src/repo/answers.ts): this answer is made, with its walk's
      // step boundaries, not read back.
      await forgetAnswers(name);
      await evicted(name, SMALL_STEPS);
      const res = await ownerFetch(`${url}/git-upload-pack`, {
        method: "POST",
        headers: { "Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": version === 2 ? "version=2" : "" },
        body,
      });
      const reader = res.body!.getReader();
      const parts: Uint8Array[] = [];
      let evictions = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parts.push(value);
        await evicted(name, SMALL_STEPS);
        evictions++;
      }
      expect(concatBytes(parts), label).toEqual(whole);
      expect(evictions, label).toBeGreaterThan(2);
    }
  });

  it("fails in git's form when the repository changed before the answer was resumed, and the next clone works", async () => {
    const [{ name, url, body }] = await requests();
    await configure(name, SMALL_STEPS);
    const res = await ownerFetch(`${url}/git-upload-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": "version=2" },
      body,
    });
    const reader = res.body!.getReader();
    const parts: Uint8Array[] = [(await reader.read()).value!];
    // A push moves a ref, then the object restarts: its answer would not be the same.
    const moved = await ownerFetch(`${url}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request" },
      body: concatBytes([
        pktLine(`${ZERO} ${fixtures.head} refs/heads/other\0report-status\n`),
        enc("0000"),
        fromBase64(fixtures.ofsPack.pack),
      ]),
    });
    expect(dec(await moved.arrayBuffer())).toContain("ok refs/heads/other");
    await evicted(name, SMALL_STEPS);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
    }
    expect(dec(concatBytes(parts))).toContain("\x03error: fetch interrupted (the repository restarted and has changed since)");
    const again = await answer(await configure(name, SMALL_STEPS), body, 2);
    expect(dec(again)).toContain("packfile\n");
    expect(dec(again)).not.toContain("\x03error");
  });

  it("does not read on from another production of the same answer, made after the packs changed", async () => {
    const [{ name, url, body }] = await requests();
    let stub = await configure(name, SMALL_STEPS);
    const start = await stub.uploadPack(new Response(body).body!, 2);
    if (start.kind !== "answer" || !start.job) throw new Error("expected a job");
    const first = await stub.uploadStep(start.job, start.bytes.byteLength);
    expect(first.done).toBe(false);
    // The object restarts with this answer part-way, a push adds a pack, and an identical
    // clone makes the answer again, whole.
    await evicted(name, SMALL_STEPS);
    await push(url, "refs/heads/other", fixtures.head, fromBase64(fixtures.ofsPack.pack));
    stub = await configure(name, SMALL_STEPS);
    expect(dec(await answer(stub, body, 2))).toContain("packfile\n");
    const resumed = await stub.uploadStep(start.job, start.bytes.byteLength + first.bytes.byteLength);
    expect(resumed.failed ?? dec(resumed.bytes)).toContain("fetch interrupted (the repository restarted and has changed since)");
  });

  it("reads on from a complete answer after a restart, though a push moved the refs since", async () => {
    const [{ name, url }] = await requests();
    // include-tag keys the answer on the refs too: after the push a new clone gets a new one.
    const tip = await inRepo(await configure(name, SMALL_STEPS), (repo) => repo.refs.list().get("refs/heads/main")!);
    const body = fetchV2(["ofs-delta", "include-tag", `want ${tip}`, "done"]);
    const whole = await answer(env.REPO.getByName(name), body, 2);
    let stub = await evicted(name, SMALL_STEPS);
    const start = await stub.uploadPack(new Response(body).body!, 2);
    if (start.kind !== "answer" || !start.job) throw new Error("expected a job");
    const parts = [start.bytes];
    let offset = start.bytes.byteLength;
    await push(url, "refs/heads/other", fixtures.head, fromBase64(fixtures.ofsPack.pack));
    for (;;) {
      stub = await evicted(name, SMALL_STEPS);
      const s: UploadStep = await stub.uploadStep(start.job, offset);
      expect(s.failed).toBeUndefined();
      // Read from where the Worker is, not made again up to there.
      expect(s.done || s.bytes.byteLength > 0).toBe(true);
      parts.push(s.bytes);
      offset += s.bytes.byteLength;
      if (s.done) break;
    }
    expect(concatBytes(parts)).toEqual(whole);
    // What a restart finds part-way is deleted; only complete answers are kept.
    const files = await inRepo(stub, (repo) => repo.fs.readdir(ANSWERS_DIR));
    expect(files.filter((f) => f.endsWith(".part"))).toEqual([]);
  });
});

/** A push request: commands, then the fixture pack, cut into parts of `size` bytes. */
function pushBody(caps: string): Uint8Array {
  return concatBytes([pktLine(`${ZERO} ${fixtures.head} refs/heads/main\0${caps}\n`), enc("0000"), fromBase64(fixtures.ofsPack.pack)]);
}

function cut(bytes: Uint8Array, size: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; at += size) parts.push(bytes.slice(at, at + size));
  return parts;
}

const streamOf = (bytes: Uint8Array) => new Response(bytes).body!;

/** What a repository holds after a push: its main branch, and no work left in progress. */
async function settled(stub: Stub) {
  return inRepo(stub, (repo, state) => ({
    main: repo.refs.list().get("refs/heads/main"),
    incoming: repo.fs.exists("/objects/incoming") ? repo.fs.readdir("/objects/incoming") : [],
    // A finished push keeps its report a while, for a Worker that lost it; nothing else.
    jobs: state.storage.sql
      .exec<{ data: string }>("SELECT data FROM job")
      .toArray()
      .map((r) => (JSON.parse(r.data) as { phase?: string }).phase ?? "upload"),
  }));
}

const SLICES: Partial<StepConfig> = { sliceMinBytes: 1, sliceUnits: 3 };

/** Waits until the repository's upload in progress has stored `bytes` of pack. */
async function storedAtLeast(name: string, bytes: number): Promise<void> {
  for (;;) {
    const stored = await inRepo(env.REPO.getByName(name), (_repo, state) =>
      state.storage.sql
        .exec<{ data: string }>("SELECT data FROM job")
        .toArray()
        .map((r) => (JSON.parse(r.data) as { stored?: number }).stored ?? 0)
        .reduce((a, b) => Math.max(a, b), 0),
    );
    if (stored >= bytes) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("a push", () => {
  it("is continued by a fresh instance after every segment, and indexed across evictions", async () => {
    const { name } = repoName("restart-push");
    let stub = await evicted(name, SLICES);
    const [head, ...rest] = cut(pushBody("report-status side-band-64k"), 1000);
    const first = await stub.receivePack(streamOf(head), true);
    if (first.kind !== "receiving") throw new Error(`expected receiving, got ${first.kind}`);
    expect(first.sideband).toBe(true);
    let stored = first.stored;
    for (const part of rest) {
      stub = await evicted(name, SLICES);
      const r = await stub.receiveSegment(first.upload, stored, streamOf(part));
      expect(r.failed).toBeUndefined();
      expect(r.stored).toBe(stored + part.byteLength);
      stored = r.stored;
    }
    stub = await evicted(name, SLICES);
    const uploaded = await stub.pushUploaded(first.upload, stored);
    if (uploaded.kind !== "indexing") throw new Error(`expected indexing, got ${uploaded.kind}`);
    // Asked again (a Worker that lost the answer), the same.
    expect(await stub.pushUploaded(first.upload, stored)).toMatchObject({ kind: "indexing", job: uploaded.job });
    // Indexing starts over on a fresh instance (see receive-pack.ts): evict after the
    // second slice of each instance a few times, then let it finish.
    let report: Uint8Array | null = null;
    let restarts = 0;
    let slices = 0;
    while (!report) {
      for (let i = 0; !report && (restarts >= 3 || i < 2); i++) {
        const step = await stub.pushStep(uploaded.job);
        slices++;
        if ("failed" in step) throw new Error(step.failed);
        if (step.done) report = step.report;
      }
      if (!report) {
        stub = await evicted(name, SLICES);
        restarts++;
      }
    }
    expect(restarts).toBe(3);
    expect(slices).toBeGreaterThan(8);
    expect(dec(report)).toContain("unpack ok");
    expect(dec(report)).toContain("ok refs/heads/main");
    // The report again, from a fresh instance, for a Worker that lost it.
    stub = await evicted(name, SLICES);
    const again = await stub.pushStep(uploaded.job);
    expect(again.done && "report" in again && again.report).toEqual(report);
    expect(await settled(stub)).toEqual({ main: fixtures.head, incoming: [], jobs: ["done"] });
  });

  it("refuses a segment or an end that does not follow what the repository stored, storing nothing of it", async () => {
    const { name } = repoName("restart-push");
    const stub = await evicted(name, {});
    const [head, ...rest] = cut(pushBody("report-status"), 1000);
    const first = await stub.receivePack(streamOf(head), true);
    if (first.kind !== "receiving") throw new Error("expected receiving");
    const r = await stub.receiveSegment(first.upload, first.stored + 10, streamOf(rest[0]));
    expect(r.failed).toContain("push interrupted");
    // The segments that do follow are taken, and the push completes.
    let stored = first.stored;
    for (const part of rest) stored = (await stub.receiveSegment(first.upload, stored, streamOf(part))).stored;
    expect(await stub.pushUploaded(first.upload, stored - 1)).toMatchObject({
      kind: "failed",
      message: expect.stringContaining("push interrupted"),
    });
    expect(await settled(stub)).toEqual({ main: undefined, incoming: [], jobs: [] });
  });

  it("goes on through the Worker when the object is evicted between segments and between slices", async () => {
    const { name, url } = repoName("restart-push");
    await configure(name, SLICES);
    // GITFLARE_SEGMENT_BYTES is 2 KiB in these tests: the body goes 2 KiB at a time, and
    // before each next part the test waits until the object has stored the last (the
    // Worker is then between calls), and evicts it.
    const whole = pushBody("report-status side-band-64k");
    const commands = whole.byteLength - fromBase64(fixtures.ofsPack.pack).byteLength;
    const parts = cut(whole, 2048);
    let sent = 0;
    let evictions = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent >= parts.length) return controller.close();
        if (sent > 0) {
          await storedAtLeast(name, sent * 2048 - commands);
          await evicted(name, SLICES);
          evictions++;
        }
        controller.enqueue(parts[sent++]);
      },
    });
    const res = await ownerFetch(`${url}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request" },
      body,
    });
    const reader = res.body!.getReader();
    const answer: Uint8Array[] = [];
    let reads = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      answer.push(value);
      // Indexing starts over after an eviction: evict after a few of the slices only.
      if (++reads % 3 === 0 && reads <= 9) {
        await evicted(name, SLICES);
        evictions++;
      }
    }
    const text = dec(concatBytes(answer));
    expect(text).toContain("unpack ok");
    expect(text).toContain("ok refs/heads/main");
    expect(evictions).toBeGreaterThan(parts.length);
    expect((await settled(env.REPO.getByName(name))).main).toBe(fixtures.head);
  });
});

describe("jobs nobody continues", () => {
  it("are swept with their files by a later instance, and erased with the repository", async () => {
    const [{ name, body: clone }] = await requests();
    let stub = await configure(name, { ...SMALL_STEPS, ...SLICES });
    const upload = await stub.uploadPack(new Response(clone).body!, 2);
    expect(upload.kind === "answer" && upload.job).toBeTruthy();
    const [head] = cut(pushBody("report-status"), 1000);
    const push = await stub.receivePack(streamOf(head), true);
    expect(push.kind).toBe("receiving");
    stub = await evicted(name, {});
    const count = (state: DurableObjectState) => ({
      jobs: state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM job").one().n,
      parts: state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM job_part").one().n,
    });
    await inRepo(stub, (repo, state) => {
      // The clone's, the upload's, and the report of the push that seeded the repository.
      expect(count(state)).toEqual({ jobs: 3, parts: 1 });
      expect(repo.fs.readdir("/objects/incoming").length).toBe(1);
      // A file that no job owns (an instance died before recording it).
      repo.fs.writeFile("/objects/incoming/orphan.pack", "PACK");
      const jobs = (repo.git as unknown as { jobs: { sweep(now?: number): void } }).jobs;
      // Not yet stale: kept.
      jobs.sweep();
      expect(count(state)).toEqual({ jobs: 3, parts: 1 });
      expect(repo.fs.readdir("/objects/incoming").length).toBe(2);
      jobs.sweep(Date.now() + STALE_MS + 1000);
      expect(count(state)).toEqual({ jobs: 0, parts: 0 });
      expect(repo.fs.readdir("/objects/incoming")).toEqual([]);
    });
    // And a repository erased with jobs in progress keeps none of them.
    await configure(name, SMALL_STEPS);
    const again = await stub.uploadPack(new Response(clone).body!, 2);
    expect(again.kind === "answer" && again.job).toBeTruthy();
    await stub.destroy();
    await inRepo(stub, (_repo, state) => expect(count(state)).toEqual({ jobs: 0, parts: 0 }));
  });
});
