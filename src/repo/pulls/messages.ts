// The commit messages GitHub writes when it merges a pull request, unless the caller gives
// its own title or body (the API's commit_title and commit_message).
import { parseSignature } from "../../git/object/object";
import { type Identity, type RawCommit, messageText, stripspace } from "../../git/commit-writer";

const join = (title: string, body: string) => stripspace(body.trim() ? `${title}\n\n${body}` : title);

/** "Merge pull request #N from owner/branch", a blank line, the PR's title. */
export function mergeMessage(pull: { number: number; title: string; headLabel: string }, title?: string, body?: string): string {
  return join(title ?? `Merge pull request #${pull.number} from ${pull.headLabel}`, body ?? pull.title);
}

/**
 * GitHub's default squash message: with one commit, its subject and `(#N)`, then its body;
 * with more, the PR's title and `(#N)`, then every commit's message as a `* ` list item, in
 * order. Authors other than the squash commit's get `Co-authored-by` trailers in the
 * default body.
 */
export function squashMessage(
  pull: { number: number; title: string },
  commits: RawCommit[],
  author: Identity,
  title?: string,
  body?: string,
): string {
  const texts = commits.map((c) => stripspace(messageText(c)));
  let defaultTitle = `${pull.title} (#${pull.number})`;
  let defaultBody: string;
  if (texts.length === 1) {
    const [subject, ...rest] = texts[0].split("\n");
    defaultTitle = `${subject} (#${pull.number})`;
    defaultBody = rest.join("\n");
  } else {
    defaultBody = texts.map((t) => `* ${t}`).join("\n");
  }
  const coAuthors: string[] = [];
  const self = `${author.name} <${author.email}>`.toLowerCase();
  for (const c of commits) {
    const who = parseSignature(new TextDecoder().decode(c.author));
    const line = `Co-authored-by: ${who.name} <${who.email}>`;
    if (`${who.name} <${who.email}>`.toLowerCase() !== self && !coAuthors.includes(line)) coAuthors.push(line);
  }
  if (body !== undefined) return join(title ?? defaultTitle, body);
  return join(title ?? defaultTitle, coAuthors.length ? `${defaultBody}\n\n${coAuthors.join("\n")}` : defaultBody);
}
