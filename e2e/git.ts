// Runs the real git CLI with an isolated configuration.
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { e2eAuth, gitAuthEnv } from "./accounts";

const home = mkdtempSync(join(tmpdir(), "gitflare-home-"));

export const gitEnv: NodeJS.ProcessEnv = {
  ...process.env,
  HOME: home,
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_TERMINAL_PROMPT: "0",
  GIT_AUTHOR_NAME: "Test Author",
  GIT_AUTHOR_EMAIL: "author@example.com",
  GIT_COMMITTER_NAME: "Test Committer",
  GIT_COMMITTER_EMAIL: "committer@example.com",
  LANG: "C",
  LC_ALL: "C",
};

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs git and returns its output; never throws on a non-zero exit. */
export function gitRun(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<GitResult> {
  return new Promise((resolve) => {
    const auth = e2eAuth.header ? gitAuthEnv(e2eAuth.header) : {};
    execFile("git", args, { cwd, env: { ...gitEnv, ...auth, ...env }, maxBuffer: 512 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === "number" ? code : 1, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Runs git and throws with its stderr on failure. */
export async function git(cwd: string, ...args: string[]): Promise<string> {
  const r = await gitRun(cwd, args);
  if (r.code !== 0) throw new Error(`git ${args.join(" ")} failed (${r.code}):\n${r.stderr}`);
  return r.stdout;
}

export function gitSync(cwd: string, ...args: string[]): string {
  const auth = e2eAuth.header ? gitAuthEnv(e2eAuth.header) : {};
  return execFileSync("git", args, { cwd, env: { ...gitEnv, ...auth }, maxBuffer: 512 * 1024 * 1024 }).toString();
}

export function tempDir(prefix = "gitflare-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A new repository with `commits` commits on main, files edited a little each time. */
export async function makeRepo(commits = 5, branch = "main"): Promise<string> {
  const dir = tempDir("gitflare-src-");
  await git(dir, "init", "-q", "-b", branch);
  for (let i = 0; i < commits; i++) {
    const lines = Array.from({ length: 200 }, (_, j) => `row ${j} ${j % (i + 2) === 0 ? `changed in ${i}` : "same"}`);
    writeFileSync(join(dir, "data.txt"), lines.join("\n") + "\n");
    writeFileSync(join(dir, `file${i % 4}.txt`), `content ${i}\n`.repeat(i + 1));
    await git(dir, "add", "-A");
    await git(dir, "commit", "-q", "-m", `commit ${i}`);
  }
  return dir;
}

export async function commitFile(dir: string, name: string, content: string, message = `edit ${name}`): Promise<string> {
  writeFileSync(join(dir, name), content);
  await git(dir, "add", "-A");
  await git(dir, "commit", "-q", "-m", message);
  return (await git(dir, "rev-parse", "HEAD")).trim();
}

/** `git show-ref` as a map, optionally of a remote via ls-remote. */
export function parseRefs(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const [oid, name] = line.split(/\s+/);
    if (oid && name) m.set(name, oid);
  }
  return m;
}

/**
 * A repository whose commits are a day apart (for --shallow-since), with a file that
 * grows by a few lines per commit (so deltas form) and a tag every ten commits.
 */
export async function makeDatedRepo(commits: number): Promise<string> {
  const dir = tempDir("gitflare-dated-");
  await git(dir, "init", "-q", "-b", "main");
  const lines: string[] = [];
  for (let i = 0; i < commits; i++) {
    const date = new Date(Date.UTC(2020, 0, 1 + i)).toISOString();
    lines.push(`line ${i}: ${"text ".repeat(8)}`);
    writeFileSync(join(dir, "log.txt"), lines.join("\n") + "\n");
    writeFileSync(join(dir, `f${i % 5}.txt`), `version ${i}\n`);
    await git(dir, "add", "-A");
    await gitRun(dir, ["commit", "-q", "-m", `day ${i}`], { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date });
    if (i % 10 === 9) await gitRun(dir, ["tag", "-a", `t${i}`, "-m", `tag ${i}`], { GIT_COMMITTER_DATE: date });
  }
  return dir;
}
