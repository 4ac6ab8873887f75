// Account pages: sign up, sign in, sign out, new repository and personal access tokens.
import { Hono, type Context } from "hono";
import type { Env } from "../util/env";
import { UsernameTaken, createUser, emailProblem, findLogin, userCount, usernameProblem } from "../auth/accounts";
import { callerOf } from "../auth/caller";
import { burnPasswordCheck, passwordProblem, verifyPassword } from "../auth/password";
import { LOGIN_LIMIT, clientAddress, recordFailure, retryAfter } from "../auth/rate-limit";
import { endSession, startSession } from "../auth/sessions";
import { SCOPES, createToken, isScope, listTokens, revokeToken, tokenNameProblem } from "../auth/tokens";
import { RepoExists, repoNameProblem } from "../access/repos";
import { createRepository } from "../access/manage";
import { type Html, csrfField, html, page, relativeTime } from "./layout";
import { type Form, readForm, safeNext } from "./forms";
import { pageError } from "./errors";
import { Unauthenticated } from "../http/responses";

export const account = new Hono<{ Bindings: Env }>();
account.onError(pageError);
type C = Context<{ Bindings: Env }>;

function errorBox(message: string | null): Html {
  return message ? html`<div class="error" role="alert">${message}</div>` : html``;
}

async function signupsOpen(c: C): Promise<boolean> {
  return c.env.GITFLARE_SIGNUPS !== "closed" || (await userCount(c.env.DB)) === 0;
}

/** The signed-in browser user; throws Unauthenticated (a redirect to sign in) otherwise. */
async function sessionUser(c: C) {
  const caller = await callerOf(c);
  if (caller.kind === "session") return caller;
  throw new Unauthenticated();
}

/** A form posted by a signed-in browser user. */
async function sessionForm(c: C) {
  const s = await sessionUser(c);
  const { form } = await readForm(c);
  return { s, form };
}

// ---- sign up, sign in, sign out ----------------------------------------------------

async function signupPage(c: C, error: string | null, form: Form = {}, status: 200 | 400 | 409 = 200) {
  const caller = await callerOf(c);
  return c.html(
    page(
      c,
      "Sign up",
      html`<h1>Create your account</h1>${errorBox(error)}<div class="box"><form method="post" action="/signup" class="stack">${csrfField(c, caller)}
<label>Username <input type="text" name="username" value="${form.username ?? ""}" required autocomplete="username" maxlength="39"></label>
<label>Email <input type="email" name="email" value="${form.email ?? ""}" required autocomplete="email"></label>
<label>Password <input type="password" name="password" required autocomplete="new-password" minlength="8"></label>
<button type="submit">Sign up</button></form></div><p class="muted">Already have an account? <a href="/login">Sign in</a>.</p>`,
    ),
    status,
  );
}

account.get("/signup", async (c) => {
  if (!(await signupsOpen(c)))
    return c.html(page(c, "Sign up", html`<h1>Sign-ups are closed</h1><p class="muted">Ask this site's admin for an account.</p>`), 403);
  return signupPage(c, null);
});

account.post("/signup", async (c) => {
  const { form } = await readForm(c);
  if (!(await signupsOpen(c))) return c.html(page(c, "Sign up", html`<h1>Sign-ups are closed</h1>`), 403);
  const username = (form.username ?? "").trim();
  const email = (form.email ?? "").trim();
  const password = form.password ?? "";
  const problem = usernameProblem(username) ?? emailProblem(email) ?? passwordProblem(password);
  if (problem) return signupPage(c, problem, form, 400);
  try {
    const user = await createUser(c.env.DB, username, email, password);
    await startSession(c, c.env.DB, user.id);
    return c.redirect("/", 303);
  } catch (e) {
    if (e instanceof UsernameTaken) return signupPage(c, e.message, form, 409);
    throw e;
  }
});

async function loginPage(c: C, error: string | null, login = "", status: 200 | 401 | 429 = 200) {
  const caller = await callerOf(c);
  const next = safeNext(c.req.query("next"));
  return c.html(
    page(
      c,
      "Sign in",
      html`<h1>Sign in</h1>${errorBox(error)}<div class="box"><form method="post" action="/login?next=${encodeURIComponent(next)}" class="stack">${csrfField(c, caller)}
<label>Username or email <input type="text" name="login" value="${login}" required autocomplete="username"></label>
<label>Password <input type="password" name="password" required autocomplete="current-password"></label>
<button type="submit">Sign in</button></form></div><p class="muted">New here? <a href="/signup">Create an account</a>.</p>`,
    ),
    status,
  );
}

account.get("/login", (c) => loginPage(c, null));

account.post("/login", async (c) => {
  const { form } = await readForm(c);
  const login = (form.login ?? "").trim();
  const password = form.password ?? "";
  // Failures count per address and per account, so neither spraying one password over
  // many accounts nor many passwords at one account gets far. An account is counted by
  // its id, so its username and its email share one count; a name that is no account
  // is counted by the name.
  const found = login ? await findLogin(c.env.DB, login) : null;
  const keys = [`login:ip:${clientAddress(c.req.raw)}`, found ? `login:account:${found.user.id}` : `login:name:${login.toLowerCase()}`];
  for (const key of keys) {
    const wait = await retryAfter(c.env.DB, key, LOGIN_LIMIT);
    if (wait > 0) {
      c.header("Retry-After", String(Math.ceil(wait / 1000)));
      return loginPage(c, `Too many failed sign-in attempts. Try again in ${Math.ceil(wait / 60_000)} minute(s).`, login, 429);
    }
  }
  const ok = found ? await verifyPassword(password, found.passwordHash) : (await burnPasswordCheck(password), false);
  if (!found || !ok) {
    for (const key of keys) await recordFailure(c.env.DB, key, LOGIN_LIMIT);
    return loginPage(c, "Incorrect username or password.", login, 401);
  }
  await startSession(c, c.env.DB, found.user.id);
  return c.redirect(safeNext(c.req.query("next")), 303);
});

account.post("/logout", async (c) => {
  await readForm(c);
  await endSession(c, c.env.DB);
  return c.redirect("/", 303);
});

// ---- new repository ----------------------------------------------------------------

async function newRepoPage(c: C, error: string | null, form: Form = {}, status: 200 | 400 | 409 = 200) {
  const caller = await callerOf(c);
  const isPrivate = form.visibility === "private";
  return c.html(
    page(
      c,
      "New repository",
      html`<h1>Create a new repository</h1>${errorBox(error)}<div class="box"><form method="post" action="/new" class="stack">${csrfField(c, caller)}
<label>Repository name <input type="text" name="name" value="${form.name ?? ""}" required maxlength="100"></label>
<label>Description (optional) <input type="text" name="description" value="${form.description ?? ""}" maxlength="350"></label>
<label class="check"><input type="radio" name="visibility" value="public"${isPrivate ? "" : html` checked`}> Public: anyone can see and clone it</label>
<label class="check"><input type="radio" name="visibility" value="private"${isPrivate ? html` checked` : ""}> Private: only you and the people you add</label>
<button type="submit">Create repository</button></form></div>`,
    ),
    status,
  );
}

account.get("/new", async (c) => {
  await sessionUser(c);
  return newRepoPage(c, null);
});

account.post("/new", async (c) => {
  const { s, form } = await sessionForm(c);
  const name = (form.name ?? "").trim();
  const description = (form.description ?? "").trim().slice(0, 350);
  const problem = repoNameProblem(name);
  if (problem) return newRepoPage(c, problem, form, 400);
  try {
    const repo = await createRepository(c.env, s.user, name, description, form.visibility === "private");
    return c.redirect(`/${repo.owner}/${repo.name}`, 303);
  } catch (e) {
    if (e instanceof RepoExists) return newRepoPage(c, e.message, form, 409);
    throw e;
  }
});

// ---- personal access tokens ------------------------------------------------------------

const EXPIRIES: [string, string][] = [
  ["7", "7 days"],
  ["30", "30 days"],
  ["90", "90 days"],
  ["365", "1 year"],
  ["never", "No expiration"],
];

async function tokensPage(c: C, notice: Html, status: 200 | 201 | 400 = 200) {
  const s = await sessionUser(c);
  const tokens = await listTokens(c.env.DB, s.user.id);
  const now = Date.now();
  const state = (t: (typeof tokens)[number]) =>
    t.revokedAt
      ? "revoked"
      : t.expiresAt !== null && t.expiresAt <= now
        ? "expired"
        : t.expiresAt
          ? `expires ${new Date(t.expiresAt).toISOString().slice(0, 10)}`
          : "never expires";
  return c.html(
    page(
      c,
      "Tokens",
      html`<h1>Personal access tokens</h1>${notice}
<p class="muted">Use a token as the password when git asks, with your username: <code>git clone http://${s.user.username}@${new URL(c.req.url).host}/owner/repo.git</code>. A token's scope caps what it can do: <b>read</b> clones and fetches, <b>write</b> also pushes, <b>admin</b> also changes settings through the API.</p>
<div class="box"><table class="list">${
        tokens.length
          ? tokens.map(
              (
                t,
              ) => html`<tr><td class="name">${t.name} <span class="badge">${t.scope}</span></td><td class="msg">${state(t)} · ${t.lastUsedAt ? `last used ${relativeTime(t.lastUsedAt / 1000)}` : "never used"}</td>
<td class="age">${t.revokedAt ? "" : html`<form method="post" action="/settings/tokens/${t.id}/revoke" class="inline">${csrfField(c, s)}<button type="submit" class="danger">Revoke</button></form>`}</td></tr>`,
            )
          : html`<tr><td class="notice">No tokens yet.</td></tr>`
      }</table></div>
<h2>New token</h2><div class="box"><form method="post" action="/settings/tokens" class="stack">${csrfField(c, s)}
<label>Name <input type="text" name="name" required maxlength="100" placeholder="laptop"></label>
<fieldset><legend>Scope</legend>${SCOPES.map((sc) => html`<label class="check"><input type="radio" name="scope" value="${sc}"${sc === "write" ? html` checked` : ""}> ${sc}</label>`)}</fieldset>
<label>Expiration <select name="expires">${EXPIRIES.map(([v, label]) => html`<option value="${v}"${v === "30" ? html` selected` : ""}>${label}</option>`)}</select></label>
<button type="submit">Generate token</button></form></div>`,
    ),
    status,
  );
}

account.get("/settings/tokens", (c) => tokensPage(c, html``));

account.post("/settings/tokens", async (c) => {
  const { s, form } = await sessionForm(c);
  const name = (form.name ?? "").trim();
  const scope = form.scope ?? "";
  const days = form.expires === "never" ? null : Number(form.expires);
  const problem =
    tokenNameProblem(name) ??
    (isScope(scope) ? null : "Choose a scope.") ??
    (days === null || [7, 30, 90, 365].includes(days) ? null : "Choose an expiration.");
  if (problem || !isScope(scope)) return tokensPage(c, errorBox(problem), 400);
  const { token } = await createToken(c.env.DB, s.user.id, name, scope, days === null ? null : Date.now() + days * 86_400_000);
  return tokensPage(
    c,
    html`<div class="ok" role="status">New token <b>${name}</b>. Copy it now: it will not be shown again.<div class="clone"><input readonly id="new-token" value="${token}" aria-label="New token"><button type="button" data-copy="${token}">Copy</button></div></div>`,
    201,
  );
});

account.post("/settings/tokens/:id/revoke", async (c) => {
  const { s } = await sessionForm(c);
  await revokeToken(c.env.DB, s.user.id, Number(c.req.param("id")));
  return c.redirect("/settings/tokens", 303);
});
