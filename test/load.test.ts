// Many clones and pushes of one repository at once (issue 12): identical clones share
// one answer, all jobs together stay within one memory budget (a job that does not fit
// waits, or is told to try again), no step is larger than the RPC limit allows, and a
// long walk lets other requests in instead of holding the object until it ends.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { concatBytes } from "../src/util/bytes";
import { FLUSH, pktLine } from "../src/git/protocol/pkt-line";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TREE, fromHex } from "../src/git/object/object";
import type { Repository } from "../src/repo/repository";
import { ANSWERS_DIR } from "../src/repo/answers";
import { INCOMING_DIR } from "../src/git/protocol/receive-pack";
import { mulberry32 } from "../src/util/prng";
import { inRepo, ownerFetch } from "./helpers";
import { type RawEntry, buildPack, oidOf } from "./pack-builder";

const ZERO = "0".repeat(40);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: ArrayBuffer | Uint8Array) => new TextDecoder().decode(b);
let n = 0;

/**
 * A history of `commits` commits, each with a tree of one small file and, on the first,
 * `bulky` random files of 48 KiB (a pack that does not compress); the same for the same seed.
 */
function history(commits: number, bulky = 0, seed = 1): { pack: Uint8Array; head: string } {
  const rand = mulberry32(seed);
  const entries: RawEntry[] = [];
  let parent = "";
  let head = "";
  for (let c = 0; c < commits; c++) {
    const tree: Uint8Array[] = [];
    const files = c === 0 ? bulky : 0;
    for (let i = 0; i < files; i++) {
      const blob = new Uint8Array(48 * 1024);
      const view = new DataView(blob.buffer);
      for (let b = 0; b < blob.byteLength; b += 4) view.setUint32(b, Math.floor(rand() * 2 ** 32));
      entries.push({ type: OBJ_BLOB, data: blob });
      tree.push(enc(`100644 f${String(i).padStart(2, "0")}\0`), fromHex(oidOf(OBJ_BLOB, blob)));
    }
    const note = enc(`commit ${c}\n`);
    entries.push({ type: OBJ_BLOB, data: note });
    tree.push(enc("100644 note\0"), fromHex(oidOf(OBJ_BLOB, note)));
    const treeData = concatBytes(tree);
    entries.push({ type: OBJ_TREE, data: treeData });
    const commit = enc(
      `tree ${oidOf(OBJ_TREE, treeData)}\n${parent ? `parent ${parent}\n` : ""}author A <a@b> ${1700000000 + c} +0000\ncommitter A <a@b> ${1700000000 + c} +0000\n\nc${c}\n`,
    );
    entries.push({ type: OBJ_COMMIT, data: commit });
    parent = head = oidOf(OBJ_COMMIT, commit);
  }
  return { pack: buildPack(entries), head };
}

async function seeded(commits: number, bulky: number, seed = n + 1) {
  const name = `load/r${Date.now().toString(36)}${n++}`;
  const url = `http://gitflare.test/${name}`;
  const { pack, head } = history(commits, bulky, seed);
  const res = await ownerFetch(`${url}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body: concatBytes([pktLine(`${ZERO} ${head} refs/heads/main\0report-status\n`), FLUSH, pack]),
  });
  expect(dec(await res.arrayBuffer())).toContain("ok refs/heads/main");
  return { url, stub: env.REPO.getByName(name) as DurableObjectStub<Repository>, head };
}

/**
 * A v2 fetch of `wants`; `extra` argument lines make requests that differ. Without
 * ofs-delta the stored pack cannot be sent as it is: the answer is walked and written.
 */
const fetchV2 = (wants: string[], extra: string[] = [], ofsDelta = true) =>
  concatBytes([
    pktLine("command=fetch\n"),
    pktLine("agent=git/2.39.5\n"),
    enc("0001"),
    ...(ofsDelta ? [pktLine("ofs-delta\n")] : []),
    ...extra.map((l) => pktLine(`${l}\n`)),
    ...wants.map((w) => pktLine(`want ${w}\n`)),
    pktLine("done\n"),
    FLUSH,
  ]);

function configure(stub: DurableObjectStub<Repository>, fn: (repo: Repository) => void) {
  return inRepo(stub, (repo) => fn(repo));
}

/** Starts an answer: its first part and its job (if it continues). */
async function start(stub: DurableObjectStub<Repository>, body: Uint8Array) {
  const s = await stub.uploadPack(new Response(body).body!, 2);
  if (s.kind !== "answer") throw new Error(s.message);
  if (s.job) received.set(s.job, s.bytes.byteLength);
  return s;
}

/** Bytes of each answer the test has: a step asks for what follows them, as the Worker does. */
const received = new Map<string, number>();

async function step(stub: DurableObjectStub<Repository>, job: string) {
  const s = await stub.uploadStep(job, received.get(job) ?? 0);
  received.set(job, (received.get(job) ?? 0) + s.bytes.byteLength);
  return s;
}

/** Asks the object until `done` says its jobs are as expected (calls, not time). */
async function until(stub: DurableObjectStub<Repository>, done: (repo: Repository) => boolean) {
  for (let i = 0; i < 1000; i++) if (await inRepo(stub, done)) return;
  throw new Error("the object never got there");
}

/** The rest of an answer, step by step; the largest step too. */
async function rest(stub: DurableObjectStub<Repository>, job: string) {
  const parts: Uint8Array[] = [];
  let largest = 0;
  for (;;) {
    const s = await step(stub, job);
    parts.push(s.bytes);
    largest = Math.max(largest, s.bytes.byteLength);
    if (s.failed) throw new Error(`job failed: ${s.failed}`);
    if (s.done) return { bytes: concatBytes(parts), largest };
  }
}

describe("identical clones at once", () => {
  it("are produced once, and every client gets the whole answer", async () => {
    const { stub, head } = await seeded(3, 10);
    await configure(stub, (repo) => Object.assign(repo.git.config, { firstBytes: 40_000, stepBytes: 60_000 }));
    const body = fetchV2([head]);
    // Two clones under way at once, the second asked while the first is part-way.
    const a = await start(stub, body);
    expect(a.job).toBeTruthy();
    const aStep = await step(stub, a.job!);
    const b = await start(stub, fetchV2([head]).slice());
    const bRest = await rest(stub, b.job!);
    const aRest = await rest(stub, a.job!);
    const answerA = concatBytes([a.bytes, aStep.bytes, aRest.bytes]);
    const answerB = concatBytes([b.bytes, bRest.bytes]);
    expect(answerB).toEqual(answerA);
    expect(dec(answerA)).toContain("PACK");
    const stats = await inRepo(stub, (repo) => ({ ...repo.git.answers.stats }));
    expect(stats).toMatchObject({ produced: 1, followed: 1 });
    // A request that is the same but for the client's agent string is the same answer.
    const other = concatBytes([
      pktLine("command=fetch\n"),
      pktLine("agent=git/2.45.0\n"),
      enc("0001"),
      pktLine("ofs-delta\n"),
      pktLine(`want ${head}\n`),
      pktLine("done\n"),
      FLUSH,
    ]);
    const c = await start(stub, other);
    expect(concatBytes([c.bytes, (await rest(stub, c.job!)).bytes])).toEqual(answerA);
    expect((await inRepo(stub, (repo) => ({ ...repo.git.answers.stats }))).produced).toBe(1);
  });

  it("carries on for the others when the first client goes away, and drops an answer no one reads", async () => {
    const seed = 7000 + n;
    // Twins: the same objects in two repositories, one of which answers on its own.
    const { stub, head } = await seeded(3, 10, seed);
    const twin = await seeded(3, 10, seed);
    expect(twin.head).toBe(head);
    for (const s of [stub, twin.stub])
      await configure(s, (repo) => Object.assign(repo.git.config, { firstBytes: 40_000, stepBytes: 60_000 }));
    const alone = await start(twin.stub, fetchV2([head]));
    const reference = concatBytes([alone.bytes, (await rest(twin.stub, alone.job!)).bytes]);
    const first = await start(stub, fetchV2([head]));
    const second = await start(stub, fetchV2([head]));
    await step(stub, first.job!);
    await stub.abandonUpload(first.job!);
    const answer = concatBytes([second.bytes, (await rest(stub, second.job!)).bytes]);
    expect(answer).toEqual(reference);
    // One client starts an answer of its own and leaves: nothing is left of it.
    const lone = await start(stub, fetchV2([head], ["include-tag"]));
    expect(lone.job).toBeTruthy();
    await step(stub, lone.job!);
    await stub.abandonUpload(lone.job!);
    const files = await inRepo(stub, (repo) => repo.fs.readdir(ANSWERS_DIR));
    // Only the complete answer, kept for the next clone.
    expect(files.length).toBe(1);
  });
});

describe("answers that are not packs", () => {
  it("are made afresh: ls-refs after a push shows the ref where it moved", async () => {
    const { url, stub, head } = await seeded(2, 0);
    const lsRefs = concatBytes([
      pktLine("command=ls-refs\n"),
      pktLine("agent=git/2.39.5\n"),
      enc("0001"),
      pktLine("ref-prefix refs/heads/\n"),
      FLUSH,
    ]);
    const list = async () => dec((await start(stub, lsRefs)).bytes);
    expect(await list()).toContain(`${head} refs/heads/main`);
    const res = await ownerFetch(`${url}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request" },
      body: concatBytes([pktLine(`${ZERO} ${head} refs/heads/topic\0report-status\n`), FLUSH]),
    });
    expect(dec(await res.arrayBuffer())).toContain("ok refs/heads/topic");
    expect(await list()).toContain(`${head} refs/heads/topic`);
    expect(await inRepo(stub, (repo) => (repo.fs.exists(ANSWERS_DIR) ? repo.fs.readdir(ANSWERS_DIR).length : 0))).toBe(0);
  });
});

describe("the repository's jobs within one memory budget", () => {
  it("makes a clone wait until another is done, and refuses one that waits too long", async () => {
    const { stub, head } = await seeded(3, 10);
    await configure(stub, (repo) => {
      Object.assign(repo.git.config, { firstBytes: 40_000, stepBytes: 60_000 });
      // Room for one job at a time.
      Object.assign(repo.git.admission.config, { budgetBytes: 1 });
    });
    const first = await start(stub, fetchV2([head]));
    let admitted = false;
    const waiting = start(stub, fetchV2([head], ["no-progress"])).then((s) => {
      admitted = true;
      return s;
    });
    // The first goes on while the second waits.
    await until(stub, (repo) => repo.git.admission.load().waiting === 1);
    await step(stub, first.job!);
    expect(await inRepo(stub, (repo) => repo.git.admission.load())).toMatchObject({ admitted: 1, waiting: 1 });
    expect(admitted).toBe(false);
    await rest(stub, first.job!);
    const second = await waiting;
    expect(dec(second.bytes)).toContain("packfile");
    await rest(stub, second.job!);
    expect(await inRepo(stub, (repo) => repo.git.admission.load())).toMatchObject({ admitted: 0, waiting: 0, heldBytes: 0 });

    // With no room for long, the client is told to try again, in git's form.
    await configure(stub, (repo) => Object.assign(repo.git.admission.config, { maxWaitMs: 50 }));
    const holder = await start(stub, fetchV2([head]));
    const refused = await start(stub, fetchV2([head], ["thin-pack"]));
    expect(refused.job).toBeUndefined();
    expect(dec(refused.bytes)).toMatch(/^[0-9a-f]{4}ERR repository busy: .*try again/);
    await rest(stub, holder.job!);
  });

  it("makes a push wait for room too, and refuses it, changing nothing, when none comes", async () => {
    const { url, stub, head } = await seeded(3, 10);
    await configure(stub, (repo) => {
      Object.assign(repo.git.config, { firstBytes: 40_000, stepBytes: 60_000 });
      Object.assign(repo.git.admission.config, { budgetBytes: 1, maxWaitMs: 50 });
    });
    const holder = await start(stub, fetchV2([head]));
    const { pack, head: other } = history(2);
    const res = await ownerFetch(`${url}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request" },
      body: concatBytes([pktLine(`${ZERO} ${other} refs/heads/other\0report-status\n`), FLUSH, pack]),
    });
    expect(dec(await res.arrayBuffer())).toMatch(/ERR repository busy/);
    await rest(stub, holder.job!);
    expect([...(await inRepo(stub, (repo) => repo.refs.list())).keys()]).toEqual(["refs/heads/main"]);
    expect(await inRepo(stub, (repo) => repo.fs.readdir(INCOMING_DIR))).toEqual([]);
    // With room again, the same push goes through.
    const again = await ownerFetch(`${url}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request" },
      body: concatBytes([pktLine(`${ZERO} ${other} refs/heads/other\0report-status\n`), FLUSH, pack]),
    });
    expect(dec(await again.arrayBuffer())).toContain("ok refs/heads/other");
  });
});

describe("long work on the object", () => {
  it("keeps every step well under the RPC message limit", async () => {
    const { stub, head } = await seeded(3, 60);
    // The default step size, on an answer of about 3 MB.
    const s = await start(stub, fetchV2([head]));
    expect(s.bytes.byteLength).toBeLessThanOrEqual(1.25 * 2 ** 20);
    const { largest } = await rest(stub, s.job!);
    expect(largest).toBeLessThanOrEqual(1.25 * 2 ** 20);
  });

  it("lets other requests in while a long walk runs", async () => {
    const { stub, head } = await seeded(4000, 0);
    // No step boundaries: the whole walk runs in the first call.
    await configure(stub, (repo) => Object.assign(repo.git.config, { walkObjects: 1 << 30, firstBytes: 1 << 30, stepBytes: 1 << 30 }));
    const order: string[] = [];
    const clone = start(stub, fetchV2([head], [], false)).then((r) => {
      order.push("clone");
      return r;
    });
    const ad = stub.advertise("git-upload-pack", 2).then(() => order.push("advertisement"));
    const [answer] = await Promise.all([clone, ad]);
    expect(order).toEqual(["advertisement", "clone"]);
    expect(answer.job).toBeUndefined();
    expect(dec(answer.bytes)).toContain("Enumerating objects: 12000, done.");
  });
});
