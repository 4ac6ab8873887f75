// A repository's labels page (`/:o/:r/labels`): every label with its colour and
// description, each linking to the open issues that carry it; writers create, edit and
// delete labels here, with forms that work without JavaScript (<details> opens them).
import { Hono, type Context } from "hono";
import type { Env } from "../util/env";
import { participant, requireWriter, viewer } from "../access/issues";
import { DEFAULT_LABEL_COLOR, MAX_LABEL_DESCRIPTION, MAX_LABEL_NAME } from "../repo/collab/validate";
import { callerOf } from "../auth/caller";
import { NotFound } from "../http/responses";
import { type Html, csrfField, html, page } from "./layout";
import { type Form, readForm } from "./forms";
import { pageError } from "./errors";
import { type Repo, openRepository, repoHeader } from "./routes";
import { ISSUE_CSS, labelChip } from "./issue-html";

export const labelsWeb = new Hono<{ Bindings: Env }>();
labelsWeb.onError(pageError);
type C = Context<{ Bindings: Env }>;

function fields(csrf: Html, l: { name: string; color: string; description: string }, rename: boolean): Html {
  return html`${csrf}${rename ? html`<input type="hidden" name="name" value="${l.name}">` : ""}
<label>Name <input type="text" name="${rename ? "new_name" : "name"}" value="${rename ? l.name : ""}" maxlength="${MAX_LABEL_NAME}" required></label>
<label>Colour <input type="color" name="color" value="#${l.color}"></label>
<label>Description <input type="text" name="description" value="${l.description}" maxlength="${MAX_LABEL_DESCRIPTION}"></label>`;
}

async function labelsPage(c: C, repo: Repo, notice?: Html, status: 200 | 404 | 422 = 200) {
  const labels = (await repo.stub.labels()) ?? [];
  const me = viewer(repo.grant);
  const csrf = me?.triage ? csrfField(c, await callerOf(c)) : html``;
  const action = (p: string) => `${repo.base}/labels${p}`;
  const row = (l: (typeof labels)[number]) =>
    html`<tr><td class="name">${labelChip(l, repo.base)}</td><td class="msg">${l.description}</td><td class="age">${
      me?.triage
        ? html`<details><summary>Edit</summary><form method="post" action="${action("/edit")}" class="stack">${fields(csrf, l, true)}<button type="submit">Save</button></form>
<form method="post" action="${action("/delete")}" class="stack"><input type="hidden" name="name" value="${l.name}">${csrf}<button type="submit" class="danger">Delete</button></form></details>`
        : ""
    }</td></tr>`;
  return c.html(
    page(
      c,
      `Labels · ${repo.owner}/${repo.name}`,
      html`${ISSUE_CSS}${repoHeader(repo, "issues")}${notice ?? ""}
${me?.triage ? html`<details class="box"><summary class="head">New label</summary><form method="post" action="${action("")}" class="stack">${fields(csrf, { name: "", color: DEFAULT_LABEL_COLOR, description: "" }, false)}<button type="submit">Create label</button></form></details>` : ""}
<div class="box"><div class="head">${labels.length} label${labels.length === 1 ? "" : "s"}</div><table class="list">${
        labels.length ? labels.map(row) : html`<tr><td class="notice">No labels yet.</td></tr>`
      }</table></div>`,
    ),
    status,
  );
}

labelsWeb.get("/:owner/:repo/labels", async (c) => labelsPage(c, await openRepository(c)));

/** Runs a writer's label change from a form, then shows the page (with the error, if any). */
async function change(c: C, run: (repo: Repo, form: Form) => Promise<{ ok: true } | { ok: false; message: string; code: string } | null>) {
  const repo = await openRepository(c);
  const { form } = await readForm(c);
  requireWriter(repo.grant, participant(repo.grant));
  const r = await run(repo, form);
  if (!r) throw new NotFound();
  if (!r.ok) return labelsPage(c, repo, html`<div class="error" role="alert">${r.message}</div>`, r.code === "not-found" ? 404 : 422);
  return c.redirect(`${repo.base}/labels`, 303);
}

labelsWeb.post("/:owner/:repo/labels", (c) =>
  change(c, (repo, form) => repo.stub.createLabel({ name: form.name ?? "", color: form.color, description: form.description ?? "" })),
);

labelsWeb.post("/:owner/:repo/labels/edit", (c) =>
  change(c, (repo, form) =>
    repo.stub.updateLabel(form.name ?? "", { name: form.new_name, color: form.color, description: form.description }),
  ),
);

labelsWeb.post("/:owner/:repo/labels/delete", (c) => change(c, (repo, form) => repo.stub.deleteLabel(form.name ?? "")));
