// The repository's webhooks: saving them (validated, SSRF-checked, secret sealed), queueing
// events for the hooks that take them, and delivering the queue from the object's alarm,
// off every request's path. The records live in ../collab/hooks.ts.
import type { Browser } from "../../git/browse";
import type { HookSite } from "../../util/hook-site";
import type { Actor } from "../collab";
import { type Attempt, type Delivery, type DeliveryDetail, type Hook, HookStore, RESPONSE_EXCERPT } from "../collab/hooks";
import { type RefMove, pushEvents, repositoryJson, userJson } from "./payloads";
import { type HookTiming, hookTiming, retryAt } from "./schedule";
import { openSecret, sealSecret } from "./secret";
import { signatureHeaders } from "./sign";
import { allowsLoopback, hookUrlProblem } from "./ssrf";

export const HOOK_EVENTS = [
  "push",
  "create",
  "delete",
  "pull_request",
  "pull_request_review",
  "pull_request_review_comment",
  "issues",
  "issue_comment",
  "status",
  "ping",
  "*",
] as const;

export interface WebhookEnv {
  GITFLARE_HOOK_KEY?: string;
  GITFLARE_HOOKS_ALLOW_LOOPBACK?: string;
  GITFLARE_HOOK_RETRY_MS?: string;
  GITFLARE_HOOK_TIMEOUT_MS?: string;
}

/** A hook as callers see it: the secret never leaves, only whether there is one. */
export interface HookView {
  id: number;
  url: string;
  contentType: "json";
  hasSecret: boolean;
  insecureSsl: "0" | "1";
  events: string[];
  active: boolean;
  createdAt: number;
  updatedAt: number;
  last: Hook["last"];
}

export interface HookInput {
  url?: string;
  contentType?: string;
  /** A new secret; "" removes it; undefined keeps it. */
  secret?: string;
  insecureSsl?: string;
  events?: string[];
  active?: boolean;
}

export type HookResult<T> = { ok: true; value: T } | { ok: false; status: 404 | 422; field?: string; message: string };

const view = (h: Hook): HookView => ({
  id: h.id,
  url: h.url,
  contentType: h.contentType,
  hasSecret: h.sealedSecret !== "",
  insecureSsl: h.insecureSsl,
  events: h.events,
  active: h.active,
  createdAt: h.createdAt,
  updatedAt: h.updatedAt,
  last: h.last,
});

const invalid = (field: string, message: string) => ({ ok: false as const, status: 422 as const, field, message });
const missing = { ok: false as const, status: 404 as const, message: "Not Found" };

/** Hooks per repository, as GitHub limits them. */
const MAX_HOOKS = 20;
/** Deliveries one alarm sends at once. */
const BATCH = 10;

interface Host {
  storage: DurableObjectStorage;
  env: WebhookEnv;
  browser: () => Browser;
  peel: (oid: string) => string | null;
  defaultBranch: () => string | null;
}

export class Webhooks {
  readonly store: HookStore;
  private readonly timing: HookTiming;

  constructor(
    private readonly host: Host,
    private readonly clock: () => number = Date.now,
  ) {
    this.store = new HookStore(host.storage);
    this.timing = hookTiming(host.env);
  }

  private get loopbackOk(): boolean {
    return allowsLoopback(this.host.env);
  }

  // ---- settings ----------------------------------------------------------------

  list(): HookView[] {
    return this.store.list().map(view);
  }

  get(id: number): HookView | null {
    const h = this.store.get(id);
    return h ? view(h) : null;
  }

  private check(input: HookInput, creating: boolean): HookResult<null> {
    if (creating && !input.url) return invalid("url", "url is required in config");
    if (input.url !== undefined) {
      if (input.url.length > 2048) return invalid("url", "url is too long");
      const problem = hookUrlProblem(input.url, this.loopbackOk);
      if (problem) return invalid("url", `url ${problem}`);
    }
    if (input.contentType !== undefined && input.contentType !== "json")
      return invalid("content_type", "content_type must be json (form deliveries are not supported)");
    if (input.insecureSsl !== undefined && input.insecureSsl !== "0" && input.insecureSsl !== "1")
      return invalid("insecure_ssl", "insecure_ssl must be 0 or 1");
    if (input.secret !== undefined && input.secret.length > 256) return invalid("secret", "secret is too long");
    if (input.events !== undefined) {
      if (!input.events.length) return invalid("events", "events must name at least one event");
      const unknown = input.events.find((e) => !(HOOK_EVENTS as readonly string[]).includes(e));
      if (unknown !== undefined) return invalid("events", `${unknown} is not a supported event`);
    }
    return { ok: true, value: null };
  }

  /** Saves a new hook and queues its `ping`. */
  async create(input: HookInput, site: HookSite, sender: Actor | null): Promise<HookResult<HookView>> {
    const bad = this.check(input, true);
    if (!bad.ok) return bad;
    if (this.store.list().length >= MAX_HOOKS) return invalid("base", `A repository may have at most ${MAX_HOOKS} hooks.`);
    const sealed = await sealSecret(input.secret ?? "", this.host.env.GITFLARE_HOOK_KEY);
    const hook = this.store.create(
      {
        url: input.url!,
        sealedSecret: sealed,
        insecureSsl: input.insecureSsl === "1" ? "1" : "0",
        events: [...new Set(input.events ?? ["push"])],
        active: input.active ?? true,
      },
      this.clock(),
    );
    this.ping(hook.id, site, sender);
    return { ok: true, value: view(this.store.get(hook.id)!) };
  }

  async update(id: number, input: HookInput, add?: string[], remove?: string[]): Promise<HookResult<HookView>> {
    const hook = this.store.get(id);
    if (!hook) return missing;
    let events = input.events ?? hook.events;
    if (add?.length) events = [...events, ...add];
    if (remove?.length) events = events.filter((e) => !remove.includes(e));
    const bad = this.check({ ...input, events: [...new Set(events)] }, false);
    if (!bad.ok) return bad;
    const sealed = input.secret === undefined ? undefined : await sealSecret(input.secret, this.host.env.GITFLARE_HOOK_KEY);
    const updated = this.store.update(
      id,
      {
        url: input.url,
        sealedSecret: sealed,
        insecureSsl: input.insecureSsl === undefined ? undefined : input.insecureSsl === "1" ? "1" : "0",
        events: [...new Set(events)],
        active: input.active,
      },
      this.clock(),
    );
    return updated ? { ok: true, value: view(updated) } : missing;
  }

  delete(id: number): boolean {
    return this.store.delete(id);
  }

  deliveries(id: number, limit: number, before?: number): Delivery[] | null {
    return this.store.get(id) ? this.store.deliveries(id, limit, before) : null;
  }

  delivery(id: number, deliveryId: number): DeliveryDetail | null {
    return this.store.delivery(id, deliveryId);
  }

  /** Sends a delivery's payload again, as a new delivery marked `redelivery`. */
  redeliver(id: number, deliveryId: number): Delivery | null {
    const d = this.store.delivery(id, deliveryId);
    return d ? this.store.enqueue(id, d.event, d.action, d.payload, this.clock(), true) : null;
  }

  /** GitHub's `ping`: the hook's own record, sent once when it is made and on request. */
  ping(id: number, site: HookSite, sender: Actor | null): Delivery | null {
    const hook = this.store.get(id);
    if (!hook) return null;
    const api = `${site.origin}/api/v3/repos/${site.owner.login}/${site.name}/hooks/${id}`;
    const payload = {
      zen: "Keep it logically awesome.",
      hook_id: id,
      hook: {
        type: "Repository",
        id,
        name: "web",
        active: hook.active,
        events: hook.events,
        config: { content_type: "json", insecure_ssl: hook.insecureSsl, url: hook.url },
        updated_at: new Date(hook.updatedAt).toISOString(),
        created_at: new Date(hook.createdAt).toISOString(),
        url: api,
        test_url: `${api}/test`,
        ping_url: `${api}/pings`,
        deliveries_url: `${api}/deliveries`,
      },
      repository: repositoryJson(site, this.host.defaultBranch()),
      sender: sender ? userJson(site.origin, sender) : null,
    };
    return this.store.enqueue(id, "ping", null, JSON.stringify(payload), this.clock());
  }

  /** GitHub's "test the push hook": the latest push again, if the hook takes pushes. */
  test(id: number): boolean {
    const hook = this.store.get(id);
    if (!hook) return false;
    const last = this.store.lastPush();
    if (last && (hook.events.includes("push") || hook.events.includes("*"))) this.store.enqueue(id, "push", null, last, this.clock());
    return true;
  }

  // ---- events ------------------------------------------------------------------

  /**
   * Queues `event` for every active hook that takes it: the one entry point for events,
   * whoever raises them. `payload` is the event's own part (`pull_request`, `issue`,
   * `comment`, `state`…); `action`, `repository` and `sender` are added here. Answers
   * how many deliveries were queued; the alarm sends them.
   */
  emit(event: string, action: string | null, payload: Record<string, unknown>, site: HookSite, sender: Actor | null): number {
    const hooks = this.store.subscribers(event);
    if (!hooks.length) return 0;
    const body = JSON.stringify({
      ...(action ? { action } : {}),
      ...payload,
      repository: repositoryJson(site, this.host.defaultBranch()),
      sender: sender ? userJson(site.origin, sender) : null,
    });
    const at = this.clock();
    for (const h of hooks) this.store.enqueue(h.id, event, action, body, at);
    return hooks.length;
  }

  /** After a push (synchronously, before git hears back): the moved refs wait for the alarm. */
  pushed(moves: RefMove[], pusher: Actor | null, site: HookSite | undefined): boolean {
    if (!site || !moves.length) return false;
    if (!this.store.list().some((h) => h.active)) return false;
    this.store.queuePush(JSON.stringify({ moves, pusher, site }), this.clock());
    return true;
  }

  /**
   * What a push did to open pull requests (`before`: their state ahead of it), queued for
   * the Worker, which builds `pull_request` payloads in the API's shapes: `synchronize`
   * for a head that moved, `closed` for one the push merged.
   */
  pullsMoved(
    before: { number: number; headSha: string }[],
    after: (n: number) => { headSha: string; merged: boolean } | null,
    sender: Actor | null,
  ): void {
    for (const b of before) {
      const a = after(b.number);
      if (!a) continue;
      if (a.merged) this.store.queuePullEvent(JSON.stringify({ number: b.number, action: "closed", sender }));
      else if (a.headSha !== b.headSha)
        this.store.queuePullEvent(JSON.stringify({ number: b.number, action: "synchronize", sender, before: b.headSha, after: a.headSha }));
    }
  }

  takePullEvents(): { number: number; action: string; sender: Actor | null; before?: string; after?: string }[] {
    return this.store.takePullEvents().map((d) => JSON.parse(d));
  }

  // ---- the alarm ---------------------------------------------------------------

  /** Builds queued push payloads, sends what is due; answers when to wake next (or null). */
  async run(now = this.clock()): Promise<number | null> {
    for (const p of this.store.takePushes()) {
      const { moves, pusher, site } = JSON.parse(p) as { moves: RefMove[]; pusher: Actor | null; site: HookSite };
      for (const move of moves) {
        try {
          const events = await pushEvents(this.host.browser(), this.host.peel, site, move, pusher, this.host.defaultBranch());
          for (const e of events) {
            const body = fitted(e.payload);
            if (e.event === "push") this.store.rememberPush(body);
            for (const h of this.store.subscribers(e.event)) this.store.enqueue(h.id, e.event, null, body, now);
          }
        } catch (err) {
          console.error(`webhooks: push payload for ${move.ref} failed: ${err}`);
        }
      }
    }
    const due = this.store.takeDue(now, now + this.timing.timeoutMs + 60_000, BATCH);
    await Promise.all(due.map((d) => this.attempt(d, now)));
    return this.store.nextDue();
  }

  /** One attempt at a delivery; `now`: the run's time, from which a retry is counted. */
  private async attempt(d: DeliveryDetail, now: number): Promise<void> {
    const hook = this.store.get(d.hookId);
    if (!hook) return;
    const started = this.clock();
    const attempt: Attempt = { at: started, statusCode: null, durationMs: 0, requestHeaders: {}, responseHeaders: {}, responseBody: "" };
    let ok = false;
    let final = false;
    try {
      let repoId: unknown;
      try {
        repoId = (JSON.parse(d.payload) as { repository?: { id?: unknown } }).repository?.id;
      } catch {}
      const headers: Record<string, string> = {
        Accept: "*/*",
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/gitflare",
        "X-GitHub-Event": d.event,
        "X-GitHub-Delivery": d.guid,
        "X-GitHub-Hook-ID": String(hook.id),
        "X-GitHub-Hook-Installation-Target-Type": "repository",
        ...(repoId !== undefined ? { "X-GitHub-Hook-Installation-Target-ID": String(repoId) } : {}),
        ...(await signatureHeaders(await openSecret(hook.sealedSecret, this.host.env.GITFLARE_HOOK_KEY), d.payload)),
      };
      attempt.requestHeaders = headers;
      const problem = hookUrlProblem(hook.url, this.loopbackOk);
      if (problem) {
        attempt.responseBody = `Not delivered: the URL ${problem}.`;
        final = true;
      } else {
        const res = await fetch(hook.url, {
          method: "POST",
          headers,
          body: d.payload,
          redirect: "manual",
          signal: AbortSignal.timeout(this.timing.timeoutMs),
        });
        attempt.statusCode = res.status;
        attempt.responseHeaders = Object.fromEntries(res.headers);
        attempt.responseBody = await excerpt(res);
        ok = res.status >= 200 && res.status < 300;
      }
    } catch (e) {
      attempt.responseBody =
        e instanceof Error && e.name === "TimeoutError" ? `Timed out after ${this.timing.timeoutMs} ms.` : `Not delivered: ${e}`;
    }
    attempt.durationMs = this.clock() - started;
    this.store.recordAttempt(d.id, attempt, ok, ok || final ? null : retryAt(this.timing, d.attempts + 1, now + attempt.durationMs));
  }
}

/** Payloads larger than this lose their commits' file lists (rows hold at most 2 MB). */
const MAX_PAYLOAD = 1_000_000;

function fitted(payload: Record<string, unknown>): string {
  const body = JSON.stringify(payload);
  if (body.length <= MAX_PAYLOAD || !Array.isArray(payload.commits)) return body;
  const strip = (c: Record<string, unknown>) => ({ ...c, added: [], removed: [], modified: [] });
  const head = payload.head_commit as Record<string, unknown> | null;
  return JSON.stringify({ ...payload, commits: payload.commits.map(strip), head_commit: head ? strip(head) : null });
}

/** The first RESPONSE_EXCERPT bytes of a response, as text; the rest is not read. */
async function excerpt(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_EXCERPT) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all.subarray(0, RESPONSE_EXCERPT));
}
