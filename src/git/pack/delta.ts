// Git's delta format: base size and result size varints, then copy and insert ops.
import { PackFormatError } from "./entry";

function readVarint(d: Uint8Array, pos: { i: number }): number {
  let n = 0;
  let shift = 0;
  let c: number;
  do {
    if (pos.i >= d.byteLength) throw new PackFormatError("truncated delta header");
    c = d[pos.i++];
    n += (c & 0x7f) * 2 ** shift;
    shift += 7;
  } while (c & 0x80);
  return n;
}

export function applyDelta(base: Uint8Array, delta: Uint8Array): Uint8Array {
  const pos = { i: 0 };
  const baseSize = readVarint(delta, pos);
  if (baseSize !== base.byteLength) {
    throw new PackFormatError(`delta base size mismatch: expected ${baseSize}, base has ${base.byteLength}`);
  }
  const resultSize = readVarint(delta, pos);
  const out = new Uint8Array(resultSize);
  let o = 0;
  let i = pos.i;
  while (i < delta.byteLength) {
    const op = delta[i++];
    if (op & 0x80) {
      let off = 0;
      let len = 0;
      if (op & 0x01) off = delta[i++];
      if (op & 0x02) off |= delta[i++] << 8;
      if (op & 0x04) off |= delta[i++] << 16;
      if (op & 0x08) off = (off | (delta[i++] << 24)) >>> 0;
      if (op & 0x10) len = delta[i++];
      if (op & 0x20) len |= delta[i++] << 8;
      if (op & 0x40) len |= delta[i++] << 16;
      if (len === 0) len = 0x10000;
      if (i > delta.byteLength || off + len > base.byteLength || o + len > resultSize) {
        throw new PackFormatError("delta copy out of range");
      }
      // A short copy byte by byte: a subarray per operation costs more than the copy.
      if (len < 32) for (let k = 0; k < len; k++) out[o + k] = base[off + k];
      else out.set(base.subarray(off, off + len), o);
      o += len;
    } else if (op !== 0) {
      if (i + op > delta.byteLength || o + op > resultSize) throw new PackFormatError("delta insert out of range");
      if (op < 32) for (let k = 0; k < op; k++) out[o + k] = delta[i + k];
      else out.set(delta.subarray(i, i + op), o);
      i += op;
      o += op;
    } else {
      throw new PackFormatError("delta opcode 0 is reserved");
    }
  }
  if (o !== resultSize) throw new PackFormatError("delta result size mismatch");
  return out;
}
