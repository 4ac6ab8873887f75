// GitHub's JSON shapes for repositories, commits, comparisons, contents and git data
// (blobs, trees, commits, refs, tags), as its REST reference gives them.
import type { Role } from "../../access/roles";
import type { CommitSummary } from "../../git/browse";
import type { ApiCommit, ApiTreeEntry } from "../../repo/git-data";
import type { DiffFile } from "../../repo/views";
import { pullCommitJson, pullFileJson } from "./pull-shapes";
import { type Where, userJson } from "./shapes";

/** A node id from any text: base64 of its UTF-8 (btoa alone refuses what is not Latin-1). */
export function nodeIdOf(kind: string, text: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return `${kind}_${btoa(bin).replace(/=+$/, "")}`;
}

/** A path or ref name inside a URL: each segment escaped, the slashes kept. */
export const escapePath = (p: string) => p.split("/").map(encodeURIComponent).join("/");

const time = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"));

export interface RepoFacts {
  id: number;
  owner: { id: number; login: string };
  name: string;
  description: string;
  isPrivate: boolean;
  createdAt: number;
  pushedAt: number | null;
  defaultBranch: string | null;
  /** The caller's role, for `permissions`; null for an anonymous caller. */
  role: Role | null;
  /** For a fork: the repository it was forked from and the root of its network. */
  parent?: { id: number; fullName: string } | null;
  source?: { id: number; fullName: string } | null;
  forksCount?: number;
}

/** A repository that a fork names (`parent`, `source`): the fields a client follows. */
function linkedRepoJson(origin: string, r: { id: number; fullName: string }) {
  const [login, name] = r.fullName.split("/");
  const api = `${origin}/api/v3`;
  return {
    id: r.id,
    node_id: `R_${btoa(String(r.id)).replace(/=+$/, "")}`,
    name,
    full_name: r.fullName,
    owner: { login, url: `${api}/users/${login}`, html_url: `${origin}/${login}`, type: "User" },
    html_url: `${origin}/${r.fullName}`,
    url: `${api}/repos/${r.fullName}`,
    clone_url: `${origin}/${r.fullName}.git`,
  };
}

export function fullRepoJson(origin: string, r: RepoFacts) {
  const api = `${origin}/api/v3`;
  const w = { origin, api, repo: `${api}/repos/${r.owner.login}/${r.name}`, html: `${origin}/${r.owner.login}/${r.name}`, repoId: r.id };
  const rank = { none: 0, read: 1, write: 2, admin: 3, owner: 3 }[r.role ?? "none"];
  return {
    id: r.id,
    node_id: `R_${btoa(String(r.id)).replace(/=+$/, "")}`,
    name: r.name,
    full_name: `${r.owner.login}/${r.name}`,
    private: r.isPrivate,
    visibility: r.isPrivate ? "private" : "public",
    owner: userJson(w, r.owner),
    html_url: w.html,
    description: r.description || null,
    fork: !!r.parent,
    url: w.repo,
    clone_url: `${w.html}.git`,
    git_url: `${w.html}.git`,
    commits_url: `${w.repo}/commits{/sha}`,
    contents_url: `${w.repo}/contents/{+path}`,
    git_refs_url: `${w.repo}/git/refs{/sha}`,
    trees_url: `${w.repo}/git/trees{/sha}`,
    blobs_url: `${w.repo}/git/blobs{/sha}`,
    tags_url: `${w.repo}/tags`,
    branches_url: `${w.repo}/branches{/branch}`,
    collaborators_url: `${w.repo}/collaborators{/collaborator}`,
    compare_url: `${w.repo}/compare/{base}...{head}`,
    issues_url: `${w.repo}/issues{/number}`,
    pulls_url: `${w.repo}/pulls{/number}`,
    labels_url: `${w.repo}/labels{/name}`,
    created_at: time(r.createdAt),
    updated_at: time(r.pushedAt ?? r.createdAt),
    pushed_at: time(r.pushedAt),
    homepage: null,
    size: 0,
    stargazers_count: 0,
    watchers_count: 0,
    forks_count: r.forksCount ?? 0,
    forks: r.forksCount ?? 0,
    open_issues_count: 0,
    language: null,
    has_issues: true,
    has_projects: false,
    has_wiki: false,
    has_pages: false,
    has_downloads: false,
    archived: false,
    disabled: false,
    is_template: false,
    topics: [],
    default_branch: r.defaultBranch ?? "main",
    ...(r.parent ? { parent: linkedRepoJson(origin, r.parent), source: linkedRepoJson(origin, r.source ?? r.parent) } : {}),
    ...(r.role ? { permissions: { admin: rank >= 3, maintain: rank >= 3, push: rank >= 2, triage: rank >= 2, pull: rank >= 1 } } : {}),
  };
}

const sig = (s: ApiCommit["author"]) => ({ name: s.name, email: s.email, date: time(s.timestamp * 1000) });

/** A commit as `GET /repos/{o}/{r}/commits/{ref}` gives it: with stats and files when known. */
export function commitJson(w: Where, c: CommitSummary, files?: DiffFile[]) {
  const base = pullCommitJson(w, c);
  if (!files) return base;
  const additions = files.reduce((n, f) => n + f.additions, 0);
  const deletions = files.reduce((n, f) => n + f.deletions, 0);
  return { ...base, stats: { total: additions + deletions, additions, deletions }, files: files.map((f) => pullFileJson(w, c.oid, f)) };
}

export function gitCommitJson(w: Where, c: ApiCommit) {
  return {
    sha: c.sha,
    node_id: `C_${btoa(c.sha).replace(/=+$/, "")}`,
    url: `${w.repo}/git/commits/${c.sha}`,
    html_url: `${w.html}/commit/${c.sha}`,
    author: sig(c.author),
    committer: sig(c.committer),
    tree: { sha: c.tree, url: `${w.repo}/git/trees/${c.tree}` },
    message: c.message.replace(/\n$/, ""),
    parents: c.parents.map((sha) => ({ sha, url: `${w.repo}/git/commits/${sha}`, html_url: `${w.html}/commit/${sha}` })),
    verification: { verified: false, reason: "unsigned", signature: null, payload: null },
  };
}

export function treeJson(w: Where, sha: string, entries: ApiTreeEntry[], truncated: boolean) {
  return {
    sha,
    url: `${w.repo}/git/trees/${sha}`,
    tree: entries.map((e) => ({
      path: e.path,
      mode: e.mode,
      type: e.type,
      sha: e.sha,
      ...(e.size !== undefined ? { size: e.size } : {}),
      ...(e.type === "commit" ? {} : { url: `${w.repo}/git/${e.type}s/${e.sha}` }),
    })),
    truncated,
  };
}

export function refJson(w: Where, r: { ref: string; sha: string; type: string }) {
  return {
    ref: r.ref,
    node_id: nodeIdOf("REF", `${w.repoId}:${r.ref}`),
    url: `${w.repo}/git/${escapePath(r.ref)}`,
    object: { type: r.type, sha: r.sha, url: `${w.repo}/git/${r.type}s/${r.sha}` },
  };
}

/** Base64 as GitHub sends file content: lines of 60 characters. */
export function base64Lines(data: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < data.length; i += 0x8000) bin += String.fromCharCode(...data.subarray(i, i + 0x8000));
  return (btoa(bin).match(/.{1,60}/g) ?? []).map((l) => `${l}\n`).join("");
}

export function contentEntryJson(w: Where, ref: string, e: { name: string; path: string; sha: string; mode: string; size: number }) {
  const type =
    e.mode === "40000" || e.mode === "040000" ? "dir" : e.mode === "160000" ? "submodule" : e.mode === "120000" ? "symlink" : "file";
  const q = `?ref=${encodeURIComponent(ref)}`;
  const path = escapePath(e.path);
  const self = `${w.repo}/contents/${path}${q}`;
  return {
    type,
    size: e.size,
    name: e.name,
    path: e.path,
    sha: e.sha,
    url: self,
    git_url: type === "dir" ? `${w.repo}/git/trees/${e.sha}` : `${w.repo}/git/blobs/${e.sha}`,
    html_url: `${w.html}/${type === "dir" ? "tree" : "blob"}/${escapePath(ref)}/${path}`,
    download_url: type === "file" ? `${w.html}/raw/${escapePath(ref)}/${path}` : null,
    _links: {
      self,
      git: type === "dir" ? `${w.repo}/git/trees/${e.sha}` : `${w.repo}/git/blobs/${e.sha}`,
      html: `${w.html}/blob/${escapePath(ref)}/${path}`,
    },
  };
}

/**
 * Commits oldest first as GitHub lists a comparison: every parent before its children,
 * then by time. Commit times alone tie for commits made within one second.
 */
function oldestFirst(newestFirst: CommitSummary[]): CommitSummary[] {
  const byOid = new Map(newestFirst.map((c) => [c.oid, c]));
  const out: CommitSummary[] = [];
  const done = new Set<string>();
  const visit = (c: CommitSummary) => {
    if (done.has(c.oid)) return;
    done.add(c.oid);
    for (const p of c.parents) {
      const parent = byOid.get(p);
      if (parent) visit(parent);
    }
    out.push(c);
  };
  for (const c of [...newestFirst].reverse()) visit(c);
  return out;
}

export function compareJson(
  w: Where,
  c: {
    base: { commit: string };
    head: { commit: string };
    mergeBase: string | null;
    commits: CommitSummary[];
    total: number;
    files: DiffFile[];
    behind: number;
  },
  baseCommit: CommitSummary,
  mergeBase: CommitSummary | null,
  baseName: string,
  headName: string,
) {
  const ahead = c.total;
  const behind = c.behind;
  const status = ahead && behind ? "diverged" : ahead ? "ahead" : behind ? "behind" : "identical";
  const files = c.files;
  return {
    url: `${w.repo}/compare/${baseName}...${headName}`,
    html_url: `${w.html}/compare/${baseName}...${headName}`,
    permalink_url: `${w.html}/compare/${c.base.commit}...${c.head.commit}`,
    diff_url: `${w.html}/compare/${baseName}...${headName}.diff`,
    patch_url: `${w.html}/compare/${baseName}...${headName}.patch`,
    base_commit: pullCommitJson(w, baseCommit),
    merge_base_commit: mergeBase ? pullCommitJson(w, mergeBase) : null,
    status,
    ahead_by: ahead,
    behind_by: behind,
    total_commits: ahead,
    commits: oldestFirst(c.commits).map((x) => pullCommitJson(w, x)),
    files: files.map((f) => pullFileJson(w, c.head.commit, f)),
  };
}
