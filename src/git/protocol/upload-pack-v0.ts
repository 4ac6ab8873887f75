// Protocol v0/v1 upload-pack: the upload-request (wants with the client's capabilities,
// shallow and deepen lines), then the haves, answered in the ACK mode the client chose
// (none, multi_ack or multi_ack_detailed), then the pack.
import { concatBytes } from "../../util/bytes";
import { parseCapabilities } from "./capabilities";
import { Negotiation } from "./negotiation";
import { packStream } from "./pack-stream";
import { FLUSH, type Pkt, parsePkt, parsePktLines, pktLine, pktText } from "./pkt-line";
import type { RepoView } from "./repo-view";
import { shallowPlan } from "./shallow-info";
import { UploadPackError } from "./upload-pack-error";
import { type FetchRequest, checkWants, emptyRequest, expectOid, parseShallowArg } from "./upload-request";

type MultiAck = "none" | "multi_ack" | "detailed";

interface UploadRequest {
  req: FetchRequest;
  multiAck: MultiAck;
  noDone: boolean;
  /** Index of the first pkt after the upload-request's flush: where the haves start. */
  next: number;
}

function parseUploadRequest(repo: RepoView, pkts: Pkt[]): UploadRequest {
  const req = emptyRequest();
  let i = 0;
  let multiAck: MultiAck = "none";
  let noDone = false;
  let deepenRelative = false;
  for (; i < pkts.length; i++) {
    const p = pkts[i];
    if (p.kind === "flush") break;
    if (p.kind !== "data") throw new UploadPackError("protocol error: unexpected delimiter");
    const line = pktText(p.data);
    if (line.startsWith("want ")) {
      const rest = line.slice(5);
      const oid = expectOid(rest.slice(0, 40), "want");
      if (req.wants.length === 0) {
        const caps = parseCapabilities(rest.slice(41));
        if (caps.has("multi_ack_detailed")) multiAck = "detailed";
        else if (caps.has("multi_ack")) multiAck = "multi_ack";
        noDone = caps.has("no-done");
        req.ofsDelta = caps.has("ofs-delta");
        req.thinPack = caps.has("thin-pack");
        req.noProgress = caps.has("no-progress");
        req.includeTag = caps.has("include-tag");
        req.sideband = caps.has("side-band-64k") ? "64k" : caps.has("side-band") ? "small" : "none";
        // In v0 deepen-relative is a capability, not an argument line.
        deepenRelative = caps.has("deepen-relative");
      }
      req.wants.push(oid);
    } else if (!parseShallowArg(line, req, repo)) {
      throw new UploadPackError(`protocol error: unexpected '${line}'`);
    }
  }
  if (i >= pkts.length) throw new UploadPackError("protocol error: expected flush after wants");
  if (req.deepen && deepenRelative) req.deepen.relative = true;
  return { req, multiAck, noDone, next: i + 1 };
}

/**
 * Answers the haves from `pkts[from]` on into `out`, round by round (a flush ends a
 * round); true once the pack is to follow (after done, or ready with no-done).
 */
function negotiate(neg: Negotiation, pkts: Pkt[], from: number, multiAck: MultiAck, noDone: boolean, out: Uint8Array[]): boolean {
  let last = "";
  let haveCount = 0;
  let gotCommon = false;
  let gotOther = false;
  let sentReady = false;
  for (let i = from; i < pkts.length; i++) {
    const p = pkts[i];
    if (p.kind === "flush") {
      if (multiAck === "detailed" && gotCommon && !gotOther && neg.readyToGiveUp()) {
        sentReady = true;
        out.push(pktLine(`ACK ${last} ready\n`));
      }
      if (haveCount === 0 || multiAck !== "none") out.push(pktLine("NAK\n"));
      if (noDone && sentReady) {
        out.push(pktLine(`ACK ${last}\n`));
        return true;
      }
      // Stateless: the client sends the next round in a new request.
      gotCommon = false;
      gotOther = false;
      continue;
    }
    if (p.kind !== "data") throw new UploadPackError("protocol error: unexpected delimiter");
    const line = pktText(p.data);
    if (line.startsWith("have ")) {
      const oid = expectOid(line.slice(5), "have");
      if (neg.have(oid)) {
        haveCount++;
        gotCommon = true;
        last = oid;
        if (multiAck === "detailed") out.push(pktLine(`ACK ${oid} common\n`));
        else if (multiAck === "multi_ack") out.push(pktLine(`ACK ${oid} continue\n`));
        else if (haveCount === 1) out.push(pktLine(`ACK ${oid}\n`));
      } else {
        gotOther = true;
        if (multiAck !== "none" && neg.readyToGiveUp()) {
          out.push(pktLine(multiAck === "detailed" ? `ACK ${oid} ready\n` : `ACK ${oid} continue\n`));
          if (multiAck === "detailed") sentReady = true;
        }
      }
    } else if (line === "done") {
      out.push(haveCount > 0 && multiAck !== "none" ? pktLine(`ACK ${last}\n`) : haveCount > 0 ? new Uint8Array(0) : pktLine("NAK\n"));
      return true;
    } else {
      throw new UploadPackError(`protocol error: expected have or done, got '${line}'`);
    }
  }
  return false;
}

/**
 * Whether a v0/v1 request asks for a side band (in its first want's capabilities). Once
 * the negotiation is answered, everything is sent on the side band, so an error found
 * later can go on band 3.
 */
export function v0Sideband(body: Uint8Array): boolean {
  const first = parsePkt(body, 0)?.pkt;
  if (first?.kind !== "data") return false;
  const line = pktText(first.data);
  if (!line.startsWith("want ")) return false;
  const caps = parseCapabilities(line.slice(46));
  return caps.has("side-band-64k") || caps.has("side-band");
}

export async function* serveV0(repo: RepoView, body: Uint8Array): AsyncGenerator<Uint8Array> {
  const pkts = parsePktLines(body);
  const { req, multiAck, noDone, next } = parseUploadRequest(repo, pkts);
  if (req.wants.length === 0) return;
  checkWants(repo.store, req.wants, repo.refs);

  const out: Uint8Array[] = [];
  const plan = shallowPlan(repo, req);
  if (req.deepen) {
    for (const s of plan.shallow) out.push(pktLine(`shallow ${s}`));
    for (const s of plan.unshallow) out.push(pktLine(`unshallow ${s}`));
    out.push(FLUSH);
  }

  const neg = new Negotiation(repo.store, req.wants);
  const send = negotiate(neg, pkts, next, multiAck, noDone, out);
  yield concatBytes(out);
  if (!send) return;
  req.haves = [...neg.common];
  yield* packStream(repo, req, plan.walkShallow, plan.extraWants);
  if (req.sideband !== "none") yield FLUSH;
}
