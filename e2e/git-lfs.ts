// The real git-lfs client for end-to-end tests. Debian's package, when it is not
// installed: `apt-get download` (no root, only Debian's mirror) into a cache under
// node_modules/.cache, unpacked with `dpkg-deb -x`; its usr/bin then goes on PATH.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { delimiter, join } from "node:path";

const CACHE = join(import.meta.dirname, "..", "node_modules", ".cache", "git-lfs");

function works(path: string): boolean {
  try {
    execFileSync("git", ["lfs", "version"], { env: { ...process.env, PATH: path }, stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

/** A PATH under which `git lfs` runs, fetching Debian's git-lfs into the cache if need be. */
export function gitLfsPath(): string {
  const path = process.env.PATH ?? "";
  if (works(path)) return path;
  const bin = join(CACHE, "root", "usr", "bin");
  const withCache = `${bin}${delimiter}${path}`;
  if (existsSync(join(bin, "git-lfs")) && works(withCache)) return withCache;
  mkdirSync(CACHE, { recursive: true });
  if (!readdirSync(CACHE).some((f) => f.endsWith(".deb"))) execFileSync("apt-get", ["download", "git-lfs"], { cwd: CACHE, stdio: "pipe" });
  const deb = readdirSync(CACHE).find((f) => f.endsWith(".deb"));
  if (!deb) throw new Error("apt-get download git-lfs left no package");
  execFileSync("dpkg-deb", ["-x", join(CACHE, deb), join(CACHE, "root")]);
  if (!works(withCache)) throw new Error(`git-lfs from ${deb} does not run`);
  return withCache;
}
