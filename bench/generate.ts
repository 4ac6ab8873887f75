// A deterministic generator of repositories with realistic history, through
// `git fast-import`: files edited a few lines at a time (so deltas form), new files,
// renames, merges of topic branches, a few large binaries, annotated tags, and
// optionally many extra refs. The same options always give the same repository.
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mulberry32 } from "../src/util/prng";

export interface GenerateOptions {
  commits: number;
  /** Files at the start. */
  files?: number;
  /** One large incompressible binary every N commits (0: none). */
  binaryEvery?: number;
  binaryBytes?: number;
  /** Extra lightweight refs under refs/tags/bench/ (for ls-remote). */
  extraRefs?: number;
  seed?: number;
}

const WORDS =
  "the of and to in is it that for on with as was by this be are from or at an not have which but they one all their has more can will would about there other when into some could them these than then its also after only".split(
    " ",
  );

export async function generateRepo(dir: string, options: GenerateOptions): Promise<void> {
  const rand = mulberry32(options.seed ?? 42);
  const pick = <T>(a: T[]) => a[Math.floor(rand() * a.length)];
  const line = () => Array.from({ length: 4 + Math.floor(rand() * 10) }, () => pick(WORDS)).join(" ");
  execFileSync("git", ["init", "-q", "--bare", dir]);
  const proc = spawn("git", ["fast-import", "--quiet", "--done"], { cwd: dir, stdio: ["pipe", "inherit", "inherit"] });
  const exited = new Promise<number>((resolve) => proc.on("exit", (code) => resolve(code ?? 1)));
  const write = async (chunk: string | Buffer) => {
    if (!proc.stdin.write(chunk)) await new Promise((r) => proc.stdin.once("drain", r));
  };
  const data = async (body: Buffer | string) => {
    const b = typeof body === "string" ? Buffer.from(body) : body;
    await write(`data ${b.length}\n`);
    await write(b);
    await write("\n");
  };

  let mark = 0;
  const files = new Map<string, string[]>();
  const dirs = ["src", "src/lib", "docs", "test", "tools", "src/core", "src/ui"];
  const exts = [".js", ".ts", ".md", ".c", ".h", ".py"];
  const newPath = () => `${pick(dirs)}/${pick(WORDS)}_${files.size}${pick(exts)}`;
  for (let i = 0; i < (options.files ?? 60); i++) {
    files.set(newPath(), Array.from({ length: 40 + Math.floor(rand() * 300) }, line));
  }

  let time = 1_500_000_000;
  let mainTip = 0;
  let topic: { name: string; tip: number } | null = null;
  const commitMarks: number[] = [];

  async function commit(ref: string, parent: number, merge: number | null, changes: string[], message: string): Promise<number> {
    const m = ++mark;
    time += 600 + Math.floor(rand() * 7200);
    await write(`commit ${ref}\nmark :${m}\n`);
    const who = pick(["Ada <ada@example.com>", "Linus <linus@example.com>", "Grace <grace@example.com>"]);
    await write(`author ${who} ${time} +0000\ncommitter ${who} ${time} +0000\n`);
    await data(message);
    if (parent) await write(`from :${parent}\n`);
    if (merge) await write(`merge :${merge}\n`);
    for (const c of changes) await write(c);
    return m;
  }

  async function blob(content: Buffer | string): Promise<number> {
    const m = ++mark;
    await write(`blob\nmark :${m}\n`);
    await data(content);
    return m;
  }

  /**
   * Edits a few lines of one or more files; on main, sometimes adds or renames one.
   * Topic branches only edit, so that every path exists on every branch.
   */
  async function edits(structural: boolean): Promise<string[]> {
    const changes: string[] = [];
    const paths = [...files.keys()];
    const n = 1 + Math.floor(rand() * 3);
    for (let k = 0; k < n; k++) {
      const path = pick(paths);
      const lines = files.get(path)!;
      for (let e = 0; e < 1 + Math.floor(rand() * 4); e++) {
        const at = Math.floor(rand() * lines.length);
        const op = rand();
        if (op < 0.5) lines[at] = line();
        else if (op < 0.8) lines.splice(at, 0, line(), line());
        else if (lines.length > 10) lines.splice(at, 1);
      }
      changes.push(`M 100644 :${await blob(lines.join("\n") + "\n")} ${path}\n`);
    }
    const r = structural ? rand() : 1;
    if (r < 0.05) {
      const path = newPath();
      const lines = Array.from({ length: 20 + Math.floor(rand() * 100) }, line);
      files.set(path, lines);
      changes.push(`M 100644 :${await blob(lines.join("\n") + "\n")} ${path}\n`);
    } else if (r < 0.08 && paths.length > 10) {
      const from = pick(paths);
      if (!changes.some((c) => c.endsWith(` ${from}\n`))) {
        const to = newPath();
        files.set(to, files.get(from)!);
        files.delete(from);
        changes.push(`R ${from} ${to}\n`);
      }
    }
    return changes;
  }

  const initial: string[] = [];
  for (const [path, lines] of files) initial.push(`M 100644 :${await blob(lines.join("\n") + "\n")} ${path}\n`);
  mainTip = await commit("refs/heads/main", 0, null, initial, "Initial commit\n");
  commitMarks.push(mainTip);

  for (let i = 1; i < options.commits; i++) {
    if (topic === null && rand() < 0.04) topic = { name: `refs/heads/topic/${i}`, tip: mainTip };
    const onTopic = topic !== null && rand() < 0.5;
    const changes = await edits(!onTopic);
    if (options.binaryEvery && i % options.binaryEvery === options.binaryEvery - 1) {
      const bytes = Buffer.alloc(options.binaryBytes ?? 1 << 20);
      for (let b = 0; b < bytes.length; b += 4) bytes.writeUInt32LE(Math.floor(rand() * 2 ** 32), b);
      changes.push(`M 100644 :${await blob(bytes)} assets/blob_${i}.bin\n`);
    }
    if (topic && onTopic) {
      topic.tip = await commit(topic.name, topic.tip, null, changes, `topic work ${i}\n\n${line()}\n`);
      if (rand() < 0.15) {
        mainTip = await commit("refs/heads/main", mainTip, topic.tip, [], `Merge ${topic.name}\n`);
        topic = null;
      }
      continue;
    }
    mainTip = await commit("refs/heads/main", mainTip, null, changes, `change ${i}: ${line()}\n\n${line()}\n`);
    commitMarks.push(mainTip);
    if (i % 50 === 49) {
      await write(`tag v${(i + 1) / 50}.0\nfrom :${mainTip}\ntagger Release <rel@example.com> ${time} +0000\n`);
      await data(`release ${(i + 1) / 50}\n`);
    }
  }
  for (let r = 0; r < (options.extraRefs ?? 0); r++) {
    await write(`reset refs/tags/bench/r${String(r).padStart(4, "0")}\nfrom :${commitMarks[Math.floor(rand() * commitMarks.length)]}\n\n`);
  }
  await write("done\n");
  proc.stdin.end();
  const code = await exited;
  if (code !== 0) throw new Error(`git fast-import exited with ${code}`);
  execFileSync("git", ["symbolic-ref", "HEAD", "refs/heads/main"], { cwd: dir });
  execFileSync("git", ["gc", "-q"], { cwd: dir });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir, commits] = process.argv.slice(2);
  await generateRepo(dir, { commits: Number(commits ?? 1000), binaryEvery: 250, extraRefs: 100 });
  console.log(execFileSync("git", ["count-objects", "-vH"], { cwd: dir }).toString());
}
