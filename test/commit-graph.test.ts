// The commit-graph that maintenance writes agrees with C git's, byte for byte, on many
// generated histories (roots, merges, octopus merges, committer times past 2^32), passes
// `git commit-graph verify` and `git fsck --strict` after export, and is dropped when a
// prune removes commits it names. It is written in bounded steps that survive eviction and
// start again when the packs change between them.
import { abortAllDurableObjects, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TREE, fromHex } from "../src/git/object/object";
import { CommitGraph } from "../src/git/pack/commit-graph";
import { COMMIT_GRAPH_PATH } from "../src/git/store/commit-graph";
import { pktLine } from "../src/git/protocol/pkt-line";
import type { Repository } from "../src/repo/repository";
import { concatBytes } from "../src/util/bytes";
import { mulberry32 } from "../src/util/prng";
import { inRepo, ownerFetch, exportAndRun } from "./helpers";
import { buildPack, oidOf } from "./pack-builder";

const ZERO = "0".repeat(40);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: ArrayBuffer | Uint8Array) => new TextDecoder().decode(b);
let n = 0;

interface History {
  commits: { oid: string; parents: string[]; time: number }[];
  tips: string[];
  entries: { type: number; data: Uint8Array }[];
}

/**
 * A random history of `size` commits: mostly one parent, some merges and octopus merges
 * of earlier commits, an occasional new root; times wander, sometimes backwards.
 */
function generate(seed: number, size: number): History {
  const rnd = mulberry32(seed);
  const blob = enc(`seed ${seed}\n`);
  const tree = concatBytes([enc("100644 f\0"), fromHex(oidOf(OBJ_BLOB, blob))]);
  const treeOid = oidOf(OBJ_TREE, tree);
  const entries = [
    { type: OBJ_BLOB, data: blob },
    { type: OBJ_TREE, data: tree },
  ];
  const commits: History["commits"] = [];
  const children = new Map<string, number>();
  // Some histories start past 2^32 seconds, where the time's top bits share a word with the level.
  let time = rnd() < 0.3 ? 2 ** 32 + Math.floor(rnd() * 1e6) : 1_600_000_000 + Math.floor(rnd() * 1e6);
  for (let i = 0; i < size; i++) {
    const roll = rnd();
    const count = i === 0 || roll < 0.03 ? 0 : roll < 0.75 ? 1 : roll < 0.93 ? 2 : 3 + Math.floor(rnd() * 3);
    const parents = new Set<string>();
    // The first parent is usually the newest commit, as on a branch; the others anywhere.
    if (count > 0) parents.add(commits[rnd() < 0.7 ? i - 1 : Math.floor(rnd() * i)].oid);
    while (parents.size < Math.min(count, i)) parents.add(commits[Math.floor(rnd() * i)].oid);
    time += Math.floor(rnd() * 5000) - 1000;
    const body = `tree ${treeOid}\n${[...parents].map((p) => `parent ${p}\n`).join("")}author A <a@b> ${time} +0000\ncommitter C <c@d> ${time} +0000\n\nc${i}\n`;
    const data = enc(body);
    const oid = oidOf(OBJ_COMMIT, data);
    entries.push({ type: OBJ_COMMIT, data });
    commits.push({ oid, parents: [...parents], time });
    for (const p of parents) children.set(p, (children.get(p) ?? 0) + 1);
    // The last commit merges every commit still without children: one branch reaches all.
    if (i === size - 2) {
      const tips = commits.filter((c) => !children.has(c.oid)).map((c) => c.oid);
      if (tips.length > 1) {
        const merge = enc(
          `tree ${treeOid}\n${tips.map((p) => `parent ${p}\n`).join("")}author A <a@b> ${time} +0000\ncommitter C <c@d> ${time} +0000\n\nmerge\n`,
        );
        const moid = oidOf(OBJ_COMMIT, merge);
        entries.push({ type: OBJ_COMMIT, data: merge });
        commits.push({ oid: moid, parents: tips, time });
        for (const p of tips) children.set(p, 1);
        break;
      }
    }
  }
  return { commits, entries, tips: commits.filter((c) => !children.has(c.oid)).map((c) => c.oid) };
}

/** Pushes a history in one pack, a branch for each commit without children. */
async function pushHistory(h: History): Promise<{ url: string; stub: DurableObjectStub<Repository> }> {
  const name = `graph/g${Date.now().toString(36)}${n++}`;
  const url = `http://gitflare.test/${name}`;
  const commands = h.tips.map((tip, i) => pktLine(`${ZERO} ${tip} refs/heads/b${i}${i === 0 ? "\0report-status" : ""}\n`));
  expect(commands.length).toBe(1);
  const res = await ownerFetch(`${url}/git-receive-pack`, {
    method: "POST",
    headers: { "Content-Type": "application/x-git-receive-pack-request" },
    body: concatBytes([...commands, enc("0000"), buildPack(h.entries)]),
  });
  expect(dec(await res.arrayBuffer())).toContain("unpack ok");
  return { url, stub: env.REPO.getByName(name) };
}

async function quiesce(stub: DurableObjectStub<Repository>): Promise<number> {
  let graphed = 0;
  for (let i = 0; i < 50; i++) {
    const r = await stub.maintenanceSlice();
    graphed = Math.max(graphed, r.graphed);
    if (!r.more) return graphed;
  }
  throw new Error("maintenance did not come to rest");
}

describe("commit-graph", () => {
  it("agrees with C git's byte for byte on generated histories, and passes verify and fsck", async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const h = generate(seed, 20 + ((seed * 37) % 260));
      const { url, stub } = await pushHistory(h);
      expect(await quiesce(stub)).toBe(h.commits.length);
      const runs = await exportAndRun(url, [
        ["commit-graph", "verify"],
        ["fsck", "--strict", "--no-progress"],
        ["hash-object", "objects/info/commit-graph"],
        ["-c", "commitGraph.generationVersion=1", "commit-graph", "write", "--reachable", "--no-progress"],
        ["hash-object", "objects/info/commit-graph"],
      ]);
      for (const r of runs) expect(r.stderr + r.stdout, `seed ${seed}`).not.toMatch(/error|fatal|warning/i);
      expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0, 0]);
      expect(runs[2].stdout, `seed ${seed}`).toBe(runs[4].stdout);

      // Our reader gives back what was written.
      const graph = await inRepo(stub, (repo) => new CommitGraph(repo.fs.readFile(COMMIT_GRAPH_PATH)));
      expect(graph.count).toBe(h.commits.length);
      for (const c of h.commits.slice(0, 40)) {
        const e = graph.entry(graph.position(c.oid));
        expect(e.parents).toEqual(c.parents);
        expect(e.time).toBe(c.time);
      }
    }
  });

  it("is written in steps that resume after eviction, and starts again when a push lands between them", async () => {
    const h = generate(7, 150);
    const { url } = await pushHistory(h);
    const name = url.slice("http://gitflare.test/".length);
    // 5 objects a slice: 20 commit rows a step, so the graph takes 8 read steps and a write.
    const small = { sliceObjects: 5, tierMinBytes: Number.MAX_SAFE_INTEGER, serveCopyMinBytes: 0 };
    const slice = async () => {
      const r = await env.REPO.getByName(name).maintenanceSlice(small);
      // Evicted after every slice: whatever a step keeps in memory is lost.
      await abortAllDurableObjects().catch(() => undefined);
      return r;
    };
    let slices = 0;
    let graphed = 0;
    while (!graphed && slices < 100) {
      graphed = (await slice()).graphed;
      slices++;
    }
    expect(graphed).toBe(h.commits.length);
    expect(slices).toBe(Math.ceil(h.commits.length / 20) + 1);

    const push = async (more: History, ref: string) => {
      const res = await ownerFetch(`${url}/git-receive-pack`, {
        method: "POST",
        headers: { "Content-Type": "application/x-git-receive-pack-request" },
        body: concatBytes([pktLine(`${ZERO} ${more.tips[0]} ${ref}\0report-status\n`), enc("0000"), buildPack(more.entries)]),
      });
      expect(dec(await res.arrayBuffer())).toContain(`ok ${ref}`);
    };
    const jobRead = () =>
      inRepo(
        env.REPO.getByName(name),
        (_repo, state) => state.storage.sql.exec<{ after: string }>("SELECT after FROM git_commit_graph_job").toArray()[0]?.after ?? "",
      );
    // Another push, and maintenance until the graph job has read part of the commits...
    const more = generate(8, 40);
    await push(more, "refs/heads/more");
    for (let i = 0; i < 100 && !(await jobRead()); i++) expect((await slice()).graphed).toBe(0);
    expect(await jobRead()).not.toBe("");
    // ...then a third push: the packs change under the job, which starts again.
    const later = generate(9, 40);
    await push(later, "refs/heads/later");
    graphed = 0;
    for (let i = 0; i < 100 && !graphed; i++) graphed = (await slice()).graphed;
    expect(graphed).toBe(h.commits.length + more.commits.length + later.commits.length);
    const runs = await exportAndRun(url, [
      ["commit-graph", "verify"],
      ["fsck", "--strict", "--no-progress"],
      ["hash-object", "objects/info/commit-graph"],
      ["-c", "commitGraph.generationVersion=1", "commit-graph", "write", "--reachable", "--no-progress"],
      ["hash-object", "objects/info/commit-graph"],
    ]);
    for (const r of runs) expect(r.stderr + r.stdout).not.toMatch(/error|fatal|warning/i);
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0, 0]);
    expect(runs[2].stdout).toBe(runs[4].stdout);
  });

  it("is rewritten after a push and dropped by a prune that removes commits it names", async () => {
    const h = generate(99, 50);
    const { url, stub } = await pushHistory(h);
    expect(await quiesce(stub)).toBe(50);

    // Another push: the packs change, so the next maintenance writes the graph anew.
    const more = generate(100, 10);
    const res = await ownerFetch(`${url}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request" },
      body: concatBytes([pktLine(`${ZERO} ${more.tips[0]} refs/heads/extra\0report-status\n`), enc("0000"), buildPack(more.entries)]),
    });
    expect(dec(await res.arrayBuffer())).toContain("ok refs/heads/extra");
    expect((await stub.storage()).pending).toBe(true);
    expect(await quiesce(stub)).toBe(60);

    // Dropping the branch, then a push so that compaction has packs to merge: the full
    // repack prunes (no grace) the dropped commits. The graph goes with them in the same
    // transaction, and is written again without them.
    const later = generate(101, 80);
    const drop = await ownerFetch(`${url}/git-receive-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-receive-pack-request" },
      body: concatBytes([
        pktLine(`${more.tips[0]} ${ZERO} refs/heads/extra\0report-status delete-refs\n`),
        pktLine(`${ZERO} ${later.tips[0]} refs/heads/later\n`),
        enc("0000"),
        buildPack(later.entries),
      ]),
    });
    expect(dec(await drop.arrayBuffer())).toContain("ok refs/heads/later");
    let graphed = 0;
    for (let i = 0; i < 50; i++) {
      const r = await stub.maintenanceSlice({ graceMs: 0 }, Date.now() + 1000);
      graphed = Math.max(graphed, r.graphed);
      if (!r.more) break;
    }
    expect(graphed).toBe(50 + later.commits.length);
    const runs = await exportAndRun(url, [
      ["commit-graph", "verify"],
      ["fsck", "--strict", "--no-progress"],
    ]);
    expect(runs.map((r) => r.code)).toEqual([0, 0]);
  });
});
