// Issues and issue comments in GitHub's REST shapes:
//   GET/POST   /repos/{owner}/{repo}/issues
//   GET/PATCH  /repos/{owner}/{repo}/issues/{number}
//   GET/POST   /repos/{owner}/{repo}/issues/{number}/comments
//   GET/PATCH/DELETE /repos/{owner}/{repo}/issues/comments/{id}
//   GET        /repos/{owner}/{repo}/issues/{number}/events
//   POST/DELETE /repos/{owner}/{repo}/issues/{number}/assignees
// Reading needs read access; the rest goes through src/access/issues.ts.
import { Hono, type Context } from "hono";
import type { Env } from "../../util/env";
import { type Granted, requireAccess } from "../../access/check";
import { type Participant, participant, requireAuthorOrWriter, requireWriter, resolveAssignees, spendCreation } from "../../access/issues";
import type { Actor, IssueChanges, IssueQuery, StateReason } from "../../repo/collab";
import { bodyProblem, commentProblem, titleProblem } from "../../repo/collab/validate";
import { type Json, numberParam, optNames, optString, readObject } from "./body";
import { fromRefused, notFound, validationFailed } from "./errors";
import { linkHeader, paging } from "./paging";
import { emitComment, emitIssue } from "./hook-events";
import { commentJson, eventJson, issueJson, whereOf } from "./shapes";

export const issues = new Hono<{ Bindings: Env }>();
type C = Context<{ Bindings: Env }>;

const actor = (p: Participant): Actor => ({ id: p.id, login: p.login });

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], fallback: T, field: string): T {
  if (value === undefined || value === "") return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw validationFailed("Issue", field);
}

/** GitHub's list parameters as a query of the store. */
function listQuery(c: C, offset: number, limit: number): IssueQuery {
  const since = c.req.query("since");
  const sinceMs = since ? Date.parse(since) : Number.NaN;
  return {
    state: oneOf(c.req.query("state"), ["open", "closed", "all"] as const, "open", "state"),
    labels: (c.req.query("labels") ?? "")
      .split(",")
      .map((l) => l.trim())
      .filter(Boolean)
      .slice(0, 20),
    author: c.req.query("creator") || undefined,
    assignee: c.req.query("assignee") || undefined,
    text: [],
    sort: oneOf(c.req.query("sort"), ["created", "updated", "comments"] as const, "created", "sort"),
    direction: oneOf(c.req.query("direction"), ["asc", "desc"] as const, "desc", "direction"),
    since: Number.isFinite(sinceMs) ? sinceMs : undefined,
    offset,
    limit,
  };
}

issues.get("/repos/:owner/:repo/issues", async (c) => {
  const g = await requireAccess(c, "read");
  const p = paging(c);
  const page = await g.stub.listIssues(listQuery(c, p.offset, p.perPage));
  if (!page) throw notFound();
  linkHeader(c, p, page.total);
  const w = whereOf(c, g);
  return c.json(page.items.map((i) => issueJson(w, i)));
});

/** Assignees named by `assignees` (a list) or `assignee` (one, or null for none). */
async function assigneesOf(c: C, g: Granted, body: Json): Promise<Actor[] | undefined> {
  const many = optNames(body, "assignees", "Issue");
  const one = "assignee" in body ? optString(body, "assignee", "Issue") : undefined;
  if (many === undefined && !("assignee" in body)) return undefined;
  const logins = [...(many ?? []), ...(one ? [one] : [])];
  const { people, invalid } = await resolveAssignees(c.env, g, logins);
  if (invalid.length)
    throw validationFailed("Issue", "assignees", "invalid", `'${invalid[0]}' cannot be assigned to this repository's issues.`);
  return people;
}

issues.post("/repos/:owner/:repo/issues", async (c) => {
  const g = await requireAccess(c, "read");
  const p = participant(g);
  const body = await readObject(c);
  const title = optString(body, "title", "Issue");
  if (title === undefined) throw validationFailed("Issue", "title", "missing_field");
  const text = optString(body, "body", "Issue") ?? "";
  const problem = titleProblem(title) ?? bodyProblem(text);
  if (problem) throw fromRefused(problem, "Issue");
  // As on GitHub, labels and assignees from someone without write access are dropped.
  const labels = p.triage ? optNames(body, "labels", "Issue") : undefined;
  const assignees = p.triage ? await assigneesOf(c, g, body) : undefined;
  await spendCreation(c.env, p);
  const r = await g.stub.createIssue(actor(p), { title, body: text, labels, assignees });
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "Issue");
  await emitIssue(c, g, actor(p), null, r.value);
  const json = issueJson(whereOf(c, g), r.value);
  c.header("Location", json.url);
  return c.json(json, 201);
});

issues.get("/repos/:owner/:repo/issues/comments/:id", async (c) => {
  const g = await requireAccess(c, "read");
  const cm = await g.stub.issueComment(numberParam(c, "id"));
  if (!cm) throw notFound();
  return c.json(commentJson(whereOf(c, g), cm));
});

/** The comment in the path, and the caller, who must have written it or have write access. */
async function ownComment(c: C) {
  const g = await requireAccess(c, "read");
  const p = participant(g);
  const id = numberParam(c, "id");
  const cm = await g.stub.issueComment(id);
  if (!cm) throw notFound();
  requireAuthorOrWriter(g, p, cm.author);
  return { g, id, p, cm };
}

issues.patch("/repos/:owner/:repo/issues/comments/:id", async (c) => {
  const { g, id, p, cm } = await ownComment(c);
  const text = optString(await readObject(c), "body", "IssueComment");
  if (text === undefined) throw validationFailed("IssueComment", "body", "missing_field");
  const r = await g.stub.editIssueComment(id, text);
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "IssueComment");
  if (cm.body !== r.value.body) await emitComment(c, g, actor(p), "edited", r.value, cm.body);
  return c.json(commentJson(whereOf(c, g), r.value));
});

issues.delete("/repos/:owner/:repo/issues/comments/:id", async (c) => {
  const { g, id, p, cm } = await ownComment(c);
  const r = await g.stub.deleteIssueComment(id);
  if (!r?.ok) throw notFound();
  await emitComment(c, g, actor(p), "deleted", cm);
  return c.body(null, 204);
});

issues.get("/repos/:owner/:repo/issues/:number", async (c) => {
  const g = await requireAccess(c, "read");
  const issue = await g.stub.issue(numberParam(c));
  if (!issue) throw notFound();
  return c.json(issueJson(whereOf(c, g), issue));
});

issues.patch("/repos/:owner/:repo/issues/:number", async (c) => {
  const g = await requireAccess(c, "read");
  const p = participant(g);
  const number = numberParam(c);
  const issue = await g.stub.issue(number);
  if (!issue) throw notFound();
  const body = await readObject(c);
  const changes: IssueChanges = {
    title: optString(body, "title", "Issue"),
    body: optString(body, "body", "Issue"),
  };
  if (body.state !== undefined) changes.state = oneOf(optString(body, "state", "Issue"), ["open", "closed"] as const, issue.state, "state");
  if (body.state_reason !== undefined)
    changes.stateReason =
      body.state_reason === null
        ? null
        : oneOf<StateReason>(
            optString(body, "state_reason", "Issue"),
            ["completed", "not_planned", "reopened"],
            "completed",
            "state_reason",
          );
  if (changes.title !== undefined || changes.body !== undefined || changes.state !== undefined || changes.stateReason !== undefined)
    requireAuthorOrWriter(g, p, issue.author);
  changes.labels = optNames(body, "labels", "Issue");
  changes.assignees = await assigneesOf(c, g, body);
  if (changes.labels !== undefined || changes.assignees !== undefined) requireWriter(g, p);
  const r = await g.stub.updateIssue(number, actor(p), changes);
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "Issue");
  await emitIssue(c, g, actor(p), issue, r.value);
  return c.json(issueJson(whereOf(c, g), r.value));
});

issues.get("/repos/:owner/:repo/issues/:number/comments", async (c) => {
  const g = await requireAccess(c, "read");
  const p = paging(c);
  const since = c.req.query("since") ? Date.parse(c.req.query("since")!) : Number.NaN;
  const list = await g.stub.issueComments(numberParam(c), p.offset, p.perPage, Number.isFinite(since) ? since : undefined);
  if (!list) throw notFound();
  linkHeader(c, p, list.total);
  const w = whereOf(c, g);
  return c.json(list.items.map((cm) => commentJson(w, cm)));
});

issues.post("/repos/:owner/:repo/issues/:number/comments", async (c) => {
  const g = await requireAccess(c, "read");
  const p = participant(g);
  const number = numberParam(c);
  const text = optString(await readObject(c), "body", "IssueComment");
  if (text === undefined) throw validationFailed("IssueComment", "body", "missing_field");
  const problem = commentProblem(text);
  if (problem) throw fromRefused(problem, "IssueComment");
  if (!(await g.stub.issue(number))) throw notFound();
  await spendCreation(c.env, p);
  const r = await g.stub.addIssueComment(number, actor(p), text);
  if (!r) throw notFound();
  if (!r.ok) throw fromRefused(r, "IssueComment");
  await emitComment(c, g, actor(p), "created", r.value);
  const json = commentJson(whereOf(c, g), r.value);
  c.header("Location", json.url);
  return c.json(json, 201);
});

issues.get("/repos/:owner/:repo/issues/:number/events", async (c) => {
  const g = await requireAccess(c, "read");
  const p = paging(c);
  const events = await g.stub.issueEvents(numberParam(c));
  if (!events) throw notFound();
  linkHeader(c, p, events.length);
  const w = whereOf(c, g);
  return c.json(events.slice(p.offset, p.offset + p.perPage).map((e) => eventJson(w, e)));
});

for (const [method, mode] of [
  ["post", "add"],
  ["delete", "remove"],
] as const) {
  issues[method]("/repos/:owner/:repo/issues/:number/assignees", async (c) => {
    const g = await requireAccess(c, "read");
    const p = participant(g);
    requireWriter(g, p);
    const logins = optNames(await readObject(c), "assignees", "Issue") ?? [];
    // GitHub adds those who may be assigned and ignores the rest.
    const { people } = await resolveAssignees(c.env, g, logins);
    const r = await g.stub.changeIssueAssignees(numberParam(c), actor(p), people, mode);
    if (!r) throw notFound();
    if (!r.ok) throw fromRefused(r, "Issue");
    return c.json(issueJson(whereOf(c, g), r.value), mode === "add" ? 201 : 200);
  });
}
