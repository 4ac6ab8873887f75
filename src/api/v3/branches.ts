// Branches and their protection in GitHub's REST shapes:
//   GET                /repos/{owner}/{repo}/branches                     (read)
//   GET                /repos/{owner}/{repo}/branches/{branch}            (read)
//   GET/PUT/DELETE     /repos/{owner}/{repo}/branches/{branch}/protection (admin)
// `{branch}` may hold slashes; for protection it may also be a glob (`release/*`), which
// is how a rule for many branches is set through the API.
import { Hono, type Context } from "hono";
import type { Env } from "../../util/env";
import { type Granted, requireAccess } from "../../access/check";
import type { BranchRule } from "../../repo/collab";
import { defaultRule, ruleFor } from "../../repo/protection";
import { type Json, readObject } from "./body";
import { GitHubError, notFound, validationFailed } from "./errors";
import { linkHeader, paging } from "./paging";
import { type Where, whereOf } from "./shapes";

export const branches = new Hono<{ Bindings: Env }>();
type C = Context<{ Bindings: Env }>;

const branchParam = (c: C) => c.req.param("branch") ?? "";
const enc = (b: string) => b.split("/").map(encodeURIComponent).join("/");

/** GitHub's summary of a branch's protection, as a branch answers it. */
function protectionSummary(rule: BranchRule | null) {
  if (!rule) return { enabled: false, required_status_checks: { enforcement_level: "off", contexts: [], checks: [] } };
  return {
    enabled: true,
    required_status_checks: {
      enforcement_level: rule.requiredChecks.length ? (rule.enforceAdmins ? "everyone" : "non_admins") : "off",
      contexts: rule.requiredChecks,
      checks: rule.requiredChecks.map((context) => ({ context, app_id: null })),
    },
  };
}

export function protectionJson(w: Where, branch: string, rule: BranchRule) {
  const url = `${w.repo}/branches/${enc(branch)}/protection`;
  return {
    url,
    ...(rule.requiredChecks.length || rule.strictChecks
      ? {
          required_status_checks: {
            url: `${url}/required_status_checks`,
            strict: rule.strictChecks,
            contexts: rule.requiredChecks,
            checks: rule.requiredChecks.map((context) => ({ context, app_id: null })),
            contexts_url: `${url}/required_status_checks/contexts`,
          },
        }
      : {}),
    ...(rule.requirePullRequest
      ? {
          required_pull_request_reviews: {
            url: `${url}/required_pull_request_reviews`,
            dismiss_stale_reviews: rule.dismissStaleReviews,
            require_code_owner_reviews: false,
            required_approving_review_count: rule.requiredApprovals,
            require_last_push_approval: false,
          },
        }
      : {}),
    enforce_admins: { url: `${url}/enforce_admins`, enabled: rule.enforceAdmins },
    required_linear_history: { enabled: false },
    allow_force_pushes: { enabled: rule.allowForcePushes },
    allow_deletions: { enabled: rule.allowDeletions },
    block_creations: { enabled: false },
    required_conversation_resolution: { enabled: false },
    lock_branch: { enabled: false },
    allow_fork_syncing: { enabled: false },
    required_signatures: { url: `${url}/required_signatures`, enabled: false },
  };
}

/** A pattern GitHub's path could carry: what git allows in a branch name, plus glob characters. */
function validPattern(p: string): boolean {
  return p.length > 0 && p.length <= 255 && !/[\x00-\x20\x7f~^:\\]|\.\.|@\{|^\/|\/$|\/\/|\.lock$|^-/.test(p);
}

function invalid(message: string): GitHubError {
  return new GitHubError(422, `Invalid request.\n\n${message}`);
}

const isObject = (v: unknown): v is Json => !!v && typeof v === "object" && !Array.isArray(v);

/** GitHub's body for `PUT .../protection` as a rule; its four required keys must be present (null allowed). */
export function ruleFromBody(pattern: string, body: Json): BranchRule {
  for (const key of ["required_status_checks", "enforce_admins", "required_pull_request_reviews", "restrictions"])
    if (!(key in body)) throw invalid(`"${key}" wasn't supplied.`);
  const rule = defaultRule(pattern);
  const checks = body.required_status_checks;
  if (checks !== null) {
    if (!isObject(checks)) throw invalid("For 'properties/required_status_checks', is not an object or null.");
    if (typeof checks.strict !== "boolean") throw invalid(`"strict" wasn't supplied.`);
    rule.strictChecks = checks.strict;
    const names = new Set<string>();
    if (checks.contexts !== undefined) {
      if (!Array.isArray(checks.contexts) || checks.contexts.some((x) => typeof x !== "string"))
        throw invalid("For 'properties/contexts', is not an array of strings.");
      for (const x of checks.contexts as string[]) names.add(x);
    }
    if (checks.checks !== undefined) {
      if (!Array.isArray(checks.checks) || checks.checks.some((x) => !isObject(x) || typeof x.context !== "string"))
        throw invalid("For 'properties/checks', is not an array of objects with a context.");
      for (const x of checks.checks as Json[]) names.add(x.context as string);
    }
    if (checks.contexts === undefined && checks.checks === undefined) throw invalid(`"contexts" wasn't supplied.`);
    if (names.size > 100 || [...names].some((n) => !n || n.length > 255)) throw invalid("At most 100 contexts of 1 to 255 characters.");
    rule.requiredChecks = [...names];
  }
  const admins = body.enforce_admins;
  if (admins !== null && typeof admins !== "boolean") throw invalid("For 'properties/enforce_admins', is not a boolean or null.");
  rule.enforceAdmins = admins === true;
  const reviews = body.required_pull_request_reviews;
  if (reviews !== null) {
    if (!isObject(reviews)) throw invalid("For 'properties/required_pull_request_reviews', is not an object or null.");
    rule.requirePullRequest = true;
    const count = reviews.required_approving_review_count ?? 0;
    if (typeof count !== "number" || !Number.isInteger(count) || count < 0 || count > 6)
      throw invalid("required_approving_review_count must be an integer from 0 to 6.");
    rule.requiredApprovals = count;
    const dismiss = reviews.dismiss_stale_reviews ?? false;
    if (typeof dismiss !== "boolean") throw invalid("For 'properties/dismiss_stale_reviews', is not a boolean.");
    rule.dismissStaleReviews = dismiss;
  }
  if (body.restrictions !== null) throw invalid('Push restrictions (users, teams, apps) are not supported; send "restrictions": null.');
  for (const [key, field] of [
    ["allow_force_pushes", "allowForcePushes"],
    ["allow_deletions", "allowDeletions"],
  ] as const) {
    const v = body[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== "boolean") throw invalid(`For 'properties/${key}', is not a boolean or null.`);
    rule[field] = v;
  }
  return rule;
}

function branchJson(w: Where, b: { name: string; sha: string; protected: boolean }, rule: BranchRule | null, full: boolean) {
  const commit = { sha: b.sha, url: `${w.repo}/commits/${b.sha}` };
  const protection = {
    protected: b.protected,
    protection: protectionSummary(rule),
    protection_url: `${w.repo}/branches/${enc(b.name)}/protection`,
  };
  if (!full) return { name: b.name, commit, ...protection };
  return {
    name: b.name,
    commit: { ...commit, html_url: `${w.html}/commit/${b.sha}` },
    _links: { self: `${w.repo}/branches/${enc(b.name)}`, html: `${w.html}/tree/${enc(b.name)}` },
    ...protection,
  };
}

async function list(g: Granted) {
  const all = await g.stub.branchList();
  if (!all) throw notFound();
  return all;
}

branches.get("/repos/:owner/:repo/branches", async (c) => {
  const g = await requireAccess(c, "read");
  const p = paging(c);
  let all: { name: string; sha: string; protected: boolean }[] = await list(g);
  const only = c.req.query("protected");
  if (only === "true" || only === "false") all = all.filter((b) => b.protected === (only === "true"));
  linkHeader(c, p, all.length);
  const rules = (await g.stub.branchRules()) ?? [];
  const w = whereOf(c, g);
  return c.json(all.slice(p.offset, p.offset + p.perPage).map((b) => branchJson(w, b, ruleFor(rules, b.name), false)));
});

branches.get("/repos/:owner/:repo/branches/:branch{.+}/protection", async (c) => {
  const g = await requireAccess(c, "admin");
  const branch = branchParam(c);
  const rule = await g.stub.protectionOf(branch);
  if (!rule) throw new GitHubError(404, "Branch not protected");
  return c.json(protectionJson(whereOf(c, g), branch, rule));
});

branches.put("/repos/:owner/:repo/branches/:branch{.+}/protection", async (c) => {
  const g = await requireAccess(c, "admin");
  const branch = branchParam(c);
  if (!validPattern(branch)) throw validationFailed("Branch", "branch", "invalid", "not a valid branch name or pattern");
  const rule = ruleFromBody(branch, await readObject(c));
  const saved = await g.stub.putBranchRule(rule);
  if (!saved) throw notFound();
  return c.json(protectionJson(whereOf(c, g), branch, saved));
});

branches.delete("/repos/:owner/:repo/branches/:branch{.+}/protection", async (c) => {
  const g = await requireAccess(c, "admin");
  const r = await g.stub.deleteBranchRule(branchParam(c));
  if (r === null) throw notFound();
  if (!r) throw new GitHubError(404, "Branch not protected");
  return c.body(null, 204);
});

branches.get("/repos/:owner/:repo/branches/:branch{.+}", async (c) => {
  const g = await requireAccess(c, "read");
  const name = branchParam(c);
  const b = (await list(g)).find((x) => x.name === name);
  if (!b) throw new GitHubError(404, "Branch not found");
  return c.json(branchJson(whereOf(c, g), b, await g.stub.protectionOf(name), true));
});
