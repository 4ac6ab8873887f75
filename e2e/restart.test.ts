// The server restarts in the middle of a clone and of a push (as a deploy restarts every
// object): the git client either completes or fails in its own error form, never hangs
// and never keeps a broken result, and the next attempt succeeds. The server cuts the
// work small (steps of 8 KiB, segments of 4 KiB, indexing slices of 10 objects) so that
// the restart lands between steps.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eAuth, gitAuthEnv } from "./accounts";
import { LocalServer } from "./server";
import { type GitResult, git, gitEnv, gitRun, parseRefs, tempDir } from "./git";

const server = new LocalServer();
const vars = { GITFLARE_SLICE_MIN_BYTES: "1", GITFLARE_SLICE_UNITS: "10", GITFLARE_SEGMENT_BYTES: "4096", GITFLARE_STEP_BYTES: "8192" };

beforeAll(async () => {
  await server.start({ vars });
  await server.signUpAndUse("e2e");
});
afterAll(() => server.stop());

/**
 * Runs git and reports, as it happens, the first line of its progress that matches
 * `when`: the moment the operation is under way on the server.
 */
function gitUntil(cwd: string, args: string[], when: RegExp): { reached: Promise<boolean>; done: Promise<GitResult> } {
  const proc = spawn("git", args, { cwd, env: { ...gitEnv, ...gitAuthEnv(e2eAuth.header) } });
  let stdout = "";
  let stderr = "";
  let reach: (seen: boolean) => void = () => undefined;
  const reached = new Promise<boolean>((resolve) => (reach = resolve));
  proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    if (when.test(stderr)) reach(true);
  });
  const done = new Promise<GitResult>((resolve) =>
    proc.on("close", (code) => {
      reach(false);
      resolve({ code: code ?? 1, stdout, stderr });
    }),
  );
  return { reached, done };
}

/** Stops the server once `reached` (unless the operation ended first), then starts it again. */
async function restartWhen(reached: Promise<boolean>): Promise<boolean> {
  const during = await reached;
  await server.stop();
  await server.start({ vars });
  return during;
}

/** A git failure in git's own words: a fatal or error line, nothing else expected of it. */
function expectGitFailure(r: GitResult) {
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/^(fatal|error): /m);
}

async function expectSoundClone(url: string, source: string) {
  const dir = tempDir();
  const r = await gitRun(dir, ["clone", "-q", url, "c"]);
  expect(r.code, r.stderr).toBe(0);
  const fsck = await gitRun(join(dir, "c"), ["fsck", "--strict"]);
  expect(fsck.code, fsck.stderr).toBe(0);
  const remote = parseRefs(await git(dir, "ls-remote", url));
  remote.delete("HEAD");
  const local = parseRefs(await git(source, "show-ref"));
  expect(Object.fromEntries(remote)).toEqual(Object.fromEntries(local));
}

/** A repository of one commit with `files` files of `bytes` random bytes each. */
async function randomRepo(files: number, bytes: number): Promise<string> {
  const dir = tempDir("gitflare-src-");
  await git(dir, "init", "-q", "-b", "main");
  mkdirSync(join(dir, "d"));
  for (let i = 0; i < files; i++) writeFileSync(join(dir, "d", `f${i}`), randomBytes(bytes).toString("base64"));
  await git(dir, "add", "-A");
  await git(dir, "commit", "-q", "-m", "many files");
  return dir;
}

describe("a server restart", () => {
  it("in the middle of a clone: the clone completes or fails in git's form, and the next one succeeds", async () => {
    const src = await randomRepo(40, 150_000);
    const path = `e2e/restart-clone-${Date.now().toString(36)}`;
    await git(src, "push", "-q", `${server.url}/${path}`, "main");
    for (const protocol of ["2", "0"]) {
      const dir = tempDir();
      // The first progress line comes with the first part of the answer; the pack follows in steps.
      const clone = gitUntil(
        dir,
        ["-c", `protocol.version=${protocol}`, "clone", "--progress", `${server.url}/${path}`, "c"],
        /remote: Enumerating objects/,
      );
      const during = await restartWhen(clone.reached);
      const first = await clone.done;
      if (first.code !== 0) expectGitFailure(first);
      else expect(during, `a clone that completed began before the restart (v${protocol})`).toBe(true);
      await expectSoundClone(`${server.url}/${path}`, src);
    }
  });

  it("in the middle of a sliced push: the push completes or fails in git's form, and the next one succeeds", async () => {
    const src = await randomRepo(3000, 60);
    const path = `e2e/restart-push-${Date.now().toString(36)}`;
    // Created by a first small push, so that the large one below is an update.
    const seedDir = await randomRepo(1, 10);
    await git(seedDir, "push", "-q", `${server.url}/${path}`, "main:refs/heads/seed");
    const push = gitUntil(
      src,
      ["push", "--progress", `${server.url}/${path}`, "main"],
      /remote: (Indexing objects|Resolving deltas): +\d+%/,
    );
    const during = await restartWhen(push.reached);
    expect(during, "the push reached its indexing before the restart").toBe(true);
    const first = await push.done;
    if (first.code !== 0) expectGitFailure(first);
    const again = await gitRun(src, ["push", `${server.url}/${path}`, "main"]);
    expect(again.code, again.stderr).toBe(0);
    await git(src, "fetch", "-q", `${server.url}/${path}`, "refs/heads/seed:refs/heads/seed");
    await expectSoundClone(`${server.url}/${path}`, src);
  });

  it("in the middle of a push body in segments: the push fails in git's form or completes, and the next one succeeds", async () => {
    const src = await randomRepo(20, 100_000);
    const path = `e2e/restart-body-${Date.now().toString(36)}`;
    // A post buffer smaller than the body makes git send it chunked, in segments here.
    const push = gitUntil(
      src,
      ["-c", "http.postBuffer=4096", "push", "--progress", `${server.url}/${path}`, "main"],
      /Writing objects: +\d+%/,
    );
    await restartWhen(push.reached);
    const first = await push.done;
    if (first.code !== 0) expectGitFailure(first);
    const again = await gitRun(src, ["-c", "http.postBuffer=4096", "push", `${server.url}/${path}`, "main"]);
    expect(again.code, again.stderr).toBe(0);
    await expectSoundClone(`${server.url}/${path}`, src);
  });
});
