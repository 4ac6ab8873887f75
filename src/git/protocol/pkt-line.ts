// pkt-line framing (gitprotocol-common): four hex digits of length, then payload.
// 0000 is flush, 0001 delim (v2), 0002 response-end (v2).
import { concatBytes } from "../../util/bytes";

export const LARGE_PACKET_MAX = 65520;
export const LARGE_PACKET_DATA_MAX = LARGE_PACKET_MAX - 4;

export type Pkt = { kind: "data"; data: Uint8Array } | { kind: "flush" } | { kind: "delim" } | { kind: "response-end" };

export class PktLineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PktLineError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HEX = "0123456789abcdef";

export const FLUSH = encoder.encode("0000");
export const DELIM = encoder.encode("0001");

export function pktLine(payload: string | Uint8Array): Uint8Array {
  const body = typeof payload === "string" ? encoder.encode(payload) : payload;
  const len = body.byteLength + 4;
  if (len > LARGE_PACKET_MAX) throw new PktLineError(`pkt-line too long: ${len} bytes`);
  const out = new Uint8Array(len);
  out[0] = HEX.charCodeAt((len >> 12) & 15);
  out[1] = HEX.charCodeAt((len >> 8) & 15);
  out[2] = HEX.charCodeAt((len >> 4) & 15);
  out[3] = HEX.charCodeAt(len & 15);
  out.set(body, 4);
  return out;
}

/** How much of a message an `ERR` line carries: messages quote the client's input, which may fill a pkt-line. */
const ERR_MESSAGE_MAX = 1000;

/** `ERR <msg>`: how a git server tells the client it cannot go on. */
export function errPkt(message: string): Uint8Array {
  const shown = message.length > ERR_MESSAGE_MAX ? `${message.slice(0, ERR_MESSAGE_MAX)}...` : message;
  return pktLine(`ERR ${shown}\n`);
}

function parseLength(buf: Uint8Array, at: number): number {
  let n = 0;
  for (let i = 0; i < 4; i++) {
    const c = buf[at + i];
    let v: number;
    if (c >= 48 && c <= 57) v = c - 48;
    else if (c >= 97 && c <= 102) v = c - 87;
    else if (c >= 65 && c <= 70) v = c - 55;
    else throw new PktLineError(`bad pkt-line length "${printable(buf.subarray(at, at + 4))}"`);
    n = (n << 4) | v;
  }
  return n;
}

function printable(b: Uint8Array): string {
  return Array.from(b, (c) => (c >= 32 && c < 127 ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`)).join("");
}

/**
 * Parses one pkt at `at`. Returns null when `buf` does not yet hold a whole pkt.
 */
export function parsePkt(buf: Uint8Array, at: number): { pkt: Pkt; next: number } | null {
  if (buf.byteLength - at < 4) return null;
  const len = parseLength(buf, at);
  if (len === 0) return { pkt: { kind: "flush" }, next: at + 4 };
  if (len === 1) return { pkt: { kind: "delim" }, next: at + 4 };
  if (len === 2) return { pkt: { kind: "response-end" }, next: at + 4 };
  if (len < 4) throw new PktLineError(`bad pkt-line length ${len}`);
  if (len > LARGE_PACKET_MAX) throw new PktLineError(`pkt-line too long: ${len} bytes`);
  if (buf.byteLength - at < len) return null;
  return { pkt: { kind: "data", data: buf.subarray(at + 4, at + len) }, next: at + len };
}

/** Parses a whole buffer of pkt-lines; a partial trailing pkt is an error. */
export function parsePktLines(buf: Uint8Array): Pkt[] {
  const out: Pkt[] = [];
  let at = 0;
  while (at < buf.byteLength) {
    const r = parsePkt(buf, at);
    if (!r) throw new PktLineError("unexpected end of input inside a pkt-line");
    out.push(r.pkt);
    at = r.next;
  }
  return out;
}

/** The payload as text, without its trailing newline (which is optional in git). */
export function pktText(data: Uint8Array): string {
  const s = decoder.decode(data);
  return s.endsWith("\n") ? s.slice(0, -1) : s;
}

/**
 * Reads pkt-lines, then raw bytes, from a byte stream, holding only what the current
 * pkt needs (at most 64 KiB plus one network chunk).
 */
export class PktReader {
  private buf = new Uint8Array(0);
  private at = 0;
  private done = false;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.getReader();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const { value, done } = await this.reader.read();
    if (done) {
      this.done = true;
      return false;
    }
    const rest = this.buf.subarray(this.at);
    const merged = new Uint8Array(rest.byteLength + value.byteLength);
    merged.set(rest);
    merged.set(value, rest.byteLength);
    this.buf = merged;
    this.at = 0;
    return true;
  }

  /** The next pkt, or null at a clean end of stream. */
  async read(): Promise<Pkt | null> {
    for (;;) {
      const r = parsePkt(this.buf, this.at);
      if (r) {
        this.at = r.next;
        return r.pkt;
      }
      if (!(await this.fill())) {
        if (this.at < this.buf.byteLength) throw new PktLineError("unexpected end of input inside a pkt-line");
        return null;
      }
    }
  }

  /** Everything after the pkts read so far, as it arrives. */
  async *rest(): AsyncGenerator<Uint8Array> {
    if (this.at < this.buf.byteLength) yield this.buf.subarray(this.at);
    this.buf = new Uint8Array(0);
    this.at = 0;
    while (!this.done) {
      const { value, done } = await this.reader.read();
      if (done) {
        this.done = true;
        break;
      }
      if (value.byteLength) yield value;
    }
  }

  async cancel(): Promise<void> {
    try {
      await this.reader.cancel();
    } catch {
      // The body is already closed: nothing to release.
    }
  }
}

/**
 * Frames `data` for side-band(-64k): each packet carries a band byte (1 pack data,
 * 2 progress, 3 fatal error) and at most `max` payload bytes.
 */
export function* sideband(band: 1 | 2 | 3, data: Uint8Array, max = LARGE_PACKET_DATA_MAX - 1): Generator<Uint8Array> {
  yield* sidebandParts(band, [data], max);
}

/**
 * `sideband` over the bytes of `parts` in order, framed as if they were one buffer. Each
 * packet's header (length and band) and then its payload as views of the parts: the pack
 * is not copied here, only where the parts are joined into a step.
 */
export function* sidebandParts(band: 1 | 2 | 3, parts: Uint8Array[], max = LARGE_PACKET_DATA_MAX - 1): Generator<Uint8Array> {
  let left = 0;
  for (const p of parts) left += p.byteLength;
  let i = 0;
  let off = 0;
  while (left > 0) {
    const len = Math.min(max, left) + 5;
    const head = new Uint8Array(5);
    head[0] = HEX.charCodeAt((len >> 12) & 15);
    head[1] = HEX.charCodeAt((len >> 8) & 15);
    head[2] = HEX.charCodeAt((len >> 4) & 15);
    head[3] = HEX.charCodeAt(len & 15);
    head[4] = band;
    yield head;
    for (let need = len - 5; need > 0; ) {
      const part = parts[i];
      const take = Math.min(need, part.byteLength - off);
      if (take > 0) yield part.subarray(off, off + take);
      off += take;
      need -= take;
      left -= take;
      if (off === part.byteLength) {
        i++;
        off = 0;
      }
    }
  }
}

/** An error in the middle of an answer, on side band 3, where the client prints it. */
export function sidebandError(message: string): Uint8Array {
  return concatBytes([...sideband(3, encoder.encode(`error: ${message}\n`))]);
}
