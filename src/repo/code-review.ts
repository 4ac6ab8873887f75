// Code review as the repository object serves it: the records are ./collab/reviews.ts;
// here line comments meet the diffs. A new comment is checked against the diff of the
// commit it names (the head by default, or another commit of the pull request) and keeps
// the hunk it was written on; on reading, each comment is placed in the pull request's
// current diff or marked outdated (./collab/anchors.ts).
import { type Hunk, diffHunk, linesOn, relocate } from "./collab/anchors";
import type { Actor, Collab, LineAnchor, NewReview, Pull, Result, ReviewActor, ReviewComment, ReviewEvent, Side } from "./collab";
import { ok, refused } from "./collab/types";
import type { PullRequests } from "./pull-requests";
import type { Views } from "./views";

/** Where a new line comment goes, as the API and the form give it. */
export interface LineInput {
  path: string;
  line: number;
  side?: Side;
  startLine?: number;
  startSide?: Side;
  body: string;
}

export interface NewReviewInput {
  commitId?: string;
  body: string;
  event?: ReviewEvent;
  comments: LineInput[];
}

/** A line comment as read now: where it is in the current diff, or outdated. */
export interface PlacedComment extends ReviewComment {
  /** The line in the current diff; null when outdated. */
  currentLine: number | null;
  currentPosition: number | null;
  outdated: boolean;
  /** The head the comment is placed against. */
  headSha: string;
}

export interface CodeReviewHost {
  collab: Collab;
  views: () => Views;
  prs: PullRequests;
}

export class CodeReview {
  constructor(private readonly host: CodeReviewHost) {}

  private get collab() {
    return this.host.collab;
  }

  /** The hunks of each file of base...commit. */
  private async hunks(pull: Pull, commit: string): Promise<Map<string, Hunk[]> | null> {
    const { base } = this.host.prs.range(pull);
    const compare = await this.host.views().compare([base], [commit], true);
    if (!compare) return null;
    return new Map(compare.files.filter((f) => !f.binary && !f.tooLarge).map((f) => [f.path, f.hunks]));
  }

  /** Whether `commit` is the pull request's head or one of its commits. */
  private async inPull(pull: Pull, commit: string): Promise<boolean> {
    const { base, head } = this.host.prs.range(pull);
    if (commit === head) return true;
    const compare = await this.host.views().compare([base], [head]);
    return compare?.commits.some((c) => c.oid === commit) ?? false;
  }

  /** Checks comments against the diff of `commitId`: each must name a line of it. */
  private async anchors(pull: Pull, commitId: string, inputs: LineInput[]): Promise<Result<(LineAnchor & { body: string })[]>> {
    if (!inputs.length) return ok([]);
    const files = await this.hunks(pull, commitId);
    if (!files) return refused("invalid", "commit_id is not part of the pull request", "commit_id");
    const out: (LineAnchor & { body: string })[] = [];
    for (const c of inputs) {
      const hunks = files.get(c.path);
      if (!hunks) return refused("invalid", "pull_request_review_thread.path diff is invalid", "path");
      const side = c.side ?? "RIGHT";
      const lines = linesOn(hunks, side);
      const at = lines.get(c.line);
      if (!at) return refused("invalid", "pull_request_review_thread.line must be part of the diff", "line");
      let startLine: number | null = null;
      let startSide: Side | null = null;
      if (c.startLine !== undefined) {
        startSide = c.startSide ?? side;
        const start = linesOn(hunks, startSide).get(c.startLine);
        if (!start || start.hunk !== at.hunk || start.index >= at.index)
          return refused("invalid", "pull_request_review_thread.start_line must precede line in the same hunk", "start_line");
        startLine = c.startLine;
      }
      out.push({
        commitId,
        path: c.path,
        side,
        line: c.line,
        startLine,
        startSide,
        position: at.position,
        diffHunk: diffHunk(hunks, at),
        lineText: at.text,
        body: c.body,
      });
    }
    return ok(out);
  }

  private async commitOf(pull: Pull, commitId: string | undefined): Promise<Result<string>> {
    const commit = commitId ?? this.host.prs.range(pull).head;
    if (!(await this.inPull(pull, commit))) return refused("invalid", "commit_id is not part of the pull request", "commit_id");
    return ok(commit);
  }

  async createReview(number: number, author: ReviewActor, input: NewReviewInput) {
    const pull = this.collab.pull(number);
    if (!pull) return refused("not-found", `No pull request #${number}.`);
    const commit = await this.commitOf(pull, input.commitId);
    if (!commit.ok) return commit;
    const comments = await this.anchors(pull, commit.value, input.comments);
    if (!comments.ok) return comments;
    const review: NewReview = { commitId: commit.value, body: input.body, event: input.event, comments: comments.value };
    return this.collab.createReview(number, author, review);
  }

  /** One line comment: alone (a COMMENTED review of its own), or into the author's pending review. */
  async addLineComment(number: number, author: Actor, input: LineInput & { commitId?: string }, pending: boolean) {
    const pull = this.collab.pull(number);
    if (!pull) return refused("not-found", `No pull request #${number}.`);
    const commit = await this.commitOf(pull, input.commitId);
    if (!commit.ok) return commit;
    const anchored = await this.anchors(pull, commit.value, [input]);
    if (!anchored.ok) return anchored;
    return this.collab.addLineComment(number, author, anchored.value[0], pending);
  }

  /** Places comments in the pull request's current diff. */
  async place(pull: Pull, comments: ReviewComment[]): Promise<PlacedComment[]> {
    if (!comments.length) return [];
    const head = this.host.prs.range(pull).head;
    const files = await this.hunks(pull, head);
    return comments.map((c) => {
      const at = relocate(files?.get(c.path) ?? null, c);
      return { ...c, currentLine: at?.line ?? null, currentPosition: at?.position ?? null, outdated: at === null, headSha: head };
    });
  }

  async comments(number: number, viewerId: number | null, reviewId?: number): Promise<PlacedComment[] | null> {
    const pull = this.collab.pull(number);
    const list = pull ? this.collab.reviewComments(number, viewerId, reviewId) : null;
    return pull && list ? this.place(pull, list) : null;
  }

  async comment(id: number, viewerId: number | null): Promise<PlacedComment | null> {
    const c = this.collab.reviewComment(id);
    if (!c || (c.pending && c.author.id !== viewerId)) return null;
    const pull = this.collab.pull(c.pullNumber);
    return pull ? (await this.place(pull, [c]))[0] : null;
  }
}
