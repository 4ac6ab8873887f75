#!/usr/bin/env node
// Makes an existing account a site admin (or takes it away), in the local database or,
// with --remote, in the deployed one:
//   npm run admin -- promote <username> [--remote]
//   npm run admin -- demote <username> [--remote]
import { execFileSync } from "node:child_process";

const args = process.argv.slice(2);
const remote = args.includes("--remote");
const [action, username] = args.filter((a) => !a.startsWith("--"));
if (!["promote", "demote"].includes(action) || !username) {
  console.error("usage: npm run admin -- promote|demote <username> [--remote]");
  process.exit(2);
}
// The same rule as sign-up, so the name can be put in SQL as is.
if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$/.test(username)) {
  console.error(`not a valid username: ${username}`);
  process.exit(2);
}
const sql = `UPDATE users SET is_admin = ${action === "promote" ? 1 : 0} WHERE username = '${username}'; SELECT username, is_admin FROM users WHERE username = '${username}';`;
const where = remote ? ["--remote"] : ["--local", "--persist-to", process.env.GITFLARE_STATE ?? ".wrangler/state"];
const out = execFileSync("npx", ["wrangler", "d1", "execute", "DB", ...where, "--json", "--command", sql], {
  encoding: "utf8",
  stdio: ["ignore", "pipe", "inherit"],
});
const rows = JSON.parse(out).flatMap((r) => r.results ?? []);
if (!rows.length) {
  console.error(`no account named ${username}`);
  process.exit(1);
}
console.log(`${rows[0].username} is ${rows[0].is_admin ? "now a site admin" : "no longer a site admin"}`);
