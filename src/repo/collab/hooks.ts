// The repository's webhooks and their delivery log, in the object's SQLite beside the
// issues (so they follow the repository: deleted, renamed and as private as its code).
// The tables are made on first use by this store alone (not in ./schema.ts), so a
// repository without hooks has none. A delivery is a queue row: the payload to send,
// when to try next (`next_at`, null once settled) and what the last attempt got back.
// The secret is kept sealed (../webhooks/secret.ts); this store never sees it in clear.

const TABLES = `
CREATE TABLE IF NOT EXISTS collab_hook (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  url TEXT NOT NULL,
  content_type TEXT NOT NULL DEFAULT 'json',
  secret TEXT NOT NULL DEFAULT '',
  insecure_ssl TEXT NOT NULL DEFAULT '0',
  events TEXT NOT NULL DEFAULT '["push"]',
  active INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS collab_hook_delivery (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  hook_id INTEGER NOT NULL,
  guid TEXT NOT NULL,
  event TEXT NOT NULL,
  action TEXT,
  payload TEXT NOT NULL,
  redelivery INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER,
  status TEXT NOT NULL DEFAULT 'pending',
  status_code INTEGER,
  duration_ms INTEGER,
  delivered_at INTEGER,
  request_headers TEXT NOT NULL DEFAULT '{}',
  response_headers TEXT NOT NULL DEFAULT '{}',
  response_body TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS collab_hook_delivery_hook ON collab_hook_delivery (hook_id, id);
CREATE INDEX IF NOT EXISTS collab_hook_delivery_due ON collab_hook_delivery (next_at) WHERE next_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS collab_hook_push (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  data TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS collab_hook_pull_event (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS collab_hook_last_push (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  payload TEXT NOT NULL
);
`;

/** Deliveries kept per hook; older ones are dropped once settled. */
const KEEP_DELIVERIES = 100;
/** Bytes of a receiver's answer kept in the log. */
export const RESPONSE_EXCERPT = 2048;

export interface Hook {
  id: number;
  url: string;
  contentType: "json";
  /** Sealed; empty when there is none. */
  sealedSecret: string;
  insecureSsl: "0" | "1";
  events: string[];
  active: boolean;
  createdAt: number;
  updatedAt: number;
  /** The last settled or attempted delivery, for the list. */
  last: { status: string; code: number | null; at: number } | null;
}

export interface HookFields {
  url?: string;
  sealedSecret?: string;
  insecureSsl?: "0" | "1";
  events?: string[];
  active?: boolean;
}

export type DeliveryStatus = "pending" | "delivered" | "failed";

export interface Delivery {
  id: number;
  hookId: number;
  guid: string;
  event: string;
  action: string | null;
  redelivery: boolean;
  createdAt: number;
  attempts: number;
  nextAt: number | null;
  status: DeliveryStatus;
  statusCode: number | null;
  durationMs: number | null;
  deliveredAt: number | null;
}

export interface DeliveryDetail extends Delivery {
  payload: string;
  requestHeaders: Record<string, string>;
  responseHeaders: Record<string, string>;
  responseBody: string;
}

interface HookRow extends Record<string, SqlStorageValue> {
  id: number;
  url: string;
  content_type: string;
  secret: string;
  insecure_ssl: string;
  events: string;
  active: number;
  created_at: number;
  updated_at: number;
}

interface DeliveryRow extends Record<string, SqlStorageValue> {
  id: number;
  hook_id: number;
  guid: string;
  event: string;
  action: string | null;
  payload: string;
  redelivery: number;
  created_at: number;
  attempts: number;
  next_at: number | null;
  status: string;
  status_code: number | null;
  duration_ms: number | null;
  delivered_at: number | null;
  request_headers: string;
  response_headers: string;
  response_body: string;
}

function delivery(r: DeliveryRow): Delivery {
  return {
    id: r.id,
    hookId: r.hook_id,
    guid: r.guid,
    event: r.event,
    action: r.action,
    redelivery: r.redelivery === 1,
    createdAt: r.created_at,
    attempts: r.attempts,
    nextAt: r.next_at,
    status: r.status as DeliveryStatus,
    statusCode: r.status_code,
    durationMs: r.duration_ms,
    deliveredAt: r.delivered_at,
  };
}

function detail(r: DeliveryRow): DeliveryDetail {
  return {
    ...delivery(r),
    payload: r.payload,
    requestHeaders: JSON.parse(r.request_headers),
    responseHeaders: JSON.parse(r.response_headers),
    responseBody: r.response_body,
  };
}

/** What one attempt got: a response (any status) or none (`statusCode` null: refused, timed out, unreachable). */
export interface Attempt {
  at: number;
  statusCode: number | null;
  durationMs: number;
  requestHeaders: Record<string, string>;
  responseHeaders: Record<string, string>;
  responseBody: string;
}

export class HookStore {
  private ready = false;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Whether any hook exists, without making the tables to find out. */
  private exists(): boolean {
    if (this.ready) return true;
    const made = this.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'collab_hook'").toArray().length > 0;
    if (made) this.ready = true;
    return made;
  }

  private get sql(): SqlStorage {
    if (!this.ready) {
      this.storage.sql.exec(TABLES);
      this.ready = true;
    }
    return this.storage.sql;
  }

  private hookOf(r: HookRow): Hook {
    const last = this.sql
      .exec<{ status: string; status_code: number | null; at: number }>(
        "SELECT status, status_code, coalesce(delivered_at, created_at) AS at FROM collab_hook_delivery WHERE hook_id = ? AND attempts > 0 ORDER BY id DESC LIMIT 1",
        r.id,
      )
      .toArray()[0];
    return {
      id: r.id,
      url: r.url,
      contentType: "json",
      sealedSecret: r.secret,
      insecureSsl: r.insecure_ssl === "1" ? "1" : "0",
      events: JSON.parse(r.events),
      active: r.active === 1,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      last: last ? { status: last.status, code: last.status_code, at: last.at } : null,
    };
  }

  list(): Hook[] {
    if (!this.exists()) return [];
    return this.sql
      .exec<HookRow>("SELECT * FROM collab_hook ORDER BY id")
      .toArray()
      .map((r) => this.hookOf(r));
  }

  get(id: number): Hook | null {
    if (!this.exists()) return null;
    const r = this.sql.exec<HookRow>("SELECT * FROM collab_hook WHERE id = ?", id).toArray()[0];
    return r ? this.hookOf(r) : null;
  }

  create(fields: Required<HookFields>, at: number): Hook {
    const id = this.sql
      .exec<{ id: number }>(
        "INSERT INTO collab_hook (url, secret, insecure_ssl, events, active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        fields.url,
        fields.sealedSecret,
        fields.insecureSsl,
        JSON.stringify(fields.events),
        fields.active ? 1 : 0,
        at,
        at,
      )
      .one().id;
    return this.get(id)!;
  }

  update(id: number, fields: HookFields, at: number): Hook | null {
    const hook = this.get(id);
    if (!hook) return null;
    this.sql.exec(
      "UPDATE collab_hook SET url = ?, secret = ?, insecure_ssl = ?, events = ?, active = ?, updated_at = ? WHERE id = ?",
      fields.url ?? hook.url,
      fields.sealedSecret ?? hook.sealedSecret,
      fields.insecureSsl ?? hook.insecureSsl,
      JSON.stringify(fields.events ?? hook.events),
      (fields.active ?? hook.active) ? 1 : 0,
      at,
      id,
    );
    return this.get(id);
  }

  delete(id: number): boolean {
    if (!this.get(id)) return false;
    this.sql.exec("DELETE FROM collab_hook_delivery WHERE hook_id = ?", id);
    this.sql.exec("DELETE FROM collab_hook WHERE id = ?", id);
    return true;
  }

  /** The active hooks that take `event` (`*` takes all but ping, which goes only where asked). */
  subscribers(event: string): Hook[] {
    return this.list().filter((h) => h.active && (h.events.includes(event) || (event !== "ping" && h.events.includes("*"))));
  }

  /** Queues one delivery, due at `at`. */
  enqueue(hookId: number, event: string, action: string | null, payload: string, at: number, redelivery = false): Delivery {
    const row = this.sql
      .exec<DeliveryRow>(
        `INSERT INTO collab_hook_delivery (hook_id, guid, event, action, payload, redelivery, created_at, next_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        hookId,
        crypto.randomUUID(),
        event,
        action,
        payload,
        redelivery ? 1 : 0,
        at,
        at,
      )
      .one();
    this.sql.exec(
      `DELETE FROM collab_hook_delivery WHERE hook_id = ? AND next_at IS NULL AND id <= (SELECT max(id) FROM collab_hook_delivery WHERE hook_id = ?) - ?`,
      hookId,
      hookId,
      KEEP_DELIVERIES,
    );
    return delivery(row);
  }

  deliveries(hookId: number, limit = 30, before?: number): Delivery[] {
    if (!this.exists()) return [];
    return this.sql
      .exec<DeliveryRow>(
        "SELECT * FROM collab_hook_delivery WHERE hook_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
        hookId,
        before ?? Number.MAX_SAFE_INTEGER,
        limit,
      )
      .toArray()
      .map(delivery);
  }

  delivery(hookId: number, id: number): DeliveryDetail | null {
    if (!this.exists()) return null;
    const r = this.sql.exec<DeliveryRow>("SELECT * FROM collab_hook_delivery WHERE hook_id = ? AND id = ?", hookId, id).toArray()[0];
    return r ? detail(r) : null;
  }

  /**
   * Deliveries due by `now`, leased until `leaseUntil` so that another run started in the
   * meantime (an alarm while this one awaits its fetches) does not send them twice.
   */
  takeDue(now: number, leaseUntil: number, limit: number): DeliveryDetail[] {
    if (!this.exists()) return [];
    return this.storage.transactionSync(() => {
      const rows = this.sql
        .exec<DeliveryRow>(
          "SELECT * FROM collab_hook_delivery WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at LIMIT ?",
          now,
          limit,
        )
        .toArray();
      for (const r of rows) this.sql.exec("UPDATE collab_hook_delivery SET next_at = ? WHERE id = ?", leaseUntil, r.id);
      return rows.map(detail);
    });
  }

  /** Records an attempt; `retryAt` null settles the delivery (delivered, or failed for good). */
  recordAttempt(id: number, attempt: Attempt, ok: boolean, retryAt: number | null): void {
    this.sql.exec(
      `UPDATE collab_hook_delivery SET attempts = attempts + 1, next_at = ?, status = ?, status_code = ?, duration_ms = ?,
         delivered_at = ?, request_headers = ?, response_headers = ?, response_body = ? WHERE id = ?`,
      ok ? null : retryAt,
      ok ? "delivered" : retryAt === null ? "failed" : "pending",
      attempt.statusCode,
      attempt.durationMs,
      attempt.at,
      JSON.stringify(attempt.requestHeaders),
      JSON.stringify(attempt.responseHeaders),
      attempt.responseBody.slice(0, RESPONSE_EXCERPT),
      id,
    );
  }

  /** When the next queued delivery is due, or null. */
  nextDue(): number | null {
    if (!this.exists()) return null;
    if (this.pushesQueued()) return 0;
    return this.sql.exec<{ at: number | null }>("SELECT min(next_at) AS at FROM collab_hook_delivery").one().at;
  }

  /** A push whose payloads the alarm builds (the moved refs, who pushed, the site). */
  queuePush(data: string, at: number): void {
    this.sql.exec("INSERT INTO collab_hook_push (data, created_at) VALUES (?, ?)", data, at);
  }

  /** The queued pushes, oldest first, taken off the queue. */
  takePushes(): string[] {
    if (!this.exists()) return [];
    return this.storage.transactionSync(() => {
      const rows = this.sql.exec<{ id: number; data: string }>("SELECT id, data FROM collab_hook_push ORDER BY id LIMIT 20").toArray();
      for (const r of rows) this.sql.exec("DELETE FROM collab_hook_push WHERE id = ?", r.id);
      return rows.map((r) => r.data);
    });
  }

  /** Whether pushes wait to be turned into payloads. */
  pushesQueued(): boolean {
    return this.exists() && this.sql.exec("SELECT 1 FROM collab_hook_push LIMIT 1").toArray().length > 0;
  }

  /** A pull-request change a push made, for the Worker to turn into a `pull_request` event. */
  queuePullEvent(data: string): void {
    this.sql.exec("INSERT INTO collab_hook_pull_event (data) VALUES (?)", data);
  }

  takePullEvents(): string[] {
    if (!this.exists()) return [];
    return this.storage.transactionSync(() => {
      const rows = this.sql
        .exec<{ id: number; data: string }>("SELECT id, data FROM collab_hook_pull_event ORDER BY id LIMIT 100")
        .toArray();
      for (const r of rows) this.sql.exec("DELETE FROM collab_hook_pull_event WHERE id = ?", r.id);
      return rows.map((r) => r.data);
    });
  }

  rememberPush(payload: string): void {
    this.sql.exec(
      "INSERT INTO collab_hook_last_push (id, payload) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET payload = excluded.payload",
      payload,
    );
  }

  lastPush(): string | null {
    if (!this.exists()) return null;
    return this.sql.exec<{ payload: string }>("SELECT payload FROM collab_hook_last_push WHERE id = 1").toArray()[0]?.payload ?? null;
  }
}
