/**
 * Forwards one request to one app instance over the proxy's own upstream client
 * (`upstream-pool.ts`) and streams both bodies through, without buffering. The outcome goes to
 * the request's tally when the client's response closes, which is also what ends the request's
 * in-flight time for draining.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { downstreamResponseHeaders, upstreamRequestHeaders } from "./forwarding-headers.js";
import { LOOPBACK } from "./ports.js";
import type { RequestTally } from "./traffic.js";
import type { UpstreamConnection, UpstreamExchange, UpstreamPool } from "./upstream-pool.js";
import type { UpstreamResponseHead } from "./upstream-parser.js";

/** Retries on stale kept-alive connections; a fresh connection is not retried. */
const STALE_CONNECTION_RETRIES = 2;
const LAST_CHUNK = "0\r\n\r\n";

export interface Exchange {
  request: IncomingMessage;
  response: ServerResponse;
  instanceId: string;
  port: number;
  /** Plain connections, or mutual TLS ones from the mesh client */
  pool: UpstreamPool;
  /** A body follows the request's head (`readRequestHead`) */
  hasBody: boolean;
  /** That body is chunked, and goes upstream chunked again */
  chunked: boolean;
  tally: RequestTally;
}

export function forward(exchange: Exchange): void {
  new ProxiedRequest(exchange).start();
}

/** The head as it goes upstream: request line and header lines, in one string */
function requestHead(incoming: IncomingMessage, port: number): string {
  const headers = upstreamRequestHeaders(
    incoming.rawHeaders,
    incoming.socket.remoteAddress ?? "unknown",
    `${LOOPBACK}:${port}`,
  );
  let head = `${incoming.method ?? "GET"} ${incoming.url ?? "/"} HTTP/1.1\r\n`;
  for (let index = 0; index < headers.length; index += 2)
    head += `${headers[index] as string}: ${headers[index + 1] as string}\r\n`;
  return `${head}\r\n`;
}

class ProxiedRequest implements UpstreamExchange {
  private readonly head: string;
  private status: number | null = null;
  private upstreamFailed = false;
  private connection: UpstreamConnection | null = null;
  private retriesLeft = STALE_CONNECTION_RETRIES;

  constructor(private readonly exchange: Exchange) {
    this.head = requestHead(exchange.request, exchange.port);
  }

  start(): void {
    const { request: incoming, response, hasBody } = this.exchange;
    // A response closes once: a plain listener spares the once-wrapper on every request.
    response.on("close", () => {
      // The client went away early: the app need not keep working for nobody.
      if (!response.writableFinished) this.abort();
      this.exchange.tally.finish({ status: this.status, upstreamFailed: this.upstreamFailed });
    });
    if (!hasBody) {
      incoming.resume();
      this.send();
      return;
    }
    incoming.on("error", () => this.abort());
    const connection = this.send();
    const { chunked } = this.exchange;
    const resumeIncoming = (): void => void incoming.resume();
    incoming.on("data", (chunk: Buffer) => {
      // The response may have ended already (an early 413): the rest is read and dropped.
      if (this.connection !== connection || chunk.length === 0) return;
      let flowing: boolean;
      if (chunked) {
        connection.socket.cork();
        connection.write(`${chunk.length.toString(16)}\r\n`);
        connection.write(chunk);
        flowing = connection.write("\r\n");
        connection.socket.uncork();
      } else {
        flowing = connection.write(chunk);
      }
      if (flowing) return;
      incoming.pause();
      connection.socket.once("drain", resumeIncoming);
    });
    incoming.on("end", () => {
      if (this.connection !== connection) return;
      if (chunked) connection.write(LAST_CHUNK);
      connection.requestComplete();
    });
  }

  onHead({ status, reason, rawHeaders }: UpstreamResponseHead): void {
    const { response, instanceId } = this.exchange;
    try {
      response.writeHead(
        status,
        reason === "" ? undefined : reason,
        downstreamResponseHeaders(rawHeaders, instanceId),
      );
    } catch (error) {
      // Node refuses what it could not send on (a header value it deems invalid, a status beyond 999).
      this.connection?.abort();
      this.connection = null;
      this.badGateway(`the instance's response head cannot be forwarded (${(error as Error).message})`);
      return;
    }
    this.status = status;
  }

  onBody(chunk: Buffer): void {
    const { response } = this.exchange;
    if (response.write(chunk)) return;
    this.connection?.pause();
    response.once("drain", () => this.connection?.resume());
  }

  onEnd(last: Buffer | undefined): void {
    this.detach();
    const { response } = this.exchange;
    if (last === undefined) response.end();
    else response.end(last);
  }

  onUpstreamError(error: Error, stale: boolean): void {
    this.detach();
    const { response, hasBody } = this.exchange;
    if (response.destroyed) return;
    if (this.status !== null) {
      // The head is already sent, so breaking the connection is the only way to tell the client.
      this.upstreamFailed = true;
      response.destroy();
      return;
    }
    // The app closed an idle kept-alive connection just as it was reused, so the request never
    // reached the app; one without a body can go again.
    if (stale && !hasBody && this.retriesLeft > 0) {
      this.retriesLeft -= 1;
      this.send();
      return;
    }
    this.badGateway(`did not answer (${error.message})`);
  }

  private badGateway(why: string): void {
    const { response, instanceId } = this.exchange;
    this.upstreamFailed = true;
    replyWithText(response, 502, `bad gateway: instance ${instanceId} ${why}\n`, instanceId);
  }

  private send(): UpstreamConnection {
    const { pool, port, request: incoming, hasBody } = this.exchange;
    const connection = pool.request(port, this, this.head, incoming.method === "HEAD", hasBody);
    this.connection = connection;
    return connection;
  }

  /** The connection is done with this request; a body still arriving is read and dropped. */
  private detach(): void {
    this.connection = null;
    // Paused for the connection's backpressure, it would never be read to its end otherwise.
    if (this.exchange.hasBody) this.exchange.request.resume();
  }

  private abort(): void {
    this.connection?.abort();
    this.connection = null;
  }
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
