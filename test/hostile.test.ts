// Hand-made hostile input: every case must end in git's own error form and leave the
// repository exactly as it was.
import { concatBytes } from "../src/util/bytes";
import { describe, expect, inject, it } from "vitest";
import { deflateSync } from "node:zlib";
import { pktLine } from "../src/git/protocol/pkt-line";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_OFS_DELTA, OBJ_REF_DELTA, OBJ_TREE } from "../src/git/object/object";
import { appendDelta, buildPack, oidOf, type RawEntry } from "./pack-builder";
import { fromBase64, ownerFetch } from "./helpers";

const fixtures = inject("fixtures");
const ZERO = "0".repeat(40);
const enc = (s: string) => new TextEncoder().encode(s);
let n = 0;

async function push(url: string, commands: string[], pack: Uint8Array) {
  const lines = commands.map((c, i) => pktLine(i === 0 ? `${c}\0report-status\n` : `${c}\n`));
  const res = await ownerFetch(`${url}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body: concatBytes([...lines, enc("0000"), pack]),
  });
  expect(res.status).toBe(200);
  return new TextDecoder().decode(await res.arrayBuffer());
}

async function advertisement(url: string) {
  const res = await ownerFetch(`${url}/info/refs?service=git-upload-pack`);
  return new TextDecoder().decode(await res.arrayBuffer());
}

async function seeded() {
  const url = `http://gitflare.test/hostile/r${Date.now().toString(36)}${n++}`;
  expect(await push(url, [`${ZERO} ${fixtures.head} refs/heads/main`], fromBase64(fixtures.ofsPack.pack))).toContain("ok refs/heads/main");
  return { url, before: await advertisement(url) };
}

/** A commit whose tree and blob are in `entries`, pointing a new branch at it. */
function commitOver(blob: Uint8Array): { entries: RawEntry[]; commit: string } {
  const blobOid = oidOf(OBJ_BLOB, blob);
  const tree = concatBytes([enc("100644 f\0"), Uint8Array.from(blobOid.match(/../g)!.map((h) => parseInt(h, 16)))]);
  const commit = enc(`tree ${oidOf(OBJ_TREE, tree)}\nauthor A <a@b> 1700000000 +0000\ncommitter A <a@b> 1700000000 +0000\n\nx\n`);
  return {
    entries: [
      { type: OBJ_COMMIT, data: commit },
      { type: OBJ_TREE, data: tree },
    ],
    commit: oidOf(OBJ_COMMIT, commit),
  };
}

async function refused(pack: Uint8Array, commit: string, expected: RegExp) {
  const { url, before } = await seeded();
  const out = await push(url, [`${ZERO} ${commit} refs/heads/evil`], pack);
  expect(out).toMatch(expected);
  expect(out).toContain("ng refs/heads/evil");
  expect(await advertisement(url)).toBe(before);
}

describe("hostile packs", () => {
  it("a delta chain deeper than git allows", async () => {
    const base = enc("base\n");
    const entries: RawEntry[] = [{ type: OBJ_BLOB, data: base }];
    let size = base.length;
    for (let i = 0; i < 4100; i++) {
      entries.push({ type: OBJ_OFS_DELTA, data: appendDelta(size, enc("x")), base: i });
      size += 1;
    }
    await refused(buildPack(entries), "1".repeat(40), /unpack delta chain deeper than 4095/);
  });

  it("a delta whose base is missing", async () => {
    const missing = "4".repeat(40);
    const pack = buildPack([{ type: OBJ_REF_DELTA, data: appendDelta(5, enc("y")), baseOid: missing }]);
    await refused(pack, "1".repeat(40), new RegExp(`unpack delta base ${missing} is missing`));
  });

  it("an object whose declared size is smaller than its data", async () => {
    const blob = enc("twenty bytes of data");
    const { entries, commit } = commitOver(blob);
    await refused(buildPack([...entries, { type: OBJ_BLOB, data: blob, declaredSize: 10 }]), commit, /unpack .*(size|declared)/);
  });

  it("an object whose declared size is larger than its data", async () => {
    const blob = enc("short");
    const { entries, commit } = commitOver(blob);
    await refused(buildPack([...entries, { type: OBJ_BLOB, data: blob, declaredSize: 5000 }]), commit, /unpack .*size mismatch/);
  });

  it("a zlib bomb", async () => {
    // 64 MB of zeros compress to ~64 KB; the header claims 100 bytes.
    const bomb = deflateSync(new Uint8Array(64 * 1024 * 1024), { level: 9 });
    const { entries, commit } = commitOver(new Uint8Array(100));
    await refused(
      buildPack([...entries, { type: OBJ_BLOB, data: new Uint8Array(100), zlib: bomb }]),
      commit,
      /unpack object inflates past its declared size/,
    );
  });

  it("an object larger than the size limit", async () => {
    const { entries, commit } = commitOver(new Uint8Array(1));
    await refused(
      buildPack([...entries, { type: OBJ_BLOB, data: new Uint8Array(1), declaredSize: 2 ** 40 }]),
      commit,
      /unpack object of \d+ bytes exceeds/,
    );
  });

  it("a pack that claims more objects than it holds", async () => {
    const { entries, commit } = commitOver(enc("x"));
    await refused(buildPack(entries, 5), commit, /unpack pack is truncated/);
  });

  it("a pack whose trailer checksum is wrong", async () => {
    const { entries, commit } = commitOver(enc("x"));
    const pack = buildPack(entries).slice();
    pack[pack.length - 1] ^= 0x55;
    await refused(pack, commit, /unpack pack trailer checksum mismatch/);
  });

  it("a pack whose objects refer to objects that exist nowhere", async () => {
    const { entries, commit } = commitOver(enc("the blob is not in the pack"));
    await refused(buildPack(entries), commit, /ng refs\/heads\/evil missing necessary objects/);
  });
});

describe("hostile ref names", () => {
  for (const name of [
    "refs/heads/a..b",
    "refs/heads/x@{1}",
    "refs/heads/ctl\x01char",
    "refs/heads/del\x7f",
    "refs/heads/trailing.lock",
    "refs/heads/sp ace",
    "refs/heads/end/",
    "refs/heads/.hidden",
    "HEAD",
    "refs/heads/colon:x",
  ]) {
    it(`refuses ${JSON.stringify(name)}`, async () => {
      const { url, before } = await seeded();
      const out = await push(url, [`${ZERO} ${fixtures.head} ${name}`], new Uint8Array(0));
      expect(out).toMatch(/ng .* (funny refname|ref names must)/);
      expect(await advertisement(url)).toBe(before);
    });
  }
});
