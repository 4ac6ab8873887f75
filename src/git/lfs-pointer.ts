// Git LFS pointer files (git-lfs docs/spec.md): what git stores in place of a large file.
//   version https://git-lfs.github.com/spec/v1
//   oid sha256:<64 hex digits>
//   size <bytes>

export interface LfsPointer {
  oid: string;
  size: number;
}

/** Pointer files are small; anything longer is an ordinary file. */
const MAX_POINTER = 1024;

/** The pointer `text` is, or null when it is an ordinary file. */
export function parseLfsPointer(text: string): LfsPointer | null {
  if (text.length > MAX_POINTER || !text.startsWith("version https://git-lfs.github.com/spec/v1\n")) return null;
  const oid = /^oid sha256:([0-9a-f]{64})$/m.exec(text)?.[1];
  const size = /^size (\d{1,16})$/m.exec(text)?.[1];
  return oid && size ? { oid, size: Number(size) } : null;
}
