// The contract between the Worker and a Repository object for git over HTTP.
//
// One style: RPC. The Worker owns HTTP (routes, the access check, content types,
// decoding the body, status codes and headers); the object owns the repository and
// answers each call with a tagged result, never an HTTP response and never a thrown
// error for bad input. Request bodies and large answers cross as ReadableStreams inside
// RPC calls, so nothing is buffered whole on either side. There is no `fetch` handler on
// the object and no internal header.
//
// Work too large for one invocation is a *job* the object holds between calls, and
// each call that advances it is a *step*, with its own CPU budget:
// - a clone or fetch answer: `uploadPack` gives the first part, `uploadStep` the rest
//   (a clone whose stored pack is in R2 is planned in one call and sent by the Worker);
// - a push body larger than a segment: `receivePack` takes the first segment,
//   `receiveSegment` each next one, `pushUploaded` closes the upload;
// - indexing a large pack: `pushStep` does one slice at a time until the report.
// The Worker drives every job (src/http/steps.ts) and drops it with `abandonUpload` or
// `abandonPush` when its client goes away; the object sweeps jobs nobody continued
// (src/repo/jobs.ts).
//
// Jobs survive the object restarting (a deploy, a migration, an eviction): each is
// recorded in SQLite, and a fresh instance resumes it where the Worker stands. So that a
// step can be repeated, the Worker says where it stands: the bytes of an answer it has
// (`uploadStep`), the bytes of a pack the object has confirmed storing
// (`receiveSegment`, `pushUploaded`). A step that failed because the object went away
// is asked again of a fresh stub, except a segment of which the failed call took more
// than its first chunk (the rest of it is gone from the client's body). A job that
// cannot go on (its record is gone, the repository was deleted, or changed under a
// resumed answer) ends with `failed`, which the Worker sends in git's own error form.

import type { PackFromR2 } from "../git/protocol/upload-pack";

/** The protocol version the client asked for in `Git-Protocol`. */
export type ProtocolVersion = 0 | 1 | 2;

export type GitService = "git-upload-pack" | "git-receive-pack";

/** Bad input the object refused before any of the answer was made. */
export interface Refused {
  kind: "refused";
  /** 400 unreadable body, 404 no such repository, 413 body too large. */
  status: 400 | 404 | 413;
  message: string;
}

/** The answer to `info/refs`: the advertisement's pkt-lines. */
export type Advertisement = { kind: "advertisement"; bytes: Uint8Array } | Refused;

/**
 * The start of a clone or fetch answer. A small answer comes whole (`job` absent); a
 * larger one continues through `uploadStep(job)`. `sidebandErrors`: a failure later in
 * the answer can be reported on side band 3 (protocol v2 always has it).
 */
export type UploadStart = { kind: "answer"; bytes: Uint8Array; job?: string; sidebandErrors: boolean } | Refused;

/**
 * A clone the Worker sends from R2 (an answer to `uploadPackFromR2`): `head`, then the stored pack
 * `pack` names, read from R2 and framed as pack data (see PackFromR2), then `tail`.
 */
export interface UploadFromR2 {
  kind: "r2";
  head: Uint8Array;
  pack: PackFromR2;
  tail: Uint8Array;
  sidebandErrors: boolean;
}

/**
 * One step of a clone or fetch answer: the bytes after the `offset` the Worker gave.
 * Empty and not done while a fresh instance makes again the part the Worker already has.
 * `failed`: the answer cannot go on, and why (for the client).
 */
export interface UploadStep {
  bytes: Uint8Array;
  done: boolean;
  failed?: string;
}

/**
 * Where a push stands after a call. `report`: the answer to send (report-status, or an
 * error in git's form). `indexing`: a large pack is stored and `pushStep(job)` indexes
 * it; `progress` says whether the client wants progress on side band 2. `receiving`: the
 * first segment is stored (`stored` bytes of pack so far) and the rest of the body goes
 * to `receiveSegment(upload)`. `sideband`: the client reads the answer through side-band-64k,
 * so an error goes on band 3. `failed`: the push cannot go on, and why (for the client).
 */
export type PushState =
  | { kind: "report"; report: Uint8Array }
  | { kind: "indexing"; job: string; progress: boolean; sideband: boolean }
  | { kind: "receiving"; upload: string; stored: number; sideband: boolean }
  | { kind: "failed"; message: string }
  | Refused;

/** One slice of indexing a large push, or its end. */
export type PushStep = { done: false; progress: string } | { done: true; report: Uint8Array } | { done: true; failed: string };

/** A download the object streams: an export of the repository or an archive of a tree. */
export type Download = { kind: "download"; body: ReadableStream<Uint8Array>; filename: string; contentType: string } | Refused;

/** After a segment: the bytes of pack stored so far, or why the upload cannot go on. */
export interface SegmentStored {
  stored: number;
  failed?: string;
}
