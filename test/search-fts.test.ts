// Checks that the SQLite under Durable Objects and D1 has FTS5 with the trigram
// tokenizer, which the code search index (src/repo/search/) and the issue mirror rely on.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { freshRepo, inRepo } from "./helpers";

describe("FTS5 trigram", () => {
  it("works in Durable Object SQLite: MATCH and LIKE find substrings, case-insensitively", async () => {
    const found = await inRepo(freshRepo("fts"), (_repo, state) => {
      const sql = state.storage.sql;
      sql.exec("CREATE VIRTUAL TABLE fts_probe USING fts5(body, tokenize='trigram')");
      sql.exec("INSERT INTO fts_probe(rowid, body) VALUES (1, 'function createApplication() {}'), (2, 'module.exports = Router')");
      const match = sql.exec<{ rowid: number }>("SELECT rowid FROM fts_probe WHERE fts_probe MATCH ?", '"APPLICAT"').toArray();
      const like = sql.exec<{ rowid: number }>("SELECT rowid FROM fts_probe WHERE body LIKE ?", "%xports%").toArray();
      sql.exec("DROP TABLE fts_probe");
      return { match: match.map((r) => r.rowid), like: like.map((r) => r.rowid) };
    });
    expect(found).toEqual({ match: [1], like: [2] });
  });

  it("works in D1", async () => {
    await env.DB.exec("CREATE VIRTUAL TABLE IF NOT EXISTS fts_probe_d1 USING fts5(body, tokenize='trigram')");
    await env.DB.prepare("INSERT INTO fts_probe_d1(rowid, body) VALUES (1, 'Crash when pushing'), (2, 'Docs typo')").run();
    const { results } = await env.DB.prepare("SELECT rowid FROM fts_probe_d1 WHERE fts_probe_d1 MATCH ?")
      .bind('"pushin"')
      .all<{ rowid: number }>();
    await env.DB.exec("DROP TABLE fts_probe_d1");
    expect(results.map((r) => r.rowid)).toEqual([1]);
  });
});
