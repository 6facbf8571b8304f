/**
 * One keep-alive HTTP/1.1 connection over a raw TCP socket, one request at a time (no
 * pipelining). Node's http client costs several times more CPU per request than this, and
 * the generator must not become the bottleneck it is measuring.
 */
import { connect, type Socket } from "node:net";
import { ResponseParser } from "./response-parser.js";
import type { PreparedRequest } from "./request-mix.js";

/**
 * Shared by every connection: a read callback runs to completion before the next read, and
 * the parser copies anything it keeps.
 */
const receiveBuffer = Buffer.allocUnsafe(64 * 1024);

export interface ServerAddress {
  host: string;
  port: number;
}

export interface ConnectionListener {
  /** A complete response arrived; the connection is free again */
  answered(connection: HttpConnection, request: PreparedRequest, status: number): void;
  /** The request failed (refused, reset, malformed response); the connection is free again */
  failed(connection: HttpConnection, request: PreparedRequest): void;
}

export class HttpConnection {
  /** The request in flight, null when the connection is free */
  request: PreparedRequest | null = null;
  /** performance.now() that the request's latency is measured from */
  origin = 0;
  /** performance.now() after which the request counts as timed out */
  deadline = 0;
  /** False for warm-up requests */
  measured = false;

  private socket: Socket | null = null;
  private readonly parser = new ResponseParser();

  constructor(
    private readonly address: ServerAddress,
    private readonly listener: ConnectionListener,
  ) {}

  send(request: PreparedRequest, origin: number, deadline: number, measured: boolean): void {
    this.request = request;
    this.origin = origin;
    this.deadline = deadline;
    this.measured = measured;
    this.parser.reset(request.isHead);
    this.socket ??= this.open();
    this.socket.write(request.bytes);
  }

  /** Give up on the request in flight. HTTP/1.1 cannot cancel a request, so the socket goes too. */
  abandon(): void {
    this.request = null;
    this.close();
  }

  private close(): void {
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
  }

  private open(): Socket {
    // Events from a socket this connection has already let go of must not touch the next request.
    const socket: Socket = connect({
      host: this.address.host,
      port: this.address.port,
      noDelay: true,
      // Reading into one reused buffer skips the readable-stream machinery and a Buffer per read.
      onread: {
        buffer: receiveBuffer,
        callback: (bytesRead: number) => {
          if (this.socket === socket) this.receive(receiveBuffer.subarray(0, bytesRead));
          return true;
        },
      },
    });
    // Every error is followed by "close", which settles the request.
    socket.on("error", () => undefined);
    socket.on("close", () => {
      if (this.socket === socket) this.closedByServer();
    });
    return socket;
  }

  private receive(chunk: Buffer): void {
    const request = this.request;
    if (request === null) {
      // Bytes nobody asked for: the connection is out of step with the server.
      this.close();
      return;
    }
    let complete: boolean;
    try {
      complete = this.parser.push(chunk);
    } catch {
      this.abandon();
      this.listener.failed(this, request);
      return;
    }
    if (!complete) return;
    if (!this.parser.keepAlive || this.parser.surplusBytes > 0) this.close();
    this.request = null;
    this.listener.answered(this, request, this.parser.status);
  }

  private closedByServer(): void {
    this.socket = null;
    const request = this.request;
    if (request === null) return;
    this.request = null;
    if (this.parser.endOfStream()) this.listener.answered(this, request, this.parser.status);
    else this.listener.failed(this, request);
  }
}
