// What the pack code reads from the repository's object store, as interfaces, so that
// the pack formats sit below the store that uses them (the store implements both).

/** Where a stored object's entry lies in which pack. */
export interface ObjectLocation {
  oid: string;
  pack: number;
  offset: number;
  length: number;
  type: number;
  size: number;
  base: string | null;
}

/** Bases for completing a thin pack: whole objects by id. */
export interface BaseSource {
  readObject(oid: string): Promise<{ type: number; data: Uint8Array } | null>;
}

/** What the pack writer needs: stored entries to copy, and whole objects to re-encode. */
export interface PackSource extends BaseSource {
  locate(oid: string): ObjectLocation | null;
  locateMany(oids: string[]): Map<string, ObjectLocation>;
  /** A stored entry's bytes, header included. */
  rawEntry(loc: ObjectLocation): Promise<Uint8Array>;
  /** Up to `length` bytes of a pack from `offset` (fewer at its end). */
  rawSpan(pack: number, offset: number, length: number): Promise<Uint8Array>;
  /** Like `rawSpan`, for reading a pack through once: nothing is cached. */
  packSpan(pack: number, offset: number, length: number): Promise<Uint8Array>;
}
