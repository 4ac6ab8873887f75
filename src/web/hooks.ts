// Settings → Webhooks: the repository's hooks (list, add, edit, delete), each hook's
// recent deliveries with their request and response, a Redeliver button and a Ping.
// Admins only, as every settings page; the secret is written, never shown again.
import { Hono, type Context } from "hono";
import type { Env } from "../util/env";
import { hookSite } from "../access/hook-site";
import { userOf } from "../auth/caller";
import { NotFound } from "../http/responses";
import { HOOK_EVENTS, type HookInput, type HookView } from "../repo/webhooks";
import type { DeliveryDetail } from "../repo/collab/hooks";
import { type Html, csrfField, html, page } from "./layout";
import { readForm } from "./forms";
import { type Repo, openRepository, repoHeader } from "./routes";
import { pageError } from "./errors";

export const hookSettings = new Hono<{ Bindings: Env }>();
hookSettings.onError(pageError);
type C = Context<{ Bindings: Env }>;

const when = (ms: number | null) =>
  ms === null
    ? ""
    : new Date(ms)
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d{3}Z$/, " UTC");
const notice = (ok: boolean, text: string) =>
  ok ? html`<div class="ok" role="status">${text}</div>` : html`<div class="error" role="alert">${text}</div>`;

function hookForm(repo: Repo, csrf: Html, hook: HookView | null): Html {
  const action = hook ? `${repo.base}/settings/hooks/${hook.id}` : `${repo.base}/settings/hooks`;
  const events = hook?.events ?? ["push"];
  return html`<form method="post" action="${action}" class="stack">${csrf}
<label>Payload URL <input type="url" name="url" value="${hook?.url ?? ""}" required maxlength="2048" placeholder="https://example.com/hooks"></label>
<label>Content type <select name="content_type"><option value="json" selected>application/json</option></select></label>
<label>Secret <input type="password" name="secret" autocomplete="new-password" placeholder="${hook?.hasSecret ? "******** (unchanged unless you type a new one)" : ""}"></label>
${hook?.hasSecret ? html`<label class="check"><input type="checkbox" name="clear_secret" value="1"> Remove the secret</label>` : ""}
<fieldset><legend>Events</legend>${HOOK_EVENTS.filter((e) => e !== "ping").map(
    (e) =>
      html`<label class="check"><input type="checkbox" name="event_${e}" value="1"${events.includes(e) ? html` checked` : ""}> ${e === "*" ? "Everything" : e}</label> `,
  )}</fieldset>
<label class="check"><input type="checkbox" name="active" value="1"${hook === null || hook.active ? html` checked` : ""}> Active</label>
<button type="submit">${hook ? "Update webhook" : "Add webhook"}</button></form>`;
}

async function listPage(c: C, message: Html = html``, status: 200 | 404 | 422 = 200) {
  const repo = await openRepository(c, "admin");
  const csrf = csrfField(c, repo.grant.caller);
  const hooks = (await repo.stub.listHooks()) ?? [];
  return c.html(
    page(
      c,
      `Webhooks · ${repo.name}`,
      html`${repoHeader(repo, "settings")}${message}
<p><a href="${repo.base}/settings">← Settings</a></p>
<h2>Webhooks</h2><div class="box"><table class="list">${
        hooks.length
          ? hooks.map(
              (h) =>
                html`<tr><td class="name"><a href="${repo.base}/settings/hooks/${h.id}">${h.url}</a></td><td class="msg">${h.events.join(", ")}${h.active ? "" : " (inactive)"}</td><td class="age">${h.last ? `${h.last.status}${h.last.code ? ` ${h.last.code}` : ""}` : "never delivered"}</td></tr>`,
            )
          : html`<tr><td class="notice">No webhooks yet.</td></tr>`
      }</table></div>
<h2>Add a webhook</h2><div class="box">${hookForm(repo, csrf, null)}
<p class="muted">Gitflare sends a <code>ping</code> when the hook is saved, then a POST for each event, signed with <code>X-Hub-Signature-256</code> when there is a secret.</p></div>`,
    ),
    status,
  );
}

function deliveryRow(repo: Repo, hook: HookView, d: DeliveryDetail, csrf: Html): Html {
  const result = d.attempts === 0 ? "queued" : d.statusCode === null ? d.status : `${d.statusCode}`;
  return html`<details class="box"><summary><code>${d.guid}</code> ${d.event}${d.action ? `.${d.action}` : ""} · ${result} · ${d.attempts} attempt${d.attempts === 1 ? "" : "s"}${d.redelivery ? " · redelivery" : ""} · ${when(d.deliveredAt ?? d.createdAt)}${d.nextAt && d.attempts ? ` · next try ${when(d.nextAt)}` : ""}</summary>
<h3>Request</h3><pre>${Object.entries(d.requestHeaders)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n")}</pre><pre>${pretty(d.payload)}</pre>
<h3>Response${d.statusCode !== null ? ` ${d.statusCode}` : ""}${d.durationMs !== null ? ` in ${d.durationMs} ms` : ""}</h3><pre>${Object.entries(
    d.responseHeaders,
  )
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n")}</pre><pre>${d.responseBody}</pre>
<form method="post" action="${repo.base}/settings/hooks/${hook.id}/deliveries/${d.id}/redeliver" class="inline">${csrf}<button type="submit">Redeliver</button></form></details>`;
}

function pretty(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}

async function hookPage(c: C, message: Html = html``, status: 200 | 422 = 200) {
  const repo = await openRepository(c, "admin");
  const id = hookId(c);
  const hook = await repo.stub.hook(id);
  if (!hook) throw new NotFound("No such webhook.");
  const csrf = csrfField(c, repo.grant.caller);
  const list = (await repo.stub.hookDeliveries(id, 20)) ?? [];
  const details: DeliveryDetail[] = [];
  for (const d of await Promise.all(list.map((d) => repo.stub.hookDelivery(id, d.id)))) if (d) details.push(d);
  return c.html(
    page(
      c,
      `Webhook · ${repo.name}`,
      html`${repoHeader(repo, "settings")}${message}
<p><a href="${repo.base}/settings/hooks">← Webhooks</a></p>
<h2>Webhook ${hook.url}</h2><div class="box">${hookForm(repo, csrf, hook)}</div>
<div class="box"><form method="post" action="${repo.base}/settings/hooks/${id}/ping" class="inline">${csrf}<button type="submit">Ping</button></form>
<form method="post" action="${repo.base}/settings/hooks/${id}/delete" class="inline">${csrf}<button type="submit" class="danger">Delete webhook</button></form></div>
<h2>Recent deliveries</h2>${details.length ? details.map((d) => deliveryRow(repo, hook, d, csrf)) : html`<p class="muted">None yet.</p>`}`,
    ),
    status,
  );
}

function hookId(c: C): number {
  const v = c.req.param("id") ?? "";
  if (!/^\d{1,9}$/.test(v)) throw new NotFound("No such webhook.");
  return Number(v);
}

function inputOf(form: Record<string, string>, editing: boolean): HookInput {
  const events = HOOK_EVENTS.filter((e) => form[`event_${e}`]);
  const input: HookInput = { url: (form.url ?? "").trim(), contentType: form.content_type || "json", events, active: form.active === "1" };
  if (form.secret) input.secret = form.secret;
  else if (form.clear_secret === "1") input.secret = "";
  else if (!editing) input.secret = "";
  return input;
}

const senderOf = (repo: Repo) => {
  const u = userOf(repo.grant.caller);
  return u ? { id: u.id, login: u.username } : null;
};

hookSettings.get("/:owner/:repo/settings/hooks", (c) => listPage(c));

hookSettings.post("/:owner/:repo/settings/hooks", async (c) => {
  const repo = await openRepository(c, "admin");
  const { form } = await readForm(c);
  const r = await repo.stub.createHook(inputOf(form, false), hookSite(c.req.url, repo.record), senderOf(repo));
  if (!r) throw new NotFound();
  if (!r.ok) return listPage(c, notice(false, r.message), 422);
  return c.redirect(`${repo.base}/settings/hooks/${r.value.id}`, 303);
});

hookSettings.get("/:owner/:repo/settings/hooks/:id", (c) => hookPage(c));

hookSettings.post("/:owner/:repo/settings/hooks/:id", async (c) => {
  const repo = await openRepository(c, "admin");
  const { form } = await readForm(c);
  const r = await repo.stub.updateHook(hookId(c), inputOf(form, true));
  if (!r || (!r.ok && r.status === 404)) throw new NotFound("No such webhook.");
  if (!r.ok) return hookPage(c, notice(false, r.message), 422);
  return hookPage(c, notice(true, "Webhook updated."));
});

hookSettings.post("/:owner/:repo/settings/hooks/:id/delete", async (c) => {
  const repo = await openRepository(c, "admin");
  await readForm(c);
  if (!(await repo.stub.deleteHook(hookId(c)))) throw new NotFound("No such webhook.");
  return c.redirect(`${repo.base}/settings/hooks`, 303);
});

hookSettings.post("/:owner/:repo/settings/hooks/:id/ping", async (c) => {
  const repo = await openRepository(c, "admin");
  await readForm(c);
  if (!(await repo.stub.pingHook(hookId(c), hookSite(c.req.url, repo.record), senderOf(repo)))) throw new NotFound("No such webhook.");
  return hookPage(c, notice(true, "Ping queued."));
});

hookSettings.post("/:owner/:repo/settings/hooks/:id/deliveries/:delivery/redeliver", async (c) => {
  const repo = await openRepository(c, "admin");
  await readForm(c);
  const d = c.req.param("delivery") ?? "";
  if (!/^\d{1,12}$/.test(d) || !(await repo.stub.redeliverHook(hookId(c), Number(d)))) throw new NotFound("No such delivery.");
  return hookPage(c, notice(true, "Redelivery queued."));
});
