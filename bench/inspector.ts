// The V8 inspector of the local workerd, for the benchmark's memory figures: the
// isolate's JS heap and ArrayBuffer backing stores, which is what Cloudflare's 128 MB
// per-isolate limit counts (the process's RSS also holds SQLite and the runtime).
import { type WriteStream, createWriteStream } from "node:fs";
import WebSocket from "ws";

export interface IsolateHeap {
  /** Bytes of live and not yet collected JS objects. */
  js: number;
  /** Bytes of ArrayBuffer backing stores (Uint8Arrays and the like). */
  buffers: number;
}

export class Inspector {
  private nextId = 0;
  private pending = new Map<number, (v: Record<string, unknown>) => void>();
  /** Where the chunks of a heap snapshot being taken go. */
  private snapshotOut: WriteStream | null = null;

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (m: Buffer) => {
      const msg = JSON.parse(String(m)) as {
        id?: number;
        method?: string;
        params?: { chunk?: string };
        result?: Record<string, unknown>;
        error?: Record<string, unknown>;
      };
      if (msg.method === "HeapProfiler.addHeapSnapshotChunk") this.snapshotOut?.write(msg.params?.chunk ?? "");
      if (msg.id !== undefined) {
        this.pending.get(msg.id)?.(msg.result ?? msg.error ?? {});
        this.pending.delete(msg.id);
      }
    });
  }

  /** Connects to the worker's isolate on the inspector port wrangler opened. */
  static async connect(port: number): Promise<Inspector> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl: string }[];
    const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    return new Inspector(ws);
  }

  private send(method: string, params: object = {}): Promise<Record<string, unknown>> {
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async heap(): Promise<IsolateHeap> {
    const r = await this.send("Runtime.getHeapUsage");
    return { js: Number(r.usedSize ?? 0), buffers: Number(r.backingStorageSize ?? 0) };
  }

  /**
   * Live memory: a full collection, then the heap. workerd runs the collection when the
   * isolate next handles an event, so call this while the worker is busy.
   */
  async liveHeap(): Promise<IsolateHeap> {
    if (!this.heapProfiler) {
      await this.send("HeapProfiler.enable");
      this.heapProfiler = true;
    }
    await this.send("HeapProfiler.collectGarbage");
    return this.heap();
  }
  private heapProfiler = false;

  /** Starts V8's sampling CPU profiler on the isolate. */
  async startProfile(intervalUs = 500): Promise<void> {
    await this.send("Profiler.enable");
    await this.send("Profiler.setSamplingInterval", { interval: intervalUs });
    await this.send("Profiler.start");
  }

  async stopProfile(): Promise<{ nodes: never[]; samples: number[]; timeDeltas: number[] }> {
    const r = await this.send("Profiler.stop");
    return r.profile as { nodes: never[]; samples: number[]; timeDeltas: number[] };
  }

  /** Writes a heap snapshot of the isolate to `file` (Chrome DevTools' .heapsnapshot format). */
  async heapSnapshot(file: string): Promise<void> {
    const out = createWriteStream(file);
    this.snapshotOut = out;
    await this.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    this.snapshotOut = null;
    await new Promise((resolve) => out.end(resolve));
  }

  close(): void {
    this.ws.close();
  }
}
