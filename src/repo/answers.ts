// Shared answers: a clone or fetch that many clients ask for at once is made once.
//
// A CI fleet, or sixteen developers after an announcement, clone the same refs at the
// same moment. Each answer is the same bytes (a request names its objects by id, so the
// answer to the same request does not change while objects are only added), but each
// was made on its own: the same walk, the same pack written and hashed, sixteen times on
// the one thread of the repository's object. Here the first request of a kind produces
// its answer into a file in DOFS as it goes; every identical request reads that file
// from the start, and whichever reader gets to the end of what is written drives the
// production on. (GitLab's pack-objects cache does the same for git's own server.)
//
// An answer nobody is reading any more before it is complete is dropped; complete ones
// are kept a few minutes for the next clone, within a byte budget. Requests that read
// the refs (include-tag, want-ref, deepen-not) are keyed with the refs as well.
import { createHash } from "node:crypto";
import type { Dofs } from "../fs/dofs";
import { isFsError } from "../fs/errors";
import { type Pkt, parsePktLines, pktText } from "../git/protocol/pkt-line";
import { STEP_BOUNDARY } from "../git/protocol/upload-pack";
import { concatBytes } from "../util/bytes";

/** Where answers are written; not part of the repository (export skips it). */
export const ANSWERS_DIR = "/answers";

/** The name's suffix while an answer is being written. */
const PART = ".part";

/** The key of a production's name (`key.nonce`). */
export const keyOfName = (name: string) => name.slice(0, name.lastIndexOf("."));

export interface AnswerLimits {
  /** Complete answers kept, in bytes together. */
  keepBytes: number;
  /** A complete answer nobody has read for this long is deleted. */
  keepMs: number;
  /**
   * Bytes appended to the file at a time (the production's chunks are batched to it),
   * and read from it at a time; at most a quarter of a step, so steps stay near their size.
   */
  chunkBytes: number;
  /** The most a reader takes from the file at once, whatever room it has. */
  readMaxBytes: number;
}

export const DEFAULT_ANSWER_LIMITS: AnswerLimits = {
  keepBytes: 512 * 1024 * 1024,
  keepMs: 5 * 60_000,
  chunkBytes: 256 * 1024,
  readMaxBytes: 4 * 1024 * 1024,
};

interface Entry {
  key: string;
  /**
   * This production of the answer: `key.nonce`. A later one of the same key, made after the
   * packs changed, may differ in its bytes, so a reader resumed after a restart names this.
   */
  name: string;
  path: string;
  /** Bytes written to the file: what readers may read. */
  size: number;
  complete: boolean;
  failure: Error | null;
  source: AsyncGenerator<Uint8Array> | null;
  /** The production's next batch, while a reader drives it. */
  pulling: Promise<void> | null;
  readers: number;
  lastRead: number;
}

export class SharedAnswers {
  private readonly entries = new Map<string, Entry>();
  /** Answers produced, and requests that read one another request produced. */
  readonly stats = { produced: 0, followed: 0 };

  constructor(
    private readonly fs: Dofs,
    readonly limits: AnswerLimits = { ...DEFAULT_ANSWER_LIMITS },
  ) {
    // An answer an earlier instance left part-way cannot be continued (its production is
    // gone); a complete one can be read on, by the clones it was sending when the object
    // restarted as much as by new ones.
    if (!fs.exists(ANSWERS_DIR)) return;
    for (const f of fs.readdir(ANSWERS_DIR)) {
      const path = `${ANSWERS_DIR}/${f}`;
      const dot = f.lastIndexOf(".");
      if (f.endsWith(PART) || dot < 0) {
        fs.unlink(path);
        continue;
      }
      // When it was last read is not known: counted from when it was written.
      const { size, mtimeMs } = fs.stat(path);
      const key = f.slice(0, dot);
      this.entries.set(key, { ...this.blank(key, f), size, complete: true, lastRead: mtimeMs });
    }
  }

  private blank(key: string, name: string): Entry {
    const path = `${ANSWERS_DIR}/${name}`;
    return { key, name, path, size: 0, complete: false, failure: null, source: null, pulling: null, readers: 0, lastRead: Date.now() };
  }

  /** Whether the production `name` (what `open` answered) is here and complete: its bytes are fixed. */
  complete(name: string): boolean {
    const entry = this.entries.get(keyOfName(name));
    return entry?.complete === true && entry.name === name;
  }

  /**
   * The key of an upload-pack request: its lines without what differs between identical
   * clients (agent, session-id), and the refs when the answer reads them. Null for a
   * body that is not pkt-lines (its error comes from upload-pack itself), and for a v2
   * command other than fetch, which is answered afresh.
   */
  keyOf(version: number, request: Uint8Array, refsDigest: () => string): string | null {
    let pkts: Pkt[];
    try {
      pkts = parsePktLines(request);
    } catch {
      return null;
    }
    const lines = pkts.map((p) =>
      p.kind === "data"
        ? pktText(p.data)
            .replace(/(^|[\0 ])(agent|session-id)=[^ \0]*/g, "$1")
            .trim()
        : `<${p.kind}>`,
    );
    // Only a pack is a function of its request: ls-refs and object-info answer what the
    // refs and objects are now, and are small besides.
    if (version === 2 && lines[0] !== "command=fetch") return null;
    const text = `v${version}\n${lines.join("\n")}`;
    const readsRefs = /(^|[\0 \n])(include-tag|want-ref|deepen-not)\b/.test(text);
    return createHash("sha1")
      .update(readsRefs ? `${text}\nrefs ${refsDigest()}` : text)
      .digest("hex");
  }

  /** Whether an answer with this key is complete or on its way (a new request would follow it). */
  has(key: string): boolean {
    const e = this.entries.get(key);
    return e !== undefined && e.failure === null;
  }

  /**
   * The answer with `key`, as the bytes of a stepped answer (with STEP_BOUNDARY where
   * the production offers one to the reader driving it). `produce` makes it when no
   * answer with this key is complete or on its way (`leads`); `share` false makes a new
   * one unshared (there is no room to keep it).
   */
  open(
    key: string,
    produce: () => AsyncGenerator<Uint8Array>,
    options: { share?: boolean; stepBytes?: number; from?: number } = {},
  ): { answer: AsyncGenerator<Uint8Array>; leads: boolean; name: string | null } {
    this.sweep(Date.now(), new Set([key]));
    let entry = this.entries.get(key);
    const leads = !entry || entry.failure !== null;
    if (!entry || entry.failure) {
      if (options.share === false) return { answer: produce(), leads, name: null };
      this.stats.produced++;
      const name = `${key}.${crypto.randomUUID().slice(0, 8)}`;
      entry = { ...this.blank(key, name), path: `${ANSWERS_DIR}/${name}${PART}`, source: produce() };
      this.fs.mkdir(ANSWERS_DIR, { recursive: true });
      this.fs.writeFile(entry.path, new Uint8Array(0));
      this.entries.set(key, entry);
    } else {
      this.stats.followed++;
    }
    const chunk = Math.max(1, Math.min(this.limits.chunkBytes, Math.floor((options.stepBytes ?? Number.POSITIVE_INFINITY) / 4)));
    // Only a complete answer's bytes are sure to be there to start from.
    if (options.from && !entry.complete) throw new Error("the answer to resume is gone");
    const from = Math.min(options.from ?? 0, entry.size);
    return { answer: this.read(entry, chunk, from), leads, name: entry.name };
  }

  /**
   * One reader. The caller may pass `next(bytes)` the room it has left: what is written
   * is read that much at a time (a step is then one read), what is produced in batches of
   * `chunk`.
   */
  private async *read(entry: Entry, chunk: number, from: number): AsyncGenerator<Uint8Array, void, number | undefined> {
    entry.readers++;
    let pos = from;
    let want: number | undefined;
    try {
      for (;;) {
        if (pos < entry.size) {
          const n = Math.min(Math.max(1, want ?? chunk), entry.size - pos, this.limits.readMaxBytes);
          const bytes = await this.fs.readOnce(entry.path, pos, n);
          pos += bytes.byteLength;
          want = yield bytes;
          continue;
        }
        if (entry.complete) return;
        if (entry.failure) throw entry.failure;
        if (entry.pulling) {
          // Another reader drives the production: wait for its batch.
          await entry.pulling.catch(() => undefined);
          continue;
        }
        const batch: Uint8Array[] = [];
        let boundary = false;
        entry.pulling = this.pull(entry, chunk, batch, () => (boundary = true));
        try {
          await entry.pulling;
        } finally {
          entry.pulling = null;
        }
        // What this reader produced (it was at the end) it sends at once, without reading it back.
        if (batch.length) {
          pos += batch[0].byteLength;
          want = yield batch[0];
        }
        if (boundary) yield STEP_BOUNDARY;
      }
    } finally {
      entry.readers--;
      entry.lastRead = Date.now();
      // An answer left incomplete by every reader is not worth finishing.
      if (entry.readers === 0 && !entry.complete) this.drop(entry);
    }
  }

  /** Runs the production until a batch is written, it offers a step boundary, or it ends. */
  private async pull(entry: Entry, chunk: number, batch: Uint8Array[], onBoundary: () => void): Promise<void> {
    let size = 0;
    let ended = false;
    try {
      while (size < chunk) {
        const r = await entry.source!.next();
        if (r.done) {
          ended = true;
          entry.source = null;
          break;
        }
        if (r.value === STEP_BOUNDARY) {
          onBoundary();
          break;
        }
        if (!r.value.byteLength) continue;
        batch.push(r.value);
        size += r.value.byteLength;
      }
      if (size) {
        const bytes = batch.length === 1 ? batch[0] : concatBytes(batch);
        batch.length = 0;
        batch.push(bytes);
        this.fs.append(entry.path, bytes, { cache: false });
        entry.size += bytes.byteLength;
      }
      if (ended) {
        // Complete: under its own name, which a fresh instance takes as whole.
        const whole = `${ANSWERS_DIR}/${entry.name}`;
        this.fs.rename(entry.path, whole);
        entry.path = whole;
        entry.complete = true;
      }
    } catch (e) {
      entry.failure = isFsError(e, "ENOSPC")
        ? new Error("repository quota exceeded while sharing the answer: please try again")
        : e instanceof Error
          ? e
          : new Error(String(e));
      entry.source?.return(undefined).catch(() => undefined);
      entry.source = null;
      this.removeFile(entry);
      throw entry.failure;
    }
  }

  private drop(entry: Entry): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    entry.failure ??= new Error("answer dropped");
    // The production is being dropped; a failure while it closes has no one to report to.
    entry.source?.return(undefined).catch(() => undefined);
    entry.source = null;
    this.removeFile(entry);
  }

  private removeFile(entry: Entry): void {
    if (this.fs.exists(entry.path)) this.fs.unlink(entry.path);
  }

  /** Deletes complete answers unread for `keepMs`, and the oldest beyond `keepBytes`, but those in `keep`. */
  sweep(now = Date.now(), keep: ReadonlySet<string> = new Set()): void {
    const idle = [...this.entries.values()].filter((e) => e.complete && e.readers === 0 && !keep.has(e.key));
    let kept = idle.reduce((n, e) => n + e.size, 0);
    for (const e of idle.sort((a, b) => a.lastRead - b.lastRead)) {
      if (now - e.lastRead < this.limits.keepMs && kept <= this.limits.keepBytes) continue;
      kept -= e.size;
      this.drop(e);
    }
  }
}
