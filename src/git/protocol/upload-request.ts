// The request both protocol versions parse into: v0's upload-request (want-list, then
// shallow, deepen and filter lines) and v2's fetch arguments name the same things.
import { isOid } from "../object/object";
import type { DeepenRequest } from "../shallow";
import type { RefStore } from "../refs";
import type { ObjectStore } from "../store/object-store";
import type { ObjectFilter } from "../walk";
import { parseFilter } from "./filter";
import { parsePktLines, pktText } from "./pkt-line";
import type { RepoView } from "./repo-view";
import { UploadPackError } from "./upload-pack-error";

export interface FetchRequest {
  wants: string[];
  haves: string[];
  done: boolean;
  ofsDelta: boolean;
  thinPack: boolean;
  noProgress: boolean;
  includeTag: boolean;
  waitForDone: boolean;
  sideband: "none" | "small" | "64k";
  clientShallow: Set<string>;
  deepen: DeepenRequest | null;
  filter?: ObjectFilter;
  wantRefs: string[];
}

export function emptyRequest(): FetchRequest {
  return {
    wants: [],
    haves: [],
    done: false,
    ofsDelta: false,
    thinPack: false,
    noProgress: false,
    includeTag: false,
    waitForDone: false,
    sideband: "none",
    clientShallow: new Set(),
    deepen: null,
    wantRefs: [],
  };
}

export function expectOid(value: string, what: string): string {
  if (!isOid(value)) throw new UploadPackError(`protocol error: expected an object id after '${what}', got '${value}'`);
  return value;
}

/** Parses a shallow/deepen/filter line shared by v0 and v2; false if not one. */
export function parseShallowArg(line: string, req: FetchRequest, repo: RepoView): boolean {
  if (line.startsWith("shallow ")) {
    req.clientShallow.add(expectOid(line.slice(8), "shallow"));
  } else if (line.startsWith("deepen ")) {
    const n = Number(line.slice(7));
    if (!Number.isInteger(n) || n <= 0) throw new UploadPackError(`invalid deepen depth '${line.slice(7)}'`);
    req.deepen = { ...req.deepen, depth: n };
  } else if (line === "deepen-relative") {
    req.deepen = { ...req.deepen, relative: true };
  } else if (line.startsWith("deepen-since ")) {
    const t = Number(line.slice(13));
    if (!Number.isFinite(t)) throw new UploadPackError(`invalid deepen-since '${line.slice(13)}'`);
    req.deepen = { ...req.deepen, since: t };
  } else if (line.startsWith("deepen-not ")) {
    const name = line.slice(11);
    const { refs, store } = repo;
    const oid = refs.resolve(name) ?? refs.resolve(`refs/heads/${name}`) ?? refs.resolve(`refs/tags/${name}`);
    if (!oid) throw new UploadPackError(`git upload-pack: ambiguous deepen-not: ${name}`);
    req.deepen = { ...req.deepen, not: [...(req.deepen?.not ?? []), store.peel(oid) ?? oid] };
  } else if (line.startsWith("filter ")) {
    req.filter = parseFilter(line.slice(7));
  } else {
    return false;
  }
  return true;
}

export function checkWants(store: ObjectStore, wants: string[], refs?: RefStore): void {
  // A want that is a ref's value is there (the refs name only stored objects): a clone of
  // a thousand refs costs one read of the refs, not a thousand lookups.
  const tips = refs && wants.length > 8 ? new Set(refs.list().values()) : null;
  for (const w of wants) {
    if (tips?.has(w)) continue;
    if (!store.has(w)) throw new UploadPackError(`upload-pack: not our ref ${w}`);
  }
}

/**
 * Whether a request may be for a full clone, by a look at its lines: no haves, shallow,
 * deepen or filter lines. A request that cannot be read is not (it fails the usual way).
 */
export function mayBeFullClone(body: Uint8Array): boolean {
  try {
    for (const p of parsePktLines(body)) {
      if (p.kind === "data" && /^(have|shallow|deepen|deepen-since|deepen-not|filter) /.test(pktText(p.data))) return false;
    }
  } catch {
    return false;
  }
  return true;
}
