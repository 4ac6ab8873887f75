// Editing files in the browser, in GitHub's URL shapes: `/:owner/:repo/edit/:ref/:path`,
// `/:owner/:repo/new/:ref/:path?` and `/:owner/:repo/delete/:ref/:path`. Each page is a plain
// form (no script needed) that carries the commit it was rendered from; the commit goes on
// top of that one and the branch moves only if it is still there (src/repo/editor.ts), so
// an edit never silently undoes someone else's push. Every route asks the access check
// for write: a private repository's editor is a 404 to others, anonymous visitors are sent
// to sign in.
import { allows } from "../access/roles";
import { Hono, type Context } from "hono";
import type { Env } from "../util/env";
import type { Caller } from "../auth/caller";
import { touchPushed } from "../access/repos";
import { HttpError, NotFound } from "../http/responses";
import type { CommitFilesRequest, EditorView, FileChange } from "../repo/editor";
import { type Html, csrfField, html, page } from "./layout";
import { readForm } from "./forms";
import { type Repo, openRepository, repoHeader } from "./routes";
import { pageError } from "./errors";
import { moveOrigin, pullEventsAfterMove } from "../api/v3/hook-events";

export const editor = new Hono<{ Bindings: Env }>();
editor.onError(pageError);
type C = Context<{ Bindings: Env }>;
type Kind = "edit" | "new" | "delete";

/** A form with a file of EDITOR_MAX_BYTES, sent as multipart, fits well within this. */
const MAX_FORM_BYTES = 3 * 1024 * 1024;

const enc = (p: string) => p.split("/").map(encodeURIComponent).join("/");

/** The URL path after `/:owner/:repo/<kind>/`, split and decoded. */
function restOf(c: C, kind: Kind): string[] {
  const prefix = `/${c.req.param("owner")}/${c.req.param("repo")}/${kind}`;
  const path = new URL(c.req.url).pathname;
  return path
    .slice(prefix.length)
    .split("/")
    .filter(Boolean)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
}

/** What the form holds: as rendered from the repository, or as posted back. */
interface EditorForm {
  /** The commit the page was rendered from ("" in an empty repository). */
  parent: string;
  /** The branch the page is on ("" when it is on a tag or a commit). */
  branch: string;
  /** The file being edited or deleted. */
  from: string;
  /** The file's path after the commit (edit and new). */
  filename: string;
  content: string;
  message: string;
  description: string;
  /** "direct": commit to `branch`; "branch": to a new branch `newBranch`. */
  target: "direct" | "branch";
  newBranch: string;
}

const STYLE = html`<style>
form.editor { display:flex; flex-direction:column; gap:10px; padding:16px; }
form.editor label { display:flex; flex-direction:column; gap:4px; font-weight:600; }
form.editor label.check { flex-direction:row; font-weight:normal; gap:6px; align-items:center; flex-wrap:wrap; }
form.editor input, form.editor textarea { font-weight:normal; }
form.editor textarea.content { width:100%; min-height:320px; font:12px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace; tab-size:4; }
form.editor fieldset { border:1px solid var(--border); border-radius:6px; display:flex; flex-direction:column; gap:8px; }
form.editor .actions { display:flex; gap:10px; align-items:center; }
button.primary, a.btn.primary { background:#1f883d; border-color:#1f883d; color:#fff; }
</style>`;

/** GitHub's default for a new branch: `<user>-patch-<n>`, the first that is free. */
function patchBranch(repo: Repo, username: string): string {
  const taken = new Set(repo.summary.branches);
  let n = 1;
  while (taken.has(`${username}-patch-${n}`)) n++;
  return `${username}-patch-${n}`;
}

function defaultMessage(kind: Kind, f: EditorForm): string {
  if (kind === "delete") return `Delete ${f.from}`;
  if (kind === "new") return `Create ${f.filename || "new file"}`;
  return f.filename && f.filename !== f.from ? `Rename ${f.from} to ${f.filename}` : `Update ${f.from}`;
}

function targetChoice(kind: Kind, f: EditorForm): Html {
  const direct = f.branch
    ? html`<label class="check"><input type="radio" name="target" value="direct"${f.target === "direct" ? html` checked` : ""}> Commit directly to the <b>${f.branch}</b> branch</label>`
    : html`<p class="muted">This page is not on a branch: the commit goes to a new branch.</p>`;
  return html`${direct}<label class="check"><input type="radio" name="target" value="branch"${f.target === "branch" || !f.branch ? html` checked` : ""}> Create a <b>new branch</b> for this commit${kind === "delete" ? "" : " and start a pull request"}:
<input type="text" name="new_branch" value="${f.newBranch}" aria-label="New branch name" maxlength="250"></label>`;
}

function editorPage(
  c: C,
  caller: Caller,
  repo: Repo,
  kind: Kind,
  f: EditorForm,
  notice: Html,
  status: 200 | 403 | 404 | 409 | 413 | 422 | 507,
) {
  const ref = f.branch || f.parent;
  const action = `${repo.base}/${kind}/${enc(ref)}${kind === "new" ? "" : `/${enc(f.from)}`}`;
  const cancel = kind === "new" ? `${repo.base}/tree/${enc(ref)}` : `${repo.base}/blob/${enc(ref)}/${enc(f.from)}`;
  const title = kind === "edit" ? `Editing ${f.from}` : kind === "new" ? "New file" : `Delete ${f.from}`;
  const fields = html`${csrfField(c, caller)}<input type="hidden" name="parent" value="${f.parent}"><input type="hidden" name="branch" value="${f.branch}">
<input type="hidden" name="from" value="${f.from}">`;
  // The newline after <textarea> is eaten by the HTML parser, so content starting with one keeps it.
  const body =
    kind === "delete"
      ? html`<p>Delete <b>${f.from}</b>${f.branch ? html` from <b>${f.branch}</b>` : ""}?</p>`
      : html`<label>${kind === "new" ? "Name your file (a / makes directories)" : "File name"} <input type="text" name="filename" value="${f.filename}" required spellcheck="false" autocomplete="off"${kind === "new" ? html` autofocus` : ""}></label>
<label>${kind === "new" ? "Contents" : "Edit file"} <textarea class="content" name="content" spellcheck="false" wrap="off">${"\n"}${f.content}</textarea></label>`;
  return c.html(
    page(
      c,
      `${title} · ${repo.name}`,
      html`${repoHeader(repo, "code")}${STYLE}${notice}<div class="box"><div class="head"><b>${title}</b> <span class="muted">at ${f.branch ? html`<b>${f.branch}</b> ` : ""}<code>${f.parent ? f.parent.slice(0, 7) : "(no commits yet)"}</code></span></div>
<form method="post" action="${action}" enctype="multipart/form-data" class="editor">${fields}${body}
<fieldset><legend>Commit changes</legend>
<label>Commit message <input type="text" name="message" value="${f.message}" placeholder="${defaultMessage(kind, f)}" maxlength="1000"></label>
<label>Extended description <textarea name="description" rows="3" placeholder="Add an optional extended description">${"\n"}${f.description}</textarea></label>
${targetChoice(kind, f)}</fieldset>
<div class="actions"><button type="submit" class="primary">${kind === "delete" ? "Commit deletion" : "Commit changes"}</button> <a href="${cancel}">Cancel</a></div></form></div>`,
    ),
    status,
  );
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

/** The page's view, or a 404 for a ref or path that is not there. */
async function viewFor(c: C, repo: Repo, kind: Kind): Promise<EditorView> {
  const view = await repo.stub.editorView(restOf(c, kind), kind === "edit");
  if (!view) throw new NotFound("No such ref.");
  const isDir = view.entry?.kind === "tree" || (view.entry === null && kind === "new");
  if (kind === "new" ? !isDir && view.path !== "" : !view.entry || view.entry.kind === "tree") {
    throw new NotFound(kind === "new" ? `${view.path} is a file, not a directory.` : "No such file.");
  }
  return view;
}

function renderNew(c: C, caller: Caller, repo: Repo, view: EditorView, username: string): Response | Promise<Response> {
  const q = (k: string) => c.req.query(k) ?? "";
  const dir = view.path ? `${view.path}/` : "";
  return editorPage(
    c,
    caller,
    repo,
    "new",
    {
      parent: view.commit ?? "",
      branch: view.branch ?? "",
      from: "",
      filename: dir + q("filename"),
      content: q("value"),
      message: q("message"),
      description: "",
      target: view.branch ? "direct" : "branch",
      newBranch: patchBranch(repo, username),
    },
    html``,
    200,
  );
}

for (const kind of ["edit", "new", "delete"] as const) {
  editor.get(`/:owner/:repo/${kind}/*`, (c) => showForm(c, kind));
  editor.post(`/:owner/:repo/${kind}/*`, (c) => commit(c, kind));
}
// `/:owner/:repo/new` alone: a new file on the default branch.
editor.get("/:owner/:repo/new", (c) => showForm(c, "new"));

async function showForm(c: C, kind: Kind): Promise<Response> {
  const repo = await openRepository(c, "write");
  const caller = repo.grant.caller;
  const username = caller.kind === "anonymous" ? "" : caller.user.username;
  if (kind === "new" && restOf(c, "new").length === 0) {
    const def = repo.summary.defaultBranch;
    if (!def) throw new NotFound("This repository has no default branch.");
    return c.redirect(`${repo.base}/new/${enc(def)}`, 302);
  }
  const view = await viewFor(c, repo, kind);
  if (kind === "new") return renderNew(c, caller, repo, view, username);
  const f: EditorForm = {
    parent: view.commit ?? "",
    branch: view.branch ?? "",
    from: view.path,
    filename: view.path,
    content: view.text ?? "",
    message: "",
    description: "",
    target: view.branch ? "direct" : "branch",
    newBranch: patchBranch(repo, username),
  };
  if (kind === "edit" && view.text === undefined) {
    const blob = `${repo.base}/blob/${enc(view.ref)}/${enc(view.path)}`;
    return c.html(
      page(
        c,
        `Editing ${view.path}`,
        html`${repoHeader(repo, "code")}<div class="box"><div class="notice">${view.notEditable ?? "This file cannot be edited in the browser."} <a href="${blob}">Back to the file</a></div></div>`,
      ),
      422,
    );
  }
  return editorPage(c, caller, repo, kind, f, html``, 200);
}

function formOf(kind: Kind, posted: Record<string, string>): EditorForm {
  const s = (k: string) => posted[k] ?? "";
  return {
    parent: s("parent").trim(),
    branch: s("branch"),
    from: kind === "new" ? "" : s("from"),
    filename: kind === "delete" ? s("from") : s("filename").trim(),
    content: s("content"),
    message: s("message"),
    description: s("description"),
    target: s("target") === "branch" || !s("branch") ? "branch" : "direct",
    newBranch: s("new_branch").trim(),
  };
}

async function commit(c: C, kind: Kind): Promise<Response> {
  const repo = await openRepository(c, "write");
  if (Number(c.req.header("Content-Length") ?? 0) > MAX_FORM_BYTES) {
    throw new HttpError(413, "This form is too large: the browser editor takes files up to 1 MiB.");
  }
  // The file travels in the form: its cap is the editor's, once write access is known.
  const { form, caller } = await readForm(c, MAX_FORM_BYTES);
  if (caller.kind !== "session") throw new HttpError(403, "Sign in to edit files.");
  const f = formOf(kind, form);
  const refuse = (message: string, status: 403 | 404 | 409 | 413 | 422 | 507) =>
    editorPage(c, caller, repo, kind, f, html`<div class="error" role="alert">${message}</div>`, status);

  if (!/^([0-9a-f]{40})?$/.test(f.parent)) return refuse("This form is missing the commit it was opened at; reload the page.", 422);
  const changes: FileChange[] = [];
  if (kind === "delete") changes.push({ kind: "delete", path: f.from });
  else if (!f.filename) return refuse("Enter a file name.", 422);
  else if (kind === "new") changes.push({ kind: "create", path: f.filename, content: f.content });
  else changes.push({ kind: "update", path: f.filename, from: f.from, content: f.content });

  const subject = f.message.trim() || defaultMessage(kind, f);
  const toBranch = f.target === "branch" ? f.newBranch : f.branch;
  const request: CommitFilesRequest = {
    parent: f.parent || null,
    branch: toBranch,
    createBranch: f.target === "branch",
    changes,
    message: f.description.trim() ? `${subject}\n\n${f.description}` : subject,
    author: { name: caller.user.username, email: caller.user.email },
    when: { seconds: Math.floor(Date.now() / 1000), timezone: "+0000" },
    user: caller.user.username,
    admin: allows(repo.grant.role, "admin"),
    actor: "editor",
    textOnly: true,
  };
  const result = await repo.stub.commitFiles(request, moveOrigin(c, repo.grant));
  if (!result.ok) return refuse(result.message, result.status);
  // The repository lists sort by the last update, as after a push.
  await touchPushed(c.env.DB, repo.record.id);
  c.executionCtx.waitUntil(pullEventsAfterMove(c));

  const path = kind === "delete" ? dirOf(f.from) : f.filename;
  const where =
    kind === "delete"
      ? `${repo.base}/tree/${enc(result.branch)}${path ? `/${enc(path)}` : ""}`
      : `${repo.base}/blob/${enc(result.branch)}/${enc(path)}`;
  if (!request.createBranch) return c.redirect(where, 303);
  // A new branch: offer the pull request GitHub would, from the branch the page was on.
  const base = f.branch || repo.summary.defaultBranch || result.branch;
  const compare = `${repo.base}/compare/${enc(base)}...${enc(result.branch)}`;
  return c.html(
    page(
      c,
      `Committed to ${result.branch}`,
      html`${repoHeader(repo, "code")}<div class="ok" role="status">Committed <a href="${repo.base}/commit/${result.commit}"><code>${result.commit.slice(0, 7)}</code></a> to the new branch <b>${result.branch}</b>.</div>
<div class="box"><div class="markdown"><p>Propose these changes to <b>${base}</b>:</p>
<p><a class="btn primary" href="${compare}">Open a pull request</a> <a href="${where}">${kind === "delete" ? "View the directory" : "View the file"}</a></p></div></div>`,
    ),
    201,
  );
}
