// Capabilities each service advertises. Only what the server implements is listed:
// a client that sees a capability will rely on it.
export const AGENT = "agent=gitflare/0.1";

export const UPLOAD_PACK_V0_CAPS = [
  "multi_ack",
  "multi_ack_detailed",
  "no-done",
  "thin-pack",
  "side-band",
  "side-band-64k",
  "ofs-delta",
  "shallow",
  "deepen-since",
  "deepen-not",
  "deepen-relative",
  "no-progress",
  "include-tag",
  "allow-tip-sha1-in-want",
  "allow-reachable-sha1-in-want",
  "filter",
  "object-format=sha1",
  AGENT,
];

export const RECEIVE_PACK_CAPS = [
  "report-status",
  "report-status-v2",
  "delete-refs",
  "side-band-64k",
  "quiet",
  "atomic",
  "ofs-delta",
  "push-options",
  "object-format=sha1",
  AGENT,
];

export const UPLOAD_PACK_V2_CAPS = [
  "version 2",
  AGENT,
  "ls-refs=unborn",
  "fetch=shallow wait-for-done filter",
  "server-option",
  "object-format=sha1",
  "object-info",
];

/** Parses `a b=c d` capability lists into a map. */
export function parseCapabilities(list: string): Map<string, string | true> {
  const caps = new Map<string, string | true>();
  for (const word of list.split(" ")) {
    if (!word) continue;
    const eq = word.indexOf("=");
    if (eq < 0) caps.set(word, true);
    else caps.set(word.slice(0, eq), word.slice(eq + 1));
  }
  return caps;
}
