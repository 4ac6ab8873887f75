// Runs in Node, as a service binding of the workerd tests (GIT_CHECK): C git over a
// repository that a test exported (`export.tar`), for checks only C git can make, such as
// `git fsck --strict`. POST the tar; `X-Git-Commands` is a JSON list of git argument lists,
// run in order in the extracted bare repository; the answer lists each one's exit code and
// output.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface GitRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function gitCheck(request: Request): Promise<Response> {
  const commands = JSON.parse(request.headers.get("X-Git-Commands") ?? "[]") as string[][];
  const dir = mkdtempSync(join(tmpdir(), "gitflare-check-"));
  try {
    writeFileSync(join(dir, "repo.tar"), Buffer.from(await request.arrayBuffer()));
    const untar = spawnSync("tar", ["-xf", "repo.tar"], { cwd: dir });
    if (untar.status !== 0) return Response.json({ error: `tar: ${untar.stderr}` }, { status: 400 });
    const [bare] = readdirSync(dir).filter((n) => n.endsWith(".git"));
    if (!bare) return Response.json({ error: "no bare repository in the tar" }, { status: 400 });
    const runs: GitRun[] = commands.map((args) => {
      const r = spawnSync("git", args, { cwd: join(dir, bare), maxBuffer: 64 * 1024 * 1024 });
      return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    });
    return Response.json({ runs });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
