import { once } from "node:events";
import type { FastifyInstance } from "fastify";
import { streamRun } from "../../api/stream.js";
import { findRun } from "../../engine/run-views.js";
import { errorMessage } from "../../errors.js";
import { registerRoute } from "../route.js";
import { followRun, formatMessage, type RunStreamDependencies } from "../run-stream.js";

export type StreamRouteDependencies = RunStreamDependencies;

/** A stream lasts at most this long; the browser's EventSource reconnects and resumes from its last id. */
const STREAM_MAX_MS = 10 * 60_000;
const POLL_MS = 300;
const BATCH = 500;
const KEEPALIVE_MS = 15_000;

export function registerStreamRoutes(app: FastifyInstance, deps: StreamRouteDependencies): void {
  registerRoute(app, streamRun, async ({ params, request, reply }) => {
    // An unknown run is a 404 problem, before the stream starts.
    await findRun(deps.store, params.id);
    const lastEventId = Number(request.headers["last-event-id"]);
    const afterSeq = Number.isSafeInteger(lastEventId) && lastEventId > 0 ? lastEventId : 0;

    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), STREAM_MAX_MS);
    const out = reply.raw;
    out.on("close", () => stop.abort());
    reply.hijack();
    out.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
    let lastWrite = Date.now();
    const write = async (text: string) => {
      lastWrite = Date.now();
      if (!out.write(text)) await once(out, "drain", { signal: stop.signal });
    };
    const keepalive = setInterval(() => {
      if (Date.now() - lastWrite >= KEEPALIVE_MS) void write(": keep-alive\n\n").catch(() => undefined);
    }, KEEPALIVE_MS);
    try {
      await write("retry: 2000\n\n");
      for await (const message of followRun(deps, params.id, {
        afterSeq,
        pollMs: POLL_MS,
        batch: BATCH,
        signal: stop.signal,
      })) {
        await write(formatMessage(message));
      }
    } catch (error) {
      // The answer has begun: a failure past this point can only end the stream, which the
      // browser's EventSource then reopens from its last id. A client gone mid-write is no failure.
      if (!stop.signal.aborted)
        process.stderr.write(`waybill api: the stream of run ${params.id}: ${errorMessage(error)}\n`);
    } finally {
      clearTimeout(timer);
      clearInterval(keepalive);
      out.end();
    }
    return reply;
  });
}
