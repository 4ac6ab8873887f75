// A large clone or fetch answer is produced in steps: the first part comes with the
// response, the rest from `uploadStep` calls, each its own Durable Object invocation.
// Here the step sizes are lowered so the fixture's pack takes many steps.
import { concatBytes } from "../src/util/bytes";
import { env } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { pktLine } from "../src/git/protocol/pkt-line";
import type { StepConfig } from "../src/repo/git-http";
import type { Repository } from "../src/repo/repository";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TREE, fromHex } from "../src/git/object/object";
import { freshRepo, fromBase64, inRepo, ownerFetch } from "./helpers";
import { type RawEntry, buildPack, oidOf } from "./pack-builder";

const fixtures = inject("fixtures");
const ZERO = "0".repeat(40);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: ArrayBuffer | Uint8Array) => new TextDecoder().decode(b);
let n = 0;

/** A commit of eight 48 KiB random files: a pack of about 400 KB that does not compress. */
function bulkyCommit(): { pack: Uint8Array; commit: string } {
  const entries: RawEntry[] = [];
  const tree: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) {
    const blob = new Uint8Array(48 * 1024);
    crypto.getRandomValues(blob);
    entries.push({ type: OBJ_BLOB, data: blob });
    tree.push(enc(`100644 f${String(i).padStart(2, "0")}\0`), fromHex(oidOf(OBJ_BLOB, blob)));
  }
  const treeData = concatBytes(tree);
  const commit = enc(`tree ${oidOf(OBJ_TREE, treeData)}\nauthor A <a@b> 1700000000 +0000\ncommitter A <a@b> 1700000000 +0000\n\nbulk\n`);
  entries.push({ type: OBJ_TREE, data: treeData }, { type: OBJ_COMMIT, data: commit });
  return { pack: buildPack(entries), commit: oidOf(OBJ_COMMIT, commit) };
}

async function seeded(prefix: string) {
  const name = `${prefix}/r${Date.now().toString(36)}${n++}`;
  const url = `http://gitflare.test/${name}`;
  const { pack, commit } = bulkyCommit();
  const res = await ownerFetch(`${url}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body: concatBytes([pktLine(`${ZERO} ${commit} refs/heads/main\0report-status\n`), enc("0000"), pack]),
  });
  expect(dec(await res.arrayBuffer())).toContain("ok refs/heads/main");
  const stub = env.REPO.getByName(name);
  await steps(stub, { firstBytes: 50_000, stepBytes: 80_000, walkObjects: 16384 });
  return { url, stub, commit };
}

const fetchV2 = (wants: string[]) =>
  concatBytes([
    pktLine("command=fetch\n"),
    enc("0001"),
    pktLine("ofs-delta\n"),
    ...wants.map((w) => pktLine(`want ${w}\n`)),
    pktLine("done\n"),
    enc("0000"),
  ]);

function steps(stub: DurableObjectStub<Repository>, config: Partial<StepConfig>) {
  return inRepo(stub, (repo) => {
    Object.assign(repo.git.config, config);
  });
}

/** A clone or fetch answer straight from the object: the first part, then every step. */
async function direct(stub: DurableObjectStub<Repository>, body: Uint8Array, protocol = "version=2") {
  const start = await stub.uploadPack(new Response(body).body!, protocol === "version=2" ? 2 : 0);
  if (start.kind !== "answer") throw new Error(start.message);
  const parts = [start.bytes];
  let count = 0;
  let offset = start.bytes.byteLength;
  if (start.job) {
    for (;;) {
      const s = await stub.uploadStep(start.job, offset);
      offset += s.bytes.byteLength;
      parts.push(s.bytes);
      count++;
      if (s.done) break;
    }
  }
  return { bytes: concatBytes(parts), steps: count, job: start.job };
}

describe("clone and fetch answers in steps", () => {
  it("gives the Worker the same bytes in steps as in one stream, under v2 and v0", async () => {
    const { url, stub, commit } = await seeded("stepped");
    const v0 = concatBytes([pktLine(`want ${commit} side-band-64k ofs-delta\n`), enc("0000"), pktLine("done\n")]);
    for (const [body, protocol] of [
      [fetchV2([commit]), "version=2"],
      [v0, ""],
    ] as const) {
      // Steps larger than the answer: it comes whole, with no job.
      await steps(stub, { firstBytes: 1 << 30, stepBytes: 1 << 30 });
      const whole = await direct(stub, body, protocol);
      expect(whole.job).toBeUndefined();
      expect(whole.bytes.byteLength).toBeGreaterThan(390_000);
      expect(dec(whole.bytes)).toContain(protocol ? "packfile" : "PACK");
      // Small steps: a first part, then steps until done, the same bytes.
      await steps(stub, { firstBytes: 50_000, stepBytes: 80_000 });
      const stepped = await direct(stub, body, protocol);
      expect(stepped.steps).toBeGreaterThan(2);
      expect(stepped.bytes).toEqual(whole.bytes);
      // Through the Worker, as a client sees it: the same bytes, no internal headers.
      const res = await ownerFetch(`${url}/git-upload-pack`, {
        method: "POST",
        headers: { "Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": protocol },
        body,
      });
      expect([...res.headers.keys()].filter((k) => k.startsWith("x-gitflare-"))).toEqual([]);
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(whole.bytes);
    }
  });

  it("pauses a long object walk between steps, reporting progress", async () => {
    const name = `stepped/walk${Date.now().toString(36)}${n++}`;
    const url = `http://gitflare.test/${name}`;
    const push = await ownerFetch(`${url}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request" },
      body: concatBytes([
        pktLine(`${ZERO} ${fixtures.head} refs/heads/main\0report-status\n`),
        enc("0000"),
        fromBase64(fixtures.ofsPack.pack),
      ]),
    });
    expect(dec(await push.arrayBuffer())).toContain("ok refs/heads/main");
    const stub = env.REPO.getByName(name);
    // Steps far larger than the answer: only the walk's checkpoints can end them.
    await steps(stub, { firstBytes: 1 << 20, stepBytes: 1 << 20, walkObjects: 2 });
    // A fetch of all but the base's history, so the walk runs (no pack reuse).
    const body = concatBytes([
      pktLine("command=fetch\n"),
      enc("0001"),
      pktLine("ofs-delta\n"),
      pktLine(`want ${fixtures.head}\n`),
      pktLine(`have ${fixtures.base}\n`),
      pktLine("done\n"),
      enc("0000"),
    ]);
    const whole = await direct(stub, body);
    expect(dec(whole.bytes).match(/\x02Enumerating objects: \d+\r/g)!.length).toBeGreaterThan(2);
    expect(whole.steps).toBeGreaterThan(2);
    const res = await ownerFetch(`${url}/git-upload-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": "version=2" },
      body,
    });
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(whole.bytes);
    // Under no-progress the walk's steps carry nothing at all; the answer still completes.
    const quiet = concatBytes([
      pktLine("command=fetch\n"),
      enc("0001"),
      pktLine("ofs-delta\n"),
      pktLine("no-progress\n"),
      pktLine(`want ${fixtures.head}\n`),
      pktLine(`have ${fixtures.base}\n`),
      pktLine("done\n"),
      enc("0000"),
    ]);
    const quietWhole = (await direct(stub, quiet)).bytes;
    expect(dec(quietWhole)).not.toContain("Enumerating");
    const quietRes = await ownerFetch(`${url}/git-upload-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": "version=2" },
      body: quiet,
    });
    expect(new Uint8Array(await quietRes.arrayBuffer())).toEqual(quietWhole);
  });

  it("answers small requests whole, with no job", async () => {
    const { stub } = await seeded("stepped");
    const res = await direct(stub, concatBytes([pktLine("command=ls-refs\n"), enc("0000")]));
    expect(res.job).toBeUndefined();
    expect(dec(res.bytes)).toContain("refs/heads/main");
  });

  it("answers a step of a job it has no record of with a failure, which the client sees on side band 3", async () => {
    const stub = freshRepo("stepped");
    await stub.init();
    const s = await stub.uploadStep("no-such-job", 100);
    expect(s).toMatchObject({ done: true, failed: expect.stringContaining("fetch interrupted") });
    // Through the Worker: every job is forgotten as soon as it is made, record and memory.
    const { url, stub: seededStub, commit } = await seeded("stepped");
    await inRepo(seededStub, (repo) => {
      type Jobs = { add: (...a: unknown[]) => string; abandon: (id: string) => void; hold: <T>(id: string, v: T) => T };
      const jobs = (repo.git as unknown as { jobs: Jobs }).jobs;
      const add = jobs.add.bind(jobs);
      jobs.add = (...a: unknown[]) => {
        const id = add(...a);
        jobs.abandon(id);
        return id;
      };
      jobs.hold = (_id, v) => v;
    });
    const res = await ownerFetch(`${url}/git-upload-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": "version=2" },
      body: fetchV2([commit]),
    });
    expect(dec(await res.arrayBuffer())).toContain("\x03error: fetch interrupted");
  });

  it("drops a job whose client went away", async () => {
    const { stub, commit } = await seeded("stepped");
    const first = await stub.uploadPack(new Response(fetchV2([commit])).body!, 2);
    const job = first.kind === "answer" ? first.job! : "";
    expect(job).toBeTruthy();
    const offset = first.kind === "answer" ? first.bytes.byteLength : 0;
    expect((await stub.uploadStep(job, offset)).done).toBe(false);
    await stub.abandonUpload(job);
    expect(await stub.uploadStep(job, offset)).toMatchObject({ failed: expect.stringContaining("interrupted") });
  });
});
