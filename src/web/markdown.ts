// Markdown for READMEs and .md files: marked (GitHub-flavoured), then js-xss with its
// allow-list, so a README can neither run script nor break out of its box. Relative
// links and images resolve to the repository's own files.
import { Marked } from "marked";
import * as XSS from "xss";

// xss is CommonJS: its exports sit on `default` under Node's ESM loader, and on the
// namespace itself in the Workers bundle.
const { FilterXSS, getDefaultWhiteList, safeAttrValue } = (XSS as unknown as { default?: typeof XSS }).default ?? XSS;

const allow = getDefaultWhiteList();
for (const tag of [
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "pre",
  "code",
  "table",
  "thead",
  "tbody",
  "tr",
  "th",
  "td",
  "details",
  "summary",
  "input",
]) {
  allow[tag] = [...new Set([...(allow[tag] ?? []), "id", "align"])];
}
allow.input = ["type", "checked", "disabled"];
allow.code = ["class"];

const sanitizer = new FilterXSS({
  whiteList: allow,
  stripIgnoreTag: true,
  stripIgnoreTagBody: ["script", "style", "iframe", "object", "embed"],
  // Only http(s), mailto, relative and fragment URLs; nothing that can run.
  safeAttrValue(tag, name, value, cssFilter) {
    if ((name === "href" || name === "src") && /^\s*(javascript|vbscript|data):/i.test(value)) return "";
    return safeAttrValue(tag, name, value, cssFilter);
  },
});

export interface LinkBase {
  /** URL prefix for files: /owner/repo/blob/ref */
  blob: string;
  /** URL prefix for raw files: /owner/repo/raw/ref */
  raw: string;
  /** Directory of the Markdown file inside the repository. */
  dir: string;
}

function resolveRelative(href: string, base: string, dir: string): string {
  if (/^([a-z][a-z0-9+.-]*:|#|\/\/)/i.test(href)) return href;
  if (href.startsWith("/")) return `${base}${href}`;
  const parts = (dir ? dir.split("/") : []).concat(href.split("/"));
  const out: string[] = [];
  for (const p of parts) {
    if (p === "." || p === "") continue;
    if (p === "..") out.pop();
    else out.push(p);
  }
  return `${base}/${out.join("/")}`;
}

export function renderMarkdown(text: string, links?: LinkBase): string {
  const marked = new Marked({
    gfm: true,
    walkTokens(token) {
      if (!links) return;
      if (token.type === "link") token.href = resolveRelative(token.href, links.blob, links.dir);
      if (token.type === "image") token.href = resolveRelative(token.href, links.raw, links.dir);
    },
  });
  const html = marked.parse(text, { async: false }) as string;
  return sanitizer.process(html);
}
