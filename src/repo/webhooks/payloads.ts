// Webhook payloads in GitHub's shapes, for the fields integrations read: the repository
// and user objects every event carries, and push/create/delete, which the object builds
// itself from the refs a push moved. Issue and pull-request events come built from the
// Worker (their shapes are the /api/v3 ones) and get `repository` and `sender` here.
import type { Browser, CommitSummary } from "../../git/browse";
import type { Signature } from "../../git/object/object";
import type { HookSite } from "../../util/hook-site";
import type { Actor } from "../collab";

const ZERO = "0".repeat(40);
/** Commits listed in a push payload (GitHub lists up to 2048; these are the newest). */
export const PUSH_COMMITS = 20;
/** Paths listed per commit in each of added/removed/modified (a payload must fit a 2 MB row). */
const PATHS = 300;

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

export function userJson(origin: string, a: Actor) {
  return {
    login: a.login,
    id: a.id,
    node_id: `U_${btoa(String(a.id)).replace(/=+$/, "")}`,
    avatar_url: "",
    gravatar_id: "",
    url: `${origin}/api/v3/users/${a.login}`,
    html_url: `${origin}/${a.login}`,
    type: "User",
    site_admin: false,
  };
}

/** GitHub's repository object, as hook payloads carry it. */
export function repositoryJson(site: HookSite, defaultBranch: string | null) {
  const full = `${site.owner.login}/${site.name}`;
  const html = `${site.origin}/${full}`;
  const api = `${site.origin}/api/v3/repos/${full}`;
  return {
    id: site.id,
    node_id: `R_${btoa(String(site.id)).replace(/=+$/, "")}`,
    name: site.name,
    full_name: full,
    private: site.private,
    visibility: site.private ? "private" : "public",
    owner: userJson(site.origin, site.owner),
    html_url: html,
    description: site.description || null,
    fork: site.fork ?? false,
    url: api,
    hooks_url: `${api}/hooks`,
    issues_url: `${api}/issues{/number}`,
    pulls_url: `${api}/pulls{/number}`,
    clone_url: `${html}.git`,
    default_branch: defaultBranch ?? "main",
    master_branch: defaultBranch ?? "main",
  };
}

/** `Signature` time in git's own zone, as GitHub writes commit timestamps (2015-05-05T19:40:15-04:00). */
function gitTime(s: Signature): string {
  const m = /^([+-])(\d\d)(\d\d)$/.exec(s.timezone);
  if (!m) return iso(s.timestamp * 1000);
  const offset = (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
  const local = new Date(s.timestamp * 1000 + offset * 60_000).toISOString().replace(/\.\d{3}Z$/, "");
  return `${local}${m[1]}${m[2]}:${m[3]}`;
}

const person = (s: Signature) => ({ name: s.name, email: s.email, date: gitTime(s) });

async function commitJson(browser: Browser, site: HookSite, c: CommitSummary, distinct: boolean) {
  const parentTree = c.parents[0] ? (await browser.commit(c.parents[0])).tree : null;
  const changes = await browser.diffTrees(parentTree, c.tree);
  const paths = (status: string) =>
    changes
      .filter((x) => x.status === status)
      .slice(0, PATHS)
      .map((x) => x.path);
  return {
    id: c.oid,
    tree_id: c.tree,
    distinct,
    message: c.message.replace(/\n$/, ""),
    timestamp: gitTime(c.committer),
    url: `${site.origin}/${site.owner.login}/${site.name}/commit/${c.oid}`,
    author: { ...person(c.author), username: undefined as string | undefined },
    committer: person(c.committer),
    added: paths("added"),
    removed: paths("deleted"),
    modified: paths("modified"),
  };
}

export interface RefMove {
  ref: string;
  old: string;
  new: string;
}

/** The events a moved ref makes: `create`/`delete` for a branch or tag made or removed, and `push` always. */
export async function pushEvents(
  browser: Browser,
  peel: (oid: string) => string | null,
  site: HookSite,
  move: RefMove,
  pusher: Actor | null,
  defaultBranch: string | null,
): Promise<{ event: string; payload: Record<string, unknown> }[]> {
  const created = move.old === ZERO;
  const deleted = move.new === ZERO;
  const isTag = move.ref.startsWith("refs/tags/");
  const short = move.ref.replace(/^refs\/(heads|tags)\//, "");
  const html = `${site.origin}/${site.owner.login}/${site.name}`;
  const repository = repositoryJson(site, defaultBranch);
  const sender = pusher ? userJson(site.origin, pusher) : null;
  const events: { event: string; payload: Record<string, unknown> }[] = [];

  const head = deleted ? null : (peel(move.new) ?? move.new);
  let commits: Awaited<ReturnType<typeof commitJson>>[] = [];
  let forced = false;
  if (head && !isTag) {
    // A new branch lists what the default branch does not have yet, as GitHub does.
    const base = created ? (defaultBranch && short !== defaultBranch ? browser.resolve([defaultBranch])?.commit : null) : move.old;
    const { commits: newest } = base ? await browser.between(base, head, PUSH_COMMITS) : await browser.between(ZERO, head, PUSH_COMMITS);
    commits = [];
    for (const c of [...newest].reverse()) commits.push(await commitJson(browser, site, c, true));
    if (!created) forced = browser.aheadBehind(head, move.old).ahead > 0;
  }
  const headCommit = head
    ? (commits.find((c) => c.id === head) ?? (await commitJson(browser, site, await browser.commit(head), false)))
    : null;

  if (created || deleted) {
    events.push({
      event: created ? "create" : "delete",
      payload: {
        ref: short,
        ref_type: isTag ? "tag" : "branch",
        ...(created ? { master_branch: defaultBranch ?? "main", description: site.description || null } : {}),
        pusher_type: "user",
        repository,
        sender,
      },
    });
  }
  events.push({
    event: "push",
    payload: {
      ref: move.ref,
      before: move.old,
      after: move.new,
      repository,
      pusher: pusher ? { name: pusher.login, email: null } : { name: "anonymous", email: null },
      sender,
      created,
      deleted,
      forced,
      base_ref: null,
      compare: created
        ? `${html}/commits/${short}`
        : deleted
          ? `${html}/compare/${move.old.slice(0, 12)}...${short}`
          : `${html}/compare/${move.old.slice(0, 12)}...${move.new.slice(0, 12)}`,
      commits,
      head_commit: headCommit,
    },
  });
  return events;
}
