// The packfile section of the answer: the object walk in steps, progress on side-band 2,
// and the pack itself, framed for side-band 1 when the client asked for it.
import { type PackWriteStats, writePack } from "../pack/writer";
import type { ObjectStore } from "../store/object-store";
import { type WalkOptions, type WalkResult, reachesAll, walkObjects } from "../walk";
import { OBJ_COMMIT } from "../object/object";
import { sideband } from "./pkt-line";
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
  for (const w of wants) {
    const target = store.peel(w) ?? w;
    if (store.typeOf(target) !== OBJ_COMMIT) return null;
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

/** The packfile itself: counting, then the pack, framed for the side-band if used. */
export async function* packStream(
  repo: RepoView,
  req: FetchRequest,
  shallowWalk: Set<string>,
  extraWants: string[],
): AsyncGenerator<Uint8Array> {
  const { store, refs } = repo;
  const max = req.sideband === "64k" ? undefined : req.sideband === "small" ? 999 : 0;
  const whole = wholePackFor(repo, req, shallowWalk, extraWants);
  if (whole) {
    repo.onPlanned?.(0);
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
  let oids = walk.oids;
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
  if (covering) {
    // The walk stops at what the old tips reach, which the pack holds; the pack may hold
    // a little more (a file changed back to an older version): that is not sent twice.
    const inPack = store.packContains(covering.pack, oids);
    if (inPack.size) oids = oids.filter((o) => !inPack.has(o));
  }
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
