// What held when the server was attacked (issue 12), kept so that it cannot silently
// regress: a server killed (SIGKILL, the whole process group) at chosen points of pushes
// into existing repositories and of clones leaves every ref entirely old or entirely new,
// a fresh clone passes `git fsck --strict`, and the next push and clone succeed; racing
// pushes to one branch have exactly one winner. The kill moments are chosen by the bytes
// a relay (./relay.ts) has let through, not by sleeps. e2e/robustness.test.ts kills a
// push that creates its repository.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Relay, type RelayOptions } from "./relay";
import { LocalServer } from "./server";
import { type GitResult, commitFile, git, gitRun, makeRepo, parseRefs, tempDir } from "./git";

// Push bodies in 4 KiB segments, packs over 64 KiB indexed ten objects a slice, clone
// answers 8 KiB a step: a modest push or clone is many steps, each a point to die at.
const server = new LocalServer();
const VARS = {
  GITFLARE_SEGMENT_BYTES: "4096",
  GITFLARE_SLICE_MIN_BYTES: String(64 * 1024),
  GITFLARE_SLICE_UNITS: "10",
  GITFLARE_STEP_BYTES: "8192",
};
let seq = 0;
const repoPath = (label: string) => `e2e/${label}-${Date.now().toString(36)}-${seq++}`;

beforeAll(async () => {
  await server.start({ vars: VARS });
  await server.signUpAndUse("e2e");
}, 180_000);
afterAll(() => server.stop());

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/**
 * SIGKILL to the whole server (npm, wrangler, workerd), as a crash would stop it, then a
 * start on the same state. The relays are closed in between: a connection they hold is
 * not read, so it would not see the server go.
 */
async function killAndRestart(relays: Relay[]): Promise<void> {
  const group = server.processGroup!;
  process.kill(-group, "SIGKILL");
  await until("the server to die", () => {
    try {
      process.kill(-group, 0);
      return undefined;
    } catch {
      return true;
    }
  });
  await Promise.all(relays.map((r) => r.close()));
  await server.start({ vars: VARS });
}

/** `git ls-remote` as a map of ref to id. */
async function remoteRefs(url: string): Promise<Record<string, string>> {
  return Object.fromEntries(parseRefs(await git(tempDir(), "ls-remote", url)));
}

/** A bare copy of every ref, which must pass `git fsck --strict`. */
async function cloneAndCheck(url: string): Promise<void> {
  const dir = tempDir();
  await git(dir, "clone", "-q", "--mirror", url, "m.git");
  const fsck = await gitRun(join(dir, "m.git"), ["fsck", "--strict"]);
  expect(fsck.code, `${url}: ${fsck.stderr}`).toBe(0);
}

/**
 * A source repository and a later version of it: the later one adds forty commits with
 * incompressible content (a pack of some 600 KB, many objects), a branch and an annotated
 * tag, and deletes a branch. Pushing from `later` changes four refs at once.
 */
async function histories(): Promise<{ early: string; later: string; push: string[] }> {
  const early = await makeRepo(3);
  await git(early, "branch", "old");
  await git(early, "tag", "-a", "v1", "-m", "one");
  const later = tempDir("gitflare-later-");
  await git(later, "clone", "-q", early, ".");
  mkdirSync(join(later, "blobs"));
  for (let i = 0; i < 40; i++) {
    writeFileSync(join(later, "blobs", `b${i}.bin`), randomBytes(15_000));
    await git(later, "add", "-A");
    await git(later, "commit", "-q", "-m", `later ${i}`);
    if (i === 20) await git(later, "branch", "topic");
  }
  await git(later, "tag", "-a", "v2", "-m", "two");
  return { early, later, push: ["HEAD:refs/heads/main", "topic:refs/heads/topic", "v2", ":refs/heads/old"] };
}

let h: Awaited<ReturnType<typeof histories>>;
let oldRefs: Record<string, string>;
let newRefs: Record<string, string>;

/** A repository on the server holding the early history. */
async function seeded(label: string): Promise<string> {
  const path = repoPath(label);
  await git(h.early, "push", "-q", `${server.url}/${path}.git`, "main", "old", "v1");
  return path;
}

/** The later history pushed through `url` (a relay's or the server's), with progress. */
function pushLater(url: string): Promise<GitResult> {
  return gitRun(h.later, ["push", "--progress", url, ...h.push]);
}

/** After a crash: the refs are `allowed`, a copy passes fsck, and pushing and cloning work. */
async function recovered(path: string, allowed: ("old" | "new")[]): Promise<void> {
  const url = `${server.url}/${path}.git`;
  const refs = await remoteRefs(url);
  const state = JSON.stringify(refs) === JSON.stringify(oldRefs) ? "old" : JSON.stringify(refs) === JSON.stringify(newRefs) ? "new" : null;
  expect(state, `${path}: ${JSON.stringify(refs)}`).not.toBeNull();
  expect(allowed, path).toContain(state);
  await cloneAndCheck(url);
  // The push that died, again (unless it had landed), then one more commit on top.
  if (state === "old") {
    const again = await pushLater(url);
    expect(again.code, again.stderr).toBe(0);
  }
  expect(await remoteRefs(url)).toEqual(newRefs);
  const work = tempDir();
  await git(work, "clone", "-q", url, "w");
  const tip = await commitFile(join(work, "w"), "after.txt", `after the crash ${path}\n`);
  await git(join(work, "w"), "push", "-q", "origin", "main");
  expect((await remoteRefs(url))["refs/heads/main"]).toBe(tip);
  await cloneAndCheck(url);
}

describe("a server killed in the middle of pushes and clones", () => {
  beforeAll(async () => {
    h = await histories();
    // The two states every ref set must be in, from a repository the crashes do not touch.
    const control = await seeded("control");
    oldRefs = await remoteRefs(`${server.url}/${control}.git`);
    const pushed = await pushLater(`${server.url}/${control}.git`);
    expect(pushed.code, pushed.stderr).toBe(0);
    newRefs = await remoteRefs(`${server.url}/${control}.git`);
    expect(Object.keys(newRefs)).toContain("refs/tags/v2");
    expect(Object.keys(newRefs)).not.toContain("refs/heads/old");
  }, 180_000);

  it("leaves refs old or new, and whole, when it dies mid-body, mid-index or mid-clone", { timeout: 300_000 }, async () => {
    const relays: Relay[] = [];
    const through = async (options: RelayOptions) => {
      const r = await Relay.start(server.port, options);
      relays.push(r);
      return r;
    };
    try {
      // Pushes whose bodies stop: after the commands and a little of the pack, halfway,
      // and short of the last bytes of the pack's checksum. git sends a body of this size
      // with its length, which the relay reads before choosing where to stop; and one sent
      // chunked, without a length (as git sends a body past its http.postBuffer).
      const cuts: string[] = [];
      const pushes: Promise<GitResult>[] = [];
      for (const [label, at, options] of [
        ["cut-early", () => 1024, []],
        ["cut-half", (n: number | null) => Math.floor(n! / 2), []],
        ["cut-trailer", (n: number | null) => n! - 8, []],
        ["cut-chunked", () => 200_000, ["-c", "http.postBuffer=65536"]],
      ] as const) {
        const path = await seeded(label);
        const relay = await through({ service: "/git-receive-pack", holdBodyAt: at });
        cuts.push(path);
        pushes.push(gitRun(h.later, [...options, "push", "--progress", `${relay.url}/${path}.git`, ...h.push]));
      }
      // Clones stopped after their first part, and some way into the pack.
      const clones: { path: string; done: Promise<GitResult> }[] = [];
      const big = await seeded("clone-src");
      const bigPushed = await pushLater(`${server.url}/${big}.git`);
      expect(bigPushed.code, bigPushed.stderr).toBe(0);
      for (const [protocol, at] of [
        ["2", 2048],
        ["0", 128 * 1024],
      ] as const) {
        const relay = await through({ service: "/git-upload-pack", holdResponseAt: at });
        clones.push({
          path: big,
          done: gitRun(tempDir(), ["-c", `protocol.version=${protocol}`, "clone", "-q", `${relay.url}/${big}.git`, "c"]),
        });
      }
      await Promise.all(relays.map((r) => r.held));
      expect(relays.slice(0, cuts.length).map((r) => r.bodyLength! > 300_000)).toEqual([true, true, true, false]);
      expect(relays[cuts.length - 1].bodyLength).toBeNull();

      // A push killed while its pack is being indexed, slice by slice: when its first
      // progress line reaches the client.
      const indexed = await seeded("mid-index");
      const indexing = await through({ service: "/git-receive-pack", watch: (text) => /Indexing objects|Resolving deltas/.test(text) });
      const indexPush = pushLater(`${indexing.url}/${indexed}.git`);
      await indexing.seen;

      await killAndRestart(relays);
      for (const r of [...(await Promise.all(pushes)), await indexPush, ...(await Promise.all(clones.map((c) => c.done)))])
        expect(r.code).not.toBe(0);
      await Promise.all([
        ...cuts.map((path) => recovered(path, ["old"])),
        recovered(indexed, ["old", "new"]),
        (async () => {
          expect(await remoteRefs(`${server.url}/${big}.git`)).toEqual(newRefs);
          await cloneAndCheck(`${server.url}/${big}.git`);
        })(),
      ]);
    } finally {
      await Promise.all(relays.map((r) => r.close()));
    }
  });

  it("keeps a push whose answer went out, when it dies right after", { timeout: 300_000 }, async () => {
    const path = await seeded("answered");
    // The report is the last thing in the answer: kill as soon as it has passed.
    const relay = await Relay.start(server.port, { service: "/git-receive-pack", watch: (text) => /unpack ok[\s\S]*0000/.test(text) });
    try {
      const push = pushLater(`${relay.url}/${path}.git`);
      await relay.seen;
      await killAndRestart([relay]);
      await push;
      await recovered(path, ["new"]);
    } finally {
      await relay.close();
    }
  });
});

describe("racing pushes", () => {
  it("has exactly one winner per round among eight clients pushing to one branch", { timeout: 300_000 }, async () => {
    const CLIENTS = 8;
    const ROUNDS = 5;
    const src = await makeRepo(2);
    const url = `${server.url}/${repoPath("race")}.git`;
    await git(src, "push", "-q", url, "main");
    const dir = tempDir();
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        await git(dir, "clone", "-q", url, `c${i}`);
        return join(dir, `c${i}`);
      }),
    );
    for (let round = 0; round < ROUNDS; round++) {
      // Every client starts from the branch as it is now, and commits something of its own;
      // in odd rounds a pack large enough to be indexed in slices.
      const commits = await Promise.all(
        clients.map(async (c, i) => {
          await git(c, "fetch", "-q", "origin");
          await git(c, "reset", "-q", "--hard", "origin/main");
          if (round % 2) writeFileSync(join(c, `noise${i}.bin`), randomBytes(80_000));
          return commitFile(c, `client${i}.txt`, `round ${round} client ${i}\n`);
        }),
      );
      const results = await Promise.all(clients.map((c) => gitRun(c, ["push", "origin", "main"])));
      const winners = results.flatMap((r, i) => (r.code === 0 ? [i] : []));
      expect(winners, `round ${round}: ${results.map((r) => r.stderr).join("\n")}`).toHaveLength(1);
      for (const r of results.filter((r) => r.code !== 0))
        expect(r.stderr).toMatch(/\[rejected\]|fetch first|failed to lock|stale info|failed to update ref|non-fast-forward/);
      expect((await remoteRefs(url))["refs/heads/main"]).toBe(commits[winners[0]]);
    }
    await cloneAndCheck(url);
  });
});
