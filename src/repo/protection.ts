// Protected branches: which rule covers a branch, the ref policy that the one place refs
// move asks about every update (../git/ref-transaction.ts), and the gate a pull
// request's merge passes first (approvals and required status checks on its head).
// Repository admins bypass a rule unless it enforces admins, as on GitHub.
import { ZERO_OID } from "../git/object/object";
import type { IncomingCommits, RefActor, RefPolicy } from "../git/ref-transaction";
import type { RefUpdate } from "../git/refs";
import type { BranchRule, StatusState } from "./collab";

/** A rule with GitHub's defaults for every field not given. */
export function defaultRule(pattern: string): BranchRule {
  return {
    pattern,
    requirePullRequest: false,
    requiredApprovals: 0,
    dismissStaleReviews: false,
    requiredChecks: [],
    strictChecks: false,
    enforceAdmins: false,
    allowForcePushes: false,
    allowDeletions: false,
  };
}

const globCache = new Map<string, RegExp>();

/**
 * Whether a branch name matches a rule's pattern, as git's wildmatch with pathname
 * semantics matches it: `*` and `?` stay within a `/`-separated segment, `**` crosses them,
 * `[...]` is a character class; anything else is literal.
 */
export function branchMatches(pattern: string, branch: string): boolean {
  let re = globCache.get(pattern);
  if (!re) {
    let src = "";
    for (let i = 0; i < pattern.length; i++) {
      const ch = pattern[i];
      if (ch === "*" && pattern[i + 1] === "*") {
        i++;
        // `**/` also matches nothing, so `a/**/b` matches `a/b`.
        if (pattern[i + 1] === "/") {
          i++;
          src += "(?:.*/)?";
        } else src += ".*";
      } else if (ch === "*") src += "[^/]*";
      else if (ch === "?") src += "[^/]";
      else if (ch === "[") {
        const end = pattern.indexOf("]", i + 2);
        if (end < 0) src += "\\[";
        else {
          let body = pattern.slice(i + 1, end).replace(/\\/g, "\\\\");
          if (body.startsWith("!")) body = `^${body.slice(1)}`;
          src += `(?!/)[${body}]`;
          i = end;
        }
      } else src += ch.replace(/[.+^${}()|\\\]]/g, "\\$&");
    }
    re = new RegExp(`^${src}$`);
    if (globCache.size > 500) globCache.clear();
    globCache.set(pattern, re);
  }
  return re.test(branch);
}

/**
 * The rule that covers a branch: one naming it exactly wins, then the most specific
 * matching glob.
 */
export function ruleFor(rules: BranchRule[], branch: string): BranchRule | null {
  const exact = rules.find((r) => r.pattern === branch);
  if (exact) return exact;
  // More literal characters is more specific; then fewer wildcards (`*` before `**`).
  const rank = (p: string) => [p.replace(/[*?[\]]/g, "").length, -(p.match(/\*/g)?.length ?? 0)];
  let best: BranchRule | null = null;
  for (const r of rules) {
    if (!branchMatches(r.pattern, branch)) continue;
    const [a, b] = rank(r.pattern);
    const [c, d] = best ? rank(best.pattern) : [-1, 0];
    if (a > c || (a === c && b > d)) best = r;
  }
  return best;
}

/** Whether the actor is free of the rule: a repository admin, and the rule does not enforce admins. */
export function bypasses(rule: BranchRule, actor: { admin?: boolean }): boolean {
  return !!actor.admin && !rule.enforceAdmins;
}

/** What the policy reads of the repository; all synchronous (it runs inside the ref transaction). */
export interface ProtectionSource {
  rules(): BranchRule[];
  /** The latest state of each status context on a commit. */
  checks(sha: string): Map<string, StatusState>;
  /** Whether `ancestor` is reachable from `descendant` (a fast-forward), through stored or incoming commits. */
  isAncestor(ancestor: string, descendant: string, incoming?: IncomingCommits): boolean;
}

export const PREFIX = "protected branch: ";

/** Required contexts that are not `success` on a commit, with what they are instead. */
export function unmetChecks(required: string[], checks: Map<string, StatusState>): { context: string; state: StatusState | "expected" }[] {
  return required.flatMap((context) => {
    const state = checks.get(context);
    return state === "success" ? [] : [{ context, state: state ?? ("expected" as const) }];
  });
}

export class ProtectionPolicy implements RefPolicy {
  constructor(private readonly source: ProtectionSource) {}

  refuse(update: RefUpdate, actor: RefActor, incoming: IncomingCommits = new Map()): string | null {
    if (!update.name.startsWith("refs/heads/")) return null;
    const rules = this.source.rules();
    if (!rules.length) return null;
    const rule = ruleFor(rules, update.name.slice(11));
    if (!rule || bypasses(rule, actor)) return null;
    if (update.new === ZERO_OID) return rule.allowDeletions ? null : `${PREFIX}cannot delete this branch`;
    // Making a branch that a rule covers is allowed, as on GitHub; the rule binds from then on.
    if (update.old === ZERO_OID) return null;
    if (!rule.allowForcePushes && !this.source.isAncestor(update.old, update.new, incoming))
      return `${PREFIX}cannot force-push to this branch`;
    // A merge has passed the merge gate (approvals, checks on the pull request's head).
    if (actor.via === "merge") return null;
    if (rule.requirePullRequest) return `${PREFIX}changes must be made through a pull request`;
    const unmet = unmetChecks(rule.requiredChecks, this.source.checks(update.new));
    if (unmet.length)
      return `${PREFIX}required status check "${unmet[0].context}" is ${unmet[0].state === "expected" ? "expected" : unmet[0].state}`;
    return null;
  }
}

/**
 * Who has approved a pull request: the accounts whose approving review stands, on
 * `headOid` only when stale approvals are dismissed (`headOid` null: on any commit).
 */
export type ApprovalSource = (prNumber: number, headOid: string | null) => string[];

export interface MergeGateInput {
  rule: BranchRule | null;
  prNumber: number;
  head: string;
  author: string;
  approvals: ApprovalSource;
  checks: Map<string, StatusState>;
  /** Whether the head contains the base's tip (for strict checks). */
  upToDate: boolean;
}

export interface MergeGate {
  /** What blocks the merge, in GitHub's words; empty when it may merge. */
  blockers: string[];
  approvals: { required: number; given: string[] };
  checks: { context: string; state: StatusState | "expected" }[];
}

/** What stands between a pull request and its protected base, ignoring any bypass. */
export function mergeGate(input: MergeGateInput): MergeGate {
  const { rule } = input;
  if (!rule) return { blockers: [], approvals: { required: 0, given: [] }, checks: [] };
  const given = [...new Set(input.approvals(input.prNumber, rule.dismissStaleReviews ? input.head : null))].filter(
    (l) => l !== input.author,
  );
  const blockers: string[] = [];
  const required = rule.requiredApprovals;
  if (given.length < required)
    blockers.push(`At least ${required} approving review${required === 1 ? " is" : "s are"} required by reviewers with write access.`);
  const checks = rule.requiredChecks.map((context) => ({ context, state: input.checks.get(context) ?? ("expected" as const) }));
  for (const c of checks) {
    if (c.state === "success") continue;
    blockers.push(
      `Required status check "${c.context}" is ${c.state === "expected" ? "expected" : c.state === "pending" ? "pending" : "failing"}.`,
    );
  }
  if (rule.strictChecks && rule.requiredChecks.length && !input.upToDate) blockers.push("Head branch is out of date with the base branch.");
  return { blockers, approvals: { required, given }, checks };
}
