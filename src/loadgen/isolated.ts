/**
 * The load generator on threads of its own. In the control plane's thread its timers would
 * wait behind everything else the control plane does (the API, other runs, garbage
 * collection), and that lateness would read as the service's latency and timeouts. With
 * `workers` above 1, each thread runs its share of the run (`Shard`) and the shares merge
 * exactly into one result.
 *
 * Threads are kept warm between runs: a new one spends some 100 ms (more on a busy machine)
 * compiling the generator before its first send, which a test would add to every stage. A thread
 * goes back to the pool only after a run that ended with a result; one that failed, errored or was
 * cut short is ended, as before. Idle threads do not keep the process alive and end after a while.
 */
import { Worker } from "node:worker_threads";
import { UserError } from "../errors.js";
import { mergeProgress, mergeShards, type Shard, type ShardData, type ShardProgress } from "./generator.js";
import type { LoadOptions, LoadProgress, LoadResult } from "./types.js";

export type WorkerReply =
  | { ok: true; shard: ShardData }
  | { ok: false; message: string; userError: boolean }
  | { progress: ShardProgress };

/** One run's share, posted to a warm thread; the thread answers with `WorkerReply`s. */
export interface WorkerInput {
  options: LoadOptions;
  shard: Shard;
  /** Whether to post progress about once a second */
  progress: boolean;
}

/** The number of threads a run uses: `workers`, but never more than it has connections */
export function workerCount(options: LoadOptions): number {
  return threadsFor(options);
}

function threadsFor(options: Pick<LoadOptions, "workers" | "connections">): number {
  const workers = options.workers ?? 1;
  if (!(Number.isSafeInteger(workers) && workers > 0)) {
    throw new UserError("load test: workers must be a positive whole number");
  }
  // At least one, which then refuses a bad connection count itself.
  return Math.max(1, Math.min(workers, options.connections ?? 10));
}

/** More idle threads than this are ended rather than kept */
const MAX_IDLE_WORKERS = 8;
/** An idle thread's memory goes back after this long without a run */
const IDLE_LIFETIME_MS = 60_000;

interface IdleWorker {
  worker: Worker;
  expiry: NodeJS.Timeout;
}

const idle: IdleWorker[] = [];

function startWorker(): Worker {
  const worker = new Worker(new URL("./load-worker.js", import.meta.url), {
    // A thread inherits the process's flags, and --input-type (node -e) is refused for a file.
    execArgv: process.execArgv.filter((flag) => !flag.startsWith("--input-type")),
  });
  // Idle, an error or exit only takes it out of the pool; a run listens for its own.
  worker.on("error", () => forget(worker));
  worker.on("exit", () => forget(worker));
  return worker;
}

function forget(worker: Worker): void {
  const index = idle.findIndex((entry) => entry.worker === worker);
  if (index === -1) return;
  const [entry] = idle.splice(index, 1);
  clearTimeout(entry?.expiry);
}

function park(worker: Worker): void {
  if (idle.length >= MAX_IDLE_WORKERS) {
    void worker.terminate();
    return;
  }
  worker.unref();
  const expiry = setTimeout(() => {
    forget(worker);
    void worker.terminate();
  }, IDLE_LIFETIME_MS);
  expiry.unref();
  idle.push({ worker, expiry });
}

function take(): Worker {
  const entry = idle.pop();
  if (entry === undefined) return startWorker();
  clearTimeout(entry.expiry);
  entry.worker.ref();
  return entry.worker;
}

/**
 * Starts threads for a run of `options` ahead of it (say, while the service starts), so the run
 * begins with them compiled; those already idle count. Never more than the pool keeps.
 */
export function prewarmLoad(options: Pick<LoadOptions, "workers" | "connections">): void {
  const wanted = Math.min(threadsFor(options), MAX_IDLE_WORKERS);
  while (idle.length < wanted) park(startWorker());
}

/** Threads idle in the pool now */
export function idleLoadWorkers(): number {
  return idle.length;
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
  let succeeded = false;
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
    succeeded = true;
    return mergeShards(options, shards);
  } finally {
    // Only threads that all answered are known to be between runs; the others may still be sending.
    for (const worker of workers) {
      if (succeeded) park(worker);
      else void worker.terminate();
    }
  }
}

function runWorker(
  input: WorkerInput,
  workers: Worker[],
  onProgress: (progress: ShardProgress) => void,
): Promise<ShardData> {
  return new Promise((resolve, reject) => {
    const worker = take();
    workers.push(worker);
    const done = () => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
    };
    const onMessage = (reply: WorkerReply) => {
      if ("progress" in reply) {
        onProgress(reply.progress);
        return;
      }
      done();
      if (reply.ok) resolve(reply.shard);
      else reject(reply.userError ? new UserError(reply.message) : new Error(reply.message));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const onExit = (code: number) => {
      done();
      reject(new Error(`the load generator's thread ended (exit code ${code}) without a result`));
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
    worker.postMessage(input);
  });
}
