// The v2 object-info command: object sizes without fetching the objects (an unknown
// object gets an empty size, as git answers).
import { concatBytes } from "../../util/bytes";
import { FLUSH, pktLine } from "./pkt-line";
import type { RepoView } from "./repo-view";
import { UploadPackError } from "./upload-pack-error";
import { expectOid } from "./upload-request";

export function objectInfo(repo: RepoView, args: string[]): Uint8Array {
  let size = false;
  const oids: string[] = [];
  for (const a of args) {
    if (a === "size") size = true;
    else if (a.startsWith("oid ")) oids.push(expectOid(a.slice(4), "oid"));
    else throw new UploadPackError(`object-info: unexpected line: '${a}'`);
  }
  const out: Uint8Array[] = [];
  if (size) out.push(pktLine("size\n"));
  for (const oid of oids) {
    const info = repo.store.info(oid);
    out.push(pktLine(size ? `${oid} ${info ? info.size : ""}\n` : `${oid}\n`));
  }
  out.push(FLUSH);
  return concatBytes(out);
}
