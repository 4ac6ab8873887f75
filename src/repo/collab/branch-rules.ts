// Protected-branch rules: one row per branch name or glob, the rule as JSON (its fields
// grow with GitHub's protection settings without a migration each time).
import type { BranchRule } from "./types";

type Row = { pattern: string; rule: string; updated_at: number };

function ruleOf(r: Row): BranchRule {
  return { ...(JSON.parse(r.rule) as Omit<BranchRule, "pattern">), pattern: r.pattern };
}

export function listRules(sql: SqlStorage): BranchRule[] {
  return sql.exec<Row>("SELECT * FROM collab_branch_rule ORDER BY pattern").toArray().map(ruleOf);
}

export function getRule(sql: SqlStorage, pattern: string): BranchRule | null {
  const r = sql.exec<Row>("SELECT * FROM collab_branch_rule WHERE pattern = ?", pattern).toArray()[0];
  return r ? ruleOf(r) : null;
}

export function putRule(sql: SqlStorage, rule: BranchRule, at: number): BranchRule {
  const { pattern, ...rest } = rule;
  sql.exec(
    `INSERT INTO collab_branch_rule (pattern, rule, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (pattern) DO UPDATE SET rule = excluded.rule, updated_at = excluded.updated_at`,
    pattern,
    JSON.stringify(rest),
    at,
  );
  return getRule(sql, pattern)!;
}

export function deleteRule(sql: SqlStorage, pattern: string): boolean {
  return sql.exec("DELETE FROM collab_branch_rule WHERE pattern = ?", pattern).rowsWritten > 0;
}
