// POSIX-style filesystem errors. isomorphic-git and Node callers branch on `code`,
// so the codes and errno numbers follow Linux.
const ERRNO = {
  ENOENT: -2,
  EEXIST: -17,
  ENOTDIR: -20,
  EISDIR: -21,
  EINVAL: -22,
  ENOSPC: -28,
  ENOTEMPTY: -39,
  ELOOP: -40,
  ESTALE: -116,
} as const;

export type FsErrorCode = keyof typeof ERRNO;

export class FsError extends Error {
  readonly code: FsErrorCode;
  readonly errno: number;
  readonly syscall: string;
  readonly path: string;

  constructor(code: FsErrorCode, syscall: string, path: string, detail?: string) {
    super(`${code}: ${detail ?? describe(code)}, ${syscall} '${path}'`);
    this.name = "FsError";
    this.code = code;
    this.errno = ERRNO[code];
    this.syscall = syscall;
    this.path = path;
  }
}

function describe(code: FsErrorCode): string {
  switch (code) {
    case "ENOENT":
      return "no such file or directory";
    case "EEXIST":
      return "file already exists";
    case "ENOTDIR":
      return "not a directory";
    case "EISDIR":
      return "illegal operation on a directory";
    case "EINVAL":
      return "invalid argument";
    case "ENOSPC":
      return "no space left on device (repository quota exceeded)";
    case "ENOTEMPTY":
      return "directory not empty";
    case "ELOOP":
      return "too many symbolic links encountered";
    case "ESTALE":
      return "stale file handle";
  }
}

export function isFsError(e: unknown, code?: FsErrorCode): e is FsError {
  return e instanceof FsError && (code === undefined || e.code === code);
}
