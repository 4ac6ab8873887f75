import type { RefStore } from "../refs";
import type { ObjectStore } from "../store/object-store";

/** What upload-pack reads of a repository: its objects and refs. */
export interface RepoView {
  store: ObjectStore;
  refs: RefStore;
  /** Objects the walk enumerates between step boundaries (tests lower it). */
  stepConfig?: { walkObjects: number };
  /**
   * Told how many objects the answer will send once the walk has found them (0 when a
   * stored pack is sent as it is): the memory the answer holds from then on.
   */
  onPlanned?(objects: number): void;
  /**
   * Set when a clone may be answered from a stored pack in R2 (see PackFromR2): where the
   * Worker can read a pack there, or null. Such an answer is planned in one call.
   */
  r2KeyOf?(pack: number): string | null;
}
