// Deleting a repository while a clone or a push is in flight: the other calls run while
// `destroy` awaits its storage, so a step must neither send what it read from storage
// being erased (a clone once got a corrupt pack: "inflate: data stream error") nor write
// into the storage that replaces it. Each operation ends in git's own error form, and the
// repository stays erased.
import { concatBytes } from "../src/util/bytes";
import { env } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { pktLine } from "../src/git/protocol/pkt-line";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TREE, fromHex } from "../src/git/object/object";
import type { Repository } from "../src/repo/repository";
import type { UploadStep } from "../src/repo/contract";
import { fromBase64, inRepo, ownerFetch } from "./helpers";
import { type RawEntry, buildPack, oidOf } from "./pack-builder";

const fixtures = inject("fixtures");
const ZERO = "0".repeat(40);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: ArrayBuffer | Uint8Array) => new TextDecoder().decode(b);
let n = 0;

type Stub = DurableObjectStub<Repository>;

/** A repository of one commit of eight 48 KiB random files, its pack moved to R2. */
async function tieredRepo(): Promise<{ name: string; url: string; stub: Stub; commit: string }> {
  const name = `deleting/r${Date.now().toString(36)}${n++}`;
  const url = `http://gitflare.test/${name}`;
  const entries: RawEntry[] = [];
  const tree: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) {
    const blob = new Uint8Array(48 * 1024);
    crypto.getRandomValues(blob);
    entries.push({ type: OBJ_BLOB, data: blob });
    tree.push(enc(`100644 f${i}\0`), fromHex(oidOf(OBJ_BLOB, blob)));
  }
  const treeData = concatBytes(tree);
  const commitData = enc(
    `tree ${oidOf(OBJ_TREE, treeData)}\nauthor A <a@b> 1700000000 +0000\ncommitter A <a@b> 1700000000 +0000\n\nbulk\n`,
  );
  entries.push({ type: OBJ_TREE, data: treeData }, { type: OBJ_COMMIT, data: commitData });
  const commit = oidOf(OBJ_COMMIT, commitData);
  const res = await ownerFetch(`${url}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body: concatBytes([pktLine(`${ZERO} ${commit} refs/heads/main\0report-status\n`), enc("0000"), buildPack(entries)]),
  });
  expect(dec(await res.arrayBuffer())).toContain("ok refs/heads/main");
  const stub = env.REPO.getByName(name);
  expect((await stub.maintenanceSlice({ tierMinBytes: 0 })).tiered).toBe(1);
  await inRepo(stub, (repo) => {
    Object.assign(repo.git.config, { firstBytes: 20_000, stepBytes: 30_000 });
  });
  return { name, url, stub, commit };
}

const cloneV2 = (commit: string, ofsDelta = true) =>
  concatBytes([
    pktLine("command=fetch\n"),
    enc("0001"),
    ...(ofsDelta ? [pktLine("ofs-delta\n")] : []),
    pktLine(`want ${commit}\n`),
    pktLine("done\n"),
    enc("0000"),
  ]);

/** What is left of a repository: anything but an empty filesystem and no jobs is a leak. */
function leftovers(stub: Stub) {
  return inRepo(stub, (repo, state) => ({
    exists: repo.exists(),
    files: repo.fs.listFiles("/").map((f) => f.path),
    refs: repo.refs.list().size,
    jobs: state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM job").one().n,
  }));
}
const ERASED = { exists: false, files: [], refs: 0, jobs: 0 };

describe("deleting a repository during a clone", () => {
  it("ends a step running as the deletion starts with a failure, sending nothing it read", async () => {
    const { stub, commit } = await tieredRepo();
    const outcome = await inRepo(stub, async (repo) => {
      const start = await repo.uploadPack(new Response(cloneV2(commit)).body!, 2);
      if (start.kind !== "answer" || !start.job) throw new Error("expected a job");
      // The step starts, then the deletion starts before the step's next await returns.
      const step = repo.uploadStep(start.job, start.bytes.byteLength);
      const destroyed = repo.destroy();
      const [s] = await Promise.all([step, destroyed]);
      // A step that arrives after the deletion has no job to continue.
      const after = await repo.uploadStep(start.job, start.bytes.byteLength);
      return { s, after };
    });
    expect(outcome.s).toEqual({ bytes: new Uint8Array(0), done: true, failed: "the repository was deleted" } satisfies UploadStep);
    expect(outcome.after).toMatchObject({ done: true, failed: "the repository was deleted" });
    expect(await leftovers(stub)).toEqual(ERASED);
  });

  it("gives the client a sound part of the pack, then the reason on side band 3", async () => {
    const { url, stub, commit } = await tieredRepo();
    await inRepo(stub, (repo) => {
      Object.assign(repo.git.config, { firstBytes: 1 << 30, stepBytes: 1 << 30 });
    });
    // Without ofs-delta the object itself sends the clone in steps (with it, this tiered
    // pack would be sent from R2 by the Worker, which reads R2, not the object).
    const one = await stub.uploadPack(new Response(cloneV2(commit, false)).body!, 2);
    if (one.kind !== "answer" || one.job) throw new Error("expected a whole answer");
    const whole = one.bytes;
    await inRepo(stub, (repo) => {
      Object.assign(repo.git.config, { firstBytes: 20_000, stepBytes: 30_000 });
    });
    const res = await ownerFetch(`${url}/git-upload-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": "version=2" },
      body: cloneV2(commit, false),
    });
    const reader = res.body!.getReader();
    const parts = [(await reader.read()).value!];
    // The Worker has asked for the next step already; the deletion runs beside it.
    await stub.destroy();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
    }
    const got = concatBytes(parts);
    const error = "\x03error: the repository was deleted\n";
    expect(dec(got).endsWith(error)).toBe(true);
    // Everything before the error is the true answer's beginning: nothing read from erased storage.
    const sent = got.subarray(0, got.byteLength - enc(error).byteLength - 4);
    expect(sent.byteLength).toBeLessThan(whole.byteLength);
    expect(sent).toEqual(whole.subarray(0, sent.byteLength));
    expect(await leftovers(stub)).toEqual(ERASED);
  });
});

describe("deleting a repository during a push", () => {
  /** A body whose rest the test releases: the push is in flight until then. */
  function heldBody(bytes: Uint8Array, holdAt: number) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let reached!: () => void;
    const held = new Promise<void>((resolve) => (reached = resolve));
    let at = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (at >= bytes.byteLength) return controller.close();
        if (at >= holdAt) {
          reached();
          await released;
        }
        controller.enqueue(bytes.slice(at, at + 1000));
        at += 1000;
      },
    });
    return { body, held, release };
  }

  const pushBody = (caps: string) =>
    concatBytes([pktLine(`${ZERO} ${fixtures.head} refs/heads/main\0${caps}\n`), enc("0000"), fromBase64(fixtures.ofsPack.pack)]);

  it("ends a push whose body is still arriving in git's form, and writes nothing after the deletion", async () => {
    const name = `deleting/p${Date.now().toString(36)}${n++}`;
    const stub = env.REPO.getByName(name);
    const { body, held, release } = heldBody(pushBody("report-status"), 3000);
    const pushing = stub.receivePack(body, false);
    await held;
    await stub.destroy();
    release();
    const state = await pushing;
    expect(state.kind === "report" && dec(state.report)).toBe(dec(pktLine("ERR the repository was deleted\n")));
    expect(await leftovers(stub)).toEqual(ERASED);
  });

  it("answers a push in segments through the Worker in git's form", async () => {
    const name = `deleting/p${Date.now().toString(36)}${n++}`;
    const url = `http://gitflare.test/${name}`;
    const stub = env.REPO.getByName(name);
    // Segments are 2 KiB in these tests: the deletion comes while the Worker reads the third.
    const { body, held, release } = heldBody(pushBody("report-status side-band-64k"), 5000);
    const responding = ownerFetch(`${url}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request" },
      body,
    });
    await held;
    await stub.destroy();
    release();
    const res = await responding;
    expect(res.status).toBe(200);
    expect(dec(await res.arrayBuffer())).toBe(dec(pktLine("\x03error: the repository was deleted\n")));
    expect(await leftovers(stub)).toEqual(ERASED);
  });
});
