// The packfile section of the answer: the object walk in steps, progress on side-band 2,
// and the pack itself, framed for side-band 1 when the client asked for it.
import { type PackWriteStats, writePack } from "../pack/writer";
import type { ObjectStore } from "../store/object-store";
import { type WalkOptions, type WalkResult, reachesAll, walkObjects } from "../walk";
import { OBJ_COMMIT, OBJ_TAG } from "../object/object";
import { sideband, sidebandParts } from "./pkt-line";
import { concatBytes } from "../../util/bytes";
import type { RepoView } from "./repo-view";
import type { FetchRequest } from "./upload-request";

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
  if (!plainClone(req, shallowWalk, extraWants)) return null;
  const tips = new Set(repo.refs.list().values());
  const wants = new Set(req.wants);
  if (wants.size !== tips.size || [...tips].some((t) => !wants.has(t))) return null;
  return repo.store.wholePack(repo.refs.digest());
}

/** Nothing to subtract from what the wants reach, and deltas by offset accepted. */
function plainClone(req: FetchRequest, shallowWalk: Set<string>, extraWants: string[]): boolean {
  return !(
    req.haves.length ||
    shallowWalk.size ||
    extraWants.length ||
    req.deepen ||
    req.clientShallow.size ||
    req.filter ||
    !req.ofsDelta
  );
}

/** Commits walked at most to show that the covering pack's tips are still reached. */
const COVERING_WALK_LIMIT = 20_000;

/**
 * A clone after pushes since the pack that covered the refs was written (the first push,
 * or a full compaction): while every ref value of that time is still reached from the
 * wants, the answer is that pack as stored, plus the objects the pushes added, found by
 * a walk that stops at the old values (`rev-list --objects wants --not old`). A ref that
 * moved away (a force push, a deleted branch) leaves the old pack out: it may hold what
 * nobody should fetch any more.
 */
function coveringPackFor(repo: RepoView, req: FetchRequest, shallowWalk: Set<string>, extraWants: string[]) {
  if (!plainClone(req, shallowWalk, extraWants)) return null;
  const { store } = repo;
  const covering = store.coveringPack();
  if (!covering) return null;
  const wants = new Set(req.wants);
  const from: string[] = [];
  // Types in batches, and only tags peeled one by one: a clone of a thousand refs.
  const located = store.locateMany([...wants]);
  for (const w of wants) {
    const type = located.get(w)?.type;
    const target = type === OBJ_TAG ? store.peel(w) : w;
    if (!target || (type === OBJ_TAG ? store.typeOf(target) : type) !== OBJ_COMMIT) return null;
    from.push(target);
  }
  const targets: string[] = [];
  for (const tip of covering.tips) {
    if (wants.has(tip)) continue;
    // A tag object the wants no longer name would be sent for nothing.
    if (store.typeOf(tip) !== OBJ_COMMIT) return null;
    targets.push(tip);
  }
  if (!reachesAll(store, from, targets, COVERING_WALK_LIMIT)) return null;
  return covering;
}

/**
 * A stored pack the Worker sends from R2 in the answer's place, framed as the answer's
 * pack data: with `appended`, its entries keep their offsets under a header counting
 * both, the appended entries follow, and the Worker writes the trailer (SHA-1 of all).
 */
export interface PackFromR2 {
  key: string;
  size: number;
  objects: number;
  sideband: FetchRequest["sideband"];
  appended?: { objects: number; entries: Uint8Array };
}

/** Stands in the answer where a stored pack is to be sent from R2 (see PackFromR2). */
export class PackFromR2Marker extends Uint8Array {
  constructor(readonly plan: PackFromR2) {
    super(0);
  }
}

/** Yielded first when an answer asked for from R2 (RepoView.r2KeyOf) cannot be: make it the usual way. */
export const NOT_FROM_R2 = new Uint8Array(0);

/**
 * The objects appended to a pack sent from R2 are made in the call that plans it: no
 * more than a walk of this many objects, and this many bytes of entries.
 */
const R2_APPEND_OBJECTS = 20_000;
const R2_APPEND_BYTES = 8 << 20;

/**
 * A clone answered from a stored pack in R2: the Worker reads it there, and this object
 * only finds which pack and makes the few objects pushed since (see PackFromR2).
 */
async function* packFromR2(
  repo: RepoView,
  r2KeyOf: (pack: number) => string | null,
  req: FetchRequest,
  shallowWalk: Set<string>,
  extraWants: string[],
): AsyncGenerator<Uint8Array> {
  const whole = wholePackFor(repo, req, shallowWalk, extraWants);
  const covering = whole ? null : coveringPackFor(repo, req, shallowWalk, extraWants);
  const pack = whole ?? covering;
  const key = pack && r2KeyOf(pack.pack);
  if (!pack || !key) {
    yield NOT_FROM_R2;
    return;
  }
  let appended: PackFromR2["appended"];
  if (covering) {
    const walk = walkObjects(repo.store, req.wants, { haves: covering.tips, checkpointEvery: R2_APPEND_OBJECTS });
    const r = await walk.next();
    if (!r.done) {
      yield NOT_FROM_R2;
      return;
    }
    const oids = notInPack(repo, covering.pack, withTags(repo, req, r.value.oids));
    const entries: Uint8Array[] = [];
    let bytes = 0;
    const stats: PackWriteStats = { objects: 0, deltas: 0, reused: 0, reusedDeltas: 0 };
    const prefix = { pack: covering.pack, size: covering.size, objects: covering.objects, external: true };
    for await (const block of writePack(repo.store, oids, { ofsDelta: req.ofsDelta, prefix }, stats)) {
      bytes += block.byteLength;
      if (bytes > R2_APPEND_BYTES) {
        yield NOT_FROM_R2;
        return;
      }
      entries.push(block);
    }
    appended = { objects: oids.length, entries: concatBytes(entries) };
  }
  const total = pack.objects + (appended?.objects ?? 0);
  repo.onPlanned?.(0);
  yield* progressLine(req, `Enumerating objects: ${total}, done.\n`);
  yield new PackFromR2Marker({ key, size: pack.size, objects: pack.objects, sideband: req.sideband, appended });
  yield* progressLine(req, `Total ${total} (delta 0), reused ${total} (delta 0), pack-reused ${pack.objects}\n`);
}

/** With `include-tag`, the annotated tags of refs whose targets are sent. */
function withTags(repo: RepoView, req: FetchRequest, oids: string[]): string[] {
  if (!req.includeTag) return oids;
  const sent = new Set(oids);
  const peel = repo.store.peeler();
  for (const [name, oid] of repo.refs.list()) {
    if (!name.startsWith("refs/tags/") || sent.has(oid)) continue;
    // Only annotated tags peel: a lightweight tag's object is sent or not by the walk.
    const target = peel(oid);
    if (target && sent.has(target)) {
      oids.push(oid);
      sent.add(oid);
    }
  }
  return oids;
}

/**
 * Leaves out what a reused pack holds. A walk stopped at its old tips, but the pack may
 * hold a little more (a file changed back to an older version): that is not sent twice.
 */
function notInPack(repo: RepoView, pack: number, oids: string[]): string[] {
  const inPack = repo.store.packContains(pack, oids);
  return inPack.size ? oids.filter((o) => !inPack.has(o)) : oids;
}

/** The packfile itself: counting, then the pack, framed for the side-band if used. */
export async function* packStream(
  repo: RepoView,
  req: FetchRequest,
  shallowWalk: Set<string>,
  extraWants: string[],
): AsyncGenerator<Uint8Array> {
  const { store } = repo;
  if (repo.r2KeyOf) {
    yield* packFromR2(repo, repo.r2KeyOf, req, shallowWalk, extraWants);
    return;
  }
  const max = req.sideband === "64k" ? undefined : req.sideband === "small" ? 999 : 0;
  const whole = wholePackFor(repo, req, shallowWalk, extraWants);
  if (whole) {
    repo.onPlanned?.(0);
    yield* progressLine(req, `Enumerating objects: ${whole.objects}, done.\n`);
    // 4 MiB reads, not cached: a tiered pack comes back in R2 range reads, which measured
    // faster here than one streamed read of the whole object. The next read is started
    // before the current block is sent, so its latency overlaps the sending.
    // From SQLite the block comes as its stored chunks, not joined into one buffer.
    const block = 4 << 20;
    const read = (at: number) => {
      const p = store.packSpanParts(whole.pack, at, Math.min(block, whole.size - at));
      // If the client goes away, a read started ahead is never awaited: not an error.
      p.catch(() => undefined);
      return p;
    };
    let next = read(0);
    for (let at = 0; at < whole.size; at += block) {
      const parts = await next;
      if (at + block < whole.size) next = read(at + block);
      if (max === 0) yield* parts;
      else yield* sidebandParts(1, parts, max);
    }
    yield* progressLine(req, `Total ${whole.objects} (delta 0), reused ${whole.objects} (delta 0), pack-reused ${whole.objects}\n`);
    return;
  }
  const covering = coveringPackFor(repo, req, shallowWalk, extraWants);
  const walk = yield* walkInSteps(
    store,
    [...req.wants, ...extraWants],
    {
      haves: covering ? covering.tips : req.haves,
      shallow: shallowWalk,
      filter: req.filter,
      checkpointEvery: repo.stepConfig?.walkObjects,
    },
    req,
  );
  let oids = withTags(repo, req, walk.oids);
  if (covering) oids = notInPack(repo, covering.pack, oids);
  const total = oids.length + (covering?.objects ?? 0);
  repo.onPlanned?.(oids.length);
  yield* progressLine(req, `Enumerating objects: ${total}, done.\n`);
  const stats: PackWriteStats = { objects: 0, deltas: 0, reused: 0, reusedDeltas: 0 };
  // The client of a clone has nothing: the walk's boundary is in the pack sent first.
  const thinBases = req.thinPack && !covering ? walk.clientHas : undefined;
  const prefix = covering ? { pack: covering.pack, size: covering.size, objects: covering.objects } : undefined;
  for await (const block of writePack(store, oids, { ofsDelta: req.ofsDelta, thinBases, prefix }, stats)) {
    if (max === 0) yield block;
    else yield* sideband(1, block, max);
  }
  yield* progressLine(
    req,
    `Total ${stats.objects + (covering?.objects ?? 0)} (delta ${stats.deltas}), reused ${stats.reused} (delta ${stats.reusedDeltas}), pack-reused ${covering?.objects ?? 0}\n`,
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
