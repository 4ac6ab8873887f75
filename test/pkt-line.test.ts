import { describe, expect, it } from "vitest";
import { PktLineError, PktReader, parsePktLines, pktLine, pktText, sideband, sidebandParts } from "../src/git/protocol/pkt-line";
import { concatBytes } from "../src/util/bytes";

const enc = (s: string) => new TextEncoder().encode(s);

function streamOf(parts: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(enc(p));
      c.close();
    },
  });
}

describe("pkt-line", () => {
  it("encodes lengths as four hex digits including themselves", () => {
    expect(new TextDecoder().decode(pktLine("a\n"))).toBe("0006a\n");
    expect(new TextDecoder().decode(pktLine(""))).toBe("0004");
  });

  it("parses data, flush, delim and response-end", () => {
    const pkts = parsePktLines(enc("0009done\n000100000002"));
    expect(pkts.map((p) => p.kind)).toEqual(["data", "delim", "flush", "response-end"]);
    expect(pktText((pkts[0] as { data: Uint8Array }).data)).toBe("done");
  });

  it("rejects bad lengths, reserved lengths, oversized and truncated lines", () => {
    expect(() => parsePktLines(enc("zzzzhello"))).toThrow(PktLineError);
    expect(() => parsePktLines(enc("0003"))).toThrow(/bad pkt-line length/);
    expect(() => parsePktLines(enc("fff1" + "x".repeat(65520)))).toThrow(/too long/);
    expect(() => parsePktLines(enc("0010short"))).toThrow(/unexpected end/);
    expect(() => pktLine("x".repeat(65517))).toThrow(/too long/);
  });

  it("reads pkts split across network chunks, then the raw rest", async () => {
    const r = new PktReader(streamOf(["00", "0ahell", "o\n", "0000PACK", "rest"]));
    const a = await r.read();
    expect(a?.kind).toBe("data");
    expect(pktText((a as { data: Uint8Array }).data)).toBe("hello");
    expect((await r.read())?.kind).toBe("flush");
    const rest: string[] = [];
    for await (const chunk of r.rest()) rest.push(new TextDecoder().decode(chunk));
    expect(rest.join("")).toBe("PACKrest");
  });

  it("reports a stream that ends inside a pkt", async () => {
    const r = new PktReader(streamOf(["0010abc"]));
    await expect(r.read()).rejects.toThrow(/unexpected end/);
  });

  it("frames side-band data within the packet limit", () => {
    const data = new Uint8Array(70_000).fill(7);
    // Each packet comes as its header (length and band) and its payload, a view of the data.
    const pkts = parsePktLines(concatBytes([...sideband(1, data)]));
    expect(pkts.length).toBe(2);
    const [a, b] = pkts.map((p) => (p.kind === "data" ? p.data : new Uint8Array(0)));
    expect(a.byteLength + 4).toBe(65520);
    expect(a[0]).toBe(1);
    expect(b.byteLength + 4).toBe(70_000 - 65515 + 5);
    expect(concatBytes([a.subarray(1), b.subarray(1)])).toEqual(data);
  });

  it("frames parts as it frames them joined, packet for packet", () => {
    let seed = 11;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    for (let round = 0; round < 40; round++) {
      const parts = Array.from({ length: next(8) }, (_, i) => new Uint8Array(next(3) === 0 ? 0 : next(90_000)).fill(i + round));
      const max = [undefined, 999, 1, 65515][round % 4];
      const joined = concatBytes([...sideband(2, concatBytes(parts), max)]);
      expect(concatBytes([...sidebandParts(2, parts, max)]), `round ${round}`).toEqual(joined);
    }
  });
});
