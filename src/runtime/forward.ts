/**
 * Forwards one request to one app instance and streams both bodies through, without
 * buffering. The outcome goes to the request's tally when the client's response closes, which
 * is also what ends the request's in-flight time for draining.
 */
import {
  type Agent,
  type ClientRequest,
  type IncomingMessage,
  type ServerResponse,
  request,
} from "node:http";
import { request as requestOverTls } from "node:https";
import { downstreamResponseHeaders, upstreamRequestHeaders } from "./forwarding-headers.js";
import { LOOPBACK } from "./ports.js";
import type { RequestTally } from "./traffic.js";

/** Retries on stale kept-alive connections; a fresh connection is not retried. */
const STALE_CONNECTION_RETRIES = 2;

export interface Exchange {
  request: IncomingMessage;
  response: ServerResponse;
  instanceId: string;
  port: number;
  /** An https.Agent with the proxy's client certificate, for mutual TLS to the instance */
  agent: Agent;
  secure: boolean;
  /** A body follows the request's head (`readRequestHead`) */
  hasBody: boolean;
  tally: RequestTally;
}

export function forward({
  request: incoming,
  response,
  instanceId,
  port,
  agent,
  secure,
  hasBody,
  tally,
}: Exchange): void {
  const send = secure ? requestOverTls : request;
  const headers = upstreamRequestHeaders(
    incoming.rawHeaders,
    incoming.socket.remoteAddress ?? "unknown",
    `${LOOPBACK}:${port}`,
  );
  const bodiless = !hasBody;
  let status: number | null = null;
  let upstreamFailed = false;
  let current: ClientRequest | undefined;

  response.once("close", () => {
    // The client went away early: the app need not keep working for nobody.
    if (!response.writableFinished) current?.destroy();
    tally.finish({ status, upstreamFailed });
  });
  incoming.on("error", () => current?.destroy());

  const attempt = (retriesLeft: number): void => {
    const upstream = send({
      host: LOOPBACK,
      port,
      method: incoming.method,
      path: incoming.url,
      headers,
      agent,
    });
    current = upstream;
    upstream.on("response", (upstreamResponse) => {
      status = upstreamResponse.statusCode ?? 502;
      response.writeHead(
        status,
        upstreamResponse.statusMessage,
        downstreamResponseHeaders(upstreamResponse.rawHeaders, instanceId),
      );
      upstreamResponse.on("error", () => undefined); // reported through "close" below
      upstreamResponse.on("close", () => {
        if (upstreamResponse.complete) return;
        // The head is already sent, so breaking the connection is the only way to tell the client.
        upstreamFailed = true;
        response.destroy();
      });
      // By hand rather than pipe(): the same backpressure, without pipe's listeners per request.
      upstreamResponse.on("data", (chunk: Buffer) => {
        if (response.write(chunk)) return;
        upstreamResponse.pause();
        response.once("drain", () => upstreamResponse.resume());
      });
      upstreamResponse.on("end", () => response.end());
    });
    upstream.on("error", (error) => {
      if (status !== null || response.destroyed) return;
      // The app closed an idle kept-alive connection just as it was reused, so the request never
      // reached the app; one without a body can go again.
      if (bodiless && upstream.reusedSocket && retriesLeft > 0) {
        attempt(retriesLeft - 1);
        return;
      }
      upstreamFailed = true;
      replyWithText(
        response,
        502,
        `bad gateway: instance ${instanceId} did not answer (${error.message})\n`,
        instanceId,
      );
    });
    if (bodiless) upstream.end();
    else incoming.pipe(upstream);
  };

  if (bodiless) incoming.resume();
  attempt(STALE_CONNECTION_RETRIES);
}

export function replyWithText(
  response: ServerResponse,
  status: number,
  text: string,
  instanceId?: string,
): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const body = Buffer.from(text);
  response.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": body.length,
    ...(instanceId === undefined ? {} : { "x-waybill-instance": instanceId }),
  });
  response.end(body);
}
