// Pull requests on the git side: mergeability, the three merge methods, merged-by-push and
// the issues a PR closes. Pages, the API and the PR records live elsewhere and call these.
export { PullMerges, type PullsHost, COMMITS_LISTED, MAX_REBASE_COMMITS } from "./service";
export { closesIssues } from "./closes";
export { stripspace } from "../../git/commit-writer";
export type * from "./types";
