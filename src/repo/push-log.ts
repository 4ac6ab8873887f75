// The push log: a post-receive hook that records each push, its ref updates and its
// push options, so people (and tests) can see what reached the server.
import type { CommandResult, PushHooks, PushRequest } from "../git/protocol/receive-pack";

const KEEP = 200;

export interface PushRecord {
  id: number;
  at: string;
  commands: { ref: string; old: string; new: string; ok: boolean; reason?: string }[];
  pushOptions: string[];
}

export class PushLog implements PushHooks {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS push_log (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      record TEXT NOT NULL
    )`);
  }

  postReceive(push: PushRequest, results: CommandResult[]): void {
    const commands = push.commands.map((c, i) => ({ ref: c.ref, old: c.old, new: c.new, ok: results[i].ok, reason: results[i].reason }));
    this.sql.exec(
      "INSERT INTO push_log (at, record) VALUES (?, ?)",
      Date.now(),
      JSON.stringify({ commands, pushOptions: push.pushOptions }),
    );
    this.sql.exec("DELETE FROM push_log WHERE id <= (SELECT max(id) FROM push_log) - ?", KEEP);
  }

  recent(limit = 20): PushRecord[] {
    return this.sql
      .exec<{ id: number; at: number; record: string }>("SELECT id, at, record FROM push_log ORDER BY id DESC LIMIT ?", limit)
      .toArray()
      .map((r) => ({ id: r.id, at: new Date(r.at).toISOString(), ...JSON.parse(r.record) }));
  }
}
