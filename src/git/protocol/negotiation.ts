import { OBJ_COMMIT } from "../object/object";
import type { ObjectStore } from "../store/object-store";
import { reachesAny } from "../walk";

/** Tracks what the client has in common with us, as git's upload-pack does. */
export class Negotiation {
  readonly common = new Set<string>();
  private oldest = Infinity;
  private wantCommits: string[] = [];

  constructor(
    private readonly store: ObjectStore,
    wants: string[],
  ) {
    for (const w of wants) {
      const p = store.peel(w) ?? w;
      if (store.typeOf(p) === OBJ_COMMIT) this.wantCommits.push(p);
    }
  }

  /** Records a have; true if we have the object (it is common). */
  have(oid: string): boolean {
    if (!this.store.has(oid)) return false;
    if (this.common.has(oid)) return true;
    this.common.add(oid);
    if (this.store.typeOf(oid) === OBJ_COMMIT) this.oldest = Math.min(this.oldest, this.store.commit(oid).time);
    return true;
  }

  /** Every want reaches a common commit: enough to send a good pack. */
  readyToGiveUp(): boolean {
    if (this.common.size === 0) return false;
    return this.wantCommits.every((w) => reachesAny(this.store, w, this.common, this.oldest));
  }
}
