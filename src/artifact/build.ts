/**
 * Runs `build.command`. A shell is the user's stated intent here (`npm ci && npm run build`),
 * so it runs through /bin/sh, in the service's folder and nowhere else.
 */
import { spawn } from "node:child_process";
import { UserError } from "../errors.js";

export async function runBuild(
  command: string,
  serviceDir: string,
  env: Record<string, string>,
  output: (chunk: string) => void,
): Promise<void> {
  const child = spawn("/bin/sh", ["-c", command], {
    cwd: serviceDir,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (chunk: Buffer) => output(chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => output(chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0) {
    throw new UserError(`build.command "${command}" failed with exit code ${code} in ${serviceDir}`, 1, 422);
  }
}
