// Small helpers the benchmark's measurements share.
import { execFile } from "node:child_process";

/** Runs a command to its end; its standard output, or an error with its standard error. */
export async function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 1 << 28 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(" ")} failed:\n${stderr}`)) : resolve(String(stdout)),
    );
  });
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
