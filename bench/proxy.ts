// A counting HTTP proxy put in front of both servers, so both are measured the same
// way: bytes each way, and the duration of every request (first byte in to last out).
import { Agent, type Server, createServer, request } from "node:http";

export interface RequestRecord {
  method: string;
  path: string;
  requestBytes: number;
  responseBytes: number;
  ms: number;
  /** Why the request failed upstream (answered 502), if it did. */
  error?: string;
}

export class CountingProxy {
  records: RequestRecord[] = [];
  private server: Server | null = null;

  /**
   * `fresh`: a new connection upstream per request. workerd's runtime closes a connection
   * idle for 5 s, and a request sent into a pooled one as it closes fails (see
   * LocalServer.directUrl), which a proxy straight to the runtime meets.
   */
  constructor(
    private readonly target: number,
    private readonly options: { fresh?: boolean } = {},
  ) {}

  private readonly agent = new Agent({ keepAlive: false });

  start(port: number): Promise<void> {
    this.server = createServer((req, res) => {
      const started = performance.now();
      const rec: RequestRecord = { method: req.method ?? "", path: req.url ?? "", requestBytes: 0, responseBytes: 0, ms: 0 };
      // Recorded now and counted as bytes pass: the client may finish before 'end' fires.
      this.records.push(rec);
      // The proxy has already answered any `Expect: 100-continue` itself.
      const { expect: _expect, ...headers } = req.headers;
      const out = request(
        {
          host: "127.0.0.1",
          port: this.target,
          method: req.method,
          path: req.url,
          headers,
          ...(this.options.fresh ? { agent: this.agent } : {}),
        },
        (upstream) => {
          res.writeHead(upstream.statusCode ?? 502, upstream.headers);
          upstream.on("data", (c: Buffer) => {
            rec.responseBytes += c.length;
            res.write(c);
          });
          upstream.on("end", () => {
            rec.ms = performance.now() - started;
            res.end();
          });
        },
      );
      out.on("error", (e) => {
        rec.error = String(e);
        res.writeHead(502);
        res.end(String(e));
      });
      req.on("data", (c: Buffer) => {
        rec.requestBytes += c.length;
        out.write(c);
      });
      req.on("end", () => out.end());
    });
    return new Promise((resolve) => this.server!.listen(port, "127.0.0.1", () => resolve()));
  }

  take(): RequestRecord[] {
    const r = this.records;
    this.records = [];
    return r;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
