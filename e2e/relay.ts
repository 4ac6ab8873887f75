// A TCP relay in front of the local server that follows the HTTP exchanges passing
// through it and can hold one at a chosen byte: a request body after so many bytes, or a
// response after so many. A test then kills the server at a moment chosen by what was
// sent, not by time.
import { type Server, type Socket, connect, createServer } from "node:net";

export interface RelayOptions {
  /** The POSTs to watch: those whose path ends so (`/git-receive-pack`, `/git-upload-pack`). */
  service: string;
  /** Forward this many bytes of the watched request's body (given its declared length, null when chunked), then hold the rest. */
  holdBodyAt?: (length: number | null) => number;
  /** Forward this many bytes of the watched response, then hold the rest. */
  holdResponseAt?: number;
  /** Called with the watched response so far (latin1, its last 64 KiB) after each part is forwarded. */
  watch?: (response: string) => boolean;
}

export class Relay {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private resolveHeld: () => void = () => undefined;
  private resolveSeen: () => void = () => undefined;
  /** Settles once something is held (or `watch` returned true). */
  readonly held: Promise<void>;
  /** Settles once `watch` returned true. */
  readonly seen: Promise<void>;
  /** The watched request's declared body length, once its headers passed (null: none declared). */
  bodyLength: number | null = null;
  port = 0;

  private constructor(
    private readonly target: number,
    private readonly options: RelayOptions,
  ) {
    this.held = new Promise((r) => (this.resolveHeld = r));
    this.seen = new Promise((r) => (this.resolveSeen = r));
    this.server = createServer((client) => this.relay(client));
  }

  static async start(target: number, options: RelayOptions): Promise<Relay> {
    const relay = new Relay(target, options);
    await new Promise<void>((resolve) => relay.server.listen(0, "127.0.0.1", resolve));
    relay.port = (relay.server.address() as { port: number }).port;
    return relay;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private relay(client: Socket): void {
    const upstream = connect(this.target, "127.0.0.1");
    this.sockets.add(client);
    this.sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);

    // Requests: header text until the blank line, then the body by its declared length.
    let head = "";
    let bodyLeft = 0;
    let watched = false;
    let bodySent = 0;
    let holdAt: number | undefined;
    let holding = false;
    // Responses: bytes of the watched exchange's answer so far.
    let answered = 0;
    let answer = "";
    let holdingAnswer = false;

    client.on("data", (chunk: Buffer) => {
      if (holding) return;
      let at = 0;
      while (at < chunk.length) {
        if (bodyLeft > 0) {
          let take = Math.min(bodyLeft, chunk.length - at);
          if (watched && holdAt !== undefined) {
            take = Math.min(take, holdAt - bodySent);
            if (take <= 0) {
              holding = true;
              client.pause();
              this.resolveHeld();
              return;
            }
          }
          upstream.write(chunk.subarray(at, at + take));
          bodyLeft -= take;
          bodySent += take;
          at += take;
          continue;
        }
        const text = chunk.toString("latin1", at);
        const blank = (head + text).indexOf("\r\n\r\n");
        if (blank < 0) {
          head += text;
          upstream.write(chunk.subarray(at));
          return;
        }
        const used = blank + 4 - head.length;
        const headers = head + text.slice(0, used);
        head = "";
        upstream.write(chunk.subarray(at, at + used));
        at += used;
        const [requestLine] = headers.split("\r\n");
        const [method, path = ""] = requestLine.split(" ");
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(headers);
        // A chunked body runs to the end of the connection here: git sends nothing after it.
        bodyLeft = length ? Number(length[1]) : /\r\ntransfer-encoding:\s*chunked/i.test(headers) ? Number.POSITIVE_INFINITY : 0;
        watched = method === "POST" && path.split("?")[0].endsWith(this.options.service);
        if (watched) this.bodyLength = length ? Number(length[1]) : null;
        if (watched) holdAt = this.options.holdBodyAt?.(this.bodyLength);
        bodySent = 0;
        answered = 0;
        answer = "";
      }
    });

    upstream.on("data", (chunk: Buffer) => {
      if (holdingAnswer) return;
      let part = chunk;
      if (watched && this.options.holdResponseAt !== undefined && answered + chunk.length > this.options.holdResponseAt) {
        part = chunk.subarray(0, Math.max(0, this.options.holdResponseAt - answered));
        holdingAnswer = true;
        upstream.pause();
      }
      client.write(part);
      if (watched) {
        answered += part.length;
        answer = (answer + part.toString("latin1")).slice(-64 * 1024);
        if (this.options.watch?.(answer)) {
          this.resolveSeen();
          this.resolveHeld();
        }
      }
      if (holdingAnswer) this.resolveHeld();
    });
  }

  /** Ends every connection (a client waiting on a held one then fails) and stops listening. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server.listening) await new Promise((r) => this.server.close(r));
  }
}
