/**
 * The load generator on a thread of its own. In the control plane's thread its timers would
 * wait behind everything else the control plane does (the API, other runs, garbage
 * collection), and that lateness would read as the service's latency and timeouts.
 */
import { Worker } from "node:worker_threads";
import { UserError } from "../errors.js";
import type { LoadOptions, LoadResult } from "./types.js";

export type WorkerReply =
  { ok: true; result: LoadResult } | { ok: false; message: string; userError: boolean };

export function runLoad(options: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./load-worker.js", import.meta.url), {
      workerData: options,
      // A thread inherits the process's flags, and --input-type (node -e) is refused for a file.
      execArgv: process.execArgv.filter((flag) => !flag.startsWith("--input-type")),
    });
    let settled = false;
    worker.once("message", (reply: WorkerReply) => {
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
