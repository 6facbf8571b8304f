/**
 * The body of a load generator's worker thread: runs its share of each load posted to it, one at a
 * time, and posts it back. Only `isolated.ts` starts it, and keeps it between runs.
 */
import { parentPort } from "node:worker_threads";
import { UserError, errorMessage } from "../errors.js";
import { runShard } from "./generator.js";
import type { WorkerInput, WorkerReply } from "./isolated.js";

const reply = (message: WorkerReply) => parentPort?.postMessage(message);
parentPort?.on("message", ({ options, shard, progress }: WorkerInput) => {
  // A progress report sums the tallies and encodes a histogram: not worth it when nobody listens.
  runShard(options, shard, progress ? (report) => reply({ progress: report }) : undefined).then(
    (result) => reply({ ok: true, shard: result }),
    (error: unknown) =>
      reply({ ok: false, message: errorMessage(error), userError: error instanceof UserError }),
  );
});
