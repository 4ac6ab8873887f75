// The issue list's filter box, spelled as GitHub spells it in `q=`: `is:open`,
// `is:closed`, `is:issue`, `label:bug` (each one must match; quote names with spaces),
// `no:label`, `author:alice`, `assignee:bob`, `no:assignee`, `sort:updated-desc`, and
// any other words, which must each appear in the title or the body.
import type { IssueQuery } from "../repo/collab";

export const DEFAULT_Q = "is:issue is:open";
const MAX_WORDS = 10;

export type Filter = Omit<IssueQuery, "offset" | "limit">;

const TOKEN = /(\w+):(?:"([^"]*)"|(\S+))|"([^"]*)"|(\S+)/g;

export function parseSearch(q: string): Filter {
  const f: Filter = { kind: "issue", state: "all", labels: [], text: [], sort: "created", direction: "desc" };
  for (const m of q.matchAll(TOKEN)) {
    const [, key, quoted, bare, phrase, word] = m;
    const value = quoted ?? bare ?? "";
    switch (key?.toLowerCase()) {
      case "is":
      case "state":
        if (value === "open" || value === "closed") f.state = value;
        else if (value === "issue") f.kind = "issue";
        else if (value === "pr" || value === "pull") f.kind = "pull";
        continue;
      case "label":
        if (f.labels.length < 20) f.labels.push(value);
        continue;
      case "no":
        if (value === "label") f.noLabel = true;
        else if (value === "assignee") f.assignee = "none";
        continue;
      case "author":
        f.author = value;
        continue;
      case "assignee":
        f.assignee = value;
        continue;
      case "sort": {
        const [by, dir] = value.split("-");
        if (by === "created" || by === "updated" || by === "comments") f.sort = by;
        if (dir === "asc" || dir === "desc") f.direction = dir;
        continue;
      }
    }
    const text = phrase ?? word ?? m[0];
    if (text.trim() && f.text.length < MAX_WORDS) f.text.push(text.trim());
  }
  return f;
}

const STATE = /(^|\s)(is|state):(open|closed)(?=\s|$)/gi;

/** `q` showing the other state: its state qualifier replaced. */
export function withState(q: string, state: "open" | "closed"): string {
  return `${q.replace(STATE, " ").trim()} is:${state}`.trim();
}

/** A qualifier's value as the filter box writes it, quoted when it has spaces. */
export function qualifier(key: string, value: string): string {
  return /[\s"]/.test(value) ? `${key}:"${value.replace(/"/g, "")}"` : `${key}:${value}`;
}
