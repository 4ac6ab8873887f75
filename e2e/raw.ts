// Raw smart-HTTP requests, for protocol details the git CLI does not expose.
import { e2eAuth } from "./accounts";

export function pkt(line: string): string {
  return (Buffer.byteLength(line) + 4).toString(16).padStart(4, "0") + line;
}

export type RawPkt = { kind: "data"; data: Buffer } | { kind: "flush" } | { kind: "delim" } | { kind: "end" };

export function parsePkts(buf: Buffer): RawPkt[] {
  const out: RawPkt[] = [];
  let at = 0;
  while (at + 4 <= buf.length) {
    const len = parseInt(buf.subarray(at, at + 4).toString("latin1"), 16);
    if (len === 0) out.push({ kind: "flush" });
    else if (len === 1) out.push({ kind: "delim" });
    else if (len === 2) out.push({ kind: "end" });
    else out.push({ kind: "data", data: buf.subarray(at + 4, at + len) });
    at += Math.max(len, 4);
  }
  return out;
}

export async function v2(base: string, command: string, args: string[]): Promise<Buffer> {
  const body = pkt(`command=${command}\n`) + pkt("object-format=sha1\n") + "0001" + args.map((a) => pkt(a + "\n")).join("") + "0000";
  const res = await fetch(`${base}/git-upload-pack`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-git-upload-pack-request",
      "Git-Protocol": "version=2",
      ...(e2eAuth.header ? { Authorization: e2eAuth.header } : {}),
    },
    body,
  });
  return Buffer.from(await res.arrayBuffer());
}

/** Text lines of the response up to the packfile section. */
export function textLines(buf: Buffer): string[] {
  const lines: string[] = [];
  for (const p of parsePkts(buf)) {
    if (p.kind !== "data") {
      lines.push(p.kind === "flush" ? "0000" : p.kind === "delim" ? "0001" : "0002");
      continue;
    }
    const s = p.data.toString("latin1");
    lines.push(s.endsWith("\n") ? s.slice(0, -1) : s);
    if (s === "packfile\n") break;
  }
  return lines;
}

/** The pack bytes of a v2 fetch response (side-band 1 after the packfile line). */
export function packOf(buf: Buffer): Buffer {
  const parts: Buffer[] = [];
  let inPack = false;
  for (const p of parsePkts(buf)) {
    if (p.kind !== "data") continue;
    if (!inPack) {
      inPack = p.data.toString("latin1") === "packfile\n";
      continue;
    }
    if (p.data[0] === 1) parts.push(p.data.subarray(1));
    if (p.data[0] === 3) throw new Error(`server error: ${p.data.subarray(1).toString()}`);
  }
  return Buffer.concat(parts);
}
