// What a client sees first: the v0/v1 reference discovery, and the v2 capability
// advertisement (which lists no refs; the client asks with ls-refs).
import { concatBytes } from "../../util/bytes";
import { ZERO_OID } from "../object/object";
import { UPLOAD_PACK_V2_CAPS } from "./capabilities";
import { FLUSH, pktLine } from "./pkt-line";
import type { RepoView } from "./repo-view";

export function advertiseV2(): Uint8Array {
  return concatBytes([...UPLOAD_PACK_V2_CAPS.map((c) => pktLine(c + "\n")), FLUSH]);
}

/** The ref advertisement for v0 (and v1, which only adds a version line). */
export function advertiseRefs(repo: RepoView, caps: string[], version: 0 | 1, peelTags: boolean): Uint8Array {
  const out: Uint8Array[] = [];
  if (version === 1) out.push(pktLine("version 1\n"));
  const head = repo.refs.head();
  const allCaps = [...caps];
  if (head.symref && head.oid) allCaps.push(`symref=HEAD:${head.symref}`);
  const lines: string[] = [];
  if (head.oid) lines.push(`${head.oid} HEAD`);
  const peel = peelTags ? repo.store.peeler() : null;
  for (const [name, oid] of repo.refs.list()) {
    lines.push(`${oid} ${name}`);
    if (peel) {
      const peeled = peel(oid);
      if (peeled) lines.push(`${peeled} ${name}^{}`);
    }
  }
  out.push(refLines(lines, allCaps));
  return concatBytes(out);
}

/**
 * The v0/v1 advertisement of a repository with no refs, which reads no storage: the
 * Worker answers with it for a repository a push is about to create.
 */
export function advertiseNoRefs(caps: string[], version: 0 | 1): Uint8Array {
  return concatBytes([...(version === 1 ? [pktLine("version 1\n")] : []), refLines([], caps)]);
}

/** Ref lines, capabilities after the first (under the zero id when there is none), and a flush. */
function refLines(lines: string[], caps: string[]): Uint8Array {
  const all = lines.length ? lines : [`${ZERO_OID} capabilities^{}`];
  return concatBytes([...all.map((line, i) => pktLine(i === 0 ? `${line}\0${caps.join(" ")}\n` : `${line}\n`)), FLUSH]);
}
