/**
 * The load generator on a thread of its own. In the control plane's thread its timers would
 * wait behind everything else the control plane does (the API, other runs, garbage
 * collection), and that lateness would read as the service's latency and timeouts.
 */
import { Worker } from "node:worker_threads";
import { UserError } from "../errors.js";
import type { LoadOptions, LoadProgress, LoadResult } from "./types.js";

export type WorkerReply =
  | { ok: true; result: LoadResult }
  | { ok: false; message: string; userError: boolean }
  | { progress: LoadProgress };

/** `onProgress` hears where the run stands about once a second. */
export function runLoad(
  options: LoadOptions,
  onProgress?: (progress: LoadProgress) => void,
): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./load-worker.js", import.meta.url), {
      workerData: options,
      // A thread inherits the process's flags, and --input-type (node -e) is refused for a file.
      execArgv: process.execArgv.filter((flag) => !flag.startsWith("--input-type")),
    });
    let settled = false;
    worker.on("message", (reply: WorkerReply) => {
      if ("progress" in reply) {
        onProgress?.(reply.progress);
        return;
      }
      settled = true;
      if (reply.ok) resolve(reply.result);
      else reject(reply.userError ? new UserError(reply.message) : new Error(reply.message));
      void worker.terminate();
    });
    worker.once("error", (error) => {
      settled = true;
      reject(error);
    });
    worker.once("exit", (code) => {
      if (!settled)
        reject(new Error(`the load generator's thread ended (exit code ${code}) without a result`));
    });
  });
}
