import { concatBytes } from "../src/util/bytes";
import { env } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { pktLine } from "../src/git/protocol/pkt-line";
import { fromBase64, ownerFetch } from "./helpers";

const fixtures = inject("fixtures");
const ZERO = "0".repeat(40);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: ArrayBuffer | Uint8Array) => new TextDecoder().decode(b);
let n = 0;
const repoUrl = () => `http://gitflare.test/proto/r${Date.now().toString(36)}${n++}`;

async function receive(url: string, commands: string[], pack?: Uint8Array, caps = "report-status atomic") {
  const lines = commands.map((c, i) => pktLine(i === 0 ? `${c}\0${caps}\n` : `${c}\n`));
  const body = concatBytes([...lines, enc("0000"), pack ?? new Uint8Array(0)]);
  const res = await ownerFetch(`${url}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body,
  });
  return { status: res.status, text: dec(await res.arrayBuffer()) };
}

async function uploadPack(url: string, body: Uint8Array | string, headers: Record<string, string> = {}) {
  const res = await ownerFetch(`${url}/git-upload-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": "version=2", ...headers },
    body: typeof body === "string" ? enc(body) : body,
  });
  return { status: res.status, text: dec(await res.arrayBuffer()) };
}

/** pkt-lines from strings; "0000" and "0001" pass through as flush and delim. */
function pkts(...lines: string[]): string {
  return lines.map((l) => (l === "0000" || l === "0001" ? l : dec(pktLine(l)))).join("");
}

async function refs(url: string): Promise<string> {
  const res = await ownerFetch(`${url}/info/refs?service=git-upload-pack`);
  return dec(await res.arrayBuffer());
}

async function seeded(): Promise<string> {
  const url = repoUrl();
  const r = await receive(url, [`${ZERO} ${fixtures.head} refs/heads/main`], fromBase64(fixtures.ofsPack.pack));
  expect(r.text).toContain("unpack ok");
  expect(r.text).toContain("ok refs/heads/main");
  return url;
}

describe("smart HTTP", () => {
  it("404s a repository that does not exist, but lets a push create it", async () => {
    const url = repoUrl();
    const res = await ownerFetch(`${url}/info/refs?service=git-upload-pack`);
    expect(res.status).toBe(404);
    await res.arrayBuffer();
    const push = await ownerFetch(`${url}.git/info/refs?service=git-receive-pack`);
    expect(push.status).toBe(200);
    expect(push.headers.get("Content-Type")).toBe("application/x-git-receive-pack-advertisement");
    expect(push.headers.get("Cache-Control")).toContain("no-cache");
    const text = dec(await push.arrayBuffer());
    expect(text).toContain("001f# service=git-receive-pack\n0000");
    expect(text).toContain(`${ZERO} capabilities^{}\0`);
    expect(text).toContain("report-status");
  });

  it("creates empty repositories through the API, and advertises v0 and v2", async () => {
    const res = await ownerFetch("http://gitflare.test/api/repos/proto/empty1", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(201);
    const again = await ownerFetch("http://gitflare.test/api/repos/proto/empty1", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    expect(again.status).toBe(409);
    await Promise.all([res.arrayBuffer(), again.arrayBuffer()]);
    expect(await refs("http://gitflare.test/proto/empty1")).toContain("capabilities^{}");
    const v2 = await ownerFetch("http://gitflare.test/proto/empty1/info/refs?service=git-upload-pack", {
      headers: { "Git-Protocol": "version=2" },
    });
    const text = dec(await v2.arrayBuffer());
    expect(text).toContain("version 2\n");
    expect(text).toContain("ls-refs=unborn");
    const ls = await uploadPack(
      "http://gitflare.test/proto/empty1",
      pkts("command=ls-refs\n", "0001", "peel\n", "symrefs\n", "unborn\n", "0000"),
    );
    expect(ls.text).toBe(pkts("unborn HEAD symref-target:refs/heads/main\n", "0000"));
  });

  it("advertises refs with peeled tags and HEAD's symref after a push", async () => {
    const url = await seeded();
    await receive(url, [`${ZERO} ${fixtures.head} refs/heads/other`], new Uint8Array(0));
    const text = await refs(url);
    expect(text).toContain(`${fixtures.head} HEAD\0`);
    expect(text).toContain("symref=HEAD:refs/heads/main");
    expect(text).toContain(`${fixtures.head} refs/heads/other\n`);
  });

  it("serves a clone of every ref from the first push's pack as stored (pack-reused), and walks otherwise", async () => {
    const fetchAll = (url: string, wants: string[]) =>
      uploadPack(url, pkts("command=fetch\n", "0001", "ofs-delta\n", ...wants.map((w) => `want ${w}\n`), "done\n", "0000"));
    const url = await seeded();
    const first = await fetchAll(url, [fixtures.head]);
    expect(first.text).toContain(`pack-reused`);
    expect(first.text).not.toContain("pack-reused 0");
    // The pack bytes are the pushed pack's, byte for byte.
    const res = await ownerFetch(`${url}/git-upload-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": "version=2" },
      body: enc(pkts("command=fetch\n", "0001", "ofs-delta\n", `want ${fixtures.head}\n`, "done\n", "0000")),
    });
    const body = new Uint8Array(await res.arrayBuffer());
    const packParts: Uint8Array[] = [];
    for (let at = 0; at + 4 <= body.byteLength; ) {
      const len = parseInt(dec(body.subarray(at, at + 4)), 16);
      // Band 1 of the side-band carries the pack.
      if (len > 4 && body[at + 4] === 1) packParts.push(body.subarray(at + 5, at + len));
      at += Math.max(len, 4);
    }
    expect(concatBytes(packParts)).toEqual(fromBase64(fixtures.ofsPack.pack));
    // The same from R2, once the pack has moved there.
    const stub = env.REPO.getByName(new URL(url).pathname.slice(1));
    await stub.maintenanceSlice({ tierMinBytes: 1, tierAgeMs: 0 });
    expect((await stub.packs()).map((p) => p.tier)).toEqual(["r2"]);
    const fromR2 = await fetchAll(url, [fixtures.head]);
    expect(fromR2.text).toContain("pack-reused");
    expect(fromR2.text).not.toContain("pack-reused 0");
    // Refs changed without a new pack: the digest no longer matches, but the pack's tips
    // are all still reached, so the pack is sent and the walk adds nothing to it.
    await receive(url, [`${ZERO} ${fixtures.base} refs/heads/older`], new Uint8Array(0));
    const reused = await fetchAll(url, [fixtures.head, fixtures.base]);
    expect(reused.text).toMatch(/Total (\d+) .*pack-reused \1\n/);
    // Moved away from the pack's tip: the walk runs.
    await receive(url, [`${fixtures.head} ${fixtures.base} refs/heads/main`], new Uint8Array(0));
    const walked = await fetchAll(url, [fixtures.base]);
    expect(walked.text).toContain("pack-reused 0");
    // A fetch of fewer refs than there are, or one with a have, walks too.
    const url2 = await seeded();
    expect((await fetchAll(url2, [fixtures.base])).text).toContain("pack-reused 0");
  });

  describe("bad input gets git's error forms and changes nothing", () => {
    it("a bad pkt-line length", async () => {
      const url = await seeded();
      const before = await refs(url);
      const r = await uploadPack(url, "zz14command=ls-refs\n0000");
      expect(r.text).toMatch(/^[0-9a-f]{4}ERR .*bad pkt-line length/);
      expect(await refs(url)).toBe(before);
    });

    it("an unknown command", async () => {
      const r = await uploadPack(await seeded(), pkts("command=frob\n", "0000"));
      expect(r.text).toContain("ERR unknown command 'frob'");
    });

    it("a missing flush", async () => {
      const r = await uploadPack(await seeded(), pkts("command=ls-refs\n", "0001", "peel\n"));
      expect(r.text).toContain("ERR protocol error");
    });

    it("a want of an object that does not exist", async () => {
      const missing = "1".repeat(40);
      const r = await uploadPack(await seeded(), pkts("command=fetch\n", "0001", `want ${missing}\n`, "done\n", "0000"));
      expect(r.text).toContain(`ERR upload-pack: not our ref ${missing}`);
    });

    it("an oversized line", async () => {
      const r = await uploadPack(await seeded(), `ffff${"x".repeat(70000)}`);
      expect(r.text).toMatch(/ERR .*too long/);
    });

    it("a gzip header on a body that is not gzip", async () => {
      const r = await uploadPack(await seeded(), "0014command=ls-refs\n0000", { "Content-Encoding": "gzip" });
      expect(r.status).toBe(400);
    });

    it("gzip-encoded bodies that are gzip", async () => {
      const url = await seeded();
      const gz = new Response(new Blob([enc("0014command=ls-refs\n0000")]).stream().pipeThrough(new CompressionStream("gzip")));
      const r = await uploadPack(url, new Uint8Array(await gz.arrayBuffer()), { "Content-Encoding": "gzip" });
      expect(r.text).toContain(`${fixtures.head} refs/heads/main`);
    });

    it("the wrong content type", async () => {
      const res = await ownerFetch(`${await seeded()}/git-upload-pack`, { method: "POST", body: "0000" });
      expect(res.status).toBe(400);
      await res.arrayBuffer();
    });

    it("a malformed push command", async () => {
      const url = await seeded();
      const before = await refs(url);
      const r = await receive(url, ["not a command"]);
      expect(r.text).toContain("ERR protocol error: expected old/new/ref");
      expect(await refs(url)).toBe(before);
    });

    it("a corrupt pack", async () => {
      const url = await seeded();
      const before = await refs(url);
      const pack = fromBase64(fixtures.refPack.pack).slice();
      pack[pack.length - 5] ^= 0xff;
      const r = await receive(url, [`${fixtures.head} ${fixtures.base} refs/heads/main`], pack);
      expect(r.text).toMatch(/unpack .*checksum/);
      expect(r.text).toContain("ng refs/heads/main unpacker error");
      expect(await refs(url)).toBe(before);
    });

    it("a ref pointing at a missing object, and a bad ref name", async () => {
      const url = await seeded();
      const before = await refs(url);
      const r = await receive(
        url,
        [`${ZERO} ${"2".repeat(40)} refs/heads/ghost`, `${ZERO} ${fixtures.head} refs/heads/bad..name`],
        new Uint8Array(0),
        "report-status",
      );
      expect(r.text).toContain("ng refs/heads/ghost missing necessary objects");
      expect(r.text).toContain("ng refs/heads/bad..name funny refname");
      expect(await refs(url)).toBe(before);
    });

    it("a stale old value (compare-and-swap)", async () => {
      const url = await seeded();
      const r = await receive(url, [`${fixtures.base} ${fixtures.base} refs/heads/main`], new Uint8Array(0));
      expect(r.text).toContain("ng refs/heads/main failed to update ref: stale old value");
    });

    it("an atomic push where one ref fails", async () => {
      const url = await seeded();
      const before = await refs(url);
      const r = await receive(
        url,
        [`${ZERO} ${fixtures.base} refs/heads/new`, `${ZERO} ${fixtures.base} refs/heads/main`],
        new Uint8Array(0),
      );
      expect(r.text).toContain("ng refs/heads/new atomic push failed");
      expect(r.text).toContain("ng refs/heads/main reference already exists");
      expect(await refs(url)).toBe(before);
    });
  });
});
