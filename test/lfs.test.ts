// Git LFS inside workerd: the batch API, basic transfer through the Worker into R2 (size
// and SHA-256 checked, nothing stored on a mismatch), verify, the quota, locks, and the
// objects' deletion with their repository.
import { SELF, createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import app from "../src/worker";
import { accountAuth, hex } from "./helpers";
import { presign } from "../src/http/lfs/presign";
import { parseLfsPointer } from "../src/git/lfs-pointer";
import { UPLOAD_WINDOW_MS } from "../src/repo/lfs/store";
import type { Repository } from "../src/repo/repository";

const BASE = "http://gitflare.test";
const LFS = "application/vnd.git-lfs+json";
let seq = 0;

async function newRepo(owner: string, isPrivate = true): Promise<{ name: string; id: number }> {
  const name = `lfs${seq++}`;
  const res = await SELF.fetch(`${BASE}/api/v3/user/repos`, {
    method: "POST",
    headers: { Authorization: await accountAuth(owner), "Content-Type": "application/json" },
    body: JSON.stringify({ name, private: isPrivate }),
  });
  expect(res.status).toBe(201);
  return { name, id: ((await res.json()) as { id: number }).id };
}

async function object(text: string): Promise<{ oid: string; size: number; data: Uint8Array }> {
  const data = new TextEncoder().encode(text);
  return { oid: hex(new Uint8Array(await crypto.subtle.digest("SHA-256", data))), size: data.length, data };
}

type BatchObject = {
  oid: string;
  size: number;
  actions?: Record<string, { href: string; header?: Record<string, string> }>;
  error?: { code: number };
};

type Fetcher = (url: string, init: RequestInit) => Promise<Response>;

async function batch(
  path: string,
  auth: string | null,
  operation: string,
  objects: { oid: string; size: number }[],
  fetcher: Fetcher = (url, init) => SELF.fetch(url, init),
) {
  const res = await fetcher(`${BASE}/${path}.git/info/lfs/objects/batch`, {
    method: "POST",
    headers: { Accept: LFS, "Content-Type": LFS, ...(auth ? { Authorization: auth } : {}) },
    body: JSON.stringify({ operation, transfers: ["basic"], objects }),
  });
  return { res, json: (await res.json()) as { objects: BatchObject[]; message?: string } };
}

async function upload(path: string, auth: string, o: { oid: string; size: number; data: Uint8Array }): Promise<Response> {
  return SELF.fetch(`${BASE}/${path}.git/info/lfs/objects/${o.oid}`, {
    method: "PUT",
    headers: { Authorization: auth, "Content-Type": "application/octet-stream" },
    body: o.data,
  });
}

type Lock = { id: string; path: string; owner: { name: string } };
type LocksAnswer = { lock: Lock; locks: Lock[]; ours: Lock[]; theirs: Lock[]; message?: string };

describe("Git LFS", () => {
  it("uploads through the batch API, verifies, and downloads (with Range)", async () => {
    const auth = await accountAuth("lfsowner");
    const { name, id } = await newRepo("lfsowner");
    const path = `lfsowner/${name}`;
    const o = await object("large file content\n".repeat(100));
    const up = await batch(path, auth, "upload", [o]);
    expect(up.res.status).toBe(200);
    expect(up.res.headers.get("Content-Type")).toContain(LFS);
    const actions = up.json.objects[0].actions!;
    expect(actions.upload.href).toBe(`${BASE}/${path}.git/info/lfs/objects/${o.oid}`);
    expect(actions.upload.header).toBeUndefined();
    expect((await upload(path, auth, o)).status).toBe(200);
    const verify = await SELF.fetch(actions.verify.href, {
      method: "POST",
      headers: { Authorization: auth, "Content-Type": LFS },
      body: JSON.stringify({ oid: o.oid, size: o.size }),
    });
    expect(verify.status).toBe(200);
    expect(await env.PACKS!.head(`lfs/${id}/${o.oid}`)).not.toBeNull();
    // A second upload batch needs no actions: the object is stored.
    expect((await batch(path, auth, "upload", [o])).json.objects[0].actions).toBeUndefined();

    const down = await batch(path, auth, "download", [o, { oid: "a".repeat(64), size: 3 }, { oid: "nope", size: 1 }]);
    expect(down.json.objects[1].error?.code).toBe(404);
    expect(down.json.objects[2].error?.code).toBe(422);
    const get = await SELF.fetch(down.json.objects[0].actions!.download.href, { headers: { Authorization: auth } });
    expect(get.status).toBe(200);
    expect(get.headers.get("Content-Disposition")).toMatch(/^attachment/);
    expect(new Uint8Array(await get.arrayBuffer())).toEqual(o.data);
    const part = await SELF.fetch(`${BASE}/${path}.git/info/lfs/objects/${o.oid}`, {
      headers: { Authorization: auth, Range: "bytes=5-9" },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get("Content-Range")).toBe(`bytes 5-9/${o.size}`);
    expect(await part.text()).toBe(" file");
    // Images preview only as raster images, never as active content.
    const svg = await SELF.fetch(`${BASE}/${path}.git/info/lfs/objects/${o.oid}?name=x.svg&preview=1`, {
      headers: { Authorization: auth },
    });
    expect(svg.headers.get("Content-Type")).toBe("application/octet-stream");
    await svg.arrayBuffer();
    const png = await SELF.fetch(`${BASE}/${path}.git/info/lfs/objects/${o.oid}?name=x.png&preview=1`, {
      headers: { Authorization: auth },
    });
    expect(png.headers.get("Content-Type")).toBe("image/png");
    await png.arrayBuffer();
  });

  it("refuses an upload whose size or SHA-256 does not match, storing nothing", async () => {
    const auth = await accountAuth("lfsowner");
    const { name, id } = await newRepo("lfsowner");
    const path = `lfsowner/${name}`;
    const o = await object("the real content");
    expect((await batch(path, auth, "upload", [o])).res.status).toBe(200);
    const forged = { ...o, data: new TextEncoder().encode("the fake content") };
    const wrongHash = await upload(path, auth, forged);
    expect(wrongHash.status).toBe(422);
    expect(wrongHash.headers.get("Content-Type")).toContain(LFS);
    expect((await wrongHash.json()) as object).toHaveProperty("message");
    const wrongSize = await upload(path, auth, { ...o, data: o.data.subarray(1) });
    expect(wrongSize.status).toBe(422);
    await wrongSize.arrayBuffer();
    // A chunked body of the wrong length, where no Content-Length can give it away.
    const chunked = await SELF.fetch(`${BASE}/${path}.git/info/lfs/objects/${o.oid}`, {
      method: "PUT",
      headers: { Authorization: auth },
      body: new Blob([o.data, "more"]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(422);
    await chunked.arrayBuffer();
    expect(await env.PACKS!.head(`lfs/${id}/${o.oid}`)).toBeNull();
    expect((await batch(path, auth, "download", [o])).json.objects[0].error?.code).toBe(404);
    // Without a batch request first, there is nothing to upload to.
    const other = await object("never announced");
    const unannounced = await upload(path, auth, other);
    expect(unannounced.status).toBe(422);
    await unannounced.arrayBuffer();
  });

  it("enforces the quota at batch time with a 507 LFS error", async () => {
    const auth = await accountAuth("lfsowner");
    const { name } = await newRepo("lfsowner");
    const quotaEnv = { ...env, GITFLARE_LFS_QUOTA_BYTES: "100" };
    const fetcher: Fetcher = async (url, init) => app.fetch(new Request(url, init), quotaEnv, createExecutionContext());
    const a = await object("x".repeat(60));
    const b = await object("y".repeat(60));
    const first = await batch(`lfsowner/${name}`, auth, "upload", [a], fetcher);
    expect(first.res.status).toBe(200);
    // The first upload is announced and holds its place even before it arrives.
    const second = await batch(`lfsowner/${name}`, auth, "upload", [b], fetcher);
    expect(second.res.status).toBe(507);
    expect(second.json.message).toMatch(/quota exceeded/);
    expect(second.res.headers.get("Content-Type")).toContain(LFS);
    // Asking again for the announced one is not counted twice.
    expect((await batch(`lfsowner/${name}`, auth, "upload", [a], fetcher)).res.status).toBe(200);
  });

  it("asks for credentials, and refuses uploads to readers", async () => {
    const { name } = await newRepo("lfsowner");
    const o = await object("secret");
    const anon = await batch(`lfsowner/${name}`, null, "download", [o]);
    expect(anon.res.status).toBe(401);
    expect(anon.res.headers.get("LFS-Authenticate")).toMatch(/^Basic/);
    expect(anon.json.message).toMatch(/Authentication required/);
    const stranger = await batch(`lfsowner/${name}`, await accountAuth("lfsstranger"), "upload", [o]);
    expect(stranger.res.status).toBe(404);
    const readOnly = await batch(`lfsowner/${name}`, await accountAuth("lfsowner", "read"), "upload", [o]);
    expect(readOnly.res.status).toBe(403);
    expect((await batch(`lfsowner/${name}`, await accountAuth("lfsowner", "read"), "download", [o])).res.status).toBe(200);
    const bad = await SELF.fetch(`${BASE}/lfsowner/${name}.git/info/lfs/objects/batch`, {
      method: "POST",
      headers: { "Content-Type": LFS, Authorization: "Basic " + btoa("lfsowner:gfp_wrong") },
      body: "{}",
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("Content-Type")).toContain(LFS);
    await bad.arrayBuffer();
  });

  it("locks, lists, verifies and unlocks; only admins force-unlock", async () => {
    const owner = await accountAuth("lfsowner");
    const { name } = await newRepo("lfsowner");
    const writer = await accountAuth("lfswriter");
    const put = await SELF.fetch(`${BASE}/api/v3/repos/lfsowner/${name}/collaborators/lfswriter`, {
      method: "PUT",
      headers: { Authorization: owner, "Content-Type": "application/json" },
      body: JSON.stringify({ permission: "push" }),
    });
    expect(put.status).toBeLessThan(300);
    await put.arrayBuffer();
    const call = async (auth: string, method: string, tail: string, body?: unknown) => {
      const res = await SELF.fetch(`${BASE}/lfsowner/${name}.git/info/lfs/locks${tail}`, {
        method,
        headers: { Authorization: auth, "Content-Type": LFS, Accept: LFS },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as LocksAnswer };
    };
    const made = await call(writer, "POST", "", { path: "big.bin", ref: { name: "refs/heads/main" } });
    expect(made.status).toBe(201);
    expect(made.json.lock).toMatchObject({ path: "big.bin", owner: { name: "lfswriter" } });
    const id = made.json.lock.id;
    const again = await call(owner, "POST", "", { path: "big.bin" });
    expect(again.status).toBe(409);
    expect(again.json.lock.id).toBe(id);
    expect((await call(owner, "GET", "?path=big.bin")).json.locks).toHaveLength(1);
    expect((await call(owner, "GET", "?path=other.bin")).json.locks).toHaveLength(0);
    const mine = await call(writer, "POST", "/verify", {});
    expect(mine.json.ours.map((l) => l.id)).toEqual([id]);
    expect(mine.json.theirs).toEqual([]);
    expect((await call(owner, "POST", "/verify", {})).json.theirs).toHaveLength(1);
    // The owner may not unlock another's lock without force; with force, as an admin, may.
    expect((await call(owner, "POST", `/${id}/unlock`, {})).status).toBe(403);
    const mine2 = await call(owner, "POST", "", { path: "owners.bin" });
    expect((await call(writer, "POST", `/${mine2.json.lock.id}/unlock`, { force: true })).status).toBe(403);
    expect((await call(owner, "POST", `/${id}/unlock`, { force: true })).status).toBe(200);
    expect((await call(owner, "POST", `/${mine2.json.lock.id}/unlock`, {})).status).toBe(200);
    expect((await call(owner, "GET", "")).json.locks).toEqual([]);
    // Readers list locks but may not take them.
    const reader = await accountAuth("lfsowner", "read");
    expect((await call(reader, "GET", "")).status).toBe(200);
    expect((await call(reader, "POST", "", { path: "x.bin" })).status).toBe(403);
  });

  it("deletes a repository's LFS objects from R2 with the repository", async () => {
    const auth = await accountAuth("lfsowner");
    const { name, id } = await newRepo("lfsowner");
    const path = `lfsowner/${name}`;
    const stored = await object("kept until deletion");
    const announced = await object("announced, never uploaded");
    await batch(path, auth, "upload", [stored, announced]);
    expect((await upload(path, auth, stored)).status).toBe(200);
    expect(await env.PACKS!.head(`lfs/${id}/${stored.oid}`)).not.toBeNull();
    const del = await SELF.fetch(`${BASE}/api/v3/repos/${path}`, { method: "DELETE", headers: { Authorization: auth } });
    expect(del.status).toBe(204);
    expect(await env.PACKS!.head(`lfs/${id}/${stored.oid}`)).toBeNull();
    expect((await env.PACKS!.list({ prefix: `lfs/${id}/` })).objects).toEqual([]);
  });

  it("presigns S3 URLs as AWS's own example does (Signature Version 4, query string)", async () => {
    const url = await presign({
      method: "GET",
      url: "https://examplebucket.s3.amazonaws.com/test.txt",
      accessKeyId: "AKIAIOSFODNN7EXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      region: "us-east-1",
      expiresSeconds: 86400,
      now: new Date("2013-05-24T00:00:00Z"),
    });
    expect(url).toBe(
      "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
    );
  });

  it("hands out presigned R2 URLs when the S3 API is configured", async () => {
    const auth = await accountAuth("lfsowner");
    const { name, id } = await newRepo("lfsowner");
    const s3Env = {
      ...env,
      GITFLARE_LFS_S3_ENDPOINT: "https://acct.r2.cloudflarestorage.com",
      GITFLARE_LFS_S3_BUCKET: "gitflare-packs",
      GITFLARE_LFS_S3_ACCESS_KEY_ID: "key",
      GITFLARE_LFS_S3_SECRET_ACCESS_KEY: "secret",
    };
    const fetcher: Fetcher = async (url, init) => app.fetch(new Request(url, init), s3Env, createExecutionContext());
    const o = await object("presigned");
    const up = (await batch(`lfsowner/${name}`, auth, "upload", [o], fetcher)).json.objects[0] as BatchObject & { authenticated?: boolean };
    expect(up.authenticated).toBe(true);
    expect(up.actions!.upload.href).toMatch(
      new RegExp(`^https://acct\\.r2\\.cloudflarestorage\\.com/gitflare-packs/lfs/${id}/${o.oid}\\?X-Amz-`),
    );
    // The announced size is signed: R2 refuses a larger body than the quota holds room for.
    expect(up.actions!.upload.href).toContain("X-Amz-SignedHeaders=content-length%3Bhost%3Bx-amz-checksum-sha256");
    expect(up.actions!.upload.header?.["content-length"]).toBe(String(o.size));
    expect(up.actions!.upload.header?.["x-amz-checksum-sha256"]).toBe(
      btoa(String.fromCharCode(...o.oid.match(/../g)!.map((h) => Number.parseInt(h, 16)))),
    );
    // git-lfs confirms a direct upload with verify, which records it once R2 holds it.
    await env.PACKS!.put(`lfs/${id}/${o.oid}`, o.data);
    const verify = await fetcher(up.actions!.verify.href, {
      method: "POST",
      headers: { Authorization: auth, "Content-Type": LFS },
      body: JSON.stringify({ oid: o.oid, size: o.size }),
    });
    expect(verify.status).toBe(200);
    const down = (await batch(`lfsowner/${name}`, auth, "download", [o], fetcher)).json.objects[0];
    expect(down.actions!.download.href).toContain("X-Amz-SignedHeaders=host&");
  });

  it("deletes from R2 what an upload announced long ago left there unrecorded (a presigned upload never verified)", async () => {
    const { name, id } = await newRepo("lfsowner");
    const row = await env.DB.prepare("SELECT do_name FROM repos WHERE id = ?").bind(id).first<{ do_name: string }>();
    const stub = env.REPO.getByName(row!.do_name) as unknown as DurableObjectStub<Repository>;
    const [orphan, kept, later] = await Promise.all([object(`orphan ${name}`), object(`kept ${name}`), object(`later ${name}`)]);
    const prefix = `lfs/${id}/`;
    const t0 = Date.now();
    expect(await stub.lfsPlanUpload([orphan, kept], 1 << 20, prefix, t0)).toMatchObject({ ok: true });
    // Both reach R2 straight from the client; only `kept` is verified.
    await env.PACKS!.put(prefix + orphan.oid, orphan.data);
    await env.PACKS!.put(prefix + kept.oid, kept.data);
    expect(await stub.lfsStored(kept.oid, kept.size, prefix + kept.oid)).toBe("stored");
    expect(await stub.lfsPlanUpload([later], 1 << 20, prefix, t0 + 2 * UPLOAD_WINDOW_MS + 1)).toMatchObject({ ok: true });
    expect(await env.PACKS!.head(prefix + orphan.oid)).toBeNull();
    expect(await env.PACKS!.head(prefix + kept.oid)).not.toBeNull();
  });

  it("serves a fork's download link for an object its parent holds", async () => {
    const auth = await accountAuth("lfsowner");
    const forker = await accountAuth("lfsforker");
    const { name } = await newRepo("lfsowner", false);
    const o = await object(`inherited ${name}`);
    const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${o.oid}\nsize ${o.size}\n`;
    const put = await SELF.fetch(`${BASE}/api/v3/repos/lfsowner/${name}/contents/big.bin`, {
      method: "PUT",
      headers: { Authorization: auth, "Content-Type": "application/json" },
      body: JSON.stringify({ message: "Add big.bin", content: btoa(pointer) }),
    });
    expect(put.status).toBe(201);
    expect((await batch(`lfsowner/${name}`, auth, "upload", [o])).res.status).toBe(200);
    expect((await upload(`lfsowner/${name}`, auth, o)).status).toBe(200);
    const fork = await SELF.fetch(`${BASE}/api/v3/repos/lfsowner/${name}/forks`, {
      method: "POST",
      headers: { Authorization: forker, "Content-Type": "application/json" },
      body: "{}",
    });
    expect(fork.status).toBe(202);
    // The link the fork's page shows for big.bin.
    const page = await (await SELF.fetch(`${BASE}/lfsforker/${name}/blob/main/big.bin`, { headers: { Authorization: forker } })).text();
    expect(page).toContain(`/lfsforker/${name}.git/info/lfs/objects/${o.oid}?name=big.bin`);
    const down = await SELF.fetch(`${BASE}/lfsforker/${name}.git/info/lfs/objects/${o.oid}?name=big.bin`, {
      headers: { Authorization: forker },
    });
    expect(down.status).toBe(200);
    expect(await down.text()).toBe(`inherited ${name}`);
  });

  it("refuses an upload that outlasted its announcement once the quota has no room for it", async () => {
    const { name, id } = await newRepo("lfsowner");
    const row = await env.DB.prepare("SELECT do_name FROM repos WHERE id = ?").bind(id).first<{ do_name: string }>();
    const stub = env.REPO.getByName(row!.do_name) as unknown as DurableObjectStub<Repository>;
    const [slow, next] = await Promise.all([object(`slow ${name} ${"x".repeat(90)}`), object(`next ${name} ${"y".repeat(90)}`)]);
    const prefix = `lfs/${id}/`;
    const quota = 150;
    const t0 = Date.now();
    expect(await stub.lfsPlanUpload([slow], quota, prefix, t0)).toMatchObject({ ok: true });
    // `slow` is still arriving when its announcement expires; `next` takes the space meanwhile.
    const late = t0 + UPLOAD_WINDOW_MS + 1;
    expect(await stub.lfsPlanUpload([next], quota, prefix, late)).toMatchObject({ ok: true });
    expect(await stub.lfsStored(slow.oid, slow.size, prefix + slow.oid, quota, late + 1)).toBe("over-quota");
    expect(await stub.lfsStored(next.oid, next.size, prefix + next.oid, quota, late + 1)).toBe("stored");
    expect(await stub.lfsUsage()).toEqual({ objects: 1, bytes: next.size });
  });

  it("reads LFS pointer files and nothing else", () => {
    const oid = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";
    expect(parseLfsPointer(`version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize 12345\n`)).toEqual({ oid, size: 12345 });
    expect(parseLfsPointer(`version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\n`)).toBeNull();
    expect(parseLfsPointer(`oid sha256:${oid}\nsize 1\n`)).toBeNull();
    expect(parseLfsPointer(`version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize 1\n${"x".repeat(2000)}`)).toBeNull();
  });

  it("shows a pointer file's page as the LFS file: real size, download, raster preview only", async () => {
    const auth = await accountAuth("lfsowner");
    const { name } = await newRepo("lfsowner");
    const o = await object("not really a png");
    const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${o.oid}\nsize 3145728\n`;
    for (const path of ["logo.png", "art.svg"]) {
      const put = await SELF.fetch(`${BASE}/api/v3/repos/lfsowner/${name}/contents/${path}`, {
        method: "PUT",
        headers: { Authorization: auth, "Content-Type": "application/json" },
        body: JSON.stringify({ message: `Add ${path}`, content: btoa(pointer) }),
      });
      expect(put.status).toBe(201);
      await put.arrayBuffer();
    }
    const page = await (await SELF.fetch(`${BASE}/lfsowner/${name}/blob/main/logo.png`, { headers: { Authorization: auth } })).text();
    expect(page).toContain("Stored with Git LFS");
    expect(page).toContain("3.0 MiB");
    expect(page).toContain(`/lfsowner/${name}.git/info/lfs/objects/${o.oid}?name=logo.png&amp;preview=1`);
    expect(page).not.toContain("version https://git-lfs.github.com/spec/v1");
    const svg = await (await SELF.fetch(`${BASE}/lfsowner/${name}/blob/main/art.svg`, { headers: { Authorization: auth } })).text();
    expect(svg).toContain("Stored with Git LFS");
    expect(svg).not.toContain("preview=1");
    // Archives hold the pointer, as git archive writes it.
    const archive = await SELF.fetch(`${BASE}/lfsowner/${name}/archive/main.tar.gz`, { headers: { Authorization: auth } });
    expect(archive.status).toBe(200);
    const tar = await new Response(archive.body!.pipeThrough(new DecompressionStream("gzip"))).text();
    expect(tar).toContain(pointer);
  });
});
