// The slice of the `ws` package the benchmark uses (ws ships no types of its own).
declare module "ws" {
  export default class WebSocket {
    constructor(url: string);
    on(event: "message", listener: (data: Buffer) => void): this;
    once(event: "open" | "error", listener: (arg?: unknown) => void): this;
    send(data: string): void;
    close(): void;
  }
}
