/**
 * App log files. The child gets its own O_APPEND descriptors, so it keeps logging while the
 * control plane is down; rotation therefore copies and truncates (logrotate's copytruncate),
 * since the child cannot be told to reopen its files.
 */
import { constants, openSync, closeSync } from "node:fs";
import { copyFile, open, stat, truncate } from "node:fs/promises";
import { join } from "node:path";

export const DEFAULT_LOG_SIZE_CAP_BYTES = 5 * 1024 * 1024;

export interface LogPaths {
  stdout: string;
  stderr: string;
}

export function logDirectory(stateDir: string): string {
  return join(stateDir, "logs");
}

export function instanceLogPaths(stateDir: string, instanceId: string): LogPaths {
  const dir = logDirectory(stateDir);
  return { stdout: join(dir, `${instanceId}.stdout.log`), stderr: join(dir, `${instanceId}.stderr.log`) };
}

/** Opens both files for appending; close the descriptors once the child holds its copies. */
export function openForAppend(paths: LogPaths): { stdout: number; stderr: number; close(): void } {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND;
  const stdout = openSync(paths.stdout, flags, 0o644);
  let stderr: number;
  try {
    stderr = openSync(paths.stderr, flags, 0o644);
  } catch (error) {
    closeSync(stdout);
    throw error;
  }
  return {
    stdout,
    stderr,
    close: () => {
      closeSync(stdout);
      closeSync(stderr);
    },
  };
}

/** Copies an oversized file to `<path>.1` (replacing the previous one) and empties it. */
export async function rotateIfOversized(path: string, capBytes: number): Promise<boolean> {
  const size = await sizeOf(path);
  if (size <= capBytes) return false;
  await copyFile(path, `${path}.1`);
  // Lines written between the copy and the truncation are lost: the known price of copytruncate.
  await truncate(path, 0);
  return true;
}

export async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw error;
  }
}

/**
 * The last lines written at or after `fromOffset`, so an error quotes this launch's output
 * and not an earlier run's. Reads at most `maxBytes` from the end.
 */
export async function lastLines(
  path: string,
  fromOffset: number,
  maxLines: number,
  maxBytes = 16384,
): Promise<string[]> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  try {
    const size = (await handle.stat()).size;
    // A rotation since fromOffset shrank the file: whatever is there now is this launch's.
    const launchStart = fromOffset <= size ? fromOffset : 0;
    const start = Math.max(launchStart, size - maxBytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const lines = buffer.toString("utf8").split("\n");
    if (start > launchStart) lines.shift(); // the first line is cut in the middle
    return lines.filter((line) => line.trim() !== "").slice(-maxLines);
  } finally {
    await handle.close();
  }
}
