// Where a line comment sits in a diff. A comment names (path, side, line): LEFT is the
// base's line numbers (removed and context lines), RIGHT the head's (added and context
// lines), as GitHub's review comments do. At creation the comment keeps the hunk up to
// its line (`diff_hunk`) and the line itself; later, against the pull request's current
// diff, the same line with the same content is looked for: found, the comment is current
// (at its line now, which moves when lines are added above it); gone, it is outdated and
// is shown with the hunk it was written on (GitHub's `position` becomes null).

/** A file's hunks as the diff views give them: lines prefixed with " ", "+", "-" or "\". */
export interface Hunk {
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  lines: string[];
}

export type Side = "LEFT" | "RIGHT";

export interface DiffLine {
  hunk: number;
  /** Index in the hunk's lines. */
  index: number;
  /** GitHub's `position`: lines below the file's first hunk header, later headers counted. */
  position: number;
  /** The diff line with its prefix. */
  text: string;
}

/** Git's hunk header: an empty range names the line before it (`-0,0` for a new file), where the diff library names the one after. */
export const hunkHeader = (h: Hunk) => {
  const start = (at: number, lines: number) => (lines === 0 ? Math.max(0, at - 1) : at);
  return `@@ -${start(h.oldStart, h.oldLines)},${h.oldLines} +${start(h.newStart, h.newLines)},${h.newLines} @@`;
};

/** Every line of the file's diff that a comment on `side` may name, by its line number. */
export function linesOn(hunks: Hunk[], side: Side): Map<number, DiffLine> {
  const out = new Map<number, DiffLine>();
  let position = 0;
  hunks.forEach((h, hi) => {
    if (hi > 0) position++;
    let oldNo = h.oldStart;
    let newNo = h.newStart;
    h.lines.forEach((text, index) => {
      position++;
      const kind = text[0];
      if (kind === "\\") return;
      const at = { hunk: hi, index, position, text };
      if (kind !== "+") {
        if (side === "LEFT") out.set(oldNo, at);
        oldNo++;
      }
      if (kind !== "-") {
        if (side === "RIGHT") out.set(newNo, at);
        newNo++;
      }
    });
  });
  return out;
}

/** GitHub's `diff_hunk`: the hunk's header and its lines down to the commented one. */
export function diffHunk(hunks: Hunk[], at: DiffLine): string {
  const h = hunks[at.hunk];
  return [hunkHeader(h), ...h.lines.slice(0, at.index + 1)].join("\n");
}

export interface Anchor {
  side: Side;
  line: number;
  /** The line as it was in the diff, with its prefix. */
  lineText: string;
}

/**
 * Where the anchored line is in the current diff: the same line number if it still holds
 * the same text, else the one place the text now is (lines added or removed above it);
 * null when it is gone or ambiguous: the comment is outdated.
 */
export function relocate(hunks: Hunk[] | null, anchor: Anchor): (DiffLine & { line: number }) | null {
  if (!hunks) return null;
  const lines = linesOn(hunks, anchor.side);
  const same = lines.get(anchor.line);
  if (same?.text === anchor.lineText) return { ...same, line: anchor.line };
  let found: (DiffLine & { line: number }) | null = null;
  for (const [line, at] of lines) {
    if (at.text !== anchor.lineText) continue;
    if (found) return null;
    found = { ...at, line };
  }
  return found;
}
