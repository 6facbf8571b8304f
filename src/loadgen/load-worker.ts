/**
 * The body of the load generator's worker thread: runs one load and posts its result back.
 * Only `isolated.ts` starts it.
 */
import { parentPort, workerData } from "node:worker_threads";
import { UserError, errorMessage } from "../errors.js";
import { runLoad } from "./generator.js";
import type { LoadOptions } from "./types.js";
import type { WorkerReply } from "./isolated.js";

const reply = (message: WorkerReply) => parentPort?.postMessage(message);
runLoad(workerData as LoadOptions, (progress) => reply({ progress })).then(
  (result) => reply({ ok: true, result }),
  (error: unknown) =>
    reply({ ok: false, message: errorMessage(error), userError: error instanceof UserError }),
);
