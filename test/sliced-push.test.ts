// A large push is indexed in slices: the Worker calls the repository once per slice and
// relays progress. Here the thresholds are lowered so the fixture pack takes many slices.
import { concatBytes } from "../src/util/bytes";
import { env } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { pktLine } from "../src/git/protocol/pkt-line";
import type { Repository } from "../src/repo/repository";
import { fromBase64, inRepo, ownerFetch } from "./helpers";

const fixtures = inject("fixtures");
const ZERO = "0".repeat(40);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: ArrayBuffer) => new TextDecoder().decode(b);
let n = 0;

async function slicedRepo() {
  const name = `sliced/r${Date.now().toString(36)}${n++}`;
  const stub = env.REPO.getByName(name);
  await inRepo(stub, (repo) => {
    Object.assign(repo.git.config, { sliceMinBytes: 1, sliceUnits: 3 });
  });
  return { url: `http://gitflare.test/${name}`, stub };
}

const stagedCount = (stub: DurableObjectStub<Repository>) =>
  inRepo(stub, (_repo, state) => ({
    rows:
      state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM git_staged_object").one().n +
      state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM git_staged_commit").one().n,
    gone: state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM git_staged_gone").one().n,
  }));

/**
 * The push's last transaction leaves its staged rows for maintenance to delete: runs
 * slices of `rows` rows each until none are left; the slices it took.
 */
async function sweepStaged(stub: DurableObjectStub<Repository>, rows: number): Promise<number> {
  for (let slices = 0; ; slices++) {
    const left = await stagedCount(stub);
    if (!left.rows && !left.gone) return slices;
    expect(slices).toBeLessThan(1000);
    await stub.maintenanceSlice({ sliceObjects: rows / 2 });
  }
}

function push(url: string, pack: Uint8Array, caps = "report-status side-band-64k") {
  return ownerFetch(`${url}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body: concatBytes([pktLine(`${ZERO} ${fixtures.head} refs/heads/main\0${caps}\n`), enc("0000"), pack]),
  });
}

describe("sliced indexing of large pushes", () => {
  it("indexes over many invocations, relays progress, and reports as usual", async () => {
    const { url, stub } = await slicedRepo();
    const res = await push(url, fromBase64(fixtures.ofsPack.pack));
    expect(res.status).toBe(200);
    const text = dec(await res.arrayBuffer());
    // Progress on side band 2 from several slices, then the report on band 1.
    expect(text.match(/\x02(Indexing objects|Resolving deltas): /g)!.length).toBeGreaterThan(5);
    expect(text).toContain("unpack ok");
    expect(text).toContain("ok refs/heads/main");
    expect((await stub.summary())?.branches).toEqual(["main"]);
    // The result is an ordinary repository: a fetch reads it back.
    const fetch = await ownerFetch(`${url}/info/refs?service=git-upload-pack`);
    expect(dec(await fetch.arrayBuffer())).toContain(`${fixtures.head} refs/heads/main`);
  });

  it("records the same rows as a push indexed at once; maintenance then deletes the staged rows, a bounded number per slice", async () => {
    const rows = (stub: DurableObjectStub<Repository>) =>
      inRepo(stub, (_repo, state) => ({
        objects: state.storage.sql.exec("SELECT oid, offset, length, type, size, base FROM git_object ORDER BY oid").toArray(),
        commits: state.storage.sql.exec("SELECT oid, tree, parents, time FROM git_commit ORDER BY oid").toArray(),
        staged:
          state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM git_staged_object").one().n +
          state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM git_staged_commit").one().n,
      }));
    const sliced = await slicedRepo();
    const whole = `whole/r${Date.now().toString(36)}${n++}`;
    for (const url of [sliced.url, `http://gitflare.test/${whole}`]) {
      const text = dec(await (await push(url, fromBase64(fixtures.ofsPack.pack), "report-status")).arrayBuffer());
      expect(text).toContain("ok refs/heads/main");
    }
    const a = await rows(sliced.stub);
    const b = await rows(env.REPO.getByName(whole));
    expect(a.objects.length).toBeGreaterThan(10);
    expect(a.objects).toEqual(b.objects);
    expect(a.commits).toEqual(b.commits);
    // Left to maintenance, which deletes them a bounded number at a time.
    const before = await stagedCount(sliced.stub);
    expect(before).toEqual({ rows: a.staged, gone: 1 });
    expect(await sweepStaged(sliced.stub, 20)).toBeGreaterThanOrEqual(Math.floor(a.staged / 20));
    expect((await rows(sliced.stub)).objects).toEqual(b.objects);
  });

  it("drops the staged rows of a push whose ref update is refused", async () => {
    const { url, stub } = await slicedRepo();
    const res = await ownerFetch(`${url}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request" },
      // The ref does not exist, so an update from a non-zero old value fails its compare-and-swap.
      body: concatBytes([
        pktLine(`${"1".repeat(40)} ${fixtures.head} refs/heads/main\0report-status\n`),
        enc("0000"),
        fromBase64(fixtures.ofsPack.pack),
      ]),
    });
    expect(dec(await res.arrayBuffer())).toContain("ng refs/heads/main");
    expect((await stagedCount(stub)).gone).toBe(1);
    await sweepStaged(stub, 1000);
    await inRepo(stub, (_repo, state) => {
      for (const table of ["git_staged_object", "git_staged_commit", "git_staged_gone", "git_object"])
        expect(state.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${table}`).one().n).toBe(0);
      // Nor its .idx, written beside the pack before the refused update.
      expect(
        state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM dofs_node WHERE path LIKE '/objects/incoming/%'").one().n,
      ).toBe(0);
    });
  });

  it("reports a corrupt pack found in a later slice with unpack, and changes nothing", async () => {
    const { url, stub } = await slicedRepo();
    const pack = fromBase64(fixtures.ofsPack.pack).slice();
    pack[pack.byteLength - 100] ^= 0xff;
    const res = await push(url, pack, "report-status");
    const text = dec(await res.arrayBuffer());
    expect(text).toMatch(/unpack (corrupt|pack|object|inflated|delta)/);
    expect(text).toContain("ng refs/heads/main");
    expect(await stub.exists()).toBe(false);
    // The stored pack is gone with the push.
    await inRepo(stub, (repo) => {
      expect(repo.fs.exists("/objects/incoming") ? repo.fs.readdir("/objects/incoming") : []).toEqual([]);
      expect(repo.refs.list().size).toBe(0);
    });
  });

  it("answers a step for a push it no longer knows (after a restart) with an error", async () => {
    const { stub } = await slicedRepo();
    const step = await stub.pushStep("no-such-job");
    expect(step).toMatchObject({ done: true, failed: expect.stringContaining("push interrupted") });
  });

  it("drops the job and its stored pack when the client goes away", async () => {
    const { stub } = await slicedRepo();
    const body = concatBytes([
      pktLine(`${ZERO} ${fixtures.head} refs/heads/main\0report-status\n`),
      enc("0000"),
      fromBase64(fixtures.ofsPack.pack),
    ]);
    const state = await stub.receivePack(new Response(body).body!, false);
    expect(state.kind).toBe("indexing");
    const id = state.kind === "indexing" ? state.job : "";
    expect((await stub.pushStep(id)).done).toBe(false);
    await stub.abandonPush(id);
    await inRepo(stub, (repo) => expect(repo.fs.readdir("/objects/incoming")).toEqual([]));
    const step = await stub.pushStep(id);
    expect(step).toMatchObject({ done: true, failed: expect.stringContaining("push interrupted") });
  });
});

// The Worker sends a push body larger than GITFLARE_SEGMENT_BYTES (2 KiB in these tests),
// or of unknown length, to the repository in segments, one invocation each.
describe("push bodies in segments", () => {
  const body = () =>
    concatBytes([pktLine(`${ZERO} ${fixtures.head} refs/heads/main\0report-status\n`), enc("0000"), fromBase64(fixtures.ofsPack.pack)]);
  const streamOf = (bytes: Uint8Array, failAt?: number) => {
    let at = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (failAt !== undefined && at >= failAt) return controller.error(new Error("connection reset"));
        if (at >= bytes.byteLength) return controller.close();
        controller.enqueue(bytes.slice(at, at + 1000));
        at += 1000;
      },
    });
  };
  const repo = () => {
    const name = `segments/r${Date.now().toString(36)}${n++}`;
    return { url: `http://gitflare.test/${name}`, stub: env.REPO.getByName(name) };
  };
  const send = (url: string, stream: ReadableStream<Uint8Array> | Uint8Array, headers: Record<string, string> = {}) =>
    ownerFetch(`${url}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request", ...headers },
      body: stream,
    });

  it("stores a body of unknown length across segments and applies it", async () => {
    const { url, stub } = repo();
    const res = await send(url, streamOf(body()));
    const text = dec(await res.arrayBuffer());
    expect(text).toContain("unpack ok");
    expect(text).toContain("ok refs/heads/main");
    await inRepo(stub, (r) => {
      expect(r.refs.list().get("refs/heads/main")).toBe(fixtures.head);
      expect(r.fs.readdir("/objects/incoming")).toEqual([]);
    });
  });

  it("decodes a gzip body before cutting it", async () => {
    const { url, stub } = repo();
    const gz = new Uint8Array(await new Response(new Blob([body()]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
    expect(gz.byteLength).toBeGreaterThan(2048);
    const res = await send(url, gz, { "Content-Encoding": "gzip" });
    expect(dec(await res.arrayBuffer())).toContain("ok refs/heads/main");
    expect((await stub.summary())?.branches).toEqual(["main"]);
  });

  it("drops what was stored when the client's body fails midway, and changes nothing", async () => {
    const { url, stub } = repo();
    const whole = body();
    const res = await send(url, streamOf(whole, Math.floor(whole.byteLength / 2)));
    // Depending on where the break shows, the Worker sees a failed read (400) or a body
    // that ended early, whose truncated pack the indexer refuses.
    const text = dec(await res.arrayBuffer());
    if (res.status === 200) expect(text).toMatch(/unpack (corrupt|pack|truncated)/);
    else expect(res.status).toBe(400);
    expect(await stub.exists()).toBe(false);
    await inRepo(stub, (r) => {
      expect(r.fs.exists("/objects/incoming") ? r.fs.readdir("/objects/incoming") : []).toEqual([]);
      expect(r.refs.list().size).toBe(0);
    });
  });

  it("refuses segments and answers for a push it no longer knows (after a restart)", async () => {
    const { stub } = repo();
    const seg = await stub.receiveSegment("no-such-push", 0, new Response("PACK").body!);
    expect(seg.failed).toContain("push interrupted");
    const done = await stub.pushUploaded("no-such-push", 4);
    expect(done).toMatchObject({ kind: "failed", message: expect.stringContaining("push interrupted") });
  });
});

describe("what a client sends the Worker", () => {
  it("cannot reach the repository's contract through headers", async () => {
    const name = `segments/h${Date.now().toString(36)}${n++}`;
    const body = concatBytes([
      pktLine(`${ZERO} ${fixtures.head} refs/heads/main\0report-status\n`),
      enc("0000"),
      fromBase64(fixtures.ofsPack.pack),
    ]);
    // A body within one segment, with headers the Worker once used internally: answered as usual.
    const res = await ownerFetch(`http://gitflare.test/${name}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request", "X-Gitflare-Segmented": "1", "X-Gitflare-Push-Upload": "x" },
      body: body.slice(0, 1000),
    });
    expect(res.status).toBe(200);
    expect([...res.headers.keys()].filter((k) => k.startsWith("x-gitflare-"))).toEqual([]);
    // The truncated pack is refused as any other would be.
    expect(dec(await res.arrayBuffer())).toMatch(/unpack /);
  });
});
