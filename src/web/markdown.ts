// Markdown for READMEs, .md files and what people write in issues: marked
// (GitHub-flavoured: tables, task lists), fenced code highlighted, then js-xss with its
// allow-list, so nothing written can run script or break out of its box. Relative links
// and images resolve to the repository's own files; in issues, references (`#1`,
// `@user`, commit ids) are linked by ./references.ts.
import { Marked, Renderer, type Tokens } from "marked";
import * as XSS from "xss";
import { highlightCode } from "./highlight";
import { type References, linkReferences } from "./references";

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
// Highlighted code: highlight.js marks tokens with classes only.
allow.span = ["class"];

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

export function renderMarkdown(text: string, links?: LinkBase, refs?: References): string {
  // References are not linked inside links (no link in a link) or code.
  let inLink = 0;
  const marked = new Marked({
    gfm: true,
    walkTokens(token) {
      if (!links) return;
      if (token.type === "link") token.href = resolveRelative(token.href, links.blob, links.dir);
      if (token.type === "image") token.href = resolveRelative(token.href, links.raw, links.dir);
    },
    renderer: {
      code(token: Tokens.Code) {
        const lang = (token.lang ?? "").match(/^\S*/)?.[0] ?? "";
        const highlighted = lang ? highlightCode(token.text, lang) : null;
        return highlighted === null
          ? false
          : `<pre><code class="hljs language-${lang.replace(/[^\w+-]/g, "")}">${highlighted}</code></pre>\n`;
      },
      link(this: Renderer, token: Tokens.Link) {
        inLink++;
        try {
          return Renderer.prototype.link.call(this, token);
        } finally {
          inLink--;
        }
      },
      text(token: Tokens.Text | Tokens.Escape) {
        if (!refs || inLink || token.type !== "text" || ("tokens" in token && token.tokens) || ("escaped" in token && token.escaped))
          return false;
        return linkReferences(token.text, refs);
      },
    },
  });
  const html = marked.parse(text, { async: false }) as string;
  return sanitizer.process(html);
}
