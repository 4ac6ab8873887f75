// SHA-1 in JavaScript, for the many small objects of a pack: `node:crypto` costs a few
// microseconds per hash before it reads a byte (a native object, a copy into a Buffer,
// a hex string), which is most of the time a small tree or commit takes to hash.

const w = new Int32Array(80);
let scratch = new Uint8Array(1024);

/** Up to this many bytes the JavaScript hash is the faster (measured in workerd: 9 µs against 16 µs for a few hundred bytes, 66 µs against 16 µs for 4 KiB). */
export const SMALL_HASH_BYTES = 1024;

/** The two hex digits of each byte value, as character codes. */
const HEX_CODES = new Uint16Array(512);
for (let i = 0; i < 256; i++) {
  const hex = i.toString(16).padStart(2, "0");
  HEX_CODES[2 * i] = hex.charCodeAt(0);
  HEX_CODES[2 * i + 1] = hex.charCodeAt(1);
}
const digest = new Uint16Array(40);

/**
 * The SHA-1 of `head` (ASCII, such as git's "tree 123\0") followed by `body`, in
 * lower-case hex. The head is written straight into the message: encoding it to bytes
 * first cost as much as hashing a small tree.
 */
export function sha1Hex(head: string, body: Uint8Array): string {
  const h = head.length;
  const len = h + body.byteLength;
  const padded = (len + 9 + 63) & ~63;
  if (scratch.byteLength < padded) scratch = new Uint8Array(Math.max(padded, scratch.byteLength * 2));
  const m = scratch;
  for (let i = 0; i < h; i++) m[i] = head.charCodeAt(i);
  m.set(body, h);
  m[len] = 0x80;
  m.fill(0, len + 1, padded);
  // The message length in bits, big-endian in the last 8 bytes (lengths here fit in 2^53).
  const bits = len * 8;
  const hi = Math.floor(bits / 2 ** 32);
  const lo = bits >>> 0;
  m[padded - 8] = hi >>> 24;
  m[padded - 7] = (hi >>> 16) & 0xff;
  m[padded - 6] = (hi >>> 8) & 0xff;
  m[padded - 5] = hi & 0xff;
  m[padded - 4] = lo >>> 24;
  m[padded - 3] = (lo >>> 16) & 0xff;
  m[padded - 2] = (lo >>> 8) & 0xff;
  m[padded - 1] = lo & 0xff;
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  for (let off = 0; off < padded; off += 64) {
    for (let i = 0; i < 16; i++) {
      const j = off + i * 4;
      w[i] = (m[j] << 24) | (m[j + 1] << 16) | (m[j + 2] << 8) | m[j + 3];
    }
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    // Four loops of twenty rounds, not one loop choosing its round function each time:
    // the branch per round was a third of the hash's time.
    for (let i = 0; i < 20; i++) {
      const t = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + w[i]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (let i = 20; i < 40; i++) {
      const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[i]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (let i = 40; i < 60; i++) {
      const t = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + (0x8f1bbcdc | 0) + w[i]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (let i = 60; i < 80; i++) {
      const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + (0xca62c1d6 | 0) + w[i]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  word(h0, 0);
  word(h1, 8);
  word(h2, 16);
  word(h3, 24);
  word(h4, 32);
  // One string from the codes: joining twenty pieces left a chain of partial strings
  // per id for the collector, hundreds of bytes for each object of a push.
  return String.fromCharCode.apply(null, digest as unknown as number[]);
}

function word(x: number, at: number): void {
  for (let k = 0; k < 4; k++) {
    const b = (x >>> (24 - 8 * k)) & 0xff;
    digest[at + 2 * k] = HEX_CODES[2 * b];
    digest[at + 2 * k + 1] = HEX_CODES[2 * b + 1];
  }
}
