// Where end-to-end tests put what they generate for the documentation: the compatibility
// and permission tables and the web UI's screenshots. It is e2e/out/, which git ignores,
// so a test run leaves the checkout as it was; `npm run docs` (e2e/docs.ts) copies the
// results into the README and docs/screenshots.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const generatedDir = join(import.meta.dirname, "out");
export const screenshotsDir = join(generatedDir, "screenshots");

/** Writes `e2e/out/<name>`. */
export function writeGenerated(name: string, text: string): void {
  mkdirSync(generatedDir, { recursive: true });
  writeFileSync(join(generatedDir, name), text);
}
