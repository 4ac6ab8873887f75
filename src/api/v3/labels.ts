// Labels in GitHub's REST shapes:
//   GET/POST          /repos/{owner}/{repo}/labels
//   GET/PATCH/DELETE  /repos/{owner}/{repo}/labels/{name}
//   GET/POST/PUT/DELETE /repos/{owner}/{repo}/issues/{number}/labels
//   DELETE            /repos/{owner}/{repo}/issues/{number}/labels/{name}
// Reading needs read access; managing labels and labelling issues needs write.
import { Hono, type Context } from "hono";
import type { Env } from "../../util/env";
import { requireAccess } from "../../access/check";
import { participant, requireWriter } from "../../access/issues";
import { emitIssue } from "./hook-events";
import { type Json, numberParam, optNames, optString, readJson } from "./body";
import { fromRefused, notFound, validationFailed } from "./errors";
import { linkHeader, paging } from "./paging";
import { labelJson, whereOf } from "./shapes";

export const labels = new Hono<{ Bindings: Env }>();
type C = Context<{ Bindings: Env }>;

/** The caller, who must have write access. */
async function writer(c: C) {
  const g = await requireAccess(c, "read");
  const p = participant(g);
  requireWriter(g, p);
  return { g, actor: { id: p.id, login: p.login } };
}

const labelName = (c: C) => c.req.param("name") ?? "";

async function labelFields(c: C): Promise<Json> {
  const body = await readJson(c);
  if (!body || typeof body !== "object" || Array.isArray(body)) throw validationFailed("Label", "name", "missing_field");
  return body as Json;
}

labels.get("/repos/:owner/:repo/labels", async (c) => {
  const g = await requireAccess(c, "read");
  const p = paging(c);
  const all = (await g.stub.labels()) ?? [];
  linkHeader(c, p, all.length);
  const w = whereOf(c, g);
  return c.json(all.slice(p.offset, p.offset + p.perPage).map((l) => labelJson(w, l)));
});

labels.post("/repos/:owner/:repo/labels", async (c) => {
  const { g } = await writer(c);
  const body = await labelFields(c);
  const name = optString(body, "name", "Label");
  if (name === undefined) throw validationFailed("Label", "name", "missing_field");
  const r = await g.stub.createLabel({
    name,
    color: optString(body, "color", "Label"),
    description: optString(body, "description", "Label"),
  });
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "Label");
  const json = labelJson(whereOf(c, g), r.value);
  c.header("Location", json.url);
  return c.json(json, 201);
});

labels.get("/repos/:owner/:repo/labels/:name", async (c) => {
  const g = await requireAccess(c, "read");
  const label = await g.stub.label(labelName(c));
  if (!label) throw notFound();
  return c.json(labelJson(whereOf(c, g), label));
});

labels.patch("/repos/:owner/:repo/labels/:name", async (c) => {
  const { g } = await writer(c);
  const body = await labelFields(c);
  const r = await g.stub.updateLabel(labelName(c), {
    name: optString(body, "new_name", "Label") ?? optString(body, "name", "Label"),
    color: optString(body, "color", "Label"),
    description: optString(body, "description", "Label"),
  });
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "Label");
  return c.json(labelJson(whereOf(c, g), r.value));
});

labels.delete("/repos/:owner/:repo/labels/:name", async (c) => {
  const { g } = await writer(c);
  const r = await g.stub.deleteLabel(labelName(c));
  if (!r?.ok) throw notFound();
  return c.body(null, 204);
});

labels.get("/repos/:owner/:repo/issues/:number/labels", async (c) => {
  const g = await requireAccess(c, "read");
  const issue = await g.stub.issue(numberParam(c));
  if (!issue) throw notFound();
  const w = whereOf(c, g);
  return c.json(issue.labels.map((l) => labelJson(w, l)));
});

/** The names a labelling request sends: `{"labels": [...]}` or a bare list, as GitHub takes both. */
async function namesOf(c: C): Promise<string[]> {
  const body = await readJson(c);
  const names = Array.isArray(body) ? optNames({ labels: body }, "labels", "Label") : optNames((body ?? {}) as Json, "labels", "Label");
  if (names === undefined) throw validationFailed("Label", "labels", "missing_field");
  return names;
}

labels.post("/repos/:owner/:repo/issues/:number/labels", async (c) => {
  const { g, actor } = await writer(c);
  const number = numberParam(c);
  const before = await g.stub.issue(number);
  const r = await g.stub.changeIssueLabels(number, actor, await namesOf(c), "add");
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "Label");
  const after = before && (await g.stub.issue(number));
  if (before && after) await emitIssue(c, g, actor, before, after);
  const w = whereOf(c, g);
  return c.json(r.value.map((l) => labelJson(w, l)));
});

labels.put("/repos/:owner/:repo/issues/:number/labels", async (c) => {
  const { g, actor } = await writer(c);
  const r = await g.stub.updateIssue(numberParam(c), actor, { labels: await namesOf(c) });
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "Label");
  const w = whereOf(c, g);
  return c.json(r.value.labels.map((l) => labelJson(w, l)));
});

labels.delete("/repos/:owner/:repo/issues/:number/labels", async (c) => {
  const { g, actor } = await writer(c);
  const r = await g.stub.updateIssue(numberParam(c), actor, { labels: [] });
  if (!r?.ok) throw notFound();
  return c.body(null, 204);
});

labels.delete("/repos/:owner/:repo/issues/:number/labels/:name", async (c) => {
  const { g, actor } = await writer(c);
  const number = numberParam(c);
  const issue = await g.stub.issue(number);
  const name = labelName(c);
  // GitHub answers 404 for a label the issue does not carry.
  if (!issue?.labels.some((l) => l.name.toLowerCase() === name.toLowerCase())) throw notFound();
  const r = await g.stub.changeIssueLabels(number, actor, [name], "remove");
  if (!r?.ok) throw notFound();
  const w = whereOf(c, g);
  return c.json(r.value.map((l) => labelJson(w, l)));
});
