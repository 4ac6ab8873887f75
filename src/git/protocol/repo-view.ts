import type { RefStore } from "../refs";
import type { ObjectStore } from "../store/object-store";

/** What upload-pack reads of a repository: its objects and refs. */
export interface RepoView {
  store: ObjectStore;
  refs: RefStore;
  /** Objects the walk enumerates between step boundaries (tests lower it). */
  stepConfig?: { walkObjects: number };
}
