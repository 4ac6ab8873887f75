// A deterministic generator of repositories with realistic history, through
// `git fast-import`: files edited a few lines at a time (so deltas form), new files,
// renames, merges of topic branches, a few large binaries, annotated tags, and
// optionally many extra refs. The same options always give the same repository.
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mulberry32 } from "../src/util/prng";

const WORDS =
  "the of and to in is it that for on with as was by this be are from or at an not have which but they one all their has more can will would about there other when into some could them these than then its also after only".split(
    " ",
  );

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
  /** Directories files live in (default: seven shallow ones). */
  dirs?: string[];
  /** Lines of a file at the start: at least `min`, fewer than `min + spread`. */
  fileLines?: { min: number; spread: number };
  /** Files edited by one commit: 1 to this many (default 3). */
  maxEdits?: number;
  /** Chance that a topic branch starts at a commit on main (default 0.04). */
  topicChance?: number;
  /** An annotated tag every N commits (default 50). */
  tagEvery?: number;
}

/**
 * Presets shaped like real repositories. `large` is issue 15's: about 72k commits and
 * 440k objects, trees the most numerous kind (as in any big real history), because a
 * commit editing a file three directories down writes four trees; about 5k files in
 * about 200 nested directories at the tip, and about 1,000 refs.
 */
export const PRESETS: Record<string, GenerateOptions> = {
  large: {
    commits: 72_000,
    files: 1500,
    dirs: nestedDirs(["src", "lib", "docs", "test", "tools", "drivers", "net", "ui"], [4, 5]),
    fileLines: { min: 8, spread: 40 },
    maxEdits: 1,
    topicChance: 0.008,
    tagEvery: 250,
    extraRefs: 180,
  },
};

/** Directories nested under each top one, `fanout[d]` children at depth d; all of them. */
function nestedDirs(top: string[], fanout: number[]): string[] {
  const out: string[] = [];
  const grow = (dir: string, depth: number) => {
    out.push(dir);
    for (let i = 0; i < (fanout[depth] ?? 0); i++) grow(`${dir}/${WORDS[(depth * 7 + i * 3) % WORDS.length]}${i}`, depth + 1);
  };
  for (const t of top) grow(t, 0);
  return out;
}

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
  // The keys of \`files\` in insertion order, kept beside it: copying them per commit
  // costs minutes at 75k commits.
  const paths: string[] = [];
  const dirs = options.dirs ?? ["src", "src/lib", "docs", "test", "tools", "src/core", "src/ui"];
  const fileLines = options.fileLines ?? { min: 40, spread: 300 };
  const exts = [".js", ".ts", ".md", ".c", ".h", ".py"];
  const newPath = () => `${pick(dirs)}/${pick(WORDS)}_${files.size}${pick(exts)}`;
  const addFile = (path: string, lines: string[]) => {
    files.set(path, lines);
    paths.push(path);
  };
  for (let i = 0; i < (options.files ?? 60); i++) {
    addFile(newPath(), Array.from({ length: fileLines.min + Math.floor(rand() * fileLines.spread) }, line));
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
    const n = 1 + Math.floor(rand() * (options.maxEdits ?? 3));
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
      addFile(path, lines);
      changes.push(`M 100644 :${await blob(lines.join("\n") + "\n")} ${path}\n`);
    } else if (r < 0.08 && paths.length > 10) {
      const from = pick(paths);
      if (!changes.some((c) => c.endsWith(` ${from}\n`))) {
        const to = newPath();
        addFile(to, files.get(from)!);
        files.delete(from);
        paths.splice(paths.indexOf(from), 1);
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
    if (topic === null && rand() < (options.topicChance ?? 0.04)) topic = { name: `refs/heads/topic/${i}`, tip: mainTip };
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
    const tagEvery = options.tagEvery ?? 50;
    if (i % tagEvery === tagEvery - 1) {
      await write(`tag v${(i + 1) / tagEvery}.0\nfrom :${mainTip}\ntagger Release <rel@example.com> ${time} +0000\n`);
      await data(`release ${(i + 1) / tagEvery}\n`);
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
  // tsx bench/generate.ts DIR [COMMITS | PRESET]
  const [dir, what] = process.argv.slice(2);
  const started = performance.now();
  await generateRepo(dir, PRESETS[what] ?? { commits: Number(what ?? 1000), binaryEvery: 250, extraRefs: 100 });
  console.log(`generated in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(execFileSync("git", ["count-objects", "-vH"], { cwd: dir }).toString());
}
