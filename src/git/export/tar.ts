// A ustar writer for exporting the bare repository, so C git can read it as files.
// It yields one header or one file block at a time: memory stays at a block.
import type { Dofs } from "../../fs/dofs";

export const BLOCK = 512;
const encoder = new TextEncoder();

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

export function tarHeader(name: string, size: number, mode: number, mtime: number, type: "0" | "2" | "5", link = ""): Uint8Array {
  const h = new Uint8Array(BLOCK);
  let prefix = "";
  let base = name;
  if (encoder.encode(name).length > 100) {
    // ustar splits long names at a slash into prefix (155) and name (100).
    const cut = name.lastIndexOf("/", 155);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
    if (cut < 0 || encoder.encode(base).length > 100) throw new Error(`path too long for tar: ${name}`);
  }
  const put = (s: string, at: number, len: number) => h.set(encoder.encode(s).subarray(0, len), at);
  put(base, 0, 100);
  put(octal(mode & 0o7777, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(Math.floor(mtime / 1000), 12), 136, 12);
  put("        ", 148, 8);
  put(type, 156, 1);
  put(link, 157, 100);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  put(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  return h;
}

/** The DOFS tree under `root` names, skipping paths for which `skip` is true. */
export async function* tarDofs(fs: Dofs, root: string, skip: (path: string) => boolean): AsyncGenerator<Uint8Array> {
  const chunk = 256 * 1024;
  for (const { path, stats, target } of fs.walk()) {
    if (path === "/" || skip(path)) continue;
    const name = `${root}${path}`;
    if (stats.isDirectory()) {
      yield tarHeader(name + "/", 0, stats.mode, stats.mtimeMs, "5");
    } else if (stats.isSymbolicLink()) {
      yield tarHeader(name, 0, stats.mode, stats.mtimeMs, "2", target ?? "");
    } else {
      yield tarHeader(name, stats.size, stats.mode, stats.mtimeMs, "0");
      for (let off = 0; off < stats.size; off += chunk) yield await fs.readAsync(path, off, Math.min(chunk, stats.size - off));
      const pad = (BLOCK - (stats.size % BLOCK)) % BLOCK;
      if (pad) yield new Uint8Array(pad);
    }
  }
  yield new Uint8Array(BLOCK * 2);
}
