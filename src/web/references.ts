// References in what people write in issues, linked as GitHub links them: `#123` to
// the issue (or, later, pull request) of that number, `@user` to the account, and a full
// commit id to the commit. Only references that name something are linked: numbers
// given out so far, accounts that exist, commits the repository has.

export interface References {
  /** The repository's web path, `/owner/name`. */
  base: string;
  /** The highest issue number given out. */
  last: number;
  /** Logins that exist, in lower case. */
  users: Set<string>;
  /** Full commit ids that name commits in the repository. */
  commits: Set<string>;
}

// Not after a word character or another reference's sigil, so that emails, URLs'
// fragments and `owner/repo#1` (another repository's issue) are left alone.
const REFERENCE = /(?<![\w@#&./-])(?:#(\d{1,9})|@([A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})|([0-9a-f]{40}))(?![\w-])/g;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** `text` (plain text from Markdown) as HTML, escaped, with its references linked. */
export function linkReferences(text: string, refs: References): string {
  let out = "";
  let at = 0;
  for (const m of text.matchAll(REFERENCE)) {
    const [whole, number, user, sha] = m;
    let link: string | null = null;
    if (number !== undefined && Number(number) >= 1 && Number(number) <= refs.last)
      link = `<a href="${refs.base}/issues/${Number(number)}">${whole}</a>`;
    else if (user !== undefined && refs.users.has(user.toLowerCase())) link = `<a href="/${user}">${whole}</a>`;
    else if (sha !== undefined && refs.commits.has(sha)) link = `<a href="${refs.base}/commit/${sha}"><code>${sha.slice(0, 7)}</code></a>`;
    if (link === null) continue;
    out += escapeHtml(text.slice(at, m.index)) + link;
    at = m.index + whole.length;
  }
  return out + escapeHtml(text.slice(at));
}

/** The logins `@`-mentioned in `texts`, in lower case, to look up at once. */
export function mentions(texts: string[]): string[] {
  const found = new Set<string>();
  for (const t of texts) for (const m of t.matchAll(REFERENCE)) if (m[2]) found.add(m[2].toLowerCase());
  return [...found].slice(0, 100);
}
