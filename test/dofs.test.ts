import { describe, expect, it } from "vitest";
import { Dofs } from "../src/fs/dofs";
import { concatBytes } from "../src/util/bytes";
import { FsError } from "../src/fs/errors";
import { createIsoGitFs } from "./isogit-fs";
import { freshRepo, inRepo } from "./helpers";

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof FsError ? e.code : `not an FsError: ${e}`;
  }
  return undefined;
}

const withFs = <T>(fn: (fs: Dofs, state: DurableObjectState) => T, options = {}) =>
  inRepo(freshRepo("dofs"), (_repo, state) => fn(new Dofs(state.storage, { chunkSize: 1000, ...options }), state));

describe("DOFS", () => {
  it("makes, lists and removes directories", () =>
    withFs((fs) => {
      fs.mkdir("/a/b/c", { recursive: true });
      fs.mkdir("/a/x");
      expect(fs.readdir("/a")).toEqual(["b", "x"]);
      expect(fs.stat("/a/b").isDirectory()).toBe(true);
      expect(code(() => fs.mkdir("/a"))).toBe("EEXIST");
      expect(code(() => fs.mkdir("/nope/y"))).toBe("ENOENT");
      expect(code(() => fs.rmdir("/a"))).toBe("ENOTEMPTY");
      fs.rmdir("/a/x");
      expect(fs.readdir("/a")).toEqual(["b"]);
      expect(code(() => fs.readdir("/missing"))).toBe("ENOENT");
    }));

  it("writes and reads files, with POSIX errors", () =>
    withFs((fs) => {
      fs.writeFile("/f", "hello");
      expect(new TextDecoder().decode(fs.readFile("/f"))).toBe("hello");
      expect(fs.stat("/f").size).toBe(5);
      expect(fs.stat("/f").isFile()).toBe(true);
      expect(code(() => fs.readFile("/missing"))).toBe("ENOENT");
      expect(code(() => fs.writeFile("/f/g", "x"))).toBe("ENOTDIR");
      expect(code(() => fs.readdir("/f"))).toBe("ENOTDIR");
      fs.mkdir("/d");
      expect(code(() => fs.readFile("/d"))).toBe("EISDIR");
      expect(code(() => fs.unlink("/d"))).toBe("EISDIR");
      fs.unlink("/f");
      expect(fs.exists("/f")).toBe(false);
      expect(code(() => fs.unlink("/f"))).toBe("ENOENT");
    }));

  it("stores files across many chunks and reads ranges across chunk boundaries", () =>
    withFs((fs, state) => {
      const data = bytes(10_500);
      fs.writeFile("/big", data);
      const chunks = state.storage.sql
        .exec<{ n: number }>("SELECT count(*) AS n FROM dofs_chunk c JOIN dofs_node n ON n.ino = c.ino WHERE n.path = '/big'")
        .one().n;
      expect(chunks).toBe(11);
      expect(fs.readFile("/big")).toEqual(data);
      for (const [off, len] of [
        [0, 1],
        [999, 2],
        [995, 1010],
        [1000, 1000],
        [2500, 5000],
        [10_400, 500],
        [10_499, 1],
        [10_500, 10],
      ]) {
        expect(fs.read("/big", off, len)).toEqual(data.subarray(off, Math.min(off + len, data.length)));
      }
      // Overwrite in the middle, across a boundary, and grow past the end.
      const patch = bytes(300, 7);
      fs.writeAt("/big", 900, patch);
      const expected = data.slice();
      expected.set(patch, 900);
      expect(fs.readFile("/big")).toEqual(expected);
      fs.writeAt("/big", 12_000, patch);
      expect(fs.stat("/big").size).toBe(12_300);
      expect(fs.read("/big", 10_500, 1500)).toEqual(new Uint8Array(1500));
      fs.truncate("/big", 1500);
      expect(fs.readFile("/big")).toEqual(expected.subarray(0, 1500));
    }));

  it("reads a range as its chunks' parts, and appends whole chunks uncached, as one read joined", () =>
    withFs(async (fs) => {
      const data = bytes(10_500, 5);
      // Appended in pieces that start inside a chunk, cover several whole ones, and end inside one.
      fs.writeFile("/answer", new Uint8Array(0));
      for (const [from, to] of [
        [0, 10],
        [10, 3_700],
        [3_700, 4_000],
        [4_000, 10_500],
      ])
        fs.append("/answer", data.subarray(from, to), { cache: false });
      expect(fs.readFile("/answer")).toEqual(data);
      // A hole past the end reads as zeros, in parts too.
      fs.writeAt("/answer", 13_000, bytes(100, 9));
      const whole = fs.readFile("/answer");
      for (const [off, len] of [
        [0, 13_100],
        [999, 2],
        [995, 1010],
        [10_400, 2_000],
        [12_950, 100],
        [13_099, 5],
        [13_100, 5],
      ]) {
        const parts = await fs.readOnceParts("/answer", off, len);
        expect(concatBytes(parts), `${off}+${len}`).toEqual(whole.subarray(off, Math.min(off + len, whole.length)));
      }
    }));

  it("streams writes a chunk at a time", () =>
    withFs((fs) => {
      const data = bytes(5_555, 3);
      const w = fs.createWriter("/stream");
      for (let off = 0; off < data.length; off += 333) w.write(data.subarray(off, off + 333));
      w.close();
      expect(fs.readFile("/stream")).toEqual(data);
      expect(w.bytesWritten).toBe(5_555);
    }));

  it("renames files and directories, replacing files", () =>
    withFs((fs) => {
      fs.mkdir("/d/sub", { recursive: true });
      fs.writeFile("/d/sub/f", "one");
      fs.writeFile("/g", "two");
      fs.rename("/d", "/e");
      expect(fs.readdir("/e/sub")).toEqual(["f"]);
      expect(new TextDecoder().decode(fs.readFile("/e/sub/f"))).toBe("one");
      expect(fs.exists("/d/sub/f")).toBe(false);
      fs.rename("/g", "/e/sub/f");
      expect(new TextDecoder().decode(fs.readFile("/e/sub/f"))).toBe("two");
      expect(code(() => fs.rename("/e", "/e/sub/inside"))).toBe("EINVAL");
      expect(code(() => fs.rename("/missing", "/x"))).toBe("ENOENT");
    }));

  it("follows symlinks", () =>
    withFs((fs) => {
      fs.mkdir("/real");
      fs.writeFile("/real/file", "data");
      fs.symlink("/real", "/link");
      fs.symlink("file", "/real/rel");
      expect(fs.readlink("/link")).toBe("/real");
      expect(fs.lstat("/link").isSymbolicLink()).toBe(true);
      expect(fs.stat("/link").isDirectory()).toBe(true);
      expect(new TextDecoder().decode(fs.readFile("/link/file"))).toBe("data");
      expect(new TextDecoder().decode(fs.readFile("/real/rel"))).toBe("data");
      fs.symlink("/loop2", "/loop1");
      fs.symlink("/loop1", "/loop2");
      expect(code(() => fs.stat("/loop1"))).toBe("ELOOP");
      expect(code(() => fs.readlink("/real/file"))).toBe("EINVAL");
    }));

  it("enforces its quota with ENOSPC and changes nothing", () =>
    withFs(
      (fs) => {
        fs.writeFile("/a", bytes(3000));
        expect(code(() => fs.writeFile("/b", bytes(2500)))).toBe("ENOSPC");
        expect(fs.exists("/b")).toBe(false);
        expect(fs.usage().usedBytes).toBe(3000);
        fs.unlink("/a");
        expect(fs.usage().usedBytes).toBe(0);
        fs.writeFile("/b", bytes(2500));
      },
      { quotaBytes: 5000 },
    ));

  it("rolls back its in-memory state with the transaction", () =>
    withFs((fs) => {
      fs.writeFile("/keep", "k");
      const before = fs.usage().usedBytes;
      expect(() =>
        fs.transaction(() => {
          fs.writeFile("/gone", bytes(1500));
          throw new Error("abort");
        }),
      ).toThrow("abort");
      expect(fs.exists("/gone")).toBe(false);
      expect(fs.usage().usedBytes).toBe(before);
      fs.writeFile("/next", "n");
      expect(new TextDecoder().decode(fs.readFile("/next"))).toBe("n");
    }));

  it("serves isomorphic-git's fs.promises shape", () =>
    withFs(async (fs) => {
      const iso = createIsoGitFs(fs).promises;
      await iso.mkdir("/x");
      await iso.writeFile("/x/y", "text");
      expect(await iso.readFile("/x/y", "utf8")).toBe("text");
      expect(await iso.readFile("/x/y", { encoding: "utf8" })).toBe("text");
      expect((await iso.readFile("/x/y")) instanceof Uint8Array).toBe(true);
      expect(await iso.readdir("/x")).toEqual(["y"]);
      await expect(iso.readFile("/x/none")).rejects.toMatchObject({ code: "ENOENT" });
    }));
});
