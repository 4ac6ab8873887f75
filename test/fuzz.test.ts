// Seeded mutation fuzzing of everything that parses client input: pkt-lines, v2 and
// v0 upload-pack requests, receive-pack commands, and the pack indexer (with the
// trailer fixed up so mutations reach past the checksum). Every case must end in a
// clean protocol error or success: never another exception, never a changed ref.
//
// CI runs a fixed seed and a small count; `npm run fuzz` runs longer
// (FUZZ_ITERATIONS, FUZZ_SEED).
import { concatBytes } from "../src/util/bytes";
import { describe, expect, inject, it } from "vitest";
import { PktLineError, PktReader, parsePktLines, pktLine } from "../src/git/protocol/pkt-line";
import { UploadPackError, serveV0, serveV2 } from "../src/git/protocol/upload-pack";
import { ReceivePackError, readPushRequest } from "../src/git/protocol/receive-pack";
import { PackFormatError } from "../src/git/pack/entry";
import type { Repository } from "../src/repo/repository";
import { fromBase64, freshRepo, inRepo } from "./helpers";
import { withTrailer } from "./pack-builder";
import { mulberry32 } from "../src/util/prng";
import { writeIdxV2 } from "../src/git/pack/idx";

const fixtures = inject("fixtures");
const { iterations, seed } = inject("fuzz");
const ZERO = "0".repeat(40);
const enc = (s: string) => new TextEncoder().encode(s);

const rng = mulberry32;

const INTERESTING = [0x00, 0x01, 0x0a, 0x20, 0x30, 0x66, 0x7f, 0x80, 0xff];

function mutate(input: Uint8Array, rand: () => number, from = 0): Uint8Array {
  let b: Uint8Array = input.slice();
  const rounds = 1 + Math.floor(rand() * 4);
  const pos = () => from + Math.floor(rand() * Math.max(1, b.length - from));
  for (let r = 0; r < rounds; r++) {
    switch (Math.floor(rand() * 7)) {
      case 0: {
        const p = pos();
        b[p] ^= 1 << Math.floor(rand() * 8);
        break;
      }
      case 1:
        b[pos()] = INTERESTING[Math.floor(rand() * INTERESTING.length)];
        break;
      case 2: {
        const p = pos();
        b = concatBytes([b.subarray(0, p), b.subarray(Math.min(b.length, p + 1 + Math.floor(rand() * 16)))]);
        break;
      }
      case 3: {
        const p = pos();
        const len = Math.floor(rand() * 32);
        b = concatBytes([b.subarray(0, p), b.subarray(p, p + len), b.subarray(p)]);
        break;
      }
      case 4: {
        const p = pos();
        const junk = Uint8Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * 256));
        b = concatBytes([b.subarray(0, p), junk, b.subarray(p)]);
        break;
      }
      case 5:
        b = b.subarray(0, pos());
        break;
      default: {
        // Rewrite a pkt-line length prefix at a random 4-byte boundary.
        const p = pos();
        b.set(
          enc(
            Math.floor(rand() * 0x10000)
              .toString(16)
              .padStart(4, "0"),
          ).subarray(0, Math.max(0, b.length - p)),
          p,
        );
      }
    }
  }
  return b;
}

async function expectClean(fn: () => unknown, allowed: (new (...a: never[]) => Error)[]) {
  try {
    await fn();
  } catch (e) {
    if (!allowed.some((k) => e instanceof k)) throw new Error(`unclean failure: ${(e as Error)?.stack ?? e}`);
  }
}

function refSnapshot(repo: Repository): string {
  return JSON.stringify([...repo.refs.list()]);
}

async function collect(gen: AsyncGenerator<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const b of gen) out.push(b);
  return out;
}

async function seedRepo(repo: Repository) {
  repo.init();
  repo.fs.mkdir("/objects/incoming", { recursive: true });
  repo.fs.writeFile("/objects/incoming/seed.pack", fromBase64(fixtures.ofsPack.pack));
  const result = await repo.store.index("/objects/incoming/seed.pack");
  repo.fs.transaction(() => repo.store.commitPack("/objects/incoming/seed.pack", result, writeIdxV2(result.objects, result.packChecksum)));
  repo.refs.update([{ name: "refs/heads/main", old: ZERO, new: fixtures.head }], false);
}

const v2Seeds = [
  concatBytes([
    pktLine("command=ls-refs\n"),
    pktLine("agent=git/2.39\n"),
    enc("0001"),
    pktLine("peel\n"),
    pktLine("symrefs\n"),
    pktLine("ref-prefix refs/heads/\n"),
    enc("0000"),
  ]),
  concatBytes([
    pktLine("command=fetch\n"),
    enc("0001"),
    pktLine(`want ${fixtures.head}\n`),
    pktLine(`have ${fixtures.base}\n`),
    pktLine("ofs-delta\n"),
    pktLine("deepen 2\n"),
    pktLine("filter blob:none\n"),
    pktLine("done\n"),
    enc("0000"),
  ]),
  concatBytes([pktLine("command=object-info\n"), enc("0001"), pktLine("size\n"), pktLine(`oid ${fixtures.head}\n`), enc("0000")]),
];
const v0Seed = concatBytes([
  pktLine(`want ${fixtures.head} multi_ack_detailed side-band-64k ofs-delta thin-pack no-done\n`),
  pktLine("deepen 3\n"),
  enc("0000"),
  pktLine(`have ${fixtures.base}\n`),
  pktLine("done\n"),
]);
const pushSeed = concatBytes([
  pktLine(`${ZERO} ${fixtures.head} refs/heads/x\0report-status side-band-64k atomic push-options\n`),
  pktLine(`${fixtures.head} ${ZERO} refs/heads/y\n`),
  enc("0000"),
  pktLine("ci.skip\n"),
  enc("0000"),
]);

describe(`fuzzing (seed ${seed}, ${iterations} cases per target)`, () => {
  it("pkt-line parser", async () => {
    const rand = rng(seed);
    for (let i = 0; i < iterations * 4; i++) {
      const input =
        rand() < 0.2 ? Uint8Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)) : mutate(v2Seeds[i % 3], rand);
      await expectClean(() => parsePktLines(input), [PktLineError]);
    }
  });

  it("v2 command parser and commands", () =>
    inRepo(freshRepo("fuzz"), async (repo) => {
      await seedRepo(repo);
      const before = refSnapshot(repo);
      const rand = rng(seed + 1);
      for (let i = 0; i < iterations; i++) {
        const input = mutate(v2Seeds[i % v2Seeds.length], rand);
        await expectClean(() => collect(serveV2(repo, input)), [UploadPackError, PktLineError]);
      }
      expect(refSnapshot(repo)).toBe(before);
    }));

  it("v0 upload-pack negotiation", () =>
    inRepo(freshRepo("fuzz"), async (repo) => {
      await seedRepo(repo);
      const before = refSnapshot(repo);
      const rand = rng(seed + 2);
      for (let i = 0; i < iterations; i++) {
        await expectClean(() => collect(serveV0(repo, mutate(v0Seed, rand))), [UploadPackError, PktLineError]);
      }
      expect(refSnapshot(repo)).toBe(before);
    }));

  it("receive-pack command parser", async () => {
    const rand = rng(seed + 3);
    for (let i = 0; i < iterations; i++) {
      const input = mutate(pushSeed, rand);
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(input);
          c.close();
        },
      });
      try {
        await readPushRequest(new PktReader(stream));
      } catch (e) {
        if (!(e instanceof ReceivePackError || e instanceof PktLineError)) throw new Error(`unclean failure: ${(e as Error).stack}`);
      }
    }
  });

  it("pack indexer, with checksums fixed up", () =>
    inRepo(freshRepo("fuzz"), async (repo) => {
      await seedRepo(repo);
      const before = refSnapshot(repo);
      const rand = rng(seed + 4);
      const packs = [fromBase64(fixtures.refPack.pack), fromBase64(fixtures.thinPack.pack)];
      let accepted = 0;
      for (let i = 0; i < iterations; i++) {
        const pack = packs[i % 2];
        const mutated = withTrailer(mutate(pack.subarray(0, pack.length - 20), rand, 12));
        repo.fs.writeFile("/objects/incoming/fuzz.pack", mutated);
        await expectClean(async () => {
          await repo.store.index("/objects/incoming/fuzz.pack");
          accepted++;
        }, [PackFormatError]);
      }
      repo.fs.unlink("/objects/incoming/fuzz.pack");
      expect(refSnapshot(repo)).toBe(before);
      expect(accepted).toBeLessThan(iterations);
    }));

  it("whole pushes through the Durable Object", () =>
    inRepo(freshRepo("fuzz"), async (repo) => {
      await seedRepo(repo);
      const before = refSnapshot(repo);
      const rand = rng(seed + 5);
      const pack = fromBase64(fixtures.thinPack.pack);
      const packsBefore = repo.store.stats().packs;
      let accepted = 0;
      for (let i = 0; i < Math.max(10, iterations / 5); i++) {
        const mutated = withTrailer(mutate(pack.subarray(0, pack.length - 20), rand, 12));
        const body = concatBytes([pktLine(`${fixtures.head} ${fixtures.head} refs/heads/main\0report-status\n`), enc("0000"), mutated]);
        const state = await repo.receivePack(new Response(body).body!, false);
        expect(state.kind).toBe("report");
        const text = state.kind === "report" ? new TextDecoder().decode(state.report) : "";
        expect(text).toMatch(/unpack /);
        // A mutation can leave a valid pack (say, a changed byte in a blob); then the
        // no-op ref update succeeds and the pack is kept, as git would keep it.
        if (text.includes("ok refs/heads/main")) accepted++;
      }
      expect(refSnapshot(repo)).toBe(before);
      // At most one new pack per accepted push: an identical pack, or one with no objects
      // (its count mutated to zero), adds none.
      expect(repo.store.stats().packs).toBeGreaterThanOrEqual(packsBefore);
      expect(repo.store.stats().packs).toBeLessThanOrEqual(packsBefore + accepted);
      expect(repo.fs.readdir("/objects/incoming")).toEqual([]);
      // Whatever was kept is sound: every object matches its id.
      await repo.store.rebuildIndex();
    }));
});
