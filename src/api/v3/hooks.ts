// Repository webhooks in GitHub's REST shapes, for admins only (reading them too, as on
// GitHub: a hook's URL and events are an admin's business):
//   GET/POST          /repos/{owner}/{repo}/hooks
//   GET/PATCH/DELETE  /repos/{owner}/{repo}/hooks/{id}
//   POST              /repos/{owner}/{repo}/hooks/{id}/pings | /tests
//   GET               /repos/{owner}/{repo}/hooks/{id}/deliveries[/{delivery_id}]
//   POST              /repos/{owner}/{repo}/hooks/{id}/deliveries/{delivery_id}/attempts
// A secret is written, never read back: GitHub shows "********".
import { Hono, type Context } from "hono";
import type { Env } from "../../util/env";
import { type Granted, requireAccess } from "../../access/check";
import { hookSite } from "../../access/hook-site";
import { userOf } from "../../auth/caller";
import type { Delivery, DeliveryDetail } from "../../repo/collab/hooks";
import type { HookInput, HookResult, HookView } from "../../repo/webhooks";
import { type Json, numberParam, optNames, readObject } from "./body";
import { notFound, validationFailed } from "./errors";
import { paging } from "./paging";

export const hooks = new Hono<{ Bindings: Env }>();
type C = Context<{ Bindings: Env }>;

const time = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"));

export function hookJson(c: C, g: Granted, h: HookView) {
  const url = `${new URL(c.req.url).origin}/api/v3/repos/${g.repo.owner}/${g.repo.name}/hooks/${h.id}`;
  return {
    type: "Repository",
    id: h.id,
    name: "web",
    active: h.active,
    events: h.events,
    config: { content_type: h.contentType, insecure_ssl: h.insecureSsl, url: h.url, ...(h.hasSecret ? { secret: "********" } : {}) },
    updated_at: time(h.updatedAt),
    created_at: time(h.createdAt),
    url,
    test_url: `${url}/test`,
    ping_url: `${url}/pings`,
    deliveries_url: `${url}/deliveries`,
    last_response: h.last
      ? { code: h.last.code, status: h.last.status === "delivered" ? "active" : "failed", message: statusText(h.last.code, h.last.status) }
      : { code: null, status: "unused", message: null },
  };
}

function statusText(code: number | null, status: string): string {
  if (status === "delivered") return "OK";
  if (code === null) return status === "pending" ? "Pending" : "Failed to connect";
  return `Invalid HTTP Response: ${code}`;
}

function deliveryJson(g: Granted, d: Delivery) {
  return {
    id: d.id,
    guid: d.guid,
    delivered_at: time(d.deliveredAt ?? d.createdAt),
    redelivery: d.redelivery,
    duration: (d.durationMs ?? 0) / 1000,
    status: d.attempts ? statusText(d.statusCode, d.status) : "Pending",
    status_code: d.statusCode ?? 0,
    event: d.event,
    action: d.action,
    installation_id: null,
    repository_id: g.repo.id,
    throttled_at: null,
    attempts: d.attempts,
    next_attempt_at: time(d.nextAt),
  };
}

function deliveryDetailJson(g: Granted, h: HookView, d: DeliveryDetail) {
  let payload: unknown = d.payload;
  try {
    payload = JSON.parse(d.payload);
  } catch {}
  return {
    ...deliveryJson(g, d),
    url: h.url,
    request: { headers: d.requestHeaders, payload },
    response: { headers: d.responseHeaders, payload: d.responseBody },
  };
}

/** The hook body GitHub takes: `config` (url, content_type, secret, insecure_ssl), `events`, `active`. */
function hookInput(body: Json): HookInput {
  const input: HookInput = {};
  if (body.name !== undefined && body.name !== "web") throw validationFailed("Hook", "name", "invalid", "name must be web");
  const config = body.config;
  if (config !== undefined) {
    if (!config || typeof config !== "object" || Array.isArray(config)) throw validationFailed("Hook", "config");
    const cf = config as Json;
    const str = (field: string) => {
      const v = cf[field];
      if (v === undefined || v === null) return undefined;
      if (typeof v === "string") return v;
      if (typeof v === "number") return String(v);
      throw validationFailed("Hook", field);
    };
    input.url = str("url");
    input.contentType = str("content_type");
    input.secret = str("secret");
    input.insecureSsl = str("insecure_ssl");
  }
  input.events = optNames(body, "events", "Hook");
  if (body.active !== undefined) {
    if (typeof body.active !== "boolean") throw validationFailed("Hook", "active");
    input.active = body.active;
  }
  return input;
}

function unwrap<T>(r: HookResult<T> | null): T {
  if (!r) throw notFound();
  if (!r.ok) {
    if (r.status === 404) throw notFound();
    throw validationFailed("Hook", r.field ?? "base", "custom", r.message);
  }
  return r.value;
}

const sender = (g: Granted) => {
  const u = userOf(g.caller);
  return u ? { id: u.id, login: u.username } : null;
};

async function theHook(c: C) {
  const g = await requireAccess(c, "admin");
  const id = numberParam(c, "id");
  const hook = await g.stub.hook(id);
  if (!hook) throw notFound();
  return { g, id, hook };
}

hooks.get("/repos/:owner/:repo/hooks", async (c) => {
  const g = await requireAccess(c, "admin");
  const p = paging(c);
  const list = (await g.stub.listHooks()) ?? [];
  return c.json(list.slice(p.offset, p.offset + p.perPage).map((h) => hookJson(c, g, h)));
});

hooks.post("/repos/:owner/:repo/hooks", async (c) => {
  const g = await requireAccess(c, "admin");
  const input = hookInput(await readObject(c));
  if (!input.url) throw validationFailed("Hook", "url", "missing_field", "url is required in config");
  const hook = unwrap(await g.stub.createHook(input, hookSite(c.req.url, g.repo), sender(g)));
  const json = hookJson(c, g, hook);
  c.header("Location", json.url);
  return c.json(json, 201);
});

hooks.get("/repos/:owner/:repo/hooks/:id", async (c) => {
  const { g, hook } = await theHook(c);
  return c.json(hookJson(c, g, hook));
});

hooks.patch("/repos/:owner/:repo/hooks/:id", async (c) => {
  const { g, id } = await theHook(c);
  const body = await readObject(c);
  const input = hookInput(body);
  const add = optNames(body, "add_events", "Hook");
  const remove = optNames(body, "remove_events", "Hook");
  return c.json(hookJson(c, g, unwrap(await g.stub.updateHook(id, input, add, remove))));
});

hooks.delete("/repos/:owner/:repo/hooks/:id", async (c) => {
  const { g, id } = await theHook(c);
  if (!(await g.stub.deleteHook(id))) throw notFound();
  return c.body(null, 204);
});

hooks.post("/repos/:owner/:repo/hooks/:id/pings", async (c) => {
  const { g, id } = await theHook(c);
  if (!(await g.stub.pingHook(id, hookSite(c.req.url, g.repo), sender(g)))) throw notFound();
  return c.body(null, 204);
});

hooks.post("/repos/:owner/:repo/hooks/:id/tests", async (c) => {
  const { g, id } = await theHook(c);
  if (!(await g.stub.testHook(id))) throw notFound();
  return c.body(null, 204);
});

hooks.get("/repos/:owner/:repo/hooks/:id/deliveries", async (c) => {
  const { g, id } = await theHook(c);
  const perPage = Math.min(100, Math.max(1, Math.floor(Number(c.req.query("per_page") ?? 30)) || 30));
  const cursor = c.req.query("cursor");
  const before = cursor && /^\d{1,12}$/.test(cursor) ? Number(cursor) : undefined;
  const list = (await g.stub.hookDeliveries(id, perPage, before)) ?? [];
  if (list.length === perPage) {
    const next = new URL(c.req.url);
    next.searchParams.set("cursor", String(list[list.length - 1].id));
    c.header("Link", `<${next}>; rel="next"`);
  }
  return c.json(list.map((d) => deliveryJson(g, d)));
});

hooks.get("/repos/:owner/:repo/hooks/:id/deliveries/:delivery", async (c) => {
  const { g, id, hook } = await theHook(c);
  const d = await g.stub.hookDelivery(id, numberParam(c, "delivery"));
  if (!d) throw notFound();
  return c.json(deliveryDetailJson(g, hook, d));
});

hooks.post("/repos/:owner/:repo/hooks/:id/deliveries/:delivery/attempts", async (c) => {
  const { g, id } = await theHook(c);
  if (!(await g.stub.redeliverHook(id, numberParam(c, "delivery")))) throw notFound();
  return c.json({}, 202);
});
