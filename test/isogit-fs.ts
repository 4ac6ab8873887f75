// IsoGitFs: the `fs.promises` surface isomorphic-git expects, over DOFS. Tests use it to
// check that a third-party git implementation reads our repositories as git would; no
// production path writes through isomorphic-git, whose loose objects our store does not read.
// DOFS is synchronous; these wrappers only adapt shapes (encodings, Buffers, options).
import { Buffer } from "node:buffer";
import type { Dofs } from "../src/fs/dofs";

type Encoding = { encoding?: string } | string | undefined;

function encodingOf(options: Encoding): string | undefined {
  return typeof options === "string" ? options : options?.encoding;
}

export function createIsoGitFs(dofs: Dofs) {
  const promises = {
    async readFile(path: string, options?: Encoding) {
      const data = dofs.readFile(path);
      const enc = encodingOf(options);
      return enc ? new TextDecoder().decode(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    },
    async writeFile(path: string, data: Uint8Array | string, options?: Encoding | { mode?: number }) {
      const mode = typeof options === "object" && options && "mode" in options ? options.mode : undefined;
      dofs.writeFile(path, data, { mode });
    },
    async unlink(path: string) {
      dofs.unlink(path);
    },
    async readdir(path: string) {
      return dofs.readdir(path);
    },
    async mkdir(path: string, options?: { recursive?: boolean; mode?: number } | number) {
      dofs.mkdir(path, typeof options === "number" ? { mode: options } : (options ?? {}));
    },
    async rmdir(path: string) {
      dofs.rmdir(path);
    },
    async stat(path: string) {
      return dofs.stat(path);
    },
    async lstat(path: string) {
      return dofs.lstat(path);
    },
    async readlink(path: string) {
      return dofs.readlink(path);
    },
    async symlink(target: string, path: string) {
      dofs.symlink(target, path);
    },
    async chmod(path: string, mode: number) {
      dofs.chmod(path, mode);
    },
    async rename(from: string, to: string) {
      dofs.rename(from, to);
    },
  };
  return { promises };
}

export type IsoGitFs = ReturnType<typeof createIsoGitFs>;
