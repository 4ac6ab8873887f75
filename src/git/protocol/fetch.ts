// The v2 fetch command: its arguments, then the response sections in the order
// gitprotocol-v2 gives them (acknowledgments, shallow-info, wanted-refs, packfile).
import { concatBytes } from "../../util/bytes";
import { Negotiation } from "./negotiation";
import { packStream } from "./pack-stream";
import { DELIM, FLUSH, pktLine } from "./pkt-line";
import type { RepoView } from "./repo-view";
import { shallowPlan } from "./shallow-info";
import { UploadPackError } from "./upload-pack-error";
import { type FetchRequest, checkWants, emptyRequest, expectOid, parseShallowArg } from "./upload-request";

function parseFetchArgs(repo: RepoView, args: string[]): { req: FetchRequest; wantedRefs: [string, string][] } {
  const req = emptyRequest();
  req.sideband = "64k";
  for (const a of args) {
    if (a.startsWith("want ")) req.wants.push(expectOid(a.slice(5), "want"));
    else if (a.startsWith("want-ref ")) req.wantRefs.push(a.slice(9));
    else if (a.startsWith("have ")) req.haves.push(expectOid(a.slice(5), "have"));
    else if (a === "done") req.done = true;
    else if (a === "ofs-delta") req.ofsDelta = true;
    else if (a === "thin-pack") req.thinPack = true;
    else if (a === "no-progress") req.noProgress = true;
    else if (a === "include-tag") req.includeTag = true;
    else if (a === "wait-for-done") req.waitForDone = true;
    else if (a === "sideband-all" || a.startsWith("packfile-uris ")) continue;
    else if (!parseShallowArg(a, req, repo)) throw new UploadPackError(`unexpected line: '${a}'`);
  }
  const wantedRefs: [string, string][] = [];
  for (const name of req.wantRefs) {
    const oid = repo.refs.resolve(name);
    if (!oid) throw new UploadPackError(`unknown ref ${name}`);
    wantedRefs.push([oid, name]);
    req.wants.push(oid);
  }
  if (req.wants.length === 0) throw new UploadPackError("fetch: no wants given");
  checkWants(repo.store, req.wants, repo.refs);
  return { req, wantedRefs };
}

export async function* fetchV2(repo: RepoView, args: string[]): AsyncGenerator<Uint8Array> {
  const { req, wantedRefs } = parseFetchArgs(repo, args);

  const out: Uint8Array[] = [];
  if (!req.done) {
    const neg = new Negotiation(repo.store, req.wants);
    const acks: string[] = [];
    for (const h of req.haves) if (neg.have(h)) acks.push(h);
    out.push(pktLine("acknowledgments\n"));
    if (acks.length === 0) out.push(pktLine("NAK\n"));
    for (const a of acks) out.push(pktLine(`ACK ${a}\n`));
    const ready = !req.waitForDone && neg.readyToGiveUp();
    if (!ready) {
      out.push(FLUSH);
      yield concatBytes(out);
      return;
    }
    out.push(pktLine("ready\n"), DELIM);
    // Send only what we have in common as haves.
    req.haves = [...neg.common];
  } else {
    req.haves = req.haves.filter((h) => repo.store.has(h));
  }

  const plan = shallowPlan(repo, req);
  if (req.deepen || req.clientShallow.size) {
    out.push(pktLine("shallow-info\n"));
    for (const s of plan.shallow) out.push(pktLine(`shallow ${s}`));
    for (const s of plan.unshallow) out.push(pktLine(`unshallow ${s}`));
    out.push(DELIM);
  }
  if (wantedRefs.length) {
    out.push(pktLine("wanted-refs\n"));
    for (const [oid, name] of wantedRefs) out.push(pktLine(`${oid} ${name}\n`));
    out.push(DELIM);
  }
  out.push(pktLine("packfile\n"));
  yield concatBytes(out);
  yield* packStream(repo, req, plan.walkShallow, plan.extraWants);
  yield FLUSH;
}
