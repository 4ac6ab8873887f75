// A repository's labels (name, colour, description; names unique regardless of case)
// and which issues carry them. Label changes on an issue are recorded as events.
import { recordEvent } from "./events";
import { type LabelRow, toLabel } from "./rows";
import { type Actor, type Label, type LabelFields, type Result, ok, refused } from "./types";
import { DEFAULT_LABEL_COLOR, labelNameProblem, labelProblem, normalColor } from "./validate";

const COLUMNS = "id, name, color, description";

export function listLabels(sql: SqlStorage): Label[] {
  return sql.exec<LabelRow>(`SELECT ${COLUMNS} FROM collab_label ORDER BY name COLLATE NOCASE`).toArray().map(toLabel);
}

export function findLabel(sql: SqlStorage, name: string): Label | null {
  const row = sql.exec<LabelRow>(`SELECT ${COLUMNS} FROM collab_label WHERE name = ? COLLATE NOCASE`, name).toArray()[0];
  return row ? toLabel(row) : null;
}

export function createLabel(sql: SqlStorage, fields: Required<Pick<LabelFields, "name">> & LabelFields): Result<Label> {
  const name = fields.name.trim();
  const problem = labelProblem({ ...fields, name });
  if (problem) return problem;
  if (findLabel(sql, name)) return refused("exists", `A label named '${name}' already exists.`, "name");
  const row = sql
    .exec<LabelRow>(
      `INSERT INTO collab_label (name, color, description) VALUES (?, ?, ?) RETURNING ${COLUMNS}`,
      name,
      normalColor(fields.color ?? DEFAULT_LABEL_COLOR) ?? DEFAULT_LABEL_COLOR,
      fields.description ?? "",
    )
    .one();
  return ok(toLabel(row));
}

export function updateLabel(sql: SqlStorage, name: string, fields: LabelFields): Result<Label> {
  const label = findLabel(sql, name);
  if (!label) return refused("not-found", `No label named '${name}'.`);
  const next = { ...fields, name: fields.name?.trim() };
  const problem = labelProblem(next);
  if (problem) return problem;
  if (next.name !== undefined && next.name.toLowerCase() !== label.name.toLowerCase() && findLabel(sql, next.name))
    return refused("exists", `A label named '${next.name}' already exists.`, "name");
  const row = sql
    .exec<LabelRow>(
      `UPDATE collab_label SET name = ?, color = ?, description = ? WHERE id = ? RETURNING ${COLUMNS}`,
      next.name ?? label.name,
      next.color === undefined ? label.color : normalColor(next.color),
      next.description ?? label.description,
      label.id,
    )
    .one();
  return ok(toLabel(row));
}

export function deleteLabel(sql: SqlStorage, name: string): Result<null> {
  const label = findLabel(sql, name);
  if (!label) return refused("not-found", `No label named '${name}'.`);
  sql.exec("DELETE FROM collab_issue_label WHERE label_id = ?", label.id);
  sql.exec("DELETE FROM collab_label WHERE id = ?", label.id);
  return ok(null);
}

/** The labels named, creating those that do not exist yet (GitHub does the same). */
export function ensureLabels(sql: SqlStorage, names: string[]): Result<Label[]> {
  const out = new Map<number, Label>();
  for (const raw of names) {
    const name = raw.trim();
    const problem = labelNameProblem(name);
    if (problem) return { ...problem, field: "labels" };
    let label = findLabel(sql, name);
    if (!label) {
      const made = createLabel(sql, { name });
      if (!made.ok) return made;
      label = made.value;
    }
    out.set(label.id, label);
  }
  return ok([...out.values()]);
}

export function labelsOfIssue(sql: SqlStorage, issueId: number): Label[] {
  return sql
    .exec<LabelRow>(
      `SELECT l.id, l.name, l.color, l.description FROM collab_issue_label il JOIN collab_label l ON l.id = il.label_id
       WHERE il.issue_id = ? ORDER BY l.name COLLATE NOCASE`,
      issueId,
    )
    .toArray()
    .map(toLabel);
}

/**
 * Puts on or takes off labels so that the issue carries exactly `wanted` (when `mode`
 * is "set"), `wanted` in addition (when "add"), or loses `wanted` ("remove"). Each change
 * is an event. Returns whether anything changed.
 */
export function changeIssueLabels(
  sql: SqlStorage,
  issueId: number,
  wanted: Label[],
  mode: "set" | "add" | "remove",
  actor: Actor,
  at: number,
): boolean {
  const current = labelsOfIssue(sql, issueId);
  const has = new Set(current.map((l) => l.id));
  const want = new Set(wanted.map((l) => l.id));
  const add = mode === "remove" ? [] : wanted.filter((l) => !has.has(l.id));
  const drop = mode === "set" ? current.filter((l) => !want.has(l.id)) : mode === "remove" ? current.filter((l) => want.has(l.id)) : [];
  for (const l of add) {
    sql.exec("INSERT INTO collab_issue_label (issue_id, label_id) VALUES (?, ?)", issueId, l.id);
    recordEvent(sql, issueId, "labeled", actor, at, { label: { name: l.name, color: l.color } });
  }
  for (const l of drop) {
    sql.exec("DELETE FROM collab_issue_label WHERE issue_id = ? AND label_id = ?", issueId, l.id);
    recordEvent(sql, issueId, "unlabeled", actor, at, { label: { name: l.name, color: l.color } });
  }
  return add.length + drop.length > 0;
}
