// The merge engine's view of a repository: reads from the object store, writes into memory.
// A merge's new trees and commits stay here until they are committed together with the
// ref that names them (../../git/ref-transaction.ts), or are dropped with the overlay.
import type { MergeObjects, ObjectType } from "../../git/merge";
import { hashObject } from "../../git/object/object";
import type { NewObject } from "../../git/ref-transaction";
import type { ObjectStore } from "../../git/store/object-store";

export class OverlayObjects implements MergeObjects {
  private readonly added = new Map<string, NewObject>();

  constructor(private readonly store: ObjectStore) {}

  async read(oid: string): Promise<{ type: ObjectType; data: Uint8Array }> {
    return this.added.get(oid) ?? this.store.read(oid);
  }

  async write(type: ObjectType, data: Uint8Array): Promise<string> {
    const oid = hashObject(type, data);
    if (!this.added.has(oid) && !this.store.has(oid)) this.added.set(oid, { type, data });
    return oid;
  }

  /** Objects written that the store does not have, in the order they were written. */
  created(): NewObject[] {
    return [...this.added.values()];
  }
}
