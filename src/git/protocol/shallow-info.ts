// Which commits the client's history ends at after this fetch: the shallow and unshallow
// lines of v0's shallow-update and of v2's shallow-info section.
import { OBJ_COMMIT } from "../object/object";
import { INFINITE_DEPTH, ShallowError, planShallow } from "../shallow";
import type { RepoView } from "./repo-view";
import { UploadPackError } from "./upload-pack-error";
import type { FetchRequest } from "./upload-request";

export function shallowPlan(repo: RepoView, req: FetchRequest) {
  // Without deepening the wants are not looked at: a clone of a thousand refs skips a
  // thousand lookups.
  if (!req.deepen) return planShallow(repo.store, [], req.clientShallow, null);
  const wantCommits = req.wants.map((w) => repo.store.peel(w) ?? w).filter((w) => repo.store.typeOf(w) === OBJ_COMMIT);
  try {
    const deepen = req.deepen && req.deepen.depth === INFINITE_DEPTH ? { depth: INFINITE_DEPTH } : req.deepen;
    return planShallow(repo.store, wantCommits, req.clientShallow, deepen);
  } catch (e) {
    if (e instanceof ShallowError) throw new UploadPackError(e.message);
    throw e;
  }
}
