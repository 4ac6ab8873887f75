// Syntax highlighting with highlight.js (common languages), split into lines so each
// line can carry a number and an anchor. Spans open at a line end are closed there and
// reopened on the next line.
import hljs from "highlight.js/lib/common";

const BY_NAME: Record<string, string> = { Makefile: "makefile", Dockerfile: "dockerfile", "CMakeLists.txt": "cmake" };

export function languageFor(path: string): string | null {
  const name = path.slice(path.lastIndexOf("/") + 1);
  if (BY_NAME[name]) return BY_NAME[name];
  const dot = name.lastIndexOf(".");
  if (dot < 0) return null;
  const ext = name.slice(dot + 1).toLowerCase();
  return hljs.getLanguage(ext) ? ext : null;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Highlighted HTML, one string per line; plain escaped text when the language is unknown. */
export function highlightLines(text: string, path: string): string[] {
  const lang = languageFor(path);
  const source = text.endsWith("\n") ? text.slice(0, -1) : text;
  if (!lang || source.length > 400_000) return source.split("\n").map(escapeHtml);
  const html = hljs.highlight(source, { language: lang, ignoreIllegals: true }).value;
  const out: string[] = [];
  const open: string[] = [];
  for (const line of html.split("\n")) {
    let rendered = open.join("") + line;
    for (const m of line.matchAll(/<span[^>]*>|<\/span>/g)) {
      if (m[0] === "</span>") open.pop();
      else open.push(m[0]);
    }
    rendered += "</span>".repeat(open.length);
    out.push(rendered);
  }
  return out;
}

/** A fenced block's code highlighted as `lang` (a name or alias), or null for an unknown language. */
export function highlightCode(text: string, lang: string): string | null {
  if (!hljs.getLanguage(lang) || text.length > 100_000) return null;
  return hljs.highlight(text, { language: lang, ignoreIllegals: true }).value;
}
