// Partial-clone filter specs (`filter <spec>` in a fetch request), as git rev-list's
// --filter spells them.
import type { ObjectFilter } from "../walk";
import { UploadPackError } from "./upload-pack-error";

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export function parseFilter(spec: string): ObjectFilter {
  if (spec === "blob:none") return { kind: "blob:none" };
  let m = /^blob:limit=(\d+)([kmg]?)$/i.exec(spec);
  if (m) return { kind: "blob:limit", limit: Number(m[1]) * UNITS[m[2].toLowerCase()] };
  m = /^tree:(\d+)$/.exec(spec);
  if (m) return { kind: "tree", depth: Number(m[1]) };
  m = /^object:type=(blob|tree|commit|tag)$/.exec(spec);
  if (m) return { kind: "object:type", type: m[1] as "blob" };
  throw new UploadPackError(`unsupported filter spec '${spec}'`);
}
