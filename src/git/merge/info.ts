// merge-ort's per-path records (merged_info and conflict_info in one shape) and the state
// one tree merge carries between its phases.
import type { MergeStore } from "./store";

export interface Version {
  mode: number;
  oid: string;
}

export interface PathInfo {
  /** The directory the path sits in, "" at the top. */
  dirName: string;
  clean: boolean;
  isNull: boolean;
  result: Version;
  /** Whether the path still needs process_entry (conflict_info); false once resolved early. */
  pending: boolean;
  pathnames: [string, string, string];
  stages: [Version, Version, Version];
  filemask: number;
  dirmask: number;
  matchMask: number;
  dfConflict: boolean;
  pathConflict: boolean;
}

/** One side's add or delete of a file, as diffcore sees the trees; renames pair them up. */
export interface FilePair {
  path: string;
  mode: number;
  oid: string;
}

export interface Rename {
  side: 1 | 2;
  src: FilePair;
  dst: FilePair;
}

export interface TreeMergeContext {
  store: MergeStore;
  callDepth: number;
  branch1: string;
  branch2: string;
  paths: Map<string, PathInfo>;
  conflicted: Map<string, PathInfo>;
  deletes: [FilePair[], FilePair[], FilePair[]];
  adds: [FilePair[], FilePair[], FilePair[]];
  relevantSources: [Set<string>, Set<string>, Set<string>];
  dirsRemoved: [Set<string>, Set<string>, Set<string>];
}

export function copyVersion(v: Version): Version {
  return { mode: v.mode, oid: v.oid };
}

export function dirnameOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "" : path.slice(0, slash);
}
