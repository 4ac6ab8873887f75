// Headless Chromium for the browser tests: playwright-core driving the Chromium that the
// @sparticuz/chromium npm package ships, so the tests need no system browser.
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import chromiumBinary from "@sparticuz/chromium";
import { type Browser, chromium } from "playwright-core";

/**
 * The package's flags are meant for serverless functions; those that would weaken what the
 * tests check (same-origin policy, mixed content) or run everything in one process are
 * dropped, and the browser is kept off the network: the tests need only the local server.
 */
const UNWANTED_FLAGS = new Set(["--disable-web-security", "--allow-running-insecure-content", "--single-process"]);
const OFFLINE_FLAGS = [
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--disable-gpu",
];

export async function launchChromium(): Promise<Browser> {
  const executablePath = await chromiumBinary.executablePath();
  // Without a system fontconfig, use the fonts the package unpacks next to the binary.
  const env: Record<string, string> = {};
  if (!existsSync("/etc/fonts/fonts.conf") && !process.env.FONTCONFIG_PATH) env.FONTCONFIG_PATH = join(tmpdir(), "fonts");
  return chromium.launch({
    executablePath,
    args: [...chromiumBinary.args.filter((a) => !UNWANTED_FLAGS.has(a)), ...OFFLINE_FLAGS],
    headless: true,
    env: { ...process.env, ...env },
  });
}
