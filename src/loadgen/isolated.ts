/**
 * The load generator on threads of its own. In the control plane's thread its timers would
 * wait behind everything else the control plane does (the API, other runs, garbage
 * collection), and that lateness would read as the service's latency and timeouts. With
 * `workers` above 1, each thread runs its share of the run (`Shard`) and the shares merge
 * exactly into one result.
 */
import { Worker } from "node:worker_threads";
import { UserError } from "../errors.js";
import { mergeProgress, mergeShards, type Shard, type ShardData, type ShardProgress } from "./generator.js";
import type { LoadOptions, LoadProgress, LoadResult } from "./types.js";

export type WorkerReply =
  | { ok: true; shard: ShardData }
  | { ok: false; message: string; userError: boolean }
  | { progress: ShardProgress };

export interface WorkerInput {
  options: LoadOptions;
  shard: Shard;
  /** Whether to post progress about once a second */
  progress: boolean;
}

/** The number of threads a run uses: `workers`, but never more than it has connections */
export function workerCount(options: LoadOptions): number {
  const workers = options.workers ?? 1;
  if (!(Number.isSafeInteger(workers) && workers > 0)) {
    throw new UserError("load test: workers must be a positive whole number");
  }
  // At least one, which then refuses a bad connection count itself.
  return Math.max(1, Math.min(workers, options.connections ?? 10));
}

/** `onProgress` hears where the run stands about once a second. */
export async function runLoad(
  options: LoadOptions,
  onProgress?: (progress: LoadProgress) => void,
): Promise<LoadResult> {
  const count = workerCount(options);
  const latest = new Map<number, ShardProgress>();
  const heardSince = new Set<number>();
  // One line a second for the run, once every worker has had its say since the last.
  const heard = (index: number, progress: ShardProgress) => {
    latest.set(index, progress);
    heardSince.add(index);
    if (heardSince.size < count || onProgress === undefined) return;
    heardSince.clear();
    onProgress(mergeProgress([...latest.values()]));
  };
  const workers: Worker[] = [];
  try {
    const shards = await Promise.all(
      Array.from({ length: count }, (_, index) =>
        runWorker(
          { options, shard: { index, count }, progress: onProgress !== undefined },
          workers,
          (progress) => heard(index, progress),
        ),
      ),
    );
    return mergeShards(options, shards);
  } finally {
    for (const worker of workers) void worker.terminate();
  }
}

function runWorker(
  input: WorkerInput,
  workers: Worker[],
  onProgress: (progress: ShardProgress) => void,
): Promise<ShardData> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./load-worker.js", import.meta.url), {
      workerData: input,
      // A thread inherits the process's flags, and --input-type (node -e) is refused for a file.
      execArgv: process.execArgv.filter((flag) => !flag.startsWith("--input-type")),
    });
    workers.push(worker);
    let settled = false;
    worker.on("message", (reply: WorkerReply) => {
      if ("progress" in reply) {
        onProgress(reply.progress);
        return;
      }
      settled = true;
      if (reply.ok) resolve(reply.shard);
      else reject(reply.userError ? new UserError(reply.message) : new Error(reply.message));
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
