// Reachability bitmaps: EWAH round trips over many random bitsets, and the `.bitmap` that
// maintenance writes for the covering pack, checked by C git on many generated histories
// (branches, merges, annotated and nested tags, lightweight tags, nested trees, objects in
// shuffled pack order): `rev-list --test-bitmap` passes for every branch tip, and
// `rev-list --objects --use-bitmap-index` lists what the plain walk lists.
import { abortAllDurableObjects, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TAG, OBJ_TREE, fromHex } from "../src/git/object/object";
import { PackBitmap, writeBitmap } from "../src/git/pack/bitmap";
import { Bitset, decodeEwah, encodeEwah } from "../src/git/pack/ewah";
import { pktLine } from "../src/git/protocol/pkt-line";
import { bitmapObjects } from "../src/git/bitmap-walk";
import { PackBitmaps } from "../src/git/store/bitmap";
import { enumerateObjects } from "../src/git/walk";
import type { Repository } from "../src/repo/repository";
import { concatBytes } from "../src/util/bytes";
import { mulberry32 } from "../src/util/prng";
import { exportAndRun, inRepo, ownerFetch } from "./helpers";
import { buildPack, oidOf } from "./pack-builder";

const ZERO = "0".repeat(40);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: ArrayBuffer | Uint8Array) => new TextDecoder().decode(b);
let n = 0;

function randomBits(rnd: () => number, size: number): { bits: Bitset; set: number[] } {
  const bits = new Bitset(rnd() < 0.5 ? size : 0);
  const set: number[] = [];
  const shape = rnd();
  for (let i = 0; i < size; i++) {
    // Sparse, dense, long runs of ones and of zeros: every kind of EWAH word group.
    const on = shape < 0.25 ? rnd() < 0.01 : shape < 0.5 ? rnd() < 0.9 : shape < 0.75 ? Math.floor(i / 500) % 2 === 0 : rnd() < 0.5;
    if (on) {
      bits.set(i);
      set.push(i);
    }
  }
  return { bits, set };
}

interface History {
  entries: { type: number; data: Uint8Array }[];
  refs: [string, string][];
  branchTips: string[];
  commits: string[];
}

/** Serializes a tree of `files` (path to blob id) into objects, returning the root's id. */
function writeTree(files: Map<string, string>, prefix: string, emit: (type: number, data: Uint8Array) => string): string {
  const names = new Map<string, { tree: boolean; oid?: string }>();
  for (const [path, oid] of files) {
    if (!path.startsWith(prefix)) continue;
    const rest = path.slice(prefix.length);
    const slash = rest.indexOf("/");
    if (slash < 0) names.set(rest, { tree: false, oid });
    else names.set(rest.slice(0, slash), { tree: true });
  }
  // git's order: names compared as if trees ended in "/".
  const sorted = [...names].sort(([a, x], [b, y]) => {
    const ka = x.tree ? `${a}/` : a;
    const kb = y.tree ? `${b}/` : b;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  const parts: Uint8Array[] = [];
  for (const [name, e] of sorted) {
    const oid = e.tree ? writeTree(files, `${prefix}${name}/`, emit) : e.oid!;
    parts.push(enc(`${e.tree ? "40000" : "100644"} ${name}\0`), fromHex(oid));
  }
  return emit(OBJ_TREE, concatBytes(parts));
}

/**
 * A random history: a few branches of commits changing files in nested directories,
 * merges between branches, annotated tags (some of tags), lightweight tags.
 */
function generate(seed: number, size: number): History {
  const rnd = mulberry32(seed);
  const entries: History["entries"] = [];
  const seen = new Set<string>();
  const emit = (type: number, data: Uint8Array): string => {
    const oid = oidOf(type, data);
    if (!seen.has(oid)) {
      seen.add(oid);
      entries.push({ type, data });
    }
    return oid;
  };
  const paths = ["a", "b.txt", "d1/x", "d1/y", "d1/d2/z", "d3/w", "d3/d4/d5/v", "e"];
  const branches: { tip: string | null; files: Map<string, string> }[] = [{ tip: null, files: new Map() }];
  const commits: string[] = [];
  const refs: [string, string][] = [];
  let time = 1_600_000_000 + seed * 1000;
  for (let i = 0; i < size; i++) {
    const roll = rnd();
    if (roll < 0.08 && branches.length < 5 && commits.length) {
      const from = branches[Math.floor(rnd() * branches.length)];
      branches.push({ tip: from.tip, files: new Map(from.files) });
    }
    const b = branches[Math.floor(rnd() * branches.length)];
    const parents = b.tip ? [b.tip] : [];
    const other = branches[Math.floor(rnd() * branches.length)];
    if (roll > 0.85 && other !== b && other.tip && !parents.includes(other.tip)) {
      parents.push(other.tip);
      // The merge takes some files from the other side.
      for (const [p, o] of other.files) if (rnd() < 0.5) b.files.set(p, o);
    }
    const changes = 1 + Math.floor(rnd() * 3);
    for (let k = 0; k < changes; k++) {
      const path = paths[Math.floor(rnd() * paths.length)];
      if (rnd() < 0.1 && b.files.size > 1) b.files.delete(path);
      else b.files.set(path, emit(OBJ_BLOB, enc(`${path} ${seed} ${i} ${k} ${Math.floor(rnd() * 4)}\n`)));
    }
    if (!b.files.size) b.files.set("a", emit(OBJ_BLOB, enc("a\n")));
    const tree = writeTree(b.files, "", emit);
    time += Math.floor(rnd() * 5000) - 500;
    const body = `tree ${tree}\n${parents.map((p) => `parent ${p}\n`).join("")}author A <a@b> ${time} +0000\ncommitter C <c@d> ${time} +0000\n\nc${i}\n`;
    b.tip = emit(OBJ_COMMIT, enc(body));
    commits.push(b.tip);
    if (rnd() < 0.06) {
      const tag = emit(OBJ_TAG, enc(`object ${b.tip}\ntype commit\ntag t${i}\ntagger T <t@t> ${time} +0000\n\nt${i}\n`));
      refs.push([`refs/tags/t${i}`, tag]);
      if (rnd() < 0.3) {
        const outer = emit(OBJ_TAG, enc(`object ${tag}\ntype tag\ntag tt${i}\ntagger T <t@t> ${time} +0000\n\ntt${i}\n`));
        refs.push([`refs/tags/tt${i}`, outer]);
      }
    } else if (rnd() < 0.04) refs.push([`refs/tags/l${i}`, b.tip]);
  }
  const branchTips = [...new Set(branches.map((b) => b.tip!).filter(Boolean))];
  // The commands must fit the first segment of the body (2 KiB in these tests).
  refs.splice(0, Math.max(0, refs.length - 12));
  branches.forEach((b, i) => {
    if (b.tip) refs.push([`refs/heads/b${i}`, b.tip]);
  });
  // Pack order unlike name order and unlike type order.
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [entries[i], entries[j]] = [entries[j], entries[i]];
  }
  return { entries, refs, branchTips, commits };
}

async function push(url: string, refs: [string, string][], entries: History["entries"], old = new Map<string, string>()) {
  const commands = refs.map(([name, oid], i) => pktLine(`${old.get(name) ?? ZERO} ${oid} ${name}${i === 0 ? "\0report-status" : ""}\n`));
  const res = await ownerFetch(`${url}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body: concatBytes([...commands, enc("0000"), buildPack(entries)]),
  });
  const text = dec(await res.arrayBuffer());
  expect(text).toContain("unpack ok");
  expect(text).not.toContain(" ng ");
}

async function quiesce(stub: DurableObjectStub<Repository>, overrides = {}): Promise<number> {
  let bitmaps = 0;
  for (let i = 0; i < 400; i++) {
    const r = await stub.maintenanceSlice(overrides, Date.now() + 1000);
    bitmaps += r.bitmaps ?? 0;
    if (!r.more) return bitmaps;
  }
  throw new Error("maintenance did not come to rest");
}

const sorted = (out: string) =>
  out
    .split("\n")
    .filter(Boolean)
    .map((l) => l.slice(0, 40))
    .sort()
    .join("\n");

/** C git's checks of an exported repository's bitmap; returns the runs for more checks. */
async function checkWithGit(url: string, tips: string[], extra: string[][] = []) {
  const commands = [
    ...tips.map((t) => ["rev-list", "--test-bitmap", t]),
    ["fsck", "--strict", "--no-progress"],
    ["rev-list", "--objects", "--all"],
    ["rev-list", "--objects", "--all", "--use-bitmap-index"],
    ["rev-list", "--objects", "--all", "--filter=blob:none"],
    ["rev-list", "--objects", "--all", "--filter=blob:none", "--use-bitmap-index"],
    ["rev-list", "--objects", "--all", "--filter=object:type=tree"],
    ["rev-list", "--objects", "--all", "--filter=object:type=tree", "--use-bitmap-index"],
    ...extra,
  ];
  const runs = await exportAndRun(url, commands);
  for (const [i, r] of runs.entries()) expect(r.code, `${commands[i].join(" ")}: ${r.stderr}`).toBe(0);
  for (let i = 0; i < tips.length; i++) expect(runs[i].stderr).toContain("OK!");
  const at = tips.length + 1;
  for (let k = 0; k < 3; k++) {
    expect(runs[at + 2 * k].stdout.length).toBeGreaterThan(0);
    expect(sorted(runs[at + 2 * k + 1].stdout)).toBe(sorted(runs[at + 2 * k].stdout));
  }
  return runs.slice(at + 6);
}

describe("EWAH", () => {
  it("round-trips many random bitsets, and its words group as git's reader expects", () => {
    const rnd = mulberry32(7);
    for (let round = 0; round < 400; round++) {
      const size = Math.floor(rnd() * (round % 4 === 0 ? 70_000 : 700));
      const { bits, set } = randomBits(rnd, size);
      const bytes = encodeEwah(bits);
      const back = decodeEwah(bytes);
      expect(back.length).toBe(bytes.byteLength);
      expect([...back.bits.positions()]).toEqual(set);
      expect(back.bits.equals(bits)).toBe(true);
      expect(back.bitCount % 64).toBe(0);
      // Followed by other bytes, as inside a bitmap file.
      expect(decodeEwah(concatBytes([enc("xx"), bytes, enc("yyyy")]), 2).length).toBe(bytes.byteLength);
    }
  });

  it("or, and-not and count agree with plain sets", () => {
    const rnd = mulberry32(11);
    for (let round = 0; round < 100; round++) {
      const a = randomBits(rnd, Math.floor(rnd() * 3000));
      const b = randomBits(rnd, Math.floor(rnd() * 3000));
      const union = a.bits.clone();
      union.or(b.bits);
      expect([...union.positions()]).toEqual([...new Set([...a.set, ...b.set])].sort((x, y) => x - y));
      const minus = a.bits.clone();
      minus.andNot(b.bits);
      const bs = new Set(b.set);
      expect([...minus.positions()]).toEqual(a.set.filter((x) => !bs.has(x)));
      expect(minus.count()).toBe(a.set.filter((x) => !bs.has(x)).length);
    }
  });

  it("a bitmap file reads back as written, XORed entries included", () => {
    const rnd = mulberry32(3);
    const types = Uint8Array.from({ length: 500 }, () => 1 + Math.floor(rnd() * 4));
    const base = randomBits(rnd, 500).bits;
    const entries = Array.from({ length: 30 }, (_, i) => {
      const bits = base.clone();
      for (let k = 0; k < 5; k++) bits.set(Math.floor(rnd() * 500));
      return { idxPosition: i * 7, bits };
    });
    const file = new PackBitmap(writeBitmap({ packChecksum: new Uint8Array(20).fill(9), types, entries, entryCount: entries.length }));
    expect(file.objectCount()).toBe(500);
    for (const e of entries) expect(file.get(e.idxPosition)!.equals(e.bits)).toBe(true);
    expect(file.size).toBe(30);
    for (let i = 0; i < 500; i++) expect([file.commits, file.trees, file.blobs, file.tags][types[i] - 1].get(i)).toBe(true);
  });
});

describe("pack bitmaps", () => {
  it("C git's --test-bitmap passes on the first push's pack, on many generated histories", async () => {
    for (let seed = 1; seed <= 14; seed++) {
      const h = generate(seed, 15 + ((seed * 53) % 230));
      const name = `bitmap/g${Date.now().toString(36)}${n++}`;
      const url = `http://gitflare.test/${name}`;
      await push(url, h.refs, h.entries);
      const stub = env.REPO.getByName(name);
      expect(await quiesce(stub), `seed ${seed}`).toBeGreaterThanOrEqual(h.branchTips.length);
      // Commits of small histories all have bitmaps: test some inside the history too.
      const inner = h.commits.length <= 100 ? h.commits.filter((_, i) => i % 17 === 5) : [];
      const [a, b] = [h.branchTips[0], h.commits[Math.floor(h.commits.length / 2)]];
      const extra = await checkWithGit(
        url,
        [...h.branchTips, ...inner],
        [
          ["rev-list", "--objects", a, "--not", b],
          ["rev-list", "--objects", "--use-bitmap-index", a, "--not", b],
        ],
      );
      expect(sorted(extra[1].stdout), `seed ${seed}`).toBe(sorted(extra[0].stdout));
    }
  });

  it("is written for a full compaction's pack, in several slices, and the old pack's goes with it", async () => {
    const h = generate(40, 260);
    const name = `bitmap/c${Date.now().toString(36)}${n++}`;
    const url = `http://gitflare.test/${name}`;
    // Two pushes: the second pack holds only what is new, so no single pack covers the refs
    // until compaction merges them.
    const half = Math.floor(h.commits.length / 2);
    const first = generate(40, half);
    await push(url, first.refs, first.entries);
    const stub = env.REPO.getByName(name);
    await quiesce(stub);
    const firstPack = await inRepo(stub, (repo) => repo.store.packs()[0].name);
    expect(await inRepo(stub, (repo) => repo.fs.exists(PackBitmaps.pathOf(firstPack)))).toBe(true);
    const old = new Map(first.refs);
    await push(
      url,
      h.refs.filter(([ref, oid]) => old.get(ref) !== oid),
      h.entries,
      old,
    );
    // A tiny budget: each slice computes a few bitmaps at most.
    const computed = await quiesce(stub, { graceMs: 0, sliceObjects: 20 });
    expect(computed).toBeGreaterThan(h.branchTips.length);
    const packs = await inRepo(stub, (repo) => repo.store.packs().map((p) => p.name));
    expect(packs).toHaveLength(1);
    expect(packs[0]).not.toBe(firstPack);
    expect(await inRepo(stub, (repo) => repo.fs.exists(PackBitmaps.pathOf(packs[0])))).toBe(true);
    expect(await inRepo(stub, (repo) => repo.fs.exists(PackBitmaps.pathOf(firstPack)))).toBe(false);
    await checkWithGit(url, h.branchTips);
  });

  it("is computed in steps that resume after eviction, walks cut short included, and follows a push between steps; its reverse index is C git's", async () => {
    const h = generate(77, 240);
    const name = `bitmap/s${Date.now().toString(36)}${n++}`;
    const url = `http://gitflare.test/${name}`;
    const first = generate(77, 160);
    await push(url, first.refs, first.entries);
    // Three trees a step: most walks stop part way, and the object is evicted after every
    // slice, so each resumes from what SQLite kept.
    const tiny = { sliceObjects: 12, graceMs: 0, tierMinBytes: Number.MAX_SAFE_INTEGER, serveCopyMinBytes: 0 };
    const slice = async () => {
      const r = await env.REPO.getByName(name).maintenanceSlice(tiny, Date.now() + 1000);
      await abortAllDurableObjects().catch(() => undefined);
      return r;
    };
    const paused = () =>
      inRepo(
        env.REPO.getByName(name),
        (_repo, state) =>
          state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM git_bitmap_selected WHERE partial IS NOT NULL").one().n,
      );
    let computed = 0;
    let sawPaused = false;
    for (let i = 0; i < 400 && computed < 5; i++) {
      computed += (await slice()).bitmaps ?? 0;
      if (!sawPaused && (await paused()) > 0) sawPaused = true;
    }
    expect(computed).toBeGreaterThanOrEqual(5);
    expect(sawPaused).toBe(true);
    // The rest of the history arrives mid-way: compaction makes a new covering pack, and
    // the bitmaps start again for it.
    const old = new Map(first.refs);
    await push(
      url,
      h.refs.filter(([ref, oid]) => old.get(ref) !== oid),
      h.entries,
      old,
    );
    // Larger steps from here, and no more evictions: only the end state is checked.
    let slices = 0;
    for (; slices < 1000; slices++) if (!(await env.REPO.getByName(name).maintenanceSlice({ ...tiny, sliceObjects: 400 })).more) break;
    expect(slices).toBeLessThan(1000);
    const stub = env.REPO.getByName(name);
    const packs = await inRepo(stub, (repo) => repo.store.packs().map((p) => p.name));
    expect(packs).toHaveLength(1);
    expect(await inRepo(stub, (repo) => repo.fs.exists(PackBitmaps.pathOf(packs[0])))).toBe(true);
    await checkWithGit(url, h.branchTips);
    // The reverse index is internal (the export leaves it out), but in git's format: the same
    // bytes as C git's `index-pack --rev-index` writes for the pack.
    const rev = await inRepo(stub, (repo) => repo.fs.readFile(PackBitmaps.reversePathOf(packs[0])));
    const theirs = await exportAndRun(url, [
      ["-c", "pack.writeReverseIndex=true", "index-pack", "--rev-index", `objects/pack/${packs[0]}.pack`],
      ["hash-object", `objects/pack/${packs[0]}.rev`],
    ]);
    expect(theirs.map((r) => r.code)).toEqual([0, 0]);
    expect(theirs[1].stdout.trim()).toBe(oidOf(OBJ_BLOB, rev));
  }, 180_000);

  it("answers rev-list --objects wants --not haves as C git does, for objects in and above the covering pack", async () => {
    for (let seed = 60; seed < 66; seed++) {
      const h = generate(seed, 40 + ((seed * 31) % 150));
      const name = `bitmap/w${Date.now().toString(36)}${n++}`;
      const url = `http://gitflare.test/${name}`;
      // The first part of the history is the covering pack, with bitmaps; the rest arrives
      // in a second pack, above them.
      const first = generate(seed, Math.floor(h.commits.length * 0.7));
      await push(url, first.refs, first.entries);
      const stub = env.REPO.getByName(name);
      await quiesce(stub);
      const old = new Map(first.refs);
      await push(
        url,
        h.refs.filter(([ref, oid]) => old.get(ref) !== oid),
        h.entries,
        old,
      );
      const rnd = mulberry32(seed);
      const tags = h.refs.filter(([ref]) => ref.startsWith("refs/tags/")).map(([, oid]) => oid);
      const pool = [...h.commits, ...tags];
      const cases = Array.from({ length: 10 }, () => {
        const wants = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pool[Math.floor(rnd() * pool.length)]);
        const haves = Array.from({ length: Math.floor(rnd() * 4) }, () => h.commits[Math.floor(rnd() * h.commits.length)]);
        return { wants: [...new Set(wants)], haves: [...new Set(haves)] };
      });
      const ours = await inRepo(stub, async (repo) => {
        const out: { bitmap: string; walk: string }[] = [];
        for (const c of cases) {
          const fast = await bitmapObjects(repo.store, c.wants, c.haves);
          if (!fast) throw new Error("no bitmap answer");
          // The plain walk, as before bitmaps: with a filter that keeps everything.
          const walk = await enumerateObjects(repo.store, c.wants, { haves: c.haves, filter: { kind: "blob:limit", limit: 2 ** 40 } });
          out.push({ bitmap: [...fast.oids].sort().join("\n"), walk: [...walk.oids].sort().join("\n") });
        }
        return out;
      });
      // Without bitmaps, C git subtracts only what the commits its walk meets reach; with
      // them, everything the haves reach (what ours does): a subset, never more.
      const runs = await exportAndRun(
        url,
        cases.flatMap((c) => [
          ["rev-list", "--objects", ...c.wants, "--not", ...c.haves],
          ["rev-list", "--objects", "--use-bitmap-index", ...c.wants, "--not", ...c.haves],
        ]),
      );
      for (const [i, c] of cases.entries()) {
        const [plain, bitmap] = [runs[2 * i], runs[2 * i + 1]];
        expect([plain.code, bitmap.code]).toEqual([0, 0]);
        expect(ours[i].bitmap, `seed ${seed} case ${i}`).toBe(sorted(bitmap.stdout));
        // Never more than either plain walk sends (ours subtracts less than C git's: only
        // what the trees of the boundary commits hold).
        for (const more of [ours[i].walk, sorted(plain.stdout)]) {
          const all = new Set(more.split("\n"));
          const extra = ours[i].bitmap.split("\n").filter((o) => o && !all.has(o));
          expect(extra, `seed ${seed} case ${i}: ${c.wants}`).toEqual([]);
        }
      }
    }
  });
});
