// The "Branches" settings page: the repository's protected-branch rules (a name or a glob
// such as `release/*`), each with what it asks: pull requests, approvals, required status
// checks, no force pushes, no deletion, and whether admins bypass it. Admins only.
import { Hono, type Context } from "hono";
import type { Env } from "../util/env";
import { callerOf } from "../auth/caller";
import type { BranchRule } from "../repo/collab";
import { defaultRule } from "../repo/protection";
import { HttpError } from "../http/responses";
import { type Html, csrfField, html, page } from "./layout";
import { readForm } from "./forms";
import { type Repo, openRepository, repoHeader } from "./routes";
import { pageError } from "./errors";
import { CHECKS_CSS } from "./checks";

export const branchSettings = new Hono<{ Bindings: Env }>();
branchSettings.onError(pageError);
type C = Context<{ Bindings: Env }>;

const VALID_PATTERN = /^(?!\/|-)(?!.*(?:\.\.|\/\/|@\{|\.lock$|\/$))[^\x00-\x20\x7f~^:\\]{1,255}$/;

function summary(r: BranchRule): string {
  const parts: string[] = [];
  if (r.requirePullRequest)
    parts.push(
      r.requiredApprovals ? `pull request with ${r.requiredApprovals} approval${r.requiredApprovals === 1 ? "" : "s"}` : "pull request",
    );
  if (r.requiredChecks.length) parts.push(`checks: ${r.requiredChecks.join(", ")}${r.strictChecks ? " (up to date)" : ""}`);
  parts.push(r.allowForcePushes ? "force pushes allowed" : "no force pushes");
  parts.push(r.allowDeletions ? "deletion allowed" : "no deletion");
  parts.push(r.enforceAdmins ? "applies to admins" : "admins bypass");
  return parts.join(" · ");
}

const checked = (on: boolean) => (on ? html` checked` : "");

async function branchesPage(c: C, repo: Repo, notice: Html = html``, status: 200 | 400 | 404 = 200, editing?: BranchRule) {
  const csrf = csrfField(c, await callerOf(c));
  const rules = (await repo.stub.branchRules()) ?? [];
  const want = c.req.query("pattern");
  const rule = editing ?? (want ? rules.find((r) => r.pattern === want) : undefined) ?? defaultRule("");
  const action = `${repo.base}/settings/branches`;
  return c.html(
    page(
      c,
      `Branches · Settings · ${repo.name}`,
      html`${CHECKS_CSS}${repoHeader(repo, "settings")}${notice}<p><a href="${repo.base}/settings">General settings</a> · <b>Branches</b></p>
<h2>Branch protection rules</h2><div class="box"><table class="list">${
        rules.length
          ? rules.map(
              (
                r,
              ) => html`<tr><td class="name"><code>${r.pattern}</code></td><td class="msg">${summary(r)}</td><td class="age"><a class="btn" href="${action}?pattern=${encodeURIComponent(r.pattern)}#rule">Edit</a>
<form method="post" action="${action}/delete" class="inline">${csrf}<input type="hidden" name="pattern" value="${r.pattern}"><button type="submit" class="danger">Delete</button></form></td></tr>`,
            )
          : html`<tr><td class="notice">No branch is protected.</td></tr>`
      }</table></div>
<h2 id="rule">${rule.pattern ? html`Edit the rule for <code>${rule.pattern}</code>` : "Add a rule"}</h2><div class="box"><form method="post" action="${action}" class="stack">${csrf}
<label>Branch name pattern <input type="text" name="pattern" value="${rule.pattern}" required maxlength="255" placeholder="main, release/*, **/stable"></label>
<p class="muted"><code>*</code> matches within one path segment, <code>**</code> across them; a rule naming the branch exactly wins over patterns.</p>
<label class="check"><input type="checkbox" name="require_pull_request" value="1"${checked(rule.requirePullRequest)}> Require a pull request before merging (direct pushes, the editor and the API are refused)</label>
<label>Required approvals <input type="number" name="required_approvals" min="0" max="6" value="${rule.requiredApprovals}"></label>
<label class="check"><input type="checkbox" name="dismiss_stale_reviews" value="1"${checked(rule.dismissStaleReviews)}> Dismiss stale approvals when new commits are pushed</label>
<label>Required status checks (one context per line) <textarea name="required_checks" rows="3">${rule.requiredChecks.join("\n")}</textarea></label>
<label class="check"><input type="checkbox" name="strict_checks" value="1"${checked(rule.strictChecks)}> Require branches to be up to date before merging</label>
<label class="check"><input type="checkbox" name="allow_force_pushes" value="1"${checked(rule.allowForcePushes)}> Allow force pushes</label>
<label class="check"><input type="checkbox" name="allow_deletions" value="1"${checked(rule.allowDeletions)}> Allow deletion</label>
<label class="check"><input type="checkbox" name="enforce_admins" value="1"${checked(rule.enforceAdmins)}> Apply the rule to administrators too (nobody bypasses it)</label>
<button type="submit">Save rule</button></form></div>`,
    ),
    status,
  );
}

/** The form as a rule; throws HttpError 400 with what is wrong. */
export function ruleFromForm(form: Record<string, string>): BranchRule {
  const pattern = (form.pattern ?? "").trim();
  if (!VALID_PATTERN.test(pattern))
    throw new HttpError(400, "Give a branch name or a pattern such as release/* (no spaces, ~, ^, :, \\ or ..).");
  const approvals = Number(form.required_approvals || 0);
  if (!Number.isInteger(approvals) || approvals < 0 || approvals > 6)
    throw new HttpError(400, "Required approvals must be a whole number from 0 to 6.");
  const checks = [
    ...new Set(
      (form.required_checks ?? "")
        .split(/[\r\n]+/)
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  if (checks.length > 100 || checks.some((s) => s.length > 255))
    throw new HttpError(400, "At most 100 status checks of up to 255 characters.");
  const on = (k: string) => form[k] === "1";
  return {
    pattern,
    requirePullRequest: on("require_pull_request"),
    requiredApprovals: approvals,
    dismissStaleReviews: on("dismiss_stale_reviews"),
    requiredChecks: checks,
    strictChecks: on("strict_checks"),
    enforceAdmins: on("enforce_admins"),
    allowForcePushes: on("allow_force_pushes"),
    allowDeletions: on("allow_deletions"),
  };
}

branchSettings.get("/:owner/:repo/settings/branches", async (c) => branchesPage(c, await openRepository(c, "admin")));

branchSettings.post("/:owner/:repo/settings/branches", async (c) => {
  const repo = await openRepository(c, "admin");
  const { form } = await readForm(c);
  let rule: BranchRule;
  try {
    rule = ruleFromForm(form);
  } catch (e) {
    if (e instanceof HttpError) return branchesPage(c, repo, html`<div class="error" role="alert">${e.message}</div>`, 400);
    throw e;
  }
  if (!(await repo.stub.putBranchRule(rule)))
    return branchesPage(c, repo, html`<div class="error" role="alert">Push something first.</div>`, 404);
  return branchesPage(c, repo, html`<div class="ok" role="status">Saved the rule for ${rule.pattern}.</div>`, 200, rule);
});

branchSettings.post("/:owner/:repo/settings/branches/delete", async (c) => {
  const repo = await openRepository(c, "admin");
  const { form } = await readForm(c);
  const gone = await repo.stub.deleteBranchRule(form.pattern ?? "");
  return gone
    ? branchesPage(c, repo, html`<div class="ok" role="status">Deleted the rule for ${form.pattern}.</div>`)
    : branchesPage(c, repo, html`<div class="error" role="alert">No such rule.</div>`, 404);
});
