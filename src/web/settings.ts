// Repository settings pages: description, visibility, default branch, collaborators,
// rename and delete. Every route asks the access check for admin.
import { Hono, type Context } from "hono";
import type { Env } from "../util/env";
import { listCollaborators } from "../access/repos";
import { isCollaboratorRole } from "../access/roles";
import { SettingsError, addCollaborator, destroy, dropCollaborator, rename, updateSettings } from "../access/manage";
import { callerOf } from "../auth/caller";
import { type Html, csrfField, html, page } from "./layout";
import { readForm } from "./forms";
import { type Repo, openRepository, repoHeader } from "./routes";
import { pageError } from "./errors";
import { hookSettings } from "./hooks";

export const settings = new Hono<{ Bindings: Env }>();
settings.onError(pageError);
settings.route("/", hookSettings);
type C = Context<{ Bindings: Env }>;

async function settingsPage(c: C, notice: Html = html``, status: 200 | 400 | 404 | 409 = 200) {
  const repo = await openRepository(c, "admin");
  const caller = await callerOf(c);
  const collaborators = await listCollaborators(c.env.DB, repo.record.id);
  const csrf = csrfField(c, caller);
  const action = (p: string) => `${repo.base}/settings${p}`;
  return c.html(
    page(
      c,
      `Settings · ${repo.name}`,
      html`${repoHeader(repo, "settings")}${notice}<p><b>General settings</b> · <a href="${repo.base}/settings/branches">Branches</a></p>
<h2>General</h2><div class="box"><form method="post" action="${action("")}" class="stack">${csrf}
<label>Description <input type="text" name="description" value="${repo.record.description}" maxlength="350"></label>
<label>Default branch <select name="default_branch">${repo.summary.branches.length ? repo.summary.branches.map((b) => html`<option${b === repo.summary.defaultBranch ? html` selected` : ""}>${b}</option>`) : html`<option value="">(no branches yet)</option>`}</select></label>
<label class="check"><input type="radio" name="visibility" value="public"${repo.record.isPrivate ? "" : html` checked`}> Public</label>
<label class="check"><input type="radio" name="visibility" value="private"${repo.record.isPrivate ? html` checked` : ""}> Private</label>
<button type="submit">Save</button></form></div>
<h2>Collaborators</h2><div class="box"><table class="list">${
        collaborators.length
          ? collaborators.map(
              (u) =>
                html`<tr><td class="name"><a href="/${u.username}">${u.username}</a></td><td class="msg">${u.role}</td><td class="age"><form method="post" action="${action(`/collaborators/${u.username}/remove`)}" class="inline">${csrf}<button type="submit" class="danger">Remove</button></form></td></tr>`,
            )
          : html`<tr><td class="notice">No collaborators.</td></tr>`
      }</table>
<form method="post" action="${action("/collaborators")}" class="stack">${csrf}<label>Username <input type="text" name="username" required></label>
<label>Role <select name="role"><option value="read">read</option><option value="write" selected>write</option><option value="admin">admin</option></select></label><button type="submit">Add collaborator</button></form></div>
<h2>Webhooks</h2><div class="box"><p><a href="${action("/hooks")}">Manage webhooks</a>: tell other systems about pushes, issues and pull requests.</p></div>
<h2>Rename</h2><div class="box"><form method="post" action="${action("/rename")}" class="stack">${csrf}<label>New name <input type="text" name="name" value="${repo.name}" required maxlength="100"></label>
<p class="muted">The old web and git URLs will redirect here until another repository takes the name.</p><button type="submit">Rename</button></form></div>
<h2>Danger zone</h2><div class="box danger"><form method="post" action="${action("/delete")}" class="stack">${csrf}
<label>Type <b>${repo.owner}/${repo.name}</b> to confirm <input type="text" name="confirm" required autocomplete="off"></label>
<button type="submit" class="danger">Delete this repository</button></form></div>`,
    ),
    status,
  );
}

/** What a settings change leads to: the page again with a notice, or another page. */
type Outcome = { notice: string } | { redirect: string };

/**
 * Runs a settings change for a form post, then shows the page again with the outcome
 * (a SettingsError is the form's own error message) or goes where the change leads.
 */
async function change(c: C, run: (form: Record<string, string>, repo: Repo) => Promise<Outcome>) {
  const repo = await openRepository(c, "admin");
  const { form } = await readForm(c);
  let out: Outcome;
  try {
    out = await run(form, repo);
  } catch (e) {
    if (e instanceof SettingsError) return settingsPage(c, html`<div class="error" role="alert">${e.message}</div>`, e.status);
    throw e;
  }
  if ("redirect" in out) return c.redirect(out.redirect, 303);
  return settingsPage(c, html`<div class="ok" role="status">${out.notice}</div>`);
}

settings.get("/:owner/:repo/settings", (c) => settingsPage(c));

settings.post("/:owner/:repo/settings", (c) =>
  change(c, async (form, repo) => {
    await updateSettings(c.env, repo.grant, {
      description: form.description?.trim(),
      isPrivate: form.visibility === undefined ? undefined : form.visibility === "private",
      defaultBranch: form.default_branch || undefined,
    });
    return { notice: "Settings saved." };
  }),
);

settings.post("/:owner/:repo/settings/collaborators", (c) =>
  change(c, async (form, repo) => {
    const role = form.role ?? "";
    if (!isCollaboratorRole(role)) throw new SettingsError("Choose a role: read, write or admin.");
    await addCollaborator(c.env, repo.grant, form.username ?? "", role);
    return { notice: `${form.username} now has ${role} access.` };
  }),
);

settings.post("/:owner/:repo/settings/collaborators/:user/remove", (c) =>
  change(c, async (_form, repo) => {
    await dropCollaborator(c.env, repo.grant, c.req.param("user"));
    return { notice: `${c.req.param("user")} was removed.` };
  }),
);

settings.post("/:owner/:repo/settings/rename", (c) =>
  change(c, async (form, repo) => {
    const name = await rename(c.env, repo.grant, form.name ?? "");
    return { redirect: `/${repo.owner}/${name}/settings` };
  }),
);

settings.post("/:owner/:repo/settings/delete", (c) =>
  change(c, async (form, repo) => {
    if ((form.confirm ?? "").trim() !== `${repo.owner}/${repo.name}`)
      throw new SettingsError(`Type ${repo.owner}/${repo.name} to confirm.`);
    await destroy(c.env, repo.grant);
    return { redirect: `/${repo.owner}` };
  }),
);
