// Limits on what people write, checked by the surfaces (to answer in their own form)
// and again by the store (so nothing reaches a row that breaks them). GitHub's own
// limits: 256-character titles, 65,536-character bodies, 50-character label names.
import { type LabelFields, type Refused, refused } from "./types";

export const MAX_TITLE = 256;
export const MAX_BODY = 65_536;
export const MAX_LABEL_NAME = 50;
export const MAX_LABEL_DESCRIPTION = 100;
/** The colour GitHub gives a label created by naming it on an issue. */
export const DEFAULT_LABEL_COLOR = "ededed";

export function titleProblem(title: string): Refused | null {
  if (!title.trim()) return refused("invalid", "Title can't be blank.", "title");
  if (title.length > MAX_TITLE) return refused("invalid", `Title is too long (at most ${MAX_TITLE} characters).`, "title");
  return null;
}

export function bodyProblem(body: string): Refused | null {
  return body.length > MAX_BODY ? refused("invalid", `Body is too long (at most ${MAX_BODY} characters).`, "body") : null;
}

export function commentProblem(body: string): Refused | null {
  if (!body.trim()) return refused("invalid", "Comment can't be blank.", "body");
  return bodyProblem(body);
}

/** `#a1b2c3` or `a1b2c3` as GitHub stores it (lower case, no `#`), or null. */
export function normalColor(color: string): string | null {
  const c = color.trim().replace(/^#/, "").toLowerCase();
  return /^[0-9a-f]{6}$/.test(c) ? c : null;
}

export function labelNameProblem(name: string): Refused | null {
  if (!name.trim()) return refused("invalid", "Label name can't be blank.", "name");
  if (name.length > MAX_LABEL_NAME) return refused("invalid", `Label name is too long (at most ${MAX_LABEL_NAME} characters).`, "name");
  // A comma separates names in `labels=` lists; control characters belong in no name.
  if (/[,\x00-\x1f\x7f]/.test(name)) return refused("invalid", "Label names cannot contain commas or control characters.", "name");
  return null;
}

export function labelProblem(fields: LabelFields): Refused | null {
  if (fields.name !== undefined) {
    const p = labelNameProblem(fields.name);
    if (p) return p;
  }
  if (fields.color !== undefined && normalColor(fields.color) === null)
    return refused("invalid", "Colour must be six hex digits, such as d73a4a.", "color");
  if (fields.description !== undefined && fields.description.length > MAX_LABEL_DESCRIPTION)
    return refused("invalid", `Description is too long (at most ${MAX_LABEL_DESCRIPTION} characters).`, "description");
  return null;
}
