// zlib for pack entries. When the compressed length is known (from the index),
// `inflateSync` on exactly that stream is the fast path measured in DESIGN.md.
import { constants, createInflate, inflateSync } from "node:zlib";
import { PackFormatError } from "./entry";

/**
 * The output cap for an object declared as `expected` bytes. workerd checks the cap
 * against its growing output buffer, not the bytes produced, so an exact cap fails on
 * honest data; the next power of two above it, doubled, still stops a zlib bomb near its declared size.
 */
export function inflateCap(expected: number): number {
  let cap = 1 << 16;
  while (cap <= expected) cap *= 2;
  return cap * 2;
}

/**
 * The output chunk size for an object of `expected` bytes. zlib allocates output a
 * chunk at a time (16 KiB by default): for the many small objects of a pack, a chunk
 * fitted to the object avoids allocating (and collecting) 16 KiB per object.
 */
export function inflateChunk(expected: number): number {
  return Math.min(Math.max(64, expected + 64), 1 << 20);
}

/** Inflates one whole zlib stream that must produce exactly `expected` bytes. */
export function inflateExact(bytes: Uint8Array, expected: number): Uint8Array {
  const e = engine();
  if (e) {
    const r = e.inflate(bytes, expected);
    if (r === "short") throw new PackFormatError("corrupt zlib stream: unexpected end of file");
    return r.buffer;
  }
  let out: Uint8Array;
  try {
    // The cap stops a zlib bomb at its declared size instead of at the isolate's limit.
    out = inflateSync(bytes, { maxOutputLength: inflateCap(expected), chunkSize: inflateChunk(expected) });
  } catch (e) {
    throw new PackFormatError(`corrupt zlib stream: ${(e as Error).message}`);
  }
  if (out.byteLength !== expected) throw new PackFormatError(`inflated size mismatch: expected ${expected}, got ${out.byteLength}`);
  return out;
}

/** The zlib engine under a `node:zlib` stream, as Node and workerd both expose it. */
interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  reset(): void;
  setErrorHandler(handler: (...args: unknown[]) => void): void;
}

/**
 * One zlib engine, reused for every entry of a pack: it inflates into a buffer of the
 * declared size and says where the stream ended (the input it left), in one pass.
 * `inflateSync` makes and finalizes an engine per call, and cannot say where the
 * stream ended without keeping each engine alive (see `inflateCounting`).
 */
class ReusedInflater {
  private failure: unknown[] | null = null;

  private constructor(
    /** The stream the engine belongs to, held so that nothing it owns is collected. */
    readonly stream: unknown,
    private readonly handle: ZlibHandle,
    /** [output bytes left, input bytes left] after each write. */
    private readonly state: Uint32Array,
  ) {
    // The stream's own handler destroys the engine on the first corrupt input; this one
    // only records the error, and `reset` readies the engine for the next entry.
    handle.setErrorHandler((...args: unknown[]) => {
      this.failure = args;
    });
  }

  /** The engine, if this runtime exposes it as Node does; else null (and `inflateSync` serves). */
  static create(): ReusedInflater | null {
    try {
      const stream = createInflate() as unknown as { _handle?: Partial<ZlibHandle>; _writeState?: unknown };
      const h = stream._handle;
      if (!h || typeof h.writeSync !== "function" || typeof h.reset !== "function" || typeof h.setErrorHandler !== "function") return null;
      if (!(stream._writeState instanceof Uint32Array)) return null;
      return new ReusedInflater(stream, h as ZlibHandle, stream._writeState);
    } catch {
      return null;
    }
  }

  /**
   * Inflates the stream at the start of `input` into exactly `expected` bytes. "short"
   * when `input` ends before the stream does.
   */
  inflate(input: Uint8Array, expected: number): { buffer: Uint8Array; consumed: number } | "short" {
    // One byte more than declared: a stream that fills it is longer than its header says.
    const out = new Uint8Array(expected + 1);
    this.failure = null;
    this.handle.reset();
    this.handle.writeSync(constants.Z_FINISH, input, 0, input.byteLength, out, 0, out.byteLength);
    const failure = this.failure as unknown[] | null;
    if (failure) {
      if (failure.includes(constants.Z_BUF_ERROR) || failure.includes("Z_BUF_ERROR")) return "short";
      throw new PackFormatError(`corrupt zlib stream: ${failure.filter((a) => typeof a === "string").join(" ") || String(failure[0])}`);
    }
    const [outLeft, inLeft] = this.state;
    if (outLeft === 0) throw new PackFormatError(`object inflates past its declared size of ${expected} bytes`);
    if (outLeft !== 1)
      throw new PackFormatError(`object size mismatch: header says ${expected}, data inflates to ${expected + 1 - outLeft}`);
    return { buffer: out.subarray(0, expected), consumed: input.byteLength - inLeft };
  }
}

let reused: ReusedInflater | null | undefined;

function engine(): ReusedInflater | null {
  if (reused === undefined) reused = ReusedInflater.create();
  return reused;
}

/**
 * Inflates the zlib stream at the start of `input` (other data may follow it) into
 * exactly `expected` bytes, and says how many input bytes it used; "short" when `input`
 * ends first. Throws PackFormatError on corrupt data or a wrong size.
 */
export function inflateEntry(input: Uint8Array, expected: number): { buffer: Uint8Array; consumed: number } | "short" {
  const e = engine();
  if (e) return e.inflate(input, expected);
  try {
    const r = inflateCounting(input, expected);
    if (r.buffer.byteLength !== expected) {
      throw new PackFormatError(`object size mismatch: header says ${expected}, data inflates to ${r.buffer.byteLength}`);
    }
    return r;
  } catch (e) {
    if (e instanceof PackFormatError) throw e;
    const msg = (e as Error).message ?? String(e);
    if (/unexpected end/i.test(msg)) return "short";
    if (/memory limit|maxOutputLength|buffer/i.test(msg) || e instanceof RangeError) {
      throw new PackFormatError(`object inflates past its declared size of ${expected} bytes`);
    }
    throw new PackFormatError(`corrupt zlib stream: ${msg}`);
  }
}

/**
 * Inflates one zlib stream that may be followed by other data, and says how many input
 * bytes it used: the fallback for a runtime without `ReusedInflater`'s engine.
 * `inflateSync(…, { info: true })` would say, but in workerd every
 * engine used that way stays reachable for the isolate's life (about 16 KiB each), so
 * the end is found from the stream's own trailer instead: a zlib stream ends with the
 * Adler-32 of its output, and the first place those four bytes occur after which the
 * stream inflates completely is its end.
 */
export function inflateCounting(input: Uint8Array, expected: number): { buffer: Uint8Array; consumed: number } {
  const opts = { maxOutputLength: inflateCap(expected), chunkSize: inflateChunk(expected) };
  const buffer = inflateSync(input, opts);
  const sum = adler32(buffer);
  const b0 = sum >>> 24;
  const b1 = (sum >>> 16) & 0xff;
  const b2 = (sum >>> 8) & 0xff;
  const b3 = sum & 0xff;
  // The header takes two bytes and the shortest deflate stream one more.
  for (let p = input.indexOf(b0, 3); p >= 0 && p + 4 <= input.byteLength; p = input.indexOf(b0, p + 1)) {
    if (input[p + 1] !== b1 || input[p + 2] !== b2 || input[p + 3] !== b3) continue;
    try {
      if (inflateSync(input.subarray(0, p + 4), opts).byteLength === buffer.byteLength) return { buffer, consumed: p + 4 };
    } catch {
      // Those bytes were inside the compressed data: look further.
    }
  }
  throw new Error("unexpected end of file: no zlib trailer");
}

/** Adler-32, as zlib computes it over a stream's output. */
function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  // 5552 is the most bytes that keep both sums within 32 bits before reducing.
  for (let i = 0; i < data.byteLength; ) {
    const end = Math.min(data.byteLength, i + 5552);
    for (; i < end; i++) {
      a += data[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}
