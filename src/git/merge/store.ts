// Reads through the caller's MergeObjects with a budget, and keeps what the merge writes in
// memory until the caller asks for it: a conflicted merge stores nothing, and a clean one
// stores only the objects its result tree reaches.
import type { Budget } from "./budget";
import {
  type CommitInfo,
  EMPTY_TREE,
  type MergeObjects,
  type ObjectType,
  type TreeEntry,
  hashObject,
  isDir,
  parseCommit,
  parseTree,
  serializeTree,
} from "./objects";

export class MergeStore {
  private readonly created = new Map<string, { type: ObjectType; data: Uint8Array }>();
  private readonly trees = new Map<string, TreeEntry[]>();
  private readonly commits = new Map<string, CommitInfo>();

  constructor(
    private readonly objects: MergeObjects,
    readonly budget: Budget,
  ) {}

  private async read(oid: string, want: ObjectType): Promise<Uint8Array> {
    const own = this.created.get(oid);
    const obj = own ?? (await this.objects.read(oid));
    if (!own) this.budget.object(obj.data.length);
    if (obj.type !== want) throw new Error(`object ${oid} is a ${obj.type}, not a ${want}`);
    return obj.data;
  }

  async commit(oid: string): Promise<CommitInfo> {
    let c = this.commits.get(oid);
    if (!c) this.commits.set(oid, (c = parseCommit(await this.read(oid, "commit"))));
    return c;
  }

  async tree(oid: string): Promise<TreeEntry[]> {
    if (oid === EMPTY_TREE) return [];
    let t = this.trees.get(oid);
    if (!t) this.trees.set(oid, (t = parseTree(await this.read(oid, "tree"))));
    return t;
  }

  blob(oid: string): Promise<Uint8Array> {
    return this.read(oid, "blob");
  }

  writeBlob(data: Uint8Array): string {
    const oid = hashObject("blob", data);
    this.created.set(oid, { type: "blob", data });
    return oid;
  }

  writeTree(entries: TreeEntry[]): string {
    const data = serializeTree(entries);
    const oid = hashObject("tree", data);
    this.created.set(oid, { type: "tree", data });
    this.trees.set(oid, parseTree(data));
    return oid;
  }

  /** Writes through to the caller's store every created object that `tree` reaches. */
  async persist(tree: string): Promise<void> {
    const own = this.created.get(tree);
    if (!own) return;
    if (own.type === "tree") {
      for (const e of parseTree(own.data)) if (isDir(e.mode) || this.created.has(e.oid)) await this.persist(e.oid);
    }
    const oid = await this.objects.write(own.type, own.data);
    if (oid !== tree) throw new Error(`store hashed ${tree} as ${oid}`);
    this.created.delete(tree);
  }
}
