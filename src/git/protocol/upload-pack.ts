// upload-pack: the server side of clone and fetch, in protocol v2 (ls-refs, fetch,
// object-info) and v0/v1 (ref advertisement, multi_ack_detailed negotiation).
// Over HTTP every request is stateless: the client repeats its wants and known-common
// haves in each round, so nothing is kept between requests.
import { concatBytes } from "../../util/bytes";
import type { ObjectStore } from "../store/object-store";
import { OBJ_COMMIT, ZERO_OID, isOid } from "../object/object";
import type { RefStore } from "../refs";
import { type ObjectFilter, type WalkOptions, type WalkResult, reachesAny, walkObjects } from "../walk";
import { type DeepenRequest, INFINITE_DEPTH, ShallowError, planShallow } from "../shallow";
import { type PackWriteStats, writePack } from "../pack/writer";
import { UPLOAD_PACK_V2_CAPS, parseCapabilities } from "./capabilities";
import { DELIM, FLUSH, type Pkt, parsePktLines, pktLine, pktText, sideband } from "./pkt-line";

export interface RepoView {
  store: ObjectStore;
  refs: RefStore;
  /** Objects the walk enumerates between step boundaries (tests lower it). */
  stepConfig?: { walkObjects: number };
}

/** A request the client got wrong: answered with an `ERR` pkt-line. */
export class UploadPackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UploadPackError";
  }
}

// ---- shared helpers -----------------------------------------------------------

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export function parseFilter(spec: string): ObjectFilter {
  if (spec === "blob:none") return { kind: "blob:none" };
  let m = /^blob:limit=(\d+)([kmg]?)$/i.exec(spec);
  if (m) return { kind: "blob:limit", limit: Number(m[1]) * UNITS[m[2].toLowerCase()] };
  m = /^tree:(\d+)$/.exec(spec);
  if (m) return { kind: "tree", depth: Number(m[1]) };
  m = /^object:type=(blob|tree|commit|tag)$/.exec(spec);
  if (m) return { kind: "object:type", type: m[1] as "blob" };
  throw new UploadPackError(`unsupported filter spec '${spec}'`);
}

interface FetchRequest {
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

function emptyRequest(): FetchRequest {
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

function expectOid(value: string, what: string): string {
  if (!isOid(value)) throw new UploadPackError(`protocol error: expected an object id after '${what}', got '${value}'`);
  return value;
}

/** Parses a shallow/deepen/filter line shared by v0 and v2; false if not one. */
function parseShallowArg(line: string, req: FetchRequest, repo: RepoView): boolean {
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

/** Tracks what the client has in common with us, as git's upload-pack does. */
class Negotiation {
  readonly common = new Set<string>();
  private oldest = Infinity;
  private wantCommits: string[] = [];

  constructor(
    private readonly store: ObjectStore,
    wants: string[],
  ) {
    for (const w of wants) {
      const p = store.peel(w) ?? w;
      if (store.typeOf(p) === OBJ_COMMIT) this.wantCommits.push(p);
    }
  }

  /** Records a have; true if we have the object (it is common). */
  have(oid: string): boolean {
    if (!this.store.has(oid)) return false;
    if (this.common.has(oid)) return true;
    this.common.add(oid);
    if (this.store.typeOf(oid) === OBJ_COMMIT) this.oldest = Math.min(this.oldest, this.store.commit(oid).time);
    return true;
  }

  /** Every want reaches a common commit: enough to send a good pack. */
  readyToGiveUp(): boolean {
    if (this.common.size === 0) return false;
    return this.wantCommits.every((w) => reachesAny(this.store, w, this.common, this.oldest));
  }
}

function progressLine(req: FetchRequest, text: string): Uint8Array[] {
  if (req.noProgress || req.sideband === "none") return [];
  return [...sideband(2, new TextEncoder().encode(text), req.sideband === "64k" ? undefined : 999)];
}

/**
 * A clone of every ref, with nothing to subtract (no haves, shallow or filter), from a
 * repository whose only pack holds what the refs reach: that pack is the answer, sent
 * as stored, with no walk and no repacking (git's "pack-reused").
 */
function wholePackFor(repo: RepoView, req: FetchRequest, shallowWalk: Set<string>, extraWants: string[]) {
  if (req.haves.length || shallowWalk.size || extraWants.length || req.deepen || req.clientShallow.size || req.filter || !req.ofsDelta)
    return null;
  const tips = new Set(repo.refs.list().values());
  const wants = new Set(req.wants);
  if (wants.size !== tips.size || [...tips].some((t) => !wants.has(t))) return null;
  return repo.store.wholePack(repo.refs.digest());
}

/** The packfile itself: counting, then the pack, framed for the side-band if used. */
async function* packStream(repo: RepoView, req: FetchRequest, shallowWalk: Set<string>, extraWants: string[]): AsyncGenerator<Uint8Array> {
  const { store, refs } = repo;
  const max = req.sideband === "64k" ? undefined : req.sideband === "small" ? 999 : 0;
  const whole = wholePackFor(repo, req, shallowWalk, extraWants);
  if (whole) {
    yield* progressLine(req, `Enumerating objects: ${whole.objects}, done.\n`);
    // 4 MiB reads, not cached: a tiered pack comes back in R2 range reads, which measured
    // faster here than one streamed read of the whole object. The next read is started
    // before the current block is sent, so its latency overlaps the sending.
    const block = 4 << 20;
    const read = (at: number) => {
      const p = store.packSpan(whole.pack, at, Math.min(block, whole.size - at));
      // If the client goes away, a read started ahead is never awaited: not an error.
      p.catch(() => undefined);
      return p;
    };
    let next = read(0);
    for (let at = 0; at < whole.size; at += block) {
      const bytes = await next;
      if (at + block < whole.size) next = read(at + block);
      if (max === 0) yield bytes;
      else yield* sideband(1, bytes, max);
    }
    yield* progressLine(req, `Total ${whole.objects} (delta 0), reused ${whole.objects} (delta 0), pack-reused ${whole.objects}\n`);
    return;
  }
  const walk = yield* walkInSteps(
    store,
    [...req.wants, ...extraWants],
    { haves: req.haves, shallow: shallowWalk, filter: req.filter, checkpointEvery: repo.stepConfig?.walkObjects },
    req,
  );
  const oids = walk.oids;
  if (req.includeTag) {
    const sent = new Set(oids);
    const peel = store.peeler();
    for (const [name, oid] of refs.list()) {
      if (!name.startsWith("refs/tags/") || sent.has(oid)) continue;
      // Only annotated tags peel: a lightweight tag's object is sent or not by the walk.
      const target = peel(oid);
      if (target && sent.has(target)) {
        oids.push(oid);
        sent.add(oid);
      }
    }
  }
  yield* progressLine(req, `Enumerating objects: ${oids.length}, done.\n`);
  const stats: PackWriteStats = { objects: 0, deltas: 0, reused: 0, reusedDeltas: 0 };
  const thinBases = req.thinPack ? walk.clientHas : undefined;
  for await (const block of writePack(store, oids, { ofsDelta: req.ofsDelta, thinBases }, stats)) {
    if (max === 0) yield block;
    else yield* sideband(1, block, max);
  }
  yield* progressLine(
    req,
    `Total ${stats.objects} (delta ${stats.deltas}), reused ${stats.reused} (delta ${stats.reusedDeltas}), pack-reused 0\n`,
  );
}

/**
 * Yielded where an answer may be cut between invocations: an answer produced in steps
 * ends its current step here (see the Repository's `uploadStep`); a streamed one skips it.
 */
export const STEP_BOUNDARY = new Uint8Array(0);

/**
 * The object walk, paused at each of its checkpoints to report progress and offer a step
 * boundary: a walk over a large history spans several invocations instead of one.
 */
async function* walkInSteps(
  store: ObjectStore,
  wants: string[],
  options: WalkOptions,
  req: FetchRequest,
): AsyncGenerator<Uint8Array, WalkResult> {
  const walk = walkObjects(store, wants, options);
  for (;;) {
    const r = await walk.next();
    if (r.done) return r.value;
    yield* progressLine(req, `Enumerating objects: ${r.value}\r`);
    yield STEP_BOUNDARY;
  }
}

function checkWants(store: ObjectStore, wants: string[]): void {
  for (const w of wants) {
    if (!store.has(w)) throw new UploadPackError(`upload-pack: not our ref ${w}`);
  }
}

// ---- protocol v2 --------------------------------------------------------------

export function advertiseV2(): Uint8Array {
  return concatBytes([...UPLOAD_PACK_V2_CAPS.map((c) => pktLine(c + "\n")), FLUSH]);
}

interface V2Command {
  command: string;
  caps: Map<string, string | true>;
  args: string[];
}

function parseV2Request(body: Uint8Array): V2Command {
  const pkts = parsePktLines(body);
  let i = 0;
  const first = pkts[i++];
  if (first?.kind !== "data") throw new UploadPackError("protocol error: expected a command");
  const cmdLine = pktText(first.data);
  if (!cmdLine.startsWith("command=")) throw new UploadPackError(`protocol error: expected command=<name>, got '${cmdLine}'`);
  const caps = new Map<string, string | true>();
  for (; i < pkts.length && pkts[i].kind === "data"; i++) {
    for (const [k, v] of parseCapabilities(pktText((pkts[i] as { data: Uint8Array }).data))) caps.set(k, v);
  }
  const args: string[] = [];
  const sep: Pkt | undefined = pkts[i++];
  if (!sep) throw new UploadPackError("protocol error: expected flush after capabilities");
  if (sep.kind === "delim") {
    for (; i < pkts.length && pkts[i].kind === "data"; i++) args.push(pktText((pkts[i] as { data: Uint8Array }).data));
    const end = pkts[i++];
    if (end?.kind !== "flush") throw new UploadPackError("protocol error: expected flush after arguments");
  } else if (sep.kind !== "flush") {
    throw new UploadPackError("protocol error: expected flush after capabilities");
  }
  const format = caps.get("object-format");
  if (format !== undefined && format !== "sha1") throw new UploadPackError(`unsupported object format '${format}'`);
  return { command: cmdLine.slice(8), caps, args };
}

export async function* serveV2(repo: RepoView, body: Uint8Array): AsyncGenerator<Uint8Array> {
  const req = parseV2Request(body);
  switch (req.command) {
    case "ls-refs":
      yield lsRefs(repo, req.args);
      return;
    case "fetch":
      yield* fetchV2(repo, req.args);
      return;
    case "object-info":
      yield objectInfo(repo, req.args);
      return;
    default:
      throw new UploadPackError(`unknown command '${req.command}'`);
  }
}

function lsRefs(repo: RepoView, args: string[]): Uint8Array {
  let peelTags = false;
  let symrefs = false;
  let unborn = false;
  const prefixes: string[] = [];
  for (const a of args) {
    if (a === "peel") peelTags = true;
    else if (a === "symrefs") symrefs = true;
    else if (a === "unborn") unborn = true;
    else if (a.startsWith("ref-prefix ")) prefixes.push(a.slice(11));
    else throw new UploadPackError(`unexpected line: '${a}'`);
  }
  const wanted = (name: string) => prefixes.length === 0 || prefixes.some((p) => name.startsWith(p));
  const out: Uint8Array[] = [];
  const head = repo.refs.head();
  if (wanted("HEAD")) {
    if (head.oid) {
      const sym = symrefs && head.symref ? ` symref-target:${head.symref}` : "";
      out.push(pktLine(`${head.oid} HEAD${sym}\n`));
    } else if (unborn && head.symref) {
      out.push(pktLine(`unborn HEAD${symrefs ? ` symref-target:${head.symref}` : ""}\n`));
    }
  }
  const peel = peelTags ? repo.store.peeler() : null;
  for (const [name, oid] of repo.refs.list()) {
    if (!wanted(name)) continue;
    let line = `${oid} ${name}`;
    if (peel) {
      const peeled = peel(oid);
      if (peeled) line += ` peeled:${peeled}`;
    }
    out.push(pktLine(line + "\n"));
  }
  out.push(FLUSH);
  return concatBytes(out);
}

function objectInfo(repo: RepoView, args: string[]): Uint8Array {
  let size = false;
  const oids: string[] = [];
  for (const a of args) {
    if (a === "size") size = true;
    else if (a.startsWith("oid ")) oids.push(expectOid(a.slice(4), "oid"));
    else throw new UploadPackError(`object-info: unexpected line: '${a}'`);
  }
  const out: Uint8Array[] = [];
  if (size) out.push(pktLine("size\n"));
  for (const oid of oids) {
    const info = repo.store.info(oid);
    out.push(pktLine(size ? `${oid} ${info ? info.size : ""}\n` : `${oid}\n`));
  }
  out.push(FLUSH);
  return concatBytes(out);
}

async function* fetchV2(repo: RepoView, args: string[]): AsyncGenerator<Uint8Array> {
  const req = emptyRequest();
  req.sideband = "64k";
  for (const a of args) {
    if (a.startsWith("want ")) req.wants.push(expectOid(a.slice(5), "want"));
    else if (a.startsWith("want-ref ")) req.wantRefs.push(a.slice(9));
    else if (a.startsWith("have ")) req.haves.push(expectOid(a.slice(5), "have"));
    else if (a === "done") req.done = true;
    else if (a === "ofs-delta") req.ofsDelta = true;
    else if (a === "thin-pack") req.thinPack = true;
    else if (a === "no-progress") req.noProgress = true;
    else if (a === "include-tag") req.includeTag = true;
    else if (a === "wait-for-done") req.waitForDone = true;
    else if (a === "sideband-all" || a.startsWith("packfile-uris ")) continue;
    else if (!parseShallowArg(a, req, repo)) throw new UploadPackError(`unexpected line: '${a}'`);
  }
  const wantedRefs: [string, string][] = [];
  for (const name of req.wantRefs) {
    const oid = repo.refs.resolve(name);
    if (!oid) throw new UploadPackError(`unknown ref ${name}`);
    wantedRefs.push([oid, name]);
    req.wants.push(oid);
  }
  if (req.wants.length === 0) throw new UploadPackError("fetch: no wants given");
  checkWants(repo.store, req.wants);

  const out: Uint8Array[] = [];
  if (!req.done) {
    const neg = new Negotiation(repo.store, req.wants);
    const acks: string[] = [];
    for (const h of req.haves) if (neg.have(h)) acks.push(h);
    out.push(pktLine("acknowledgments\n"));
    if (acks.length === 0) out.push(pktLine("NAK\n"));
    for (const a of acks) out.push(pktLine(`ACK ${a}\n`));
    const ready = !req.waitForDone && neg.readyToGiveUp();
    if (!ready) {
      out.push(FLUSH);
      yield concatBytes(out);
      return;
    }
    out.push(pktLine("ready\n"), DELIM);
    // Send only what we have in common as haves.
    req.haves = [...neg.common];
  } else {
    req.haves = req.haves.filter((h) => repo.store.has(h));
  }

  const plan = shallowPlan(repo, req);
  if (req.deepen || req.clientShallow.size) {
    out.push(pktLine("shallow-info\n"));
    for (const s of plan.shallow) out.push(pktLine(`shallow ${s}\n`));
    for (const s of plan.unshallow) out.push(pktLine(`unshallow ${s}\n`));
    out.push(DELIM);
  }
  if (wantedRefs.length) {
    out.push(pktLine("wanted-refs\n"));
    for (const [oid, name] of wantedRefs) out.push(pktLine(`${oid} ${name}\n`));
    out.push(DELIM);
  }
  out.push(pktLine("packfile\n"));
  yield concatBytes(out);
  yield* packStream(repo, req, plan.walkShallow, plan.extraWants);
  yield FLUSH;
}

function shallowPlan(repo: RepoView, req: FetchRequest) {
  const wantCommits = req.wants.map((w) => repo.store.peel(w) ?? w).filter((w) => repo.store.typeOf(w) === OBJ_COMMIT);
  try {
    const deepen = req.deepen && req.deepen.depth === INFINITE_DEPTH ? { depth: INFINITE_DEPTH } : req.deepen;
    return planShallow(repo.store, wantCommits, req.clientShallow, deepen);
  } catch (e) {
    if (e instanceof ShallowError) throw new UploadPackError(e.message);
    throw e;
  }
}

// ---- protocol v0 / v1 ---------------------------------------------------------

/** The ref advertisement for v0 (and v1, which only adds a version line). */
export function advertiseRefs(repo: RepoView, caps: string[], version: 0 | 1, peelTags: boolean): Uint8Array {
  const out: Uint8Array[] = [];
  if (version === 1) out.push(pktLine("version 1\n"));
  const head = repo.refs.head();
  const allCaps = [...caps];
  if (head.symref && head.oid) allCaps.push(`symref=HEAD:${head.symref}`);
  const lines: string[] = [];
  if (head.oid) lines.push(`${head.oid} HEAD`);
  const peel = peelTags ? repo.store.peeler() : null;
  for (const [name, oid] of repo.refs.list()) {
    lines.push(`${oid} ${name}`);
    if (peel) {
      const peeled = peel(oid);
      if (peeled) lines.push(`${peeled} ${name}^{}`);
    }
  }
  if (lines.length === 0) lines.push(`${ZERO_OID} capabilities^{}`);
  for (const [i, line] of lines.entries()) out.push(pktLine(i === 0 ? `${line}\0${allCaps.join(" ")}\n` : `${line}\n`));
  out.push(FLUSH);
  return concatBytes(out);
}

export async function* serveV0(repo: RepoView, body: Uint8Array): AsyncGenerator<Uint8Array> {
  const pkts = parsePktLines(body);
  const req = emptyRequest();
  let i = 0;
  let multiAck: "none" | "multi_ack" | "detailed" = "none";
  let noDone = false;
  let deepenRelative = false;
  for (; i < pkts.length; i++) {
    const p = pkts[i];
    if (p.kind === "flush") break;
    if (p.kind !== "data") throw new UploadPackError("protocol error: unexpected delimiter");
    const line = pktText(p.data);
    if (line.startsWith("want ")) {
      const rest = line.slice(5);
      const oid = expectOid(rest.slice(0, 40), "want");
      if (req.wants.length === 0) {
        const caps = parseCapabilities(rest.slice(41));
        if (caps.has("multi_ack_detailed")) multiAck = "detailed";
        else if (caps.has("multi_ack")) multiAck = "multi_ack";
        noDone = caps.has("no-done");
        req.ofsDelta = caps.has("ofs-delta");
        req.thinPack = caps.has("thin-pack");
        req.noProgress = caps.has("no-progress");
        req.includeTag = caps.has("include-tag");
        req.sideband = caps.has("side-band-64k") ? "64k" : caps.has("side-band") ? "small" : "none";
        // In v0 deepen-relative is a capability, not an argument line.
        deepenRelative = caps.has("deepen-relative");
      }
      req.wants.push(oid);
    } else if (!parseShallowArg(line, req, repo)) {
      throw new UploadPackError(`protocol error: unexpected '${line}'`);
    }
  }
  if (i >= pkts.length) throw new UploadPackError("protocol error: expected flush after wants");
  i++;
  if (req.deepen && deepenRelative) req.deepen.relative = true;
  if (req.wants.length === 0) return;
  checkWants(repo.store, req.wants);

  const out: Uint8Array[] = [];
  const plan = shallowPlan(repo, req);
  if (req.deepen) {
    for (const s of plan.shallow) out.push(pktLine(`shallow ${s}\n`));
    for (const s of plan.unshallow) out.push(pktLine(`unshallow ${s}\n`));
    out.push(FLUSH);
  }

  const neg = new Negotiation(repo.store, req.wants);
  let last = "";
  let haveCount = 0;
  let gotCommon = false;
  let gotOther = false;
  let sentReady = false;
  let send = false;
  for (; i < pkts.length; i++) {
    const p = pkts[i];
    if (p.kind === "flush") {
      if (multiAck === "detailed" && gotCommon && !gotOther && neg.readyToGiveUp()) {
        sentReady = true;
        out.push(pktLine(`ACK ${last} ready\n`));
      }
      if (haveCount === 0 || multiAck !== "none") out.push(pktLine("NAK\n"));
      if (noDone && sentReady) {
        out.push(pktLine(`ACK ${last}\n`));
        send = true;
        break;
      }
      // Stateless: the client sends the next round in a new request.
      gotCommon = false;
      gotOther = false;
      continue;
    }
    if (p.kind !== "data") throw new UploadPackError("protocol error: unexpected delimiter");
    const line = pktText(p.data);
    if (line.startsWith("have ")) {
      const oid = expectOid(line.slice(5), "have");
      if (neg.have(oid)) {
        haveCount++;
        gotCommon = true;
        last = oid;
        if (multiAck === "detailed") out.push(pktLine(`ACK ${oid} common\n`));
        else if (multiAck === "multi_ack") out.push(pktLine(`ACK ${oid} continue\n`));
        else if (haveCount === 1) out.push(pktLine(`ACK ${oid}\n`));
      } else {
        gotOther = true;
        if (multiAck !== "none" && neg.readyToGiveUp()) {
          out.push(pktLine(multiAck === "detailed" ? `ACK ${oid} ready\n` : `ACK ${oid} continue\n`));
          if (multiAck === "detailed") sentReady = true;
        }
      }
    } else if (line === "done") {
      out.push(haveCount > 0 && multiAck !== "none" ? pktLine(`ACK ${last}\n`) : haveCount > 0 ? new Uint8Array(0) : pktLine("NAK\n"));
      send = true;
      break;
    } else {
      throw new UploadPackError(`protocol error: expected have or done, got '${line}'`);
    }
  }
  yield concatBytes(out);
  if (!send) return;
  req.haves = [...neg.common];
  yield* packStream(repo, req, plan.walkShallow, plan.extraWants);
  if (req.sideband !== "none") yield FLUSH;
}
