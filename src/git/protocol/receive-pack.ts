// receive-pack: the server side of push (gitprotocol-pack), with report-status(-v2),
// side-band-64k, atomic, delete-refs, quiet, ofs-delta and push-options.
//
// Order of work, so that a failed push changes nothing (DESIGN invariants 2 and 6):
// 1. read the commands; 2. stream the pack into a temporary DOFS file as it arrives
// (`PackUpload`, in segments for a large body); 3. index it (`PushJob`, in slices for a
// large pack); 4. check connectivity; 5. in one SQLite transaction, move the pack into
// objects/pack and swap the refs.
//
// Between segments and slices the push can be resumed by another instance of the object
// (after an eviction or a deploy): the request (`SavedPush`) and the stored pack are all
// it needs. An upload continues appending to its file; indexing starts over on the
// stored pack, since the indexer's state (every object's offset, CRC and id, the delta
// tree) is as large as the pack's index and is rebuilt in a fraction of the time the
// upload took.
import type { HookSite } from "../../util/hook-site";
import { concatBytes } from "../../util/bytes";
import type { Dofs, FileWriter } from "../../fs/dofs";
import { isFsError } from "../../fs/errors";
import { BadBodyError } from "../../util/streams";
import { type ObjectStore, type StagingOrder, stagedIdxPath, stagingOrder } from "../store/object-store";
import { OBJ_COMMIT, ZERO_OID, isOid } from "../object/object";
import { PackFormatError } from "../pack/entry";
import type { IndexResult, PackIndexer } from "../pack/indexer";
import type { RefStore, RefUpdate } from "../refs";
import { INCOMING_DIR, type RefPolicy, applyRefTransaction } from "../ref-transaction";
import { writeIdxV2 } from "../pack/idx";
import { parseCapabilities } from "./capabilities";
import { FLUSH, PktLineError, type PktReader, errPkt, pktLine, pktText, sideband, sidebandError } from "./pkt-line";

export { INCOMING_DIR };

export interface PushCommand {
  old: string;
  new: string;
  ref: string;
}

export interface PushRequest {
  commands: PushCommand[];
  caps: Map<string, string | true>;
  pushOptions: string[];
}

/**
 * In-process server-side hooks, git's pre-receive and post-receive. They see the
 * commands and the push options (`git push -o …`). A pre-receive hook that returns
 * `{ ok: false }` refuses every ref of the push with its message, as git does.
 */
export interface PushHooks {
  preReceive?(push: PushRequest): { ok: true } | { ok: false; message: string };
  postReceive?(push: PushRequest, results: CommandResult[], session?: PushSession): void;
  /** Lines for the pusher, after every post-receive: `remote:` messages on side band 2, before the report. */
  pushMessages?(push: PushRequest, results: CommandResult[], session?: PushSession): string[];
}

/** Who pushes and where the repository's pages are, as the Worker knows them. */
export interface PushSession {
  pusher?: { id: number; login: string };
  /** The repository's web address, `https://host/owner/name`. */
  webBase?: string;
  /** The pusher administers the repository, for rules that let admins bypass them. */
  admin?: boolean;
  /** The repository as webhook payloads describe it. */
  site?: HookSite;
}

export interface CommandResult {
  ref: string;
  ok: boolean;
  reason?: string;
}

export interface ReceiveContext {
  fs: Dofs;
  store: ObjectStore;
  refs: RefStore;
  hooks?: PushHooks[];
  /** Runs before the first ref update of a repository that had no refs. */
  onFirstPush?(): void;
  /** Rules on which refs may move (protected branches), asked where every ref moves. */
  policy?: RefPolicy | null;
  /** The account pushing, for the policy. */
  user?: string;
  /**
   * Why the push must stop now, if it must (the repository is being deleted): checked
   * between the parts of the body and before the refs move, so that nothing is written
   * into storage that was erased under the push.
   */
  ended?(): string | null;
  session?: PushSession;
}

export class ReceivePackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReceivePackError";
  }
}

export async function readPushRequest(reader: PktReader): Promise<PushRequest | null> {
  const commands: PushCommand[] = [];
  let caps = new Map<string, string | true>();
  for (;;) {
    const pkt = await reader.read();
    if (pkt === null) {
      if (commands.length === 0) return null;
      throw new ReceivePackError("protocol error: expected flush after commands");
    }
    if (pkt.kind === "flush") break;
    if (pkt.kind !== "data") throw new ReceivePackError("protocol error: unexpected delimiter");
    let line = pktText(pkt.data);
    const nul = line.indexOf("\0");
    if (nul >= 0) {
      if (commands.length === 0) caps = parseCapabilities(line.slice(nul + 1));
      line = line.slice(0, nul);
    }
    if (line.startsWith("shallow ")) continue;
    const m = /^([0-9a-f]{40}) ([0-9a-f]{40}) (.+)$/.exec(line);
    if (!m) throw new ReceivePackError(`protocol error: expected old/new/ref, got '${line.slice(0, 200)}'`);
    commands.push({ old: m[1], new: m[2], ref: m[3] });
  }
  if (commands.length === 0) return null;
  const pushOptions: string[] = [];
  if (caps.has("push-options")) {
    for (;;) {
      const pkt = await reader.read();
      if (pkt === null) throw new ReceivePackError("protocol error: expected flush after push options");
      if (pkt.kind === "flush") break;
      if (pkt.kind !== "data") throw new ReceivePackError("protocol error: unexpected delimiter");
      pushOptions.push(pktText(pkt.data));
    }
  }
  return { commands, caps, pushOptions };
}

function report(push: PushRequest, unpack: string, results: CommandResult[], messages: string[] = []): Uint8Array {
  const lines: Uint8Array[] = [pktLine(`unpack ${unpack}\n`)];
  for (const r of results) lines.push(pktLine(r.ok ? `ok ${r.ref}\n` : `ng ${r.ref} ${r.reason}\n`));
  lines.push(FLUSH);
  const body = concatBytes(lines);
  if (!push.caps.has("side-band-64k")) return body;
  // Messages go before the report, on band 2, which git prints as `remote:` lines. As
  // git's own hooks' output, they are sent with `quiet` too (git asks for quiet whenever
  // its stderr is not a terminal; quiet silences progress, not what hooks say).
  const said = messages.length ? [...sideband(2, new TextEncoder().encode(messages.map((m) => `${m}\n`).join("")))] : [];
  return concatBytes([...said, ...sideband(1, body), FLUSH]);
}

/**
 * A push that cannot go on, in git's form: with side-band-64k, an error on band 3 (an
 * `ERR` line would read as a bad band there); else an `ERR` pkt-line. `push` is null when
 * even the request is unknown.
 */
export function pushError(push: PushRequest | null, message: string): Uint8Array {
  return push?.caps.has("side-band-64k") ? sidebandError(message) : errPkt(message);
}

/** A push request as JSON, for a push that another instance may resume. */
export interface SavedPush {
  commands: PushCommand[];
  caps: [string, string | true][];
  pushOptions: string[];
}

export function savePush(push: PushRequest): SavedPush {
  return { commands: push.commands, caps: [...push.caps], pushOptions: push.pushOptions };
}

export function restorePush(saved: SavedPush): PushRequest {
  return { commands: saved.commands, caps: new Map(saved.caps), pushOptions: saved.pushOptions };
}

/** The report for a pack that could not be stored or indexed: every command fails. */
export function unpackFailed(push: PushRequest, why: string): Uint8Array {
  return report(
    push,
    why,
    push.commands.map((c) => ({ ref: c.ref, ok: false, reason: "unpacker error" })),
  );
}

/**
 * The pack of a push on its way into a temporary DOFS file. It may arrive in several
 * parts (a large push's body, cut into segments by the Worker, one invocation each),
 * and each part is on storage when `receive` returns, so that another instance can
 * continue the file (`resume`).
 */
export class PackUpload {
  private constructor(
    private readonly ctx: ReceiveContext,
    readonly path: string,
    private writer: FileWriter | null,
    /** Why storing failed; the push is then answered with `unpack <why>`. */
    public failure: string | null,
  ) {}

  static start(ctx: ReceiveContext): PackUpload {
    ctx.fs.mkdir(INCOMING_DIR, { recursive: true });
    const path = `${INCOMING_DIR}/${crypto.randomUUID()}.pack`;
    return new PackUpload(ctx, path, ctx.fs.createWriter(path), null);
  }

  /**
   * An upload that an earlier instance stored `stored` bytes of; null if its file is not
   * as that instance left it. Bytes past `stored` are from a part whose call failed: the
   * Worker did not count them, so they go.
   */
  static resume(ctx: ReceiveContext, path: string, stored: number, failure: string | null): PackUpload | null {
    if (failure) return new PackUpload(ctx, path, null, failure);
    if (!ctx.fs.exists(path)) return null;
    const size = ctx.fs.stat(path).size;
    if (size < stored) return null;
    if (size > stored) ctx.fs.truncate(path, stored);
    return new PackUpload(ctx, path, ctx.fs.appendWriter(path), null);
  }

  /** Bytes of the pack on storage (all of them between calls to `receive`). */
  get stored(): number {
    return this.writer?.bytesWritten ?? 0;
  }

  /**
   * Appends a part of the pack. "failed": it could not be stored, and `failure` says why
   * (the report will). "interrupted": the part stopped arriving (the call that brought it
   * failed); what was stored of it is undone, so that it can be sent again.
   */
  async receive(parts: AsyncIterable<Uint8Array>): Promise<"stored" | "failed" | "interrupted"> {
    if (this.failure || !this.writer) return "failed";
    const start = this.stored;
    const iterator = parts[Symbol.asyncIterator]();
    try {
      for (;;) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await iterator.next();
        } catch {
          this.rewind(start);
          return "interrupted";
        }
        // Each chunk may have waited on the network, while the repository was deleted.
        if (this.stop()) return "failed";
        if (next.done) break;
        this.writer.write(next.value);
      }
      this.writer.flush();
      return "stored";
    } catch (e) {
      this.failure = isFsError(e, "ENOSPC") ? "repository quota exceeded" : `could not store the pack: ${(e as Error).message}`;
      this.writer.abort();
      return "failed";
    }
  }

  /** Back to `size` bytes: what the writer holds and what it flushed past it go. */
  private rewind(size: number): void {
    this.ctx.fs.truncate(this.path, size);
    this.writer = this.ctx.fs.appendWriter(this.path);
  }

  /** Whether the push must stop: it was dropped, or must end (see `ReceiveContext.ended`). */
  private stop(): boolean {
    if (this.failure) return true;
    const why = this.ctx.ended?.();
    if (why) this.abort(why);
    return why !== null && why !== undefined;
  }

  /** The whole pack is here: the answer is a report already (it was bad) or a job that indexes it. */
  complete(push: PushRequest): { report: Uint8Array } | { job: PushJob } {
    if (this.failure || !this.writer) return { report: unpackFailed(push, this.failure ?? "push abandoned") };
    this.writer.close();
    return indexUploaded(this.ctx, push, this.path);
  }

  /** Drops what was stored of a push that will not be completed. */
  abort(why = "push abandoned"): void {
    if (this.failure) return;
    this.failure = why;
    this.writer?.abort();
  }
}

/**
 * A push whose pack is stored and whose indexing is under way. `step` does a bounded
 * amount of indexing; `finish` completes it, applies the ref updates and returns the
 * report. Between calls the job lives in the Durable Object's memory, so a large pack is
 * indexed over several invocations, each within its own CPU budget; an instance that
 * does not have it in memory starts the indexing over (`resumeIndexing`).
 */
export class PushJob {
  /** Why indexing failed, once a step has found the pack bad. */
  private failure: string | null = null;
  /** The index, once the indexer has finished; then its rows are staged a slice at a time. */
  private indexed: IndexResult | null = null;
  private stagedObjects = 0;
  private stagedCommits = 0;
  /** The order the rows are staged in, made once the pack is indexed (see ObjectStore.stageRows). */
  private order: StagingOrder | null = null;
  private idxWritten = false;
  /** Why the job was dropped (`abandon`) while it may still be running. */
  private ended: string | null = null;

  constructor(
    private readonly ctx: ReceiveContext,
    private readonly push: PushRequest,
    /** The stored pack (none for a push of deletions only). */
    readonly tempPath: string | null,
    private readonly indexer: PackIndexer | null,
  ) {}

  /** The client takes progress on side band 2 (and did not ask for quiet). */
  get wantsProgress(): boolean {
    return this.push.caps.has("side-band-64k") && !this.push.caps.has("quiet");
  }

  get packBytes(): number {
    return this.indexer?.packSize ?? 0;
  }

  progress(): string {
    if (!this.indexer) return "";
    const p = this.indexer.progress();
    const pct = p.total ? Math.floor((p.done * 100) / p.total) : 100;
    return `${p.phase === "receiving" ? "Indexing objects" : "Resolving deltas"}: ${pct}% (${p.done}/${p.total})`;
  }

  /**
   * About `budget` units of indexing (an object, or 64 KiB of one), then of staging the
   * index's rows (a unit per few rows), then the `.idx`; true when only `finish` is left,
   * whose transaction is then short whatever the pack's size.
   */
  async step(budget: number): Promise<boolean> {
    const { indexer, tempPath } = this;
    if (!indexer || !tempPath || this.failure) return true;
    try {
      if (!this.indexed) {
        if (!indexer.step(budget)) return false;
        // Completing a thin pack reads bases: a step of its own.
        this.indexed = await indexer.finish();
        return false;
      }
    } catch (e) {
      if (!(e instanceof PackFormatError)) throw e;
      this.failure = e.message;
      return true;
    }
    const { objects, commits } = this.indexed;
    if (this.stagedObjects < objects.length || this.stagedCommits < commits.length) {
      // Writing a row costs about a quarter of indexing an object.
      let rows = budget * 4;
      const toObjects = Math.min(objects.length, this.stagedObjects + rows);
      rows -= toObjects - this.stagedObjects;
      const toCommits = Math.min(commits.length, this.stagedCommits + Math.max(0, rows));
      this.order ??= stagingOrder(this.indexed);
      this.ctx.store.stageRows(tempPath, this.indexed, this.order, this.stagedObjects, toObjects, this.stagedCommits, toCommits);
      this.stagedObjects = toObjects;
      this.stagedCommits = toCommits;
      return false;
    }
    if (!this.idxWritten) {
      // Written to its file here, so that the commit's transaction only renames it.
      this.ctx.store.writeStagedIdx(tempPath, writeIdxV2(objects, this.indexed.packChecksum, this.order?.objects));
      this.idxWritten = true;
      return false;
    }
    return true;
  }

  /** The rest of the indexing, the ref updates, and the report to send. */
  async finish(): Promise<Uint8Array> {
    const { ctx, push, tempPath } = this;
    let indexed: IndexResult | null = null;
    if (this.indexer) {
      try {
        if (this.failure) throw new PackFormatError(this.failure);
        indexed = this.indexed ?? (await this.indexer.finish());
      } catch (e) {
        this.dropStaged();
        if (this.stopped()) return unpackFailed(push, this.stopped()!);
        ctx.fs.unlink(tempPath!);
        if (!(e instanceof PackFormatError)) throw e;
        return unpackFailed(push, e.message);
      }
    }
    // Completing a thin pack waited on reads: the push may have been dropped meanwhile.
    const stopped = this.stopped();
    if (stopped) {
      this.abandon(stopped);
      return unpackFailed(push, stopped);
    }
    const atomic = push.caps.has("atomic");
    const results = decide(ctx, push, indexed);
    if (atomic && results.some((r) => r.reason)) {
      for (const r of results) if (!r.reason) r.reason = "atomic push failed";
    }
    for (const hook of ctx.hooks ?? []) {
      const verdict = hook.preReceive?.(push);
      if (verdict && !verdict.ok) {
        for (const r of results) if (!r.reason) r.reason = `pre-receive hook declined: ${verdict.message}`;
        break;
      }
    }
    const staged = indexed !== null && indexed === this.indexed && this.staged();
    const final = commit(ctx, push, results, tempPath, indexed, atomic, staged);
    if (!staged) this.dropStaged();
    for (const hook of ctx.hooks ?? []) hook.postReceive?.(push, final, ctx.session);
    const messages = (ctx.hooks ?? []).flatMap((hook) => hook.pushMessages?.(push, final, ctx.session) ?? []);
    return report(push, "ok", final, messages);
  }

  private stopped(): string | null {
    return this.ended ?? this.ctx.ended?.() ?? null;
  }

  /** Every row staged and the `.idx` written: the commit copies rows instead of writing them. */
  private staged(): boolean {
    const i = this.indexed;
    return i !== null && this.idxWritten && this.stagedObjects === i.objects.length && this.stagedCommits === i.commits.length;
  }

  private dropStaged(): void {
    if (!this.tempPath) return;
    if (this.stagedObjects || this.stagedCommits) this.ctx.store.dropStaged(this.tempPath);
    if (this.idxWritten && this.ctx.fs.exists(stagedIdxPath(this.tempPath))) this.ctx.fs.unlink(stagedIdxPath(this.tempPath));
  }

  /** Drops the stored pack of a push that will not be finished. */
  abandon(why = "push abandoned"): void {
    this.ended ??= why;
    try {
      this.dropStaged();
      if (this.tempPath && this.ctx.fs.exists(this.tempPath)) this.ctx.fs.unlink(this.tempPath);
    } catch {
      // The storage is being erased (the repository was deleted): the pack goes with it.
    }
  }
}

/**
 * Reads the commands. The answer is a report already (bad input, nothing to do), a job
 * that applies deletions, or the push and the upload that its pack is to be stored into:
 * the caller hands it the rest of the body (and any further segments), then completes it.
 */
export async function beginPush(
  ctx: ReceiveContext,
  reader: PktReader,
): Promise<{ report: Uint8Array } | { job: PushJob } | { push: PushRequest; upload: PackUpload }> {
  let push: PushRequest | null;
  try {
    push = await readPushRequest(reader);
  } catch (e) {
    if (e instanceof ReceivePackError || e instanceof PktLineError) return { report: concatBytes([errPkt(e.message)]) };
    throw new BadBodyError(`Could not read the request body: ${(e as Error).message}`);
  }
  if (!push) return { report: new Uint8Array(0) };
  // A pack follows whenever something is created or updated.
  if (!push.commands.some((c) => c.new !== ZERO_OID)) {
    await reader.cancel();
    return { job: new PushJob(ctx, push, null, null) };
  }
  return { push, upload: PackUpload.start(ctx) };
}

/**
 * Indexing of a stored pack, from its start: for a push whose indexing an earlier
 * instance began (see the head of this file for why it starts over).
 */
export function resumeIndexing(ctx: ReceiveContext, push: PushRequest, path: string): { report: Uint8Array } | { job: PushJob } {
  if (!ctx.fs.exists(path)) return { report: unpackFailed(push, "the stored pack is gone (push interrupted): please push again") };
  return indexUploaded(ctx, push, path);
}

/** Starts indexing a stored pack (an empty one is no pack: a push of deletions only). */
function indexUploaded(ctx: ReceiveContext, push: PushRequest, path: string): { report: Uint8Array } | { job: PushJob } {
  if (ctx.fs.stat(path).size === 0) {
    ctx.fs.unlink(path);
    return { job: new PushJob(ctx, push, null, null) };
  }
  let indexer: PackIndexer;
  try {
    indexer = ctx.store.indexer(path);
  } catch (e) {
    ctx.fs.unlink(path);
    if (!(e instanceof PackFormatError)) throw e;
    return { report: unpackFailed(push, e.message) };
  }
  return { job: new PushJob(ctx, push, path, indexer) };
}

type Pending = CommandResult & { cmd: PushCommand; reason?: string };

/** Per-command checks before any write: names, objects, connectivity. */
function decide(ctx: ReceiveContext, push: PushRequest, indexed: IndexResult | null): Pending[] {
  // The pack's own table answers by id: no map of every id (420k of them on a large push).
  const typeInPack = (oid: string): number | undefined => {
    const at = indexed ? indexed.objects.findHex(oid) : -1;
    return at >= 0 ? indexed!.objects.type(at) : undefined;
  };
  const inPack = { has: (oid: string) => typeInPack(oid) !== undefined, get: typeInPack };
  // Objects the pack refers to must be in it or already stored: else it is incomplete.
  let incomplete = false;
  for (const oid of indexed?.referenced ?? []) {
    if (!inPack.has(oid) && !ctx.store.has(oid)) {
      incomplete = true;
      break;
    }
  }
  const seen = new Set<string>();
  return push.commands.map((cmd) => {
    const r: Pending = { ref: cmd.ref, ok: false, cmd };
    if (seen.has(cmd.ref)) {
      r.reason = "duplicate ref update";
      return r;
    }
    seen.add(cmd.ref);
    if (cmd.new === ZERO_OID) {
      if (cmd.old === ZERO_OID) r.reason = "deleting a ref that does not exist";
      return r;
    }
    if (!isOid(cmd.new)) {
      r.reason = "invalid object id";
      return r;
    }
    const type = inPack.get(cmd.new) ?? ctx.store.typeOf(cmd.new);
    if (type === undefined || type === null || (incomplete && inPack.has(cmd.new))) {
      r.reason = "missing necessary objects";
    } else if (cmd.ref.startsWith("refs/heads/") && type !== OBJ_COMMIT) {
      r.reason = "trying to write non-commit object to branch";
    }
    return r;
  });
}

function commit(
  ctx: ReceiveContext,
  _push: PushRequest,
  pending: Pending[],
  tempPath: string | null,
  indexed: IndexResult | null,
  atomic: boolean,
  staged: boolean,
): CommandResult[] {
  const updates: RefUpdate[] = pending.filter((p) => !p.reason).map((p) => ({ name: p.cmd.ref, old: p.cmd.old, new: p.cmd.new }));
  const hadRefs = ctx.refs.list().size > 0;
  const outcome = applyRefTransaction(ctx, {
    updates,
    atomic,
    actor: { via: "push", user: ctx.user ?? ctx.session?.pusher?.login, admin: ctx.session?.admin },
    pack: tempPath && indexed ? { tempPath, indexed, ...(staged ? { staged: true, idx: "written" as const } : {}) } : null,
    before: () => {
      if (!hadRefs && updates.length) ctx.onFirstPush?.();
    },
    // The first push into an empty repository sends, in one closed pack, everything its
    // refs reach: a full clone can then be served that pack as stored.
    after: (results, pack) => {
      if (pack && !hadRefs && indexed!.closed && results.every((r) => r.ok))
        ctx.store.markCovering(pack, ctx.refs.digest(), ctx.refs.list().values());
    },
  });
  if (outcome.kind === "quota") return pending.map((p) => ({ ref: p.ref, ok: false, reason: outcome.message }));
  const byRef = new Map(outcome.results.map((r) => [r.name, r]));
  return pending.map((p) => {
    if (p.reason) return { ref: p.ref, ok: false, reason: p.reason };
    const o = byRef.get(p.ref);
    return o?.ok ? { ref: p.ref, ok: true } : { ref: p.ref, ok: false, reason: o?.reason ?? "failed to update ref" };
  });
}
