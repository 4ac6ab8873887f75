// Starts the real local server the way the README says (`npm start`), on a free port
// and a temporary state directory, and stops it again.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Account, e2eAuth, signUp } from "./accounts";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

export class LocalServer {
  private proc: ChildProcess | null = null;
  private log = "";
  /** Characters printed since start, including those no longer kept. */
  private logged = 0;
  readonly stateDir: string;
  port = 0;

  constructor(stateDir?: string) {
    this.stateDir = stateDir ?? mkdtempSync(join(tmpdir(), "gitflare-state-"));
  }

  /** The process group of the server (npm, wrangler and workerd). */
  get processGroup(): number | null {
    return this.proc?.pid ?? null;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Starts `npm start`; workerd's V8 inspector listens on `inspectorPort`, else on a free
   * port (wrangler's default, 9229, is taken by any other server on the machine, and by
   * this one's predecessor for a moment after a restart); `vars` override the Worker's variables.
   */
  async start(options: { inspectorPort?: number; vars?: Record<string, string> } = {}): Promise<void> {
    this.port = await freePort();
    this.log = "";
    const args = [
      "--inspector-port",
      String(options.inspectorPort ?? (await freePort())),
      ...Object.entries(options.vars ?? {}).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ];
    const extra = args.length ? ["--", ...args] : [];
    const proc = spawn("npm", ["start", ...extra], {
      cwd: join(import.meta.dirname, ".."),
      env: { ...process.env, PORT: String(this.port), GITFLARE_STATE: this.stateDir, WRANGLER_SEND_METRICS: "false", CI: "true" },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    // Only the tail is kept: a long run must not grow the log without bound.
    const keep = (d: Buffer) => {
      const text = d.toString();
      this.log += text;
      this.logged += text.length;
      if (this.log.length > 1 << 20) this.log = this.log.slice(-(1 << 19));
    };
    proc.stdout!.on("data", keep);
    proc.stderr!.on("data", keep);
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`server exited early:\n${this.log}`);
      try {
        const res = await fetch(this.url + "/");
        if (res.ok) {
          await res.arrayBuffer();
          return;
        }
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    await this.stop();
    throw new Error(`server did not start in time:\n${this.log}`);
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    try {
      process.kill(-proc.pid!, "SIGTERM");
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-proc.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, 5000);
    await exited;
    clearTimeout(timer);
    this.proc = null;
  }

  /**
   * Signs up `username` through the web forms, makes an admin-scoped token, and has this
   * file's git runs and raw requests use it.
   */
  async signUpAndUse(username: string): Promise<Account> {
    const account = await signUp(this.url, username);
    e2eAuth.header = account.auth;
    return account;
  }

  /** fetch() on this server with the file's credentials. */
  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (e2eAuth.header && !headers.has("Authorization")) headers.set("Authorization", e2eAuth.header);
    return fetch(this.url + path, { ...init, headers });
  }

  /**
   * The runtime's own address, behind wrangler's dev proxy. Load tests talk to it: the
   * proxy reuses pooled connections that the runtime closes after 5 s idle, and a POST
   * sent into one as it closes fails as "Your worker restarted mid-request" (HTTP 503;
   * capnproto/capnproto#2785, cloudflare/workers-sdk#14926), which rounds of concurrent
   * clones with pauses between them meet every time. Linux only (it reads /proc); the
   * proxy's address elsewhere.
   */
  async directUrl(): Promise<string> {
    const group = this.processGroup;
    if (group === null || !readdirSync("/proc").length) return this.url;
    const inodes = new Set<string>();
    for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (Number(fields[2]) !== group || !stat.includes("(workerd)")) continue;
        for (const fd of readdirSync(`/proc/${pid}/fd`)) {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          if (m) inodes.add(m[1]);
        }
      } catch {
        // The process ended between listing and reading.
      }
    }
    // Listening sockets (state 0A) of those processes on 127.0.0.1, then the one that is Gitflare.
    const ports: number[] = [];
    for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === "0A" && inodes.has(f[9]) && f[1].startsWith("0100007F:"))
        ports.push(Number.parseInt(f[1].split(":")[1], 16));
    }
    for (const port of ports) {
      if (port === this.port) continue;
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`);
        if (res.ok && (await res.text()).includes("Gitflare")) return `http://127.0.0.1:${port}`;
      } catch {
        // Not an HTTP port (the inspector, the runtime's control sockets).
      }
    }
    return this.url;
  }

  output(): string {
    return this.log;
  }

  /** A position in the output, for `outputSince`. */
  mark(): number {
    return this.logged;
  }

  /** What the server printed since `mark` (as much of it as the kept tail holds). */
  outputSince(mark: number): string {
    return this.log.slice(Math.max(0, this.log.length - (this.logged - mark)));
  }
}
