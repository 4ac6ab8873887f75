// The v2 ls-refs command: HEAD and the refs under the requested prefixes.
import { concatBytes } from "../../util/bytes";
import { FLUSH, pktLine } from "./pkt-line";
import type { RepoView } from "./repo-view";
import { UploadPackError } from "./upload-pack-error";

export function lsRefs(repo: RepoView, args: string[]): Uint8Array {
  let peelTags = false;
  let symrefs = false;
  let unborn = false;
  const prefixes: string[] = [];
  for (const a of args) {
    if (a === "peel") peelTags = true;
    else if (a === "symrefs") symrefs = true;
    else if (a === "unborn") unborn = true;
    else if (a.startsWith("ref-prefix ")) prefixes.push(a.slice(11));
    else throw new UploadPackError(`unexpected line: '${a}'`);
  }
  const wanted = (name: string) => prefixes.length === 0 || prefixes.some((p) => name.startsWith(p));
  const out: Uint8Array[] = [];
  const head = repo.refs.head();
  if (wanted("HEAD")) {
    if (head.oid) {
      const sym = symrefs && head.symref ? ` symref-target:${head.symref}` : "";
      out.push(pktLine(`${head.oid} HEAD${sym}\n`));
    } else if (unborn && head.symref) {
      out.push(pktLine(`unborn HEAD${symrefs ? ` symref-target:${head.symref}` : ""}\n`));
    }
  }
  const peel = peelTags ? repo.store.peeler() : null;
  for (const [name, oid] of repo.refs.list()) {
    if (!wanted(name)) continue;
    let line = `${oid} ${name}`;
    if (peel) {
      const peeled = peel(oid);
      if (peeled) line += ` peeled:${peeled}`;
    }
    out.push(pktLine(line + "\n"));
  }
  out.push(FLUSH);
  return concatBytes(out);
}
