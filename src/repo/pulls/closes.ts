// The issues a pull request closes when it merges, as GitHub finds them in its description
// and its commit messages: a keyword (close, closes, closed, fix, fixes, fixed, resolve,
// resolves, resolved; any case; a colon may follow) and `#N`, or `owner/repo#N` naming
// this repository. References to other repositories are left alone.
const KEYWORD = /(?<![\w-])(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?:\s*:\s*|\s+)(?:([\w.-]+\/[\w.-]+))?#(\d+)(?![\w-])/gi;

/** Issue numbers that `text` says it closes, in order of first mention. */
export function closesIssues(text: string, repository?: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(KEYWORD)) {
    if (m[1] && (!repository || m[1].toLowerCase() !== repository.toLowerCase())) continue;
    const n = Number(m[2]);
    if (Number.isSafeInteger(n) && n > 0 && !out.includes(n)) out.push(n);
  }
  return out;
}
