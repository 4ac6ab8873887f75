// Loose input to the JSON API (issue 12, defect 8): a field of the wrong type is refused
// with 422 as GitHub does, changing nothing, and a body past the cap is refused with 413
// without being read to its end.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import app from "../src/worker";
import { accountAuth, ownerFetch } from "./helpers";

const BASE = "http://gitflare.test";
const OWNER = "typist";
let seq = 0;

function json(method: string, body: unknown): RequestInit {
  return { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
}

async function create(name: string): Promise<void> {
  const res = await ownerFetch(`${BASE}/api/repos/${OWNER}/${name}`, json("POST", { description: "before" }));
  expect(res.status).toBe(201);
  await res.arrayBuffer();
}

/** A body of `total` bytes made as it is read, counting what was read. */
function countedBody(total: number): { stream: ReadableStream<Uint8Array>; read: () => number } {
  const chunk = new TextEncoder().encode(`{"description": "${"x".repeat(64 * 1024 - 20)}`);
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) return controller.close();
      controller.enqueue(chunk);
      sent += chunk.byteLength;
    },
  });
  return { stream, read: () => sent };
}

describe("JSON API input", () => {
  it("refuses a settings change with a field of the wrong type, and changes nothing", async () => {
    const name = `typed${seq++}`;
    await create(name);
    for (const body of [
      { private: 1 },
      { private: "false" },
      { private: null },
      { description: 5 },
      { description: null },
      { default_branch: ["main"] },
      { name: { new: "x" } },
      // Every field is checked before any changes.
      { description: "after", private: 0 },
    ]) {
      const res = await ownerFetch(`${BASE}/api/repos/${OWNER}/${name}`, json("PATCH", body));
      expect(res.status, JSON.stringify(body)).toBe(422);
      const answer = (await res.json()) as { error: string };
      expect(answer.error).toMatch(/^invalid request: '(private|description|default_branch|name)' must be a (boolean|string)/);
    }
    const row = await env.DB.prepare("SELECT description, is_private FROM repos WHERE name = ?").bind(name).first();
    expect(row).toEqual({ description: "before", is_private: 1 });
    // Right types still work.
    const ok = await ownerFetch(`${BASE}/api/repos/${OWNER}/${name}`, json("PATCH", { private: false, description: "after" }));
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
    expect(await env.DB.prepare("SELECT description, is_private FROM repos WHERE name = ?").bind(name).first()).toEqual({
      description: "after",
      is_private: 0,
    });
  });

  it("refuses a new repository with a field of the wrong type, and creates nothing", async () => {
    const name = `typednew${seq++}`;
    const res = await ownerFetch(`${BASE}/api/repos/${OWNER}/${name}`, json("POST", { private: "no" }));
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({ error: `invalid request: 'private' must be a boolean, not "no"` });
    expect(await env.DB.prepare("SELECT count(*) AS n FROM repos WHERE name = ?").bind(name).first("n")).toBe(0);
  });

  it("refuses a JSON body past 1 MiB with 413: at once when its length says so, else without reading it all", async () => {
    const declared = await ownerFetch(`${BASE}/api/repos/${OWNER}/big${seq++}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ description: "x".repeat(2 * 1024 * 1024) }),
    });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({ error: "request body is larger than 1048576 bytes" });

    // Without a length: read to the cap, no further. The Worker is called directly, so that
    // the stream it reads is the one counted here.
    const total = 60 * 1024 * 1024;
    const body = countedBody(total);
    const name = `chunked${seq++}`;
    const ctx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
    const request = new Request(`${BASE}/api/repos/${OWNER}/${name}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: await accountAuth(OWNER) },
      body: body.stream,
    });
    const res = await app.fetch(request, env, ctx);
    expect(res.status).toBe(413);
    await res.arrayBuffer();
    expect(body.read()).toBeLessThan(2 * 1024 * 1024);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM repos WHERE name = ?").bind(name).first("n")).toBe(0);
    // A body within the cap is read as before.
    const fine = await ownerFetch(`${BASE}/api/repos/${OWNER}/small${seq++}`, json("POST", { description: "y".repeat(300_000) }));
    expect(fine.status).toBe(201);
    await fine.arrayBuffer();
  });
});
