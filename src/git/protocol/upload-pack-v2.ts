// Protocol v2: one command per request (command=, capabilities, delim, arguments,
// flush), dispatched to ls-refs, fetch or object-info.
import { parseCapabilities } from "./capabilities";
import { fetchV2 } from "./fetch";
import { lsRefs } from "./ls-refs";
import { objectInfo } from "./object-info";
import { type Pkt, parsePktLines, pktText } from "./pkt-line";
import type { RepoView } from "./repo-view";
import { UploadPackError } from "./upload-pack-error";

interface V2Command {
  command: string;
  caps: Map<string, string | true>;
  args: string[];
}

function parseV2Request(body: Uint8Array): V2Command {
  const pkts = parsePktLines(body);
  let i = 0;
  const first = pkts[i++];
  if (first?.kind !== "data") throw new UploadPackError("protocol error: expected a command");
  const cmdLine = pktText(first.data);
  if (!cmdLine.startsWith("command=")) throw new UploadPackError(`protocol error: expected command=<name>, got '${cmdLine}'`);
  const caps = new Map<string, string | true>();
  for (; i < pkts.length && pkts[i].kind === "data"; i++) {
    for (const [k, v] of parseCapabilities(pktText((pkts[i] as { data: Uint8Array }).data))) caps.set(k, v);
  }
  const args: string[] = [];
  const sep: Pkt | undefined = pkts[i++];
  if (!sep) throw new UploadPackError("protocol error: expected flush after capabilities");
  if (sep.kind === "delim") {
    for (; i < pkts.length && pkts[i].kind === "data"; i++) args.push(pktText((pkts[i] as { data: Uint8Array }).data));
    const end = pkts[i++];
    if (end?.kind !== "flush") throw new UploadPackError("protocol error: expected flush after arguments");
  } else if (sep.kind !== "flush") {
    throw new UploadPackError("protocol error: expected flush after capabilities");
  }
  const format = caps.get("object-format");
  if (format !== undefined && format !== "sha1") throw new UploadPackError(`unsupported object format '${format}'`);
  return { command: cmdLine.slice(8), caps, args };
}

export async function* serveV2(repo: RepoView, body: Uint8Array): AsyncGenerator<Uint8Array> {
  const req = parseV2Request(body);
  switch (req.command) {
    case "ls-refs":
      yield lsRefs(repo, req.args);
      return;
    case "fetch":
      yield* fetchV2(repo, req.args);
      return;
    case "object-info":
      yield objectInfo(repo, req.args);
      return;
    default:
      throw new UploadPackError(`unknown command '${req.command}'`);
  }
}
