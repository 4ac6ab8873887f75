// A large push is indexed in slices: the Worker calls the repository once per slice and
// relays progress. Here the thresholds are lowered so the fixture pack takes many slices.
import { env } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { concatBytes, pktLine } from "../src/git/protocol/pkt-line";
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
    repo.sliceConfig = { minBytes: 1, units: 3 };
  });
  return { url: `http://gitflare.test/${name}`, stub };
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
    expect(step.done).toBe(true);
    expect(dec(step.done ? step.report.slice().buffer : new ArrayBuffer(0))).toContain("ERR push interrupted");
  });

  it("drops the job and its stored pack when the client goes away", async () => {
    const { stub } = await slicedRepo();
    const body = concatBytes([pktLine(`${ZERO} ${fixtures.head} refs/heads/main\0report-status\n`), enc("0000"), fromBase64(fixtures.ofsPack.pack)]);
    const res = await stub.fetch("https://repo.internal/git-receive-pack", { method: "POST", headers: { "Content-Type": "application/x-git-receive-pack-request" }, body });
    expect(res.status).toBe(202);
    const id = res.headers.get("X-Gitflare-Push-Job")!;
    expect((await stub.pushStep(id)).done).toBe(false);
    await stub.abandonPush(id);
    await inRepo(stub, (repo) => expect(repo.fs.readdir("/objects/incoming")).toEqual([]));
    const step = await stub.pushStep(id);
    expect(step.done && dec(step.report.slice().buffer)).toContain("push interrupted");
  });
});
