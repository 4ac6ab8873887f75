// What the Worker's log says about the Durable Object invocations behind git requests:
// the longest one, how many stepped work took, and (when the Worker reports it) the
// time the object was busy. Shared by the transfer table and the large-repository one.
import type { RequestRecord } from "./proxy";

export interface Invocations {
  /**
   * The longest single Durable Object invocation, as the Worker timed them: for work done
   * in steps (segments, slices, clone steps) the longest step, else the request.
   */
  longestInvocationMs: number;
  /** Invocations that stepped work took (0 when every request was one invocation). */
  steppedInvocations: number;
  /**
   * The object's busy time on upload-pack requests (the sum of their invocations), from
   * the `, busy Z ms` the Worker appends to its upload-pack lines; null when it has none.
   */
  uploadBusyMs: number | null;
}

/** The Worker's log lines about stepped work, as printed. */
export function stepLines(log: string): string[] {
  return log
    .split("\n")
    .filter((l) => /(receive|upload)-pack: (upload|first part)/.test(l))
    .map((l) => l.trim());
}

/**
 * The invocations of an operation. The Worker logs how it timed the invocations behind
 * each git POST (one, or the steps of a segmented/sliced push or a stepped clone); GET
 * requests are one short invocation each, timed by the proxy. For C git (no log) it is
 * the longest request.
 */
export function invocations(recs: RequestRecord[], log: string | null): Invocations {
  const longestGet = Math.max(0, ...recs.filter((r) => r.method === "GET").map((r) => r.ms));
  if (log === null)
    return { longestInvocationMs: Math.round(Math.max(0, ...recs.map((r) => r.ms))), steppedInvocations: 0, uploadBusyMs: null };
  let longest = longestGet;
  let stepped = 0;
  for (const m of log.matchAll(/(?:upload-pack|receive-pack): one invocation, (\d+) ms/g)) longest = Math.max(longest, Number(m[1]));
  for (const m of log.matchAll(/receive-pack: upload (\d+) ms/g)) longest = Math.max(longest, Number(m[1]));
  for (const m of log.matchAll(/receive-pack: upload (\d+) segments, longest (\d+) ms/g)) {
    // The segments, and the call that completes the upload.
    stepped += Number(m[1]) + 1;
    longest = Math.max(longest, Number(m[2]));
  }
  for (const m of log.matchAll(/(\d+) index slices, longest (\d+) ms/g)) {
    stepped += Number(m[1]);
    longest = Math.max(longest, Number(m[2]));
  }
  for (const m of log.matchAll(/upload-pack: first part (\d+) ms, (\d+) steps, longest (\d+) ms/g)) {
    stepped += Number(m[2]) + 1;
    longest = Math.max(longest, Number(m[1]), Number(m[3]));
  }
  let busy: number | null = null;
  for (const m of log.matchAll(/upload-pack: [^\n]*\bbusy (\d+) ms/g)) busy = (busy ?? 0) + Number(m[1]);
  return { longestInvocationMs: Math.round(longest), steppedInvocations: stepped, uploadBusyMs: busy };
}
