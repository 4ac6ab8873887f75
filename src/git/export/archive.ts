// `git archive` for the web: a commit's tree as .tar.gz or .zip, streamed one file at a
// time (each file is one object, so memory holds at most one blob).
import { crc32, deflateRawSync } from "node:zlib";
import type { Browser } from "../browse";
import { BLOCK, tarHeader } from "./tar";

interface ArchiveEntry {
  path: string;
  mode: string;
  data: Uint8Array;
}

async function* walkFiles(browser: Browser, tree: string, base: string): AsyncGenerator<ArchiveEntry | { dir: string }> {
  for (const item of await browser.tree(tree, base)) {
    if (item.kind === "tree") {
      yield { dir: item.path };
      yield* walkFiles(browser, item.oid, item.path);
    } else if (item.kind === "blob" || item.kind === "symlink") {
      yield { path: item.path, mode: item.mode, data: await browser.blob(item.oid) };
    }
  }
}

export async function* tarArchive(browser: Browser, tree: string, prefix: string, mtime: number): AsyncGenerator<Uint8Array> {
  yield tarHeader(prefix, 0, 0o775, mtime * 1000, "5");
  for await (const e of walkFiles(browser, tree, "")) {
    if ("dir" in e) {
      yield tarHeader(`${prefix}${e.dir}/`, 0, 0o775, mtime * 1000, "5");
      continue;
    }
    if (e.mode === "120000") {
      yield tarHeader(prefix + e.path, 0, 0o777, mtime * 1000, "2", new TextDecoder().decode(e.data));
      continue;
    }
    yield tarHeader(prefix + e.path, e.data.byteLength, e.mode === "100755" ? 0o775 : 0o664, mtime * 1000, "0");
    yield e.data;
    const pad = (BLOCK - (e.data.byteLength % BLOCK)) % BLOCK;
    if (pad) yield new Uint8Array(pad);
  }
  yield new Uint8Array(BLOCK * 2);
}

/** DOS date and time fields for zip headers. */
function dosTime(unix: number): { time: number; date: number } {
  const d = new Date(unix * 1000);
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((Math.max(1980, d.getUTCFullYear()) - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

export async function* zipArchive(browser: Browser, tree: string, prefix: string, mtime: number): AsyncGenerator<Uint8Array> {
  const enc = new TextEncoder();
  const { time, date } = dosTime(mtime);
  const central: Uint8Array[] = [];
  let offset = 0;
  let count = 0;
  const add = (name: string, body: Uint8Array, crc: number, size: number, method: number, external: number) => {
    const nameBytes = enc.encode(name);
    const local = new Uint8Array(30 + nameBytes.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(6, 0x0800, true); // names are UTF-8
    lv.setUint16(8, method, true);
    lv.setUint16(10, time, true);
    lv.setUint16(12, date, true);
    lv.setUint32(14, crc >>> 0, true);
    lv.setUint32(18, body.byteLength, true);
    lv.setUint32(22, size, true);
    lv.setUint16(26, nameBytes.length, true);
    local.set(nameBytes, 30);
    const cd = new Uint8Array(46 + nameBytes.length);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 0x0314, true); // made by Unix
    cv.setUint16(6, 20, true);
    cv.setUint16(8, 0x0800, true);
    cv.setUint16(10, method, true);
    cv.setUint16(12, time, true);
    cv.setUint16(14, date, true);
    cv.setUint32(16, crc >>> 0, true);
    cv.setUint32(20, body.byteLength, true);
    cv.setUint32(24, size, true);
    cv.setUint16(28, nameBytes.length, true);
    cv.setUint32(38, external >>> 0, true);
    cv.setUint32(42, offset, true);
    cd.set(nameBytes, 46);
    central.push(cd);
    offset += local.byteLength + body.byteLength;
    count++;
    return [local, body];
  };
  for (const part of add(prefix, new Uint8Array(0), 0, 0, 0, (0o40775 << 16) | 0x10)) yield part;
  for await (const e of walkFiles(browser, tree, "")) {
    if ("dir" in e) {
      for (const part of add(`${prefix}${e.dir}/`, new Uint8Array(0), 0, 0, 0, (0o40775 << 16) | 0x10)) yield part;
      continue;
    }
    const mode = e.mode === "120000" ? 0o120777 : e.mode === "100755" ? 0o100775 : 0o100664;
    const body = deflateRawSync(e.data);
    for (const part of add(prefix + e.path, body, crc32(e.data), e.data.byteLength, 8, mode << 16)) yield part;
  }
  let cdSize = 0;
  for (const c of central) {
    cdSize += c.byteLength;
    yield c;
  }
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, count, true);
  ev.setUint16(10, count, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  yield end;
}
