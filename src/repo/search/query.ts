// Code search queries, as GitHub spells them: words and "quoted phrases" that must all
// occur in a file (as substrings, case-insensitively), and the qualifiers path:,
// language: (or lang:), extension: and repo:. Parsing is pure, so the Worker rejects a
// bad query before it reaches a repository.

/** Shortest term the trigram index can look up. */
export const MIN_TERM = 3;

export interface CodeQuery {
  terms: string[];
  /** Path substrings (a leading "/" anchors at the root); any may match. */
  paths: string[];
  /** File extensions without the dot; any may match. Empty: every file. */
  extensions: string[];
  /** `repo:` values, for the API, which scopes a search by them. */
  repos: string[];
}

export type Parsed = { ok: true; query: CodeQuery } | { ok: false; message: string };

/** Extensions of the languages people name most (GitHub's linguist names, lower-cased). */
const LANGUAGES: Record<string, string[]> = {
  javascript: ["js", "mjs", "cjs", "jsx"],
  typescript: ["ts", "tsx", "mts", "cts"],
  python: ["py", "pyi"],
  go: ["go"],
  rust: ["rs"],
  java: ["java"],
  kotlin: ["kt", "kts"],
  c: ["c", "h"],
  "c++": ["cc", "cpp", "cxx", "hpp", "hh", "hxx"],
  cpp: ["cc", "cpp", "cxx", "hpp", "hh", "hxx"],
  "c#": ["cs"],
  csharp: ["cs"],
  ruby: ["rb"],
  php: ["php"],
  swift: ["swift"],
  scala: ["scala"],
  shell: ["sh", "bash", "zsh"],
  markdown: ["md", "markdown"],
  json: ["json"],
  yaml: ["yml", "yaml"],
  toml: ["toml"],
  html: ["html", "htm"],
  css: ["css"],
  sql: ["sql"],
  xml: ["xml"],
};

/** Splits on whitespace, keeping "quoted phrases" (and qualifier:"quoted values") whole. */
function tokens(q: string): string[] {
  const out: string[] = [];
  for (const m of q.matchAll(/(\S*?)"([^"]*)"|\S+/g)) out.push(m[2] !== undefined ? `${m[1]}\u0000${m[2]}` : m[0]);
  return out;
}

/**
 * GitHub's bounds on a query. Terms, paths and extensions each bind a parameter, and a
 * Durable Object's SQLite takes at most 100 in a statement (a language names up to 6
 * extensions).
 */
const MAX_QUERY_CHARS = 256;
const MAX_QUERY_PARTS = 12;

export function parseCodeQuery(q: string): Parsed {
  const query: CodeQuery = { terms: [], paths: [], extensions: [], repos: [] };
  // NUL marks quoted parts inside `tokens`; nobody searches for it.
  const parts = tokens(q.replaceAll("\u0000", "").trim());
  if (q.length > MAX_QUERY_CHARS) return { ok: false, message: `The search is longer than ${MAX_QUERY_CHARS} characters.` };
  if (parts.length > MAX_QUERY_PARTS) return { ok: false, message: `The search has more than ${MAX_QUERY_PARTS} terms and qualifiers.` };
  for (const token of parts) {
    const quoted = token.indexOf("\u0000");
    const qualifier = /^([a-z]+):(.*)$/i.exec(quoted >= 0 ? token.slice(0, quoted) : token);
    if (qualifier) {
      const value = quoted >= 0 ? token.slice(quoted + 1) : qualifier[2];
      const key = qualifier[1].toLowerCase();
      if (!value) return { ok: false, message: `The ${key}: qualifier needs a value.` };
      if (key === "path" || key === "in") {
        if (key === "path") query.paths.push(value);
      } else if (key === "extension" || key === "ext") query.extensions.push(value.replace(/^\./, "").toLowerCase());
      else if (key === "language" || key === "lang") query.extensions.push(...(LANGUAGES[value.toLowerCase()] ?? [`\u0000${value}`]));
      else if (key === "repo") query.repos.push(value);
      else return { ok: false, message: `The ${key}: qualifier is not supported. Use path:, language:, extension: or repo:.` };
      continue;
    }
    const term = quoted >= 0 ? token.slice(0, quoted) + token.slice(quoted + 1) : token;
    if (term) query.terms.push(term);
  }
  if (!query.terms.length) return { ok: false, message: "Search for some text: at least one term of 3 or more characters." };
  const short = query.terms.find((t) => [...t].length < MIN_TERM);
  if (short !== undefined) return { ok: false, message: `Search terms need at least ${MIN_TERM} characters: "${short}" is too short.` };
  return { ok: true, query };
}

/** A pattern that finds every term in a line, case-insensitively. */
export function termPattern(terms: string[]): RegExp {
  const sorted = [...terms].sort((a, b) => b.length - a.length);
  return new RegExp(sorted.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "giu");
}
