/**
 * The stage proxy's HTTP/1.1 client towards its instances: kept-alive connections per upstream
 * port, one request at a time on each (no pipelining), the request head written as one string
 * and the response read by `UpstreamResponseParser`. It replaces node's `http.Agent` and
 * `ClientRequest`, whose objects, listeners and bookkeeping per request were most of the
 * proxy's own CPU time; here a connection's listeners are attached once, when it opens.
 *
 * A connection goes back to the pool only after a complete response to a completely sent
 * request, with no byte beyond it and no `Connection: close`; anything else closes it. The most
 * recently used idle connection is taken first, so a burst's warm connections go on serving.
 * Sockets come from a factory: `net.connect` for plain HTTP, the mesh client's `tls.connect`
 * for mutual TLS (`mesh-client.ts`).
 */
import type { Socket } from "node:net";
import {
  type ResponseListener,
  UpstreamProtocolError,
  type UpstreamResponseHead,
  UpstreamResponseParser,
} from "./upstream-parser.js";

/** Opens a connection to an upstream port on loopback; writes may start before it is established. */
export type ConnectUpstream = (port: number) => Socket;

/** One request's side of the conversation with its connection */
export interface UpstreamExchange extends ResponseListener {
  /**
   * The connection failed before the response was complete. `stale`: it had carried an earlier
   * response and nothing of this one arrived, so the server closed it as it was reused and the
   * request never reached the app.
   */
  onUpstreamError(error: Error, stale: boolean): void;
}

/** Connections kept idle per upstream port; as node's agent had it in the proxy */
const MAX_IDLE_PER_PORT = 1024;

export class UpstreamConnection implements ResponseListener {
  private exchange: UpstreamExchange | null = null;
  private readonly parser = new UpstreamResponseParser(this);
  private responses = 0;
  private receivedAny = false;
  private requestSent = false;
  private closing = false;
  /** The response ended in the read being parsed: keep or close the connection after it. */
  private completed = false;

  constructor(
    private readonly pool: UpstreamPool,
    readonly port: number,
    readonly socket: Socket,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("end", () => this.onServerEnd());
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => {
      this.fail(new Error("the connection closed before the response was complete"));
      this.pool.forget(this);
    });
  }

  /** Whether it has carried a response before this one */
  get reused(): boolean {
    return this.responses > 0;
  }

  send(exchange: UpstreamExchange, head: string, requestIsHead: boolean, bodyFollows: boolean): void {
    this.exchange = exchange;
    this.receivedAny = false;
    this.requestSent = !bodyFollows;
    this.parser.expect(requestIsHead);
    this.socket.write(head, "latin1");
  }

  /** Request body bytes as they are to go on the wire; false when the caller should wait for `drain` */
  write(data: Buffer | string): boolean {
    return this.socket.write(data);
  }

  /** The request body is completely written. */
  requestComplete(): void {
    this.requestSent = true;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** The exchange gives up (its client left): the response would have nowhere to go. */
  abort(): void {
    this.exchange = null;
    this.socket.destroy();
  }

  onHead(head: UpstreamResponseHead): void {
    this.exchange?.onHead(head);
  }

  onBody(chunk: Buffer): void {
    this.exchange?.onBody(chunk);
  }

  onEnd(last: Buffer | undefined): void {
    const exchange = this.exchange;
    this.exchange = null;
    this.responses += 1;
    this.completed = true;
    exchange?.onEnd(last);
  }

  /** After the retirement of its pool: closes once it has carried the current response. */
  retire(): void {
    this.closing = true;
    if (this.exchange === null) this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.exchange === null) {
      // Bytes nobody asked for: the server is broken, and nothing on this connection is trustworthy.
      this.socket.destroy();
      return;
    }
    this.receivedAny = true;
    try {
      this.parser.push(chunk);
    } catch (error) {
      if (!(error instanceof UpstreamProtocolError)) throw error;
      this.fail(new Error(`the instance's response is not valid HTTP/1.1: ${error.message}`));
      return;
    }
    if (!this.completed) return;
    this.completed = false;
    // Bytes beyond the response mean a server out of step with its own framing.
    const reusable = this.parser.keepAlive && this.requestSent && this.parser.surplus === 0;
    if (reusable && !this.closing && !this.socket.destroyed) this.pool.release(this);
    else this.socket.destroy();
  }

  private onServerEnd(): void {
    if (this.exchange !== null && this.parser.endsAtClose) {
      this.parser.closed();
      this.socket.destroy();
    } else {
      this.fail(new Error("the instance closed the connection"));
    }
  }

  private fail(error: Error): void {
    const exchange = this.exchange;
    this.exchange = null;
    this.socket.destroy();
    exchange?.onUpstreamError(error, this.responses > 0 && !this.receivedAny);
  }
}

export class UpstreamPool {
  private readonly idle = new Map<number, UpstreamConnection[]>();
  private readonly open = new Set<UpstreamConnection>();
  private retired = false;

  constructor(private readonly connect: ConnectUpstream) {}

  /**
   * Sends a request head on an idle connection to `port`, or a new one. The caller writes any
   * body through the returned connection, then calls `requestComplete()`.
   */
  request(
    port: number,
    exchange: UpstreamExchange,
    head: string,
    requestIsHead: boolean,
    bodyFollows: boolean,
  ): UpstreamConnection {
    const idle = this.idle.get(port);
    let connection = idle?.pop();
    // One the server closed is gone from the list at its close event, which may be still to come.
    while (connection?.socket.destroyed === true) connection = idle?.pop();
    connection ??= this.opened(port);
    connection.send(exchange, head, requestIsHead, bodyFollows);
    return connection;
  }

  /** Idle connections now, for tests and the mesh client's renewal */
  idleCount(): number {
    let count = 0;
    for (const list of this.idle.values()) count += list.length;
    return count;
  }

  /**
   * No new requests from now on (a renewed certificate has a new pool): idle connections close
   * now, busy ones once they have carried their response.
   */
  retire(): void {
    this.retired = true;
    for (const connection of [...this.open]) connection.retire();
    this.idle.clear();
  }

  get isRetired(): boolean {
    return this.retired;
  }

  close(): void {
    this.retired = true;
    for (const connection of [...this.open]) connection.abort();
    this.idle.clear();
  }

  release(connection: UpstreamConnection): void {
    let list = this.idle.get(connection.port);
    if (list === undefined) {
      list = [];
      this.idle.set(connection.port, list);
    }
    const { socket } = connection;
    if (this.retired || list.length >= MAX_IDLE_PER_PORT || socket.destroyed) {
      socket.destroy();
      return;
    }
    // Paused for a slow client whose response then ended in the same read: the next one must flow.
    if (socket.isPaused()) socket.resume();
    list.push(connection);
  }

  forget(connection: UpstreamConnection): void {
    this.open.delete(connection);
    const list = this.idle.get(connection.port);
    if (list === undefined) return;
    const at = list.indexOf(connection);
    if (at !== -1) list.splice(at, 1);
    if (list.length === 0) this.idle.delete(connection.port);
  }

  private opened(port: number): UpstreamConnection {
    const connection = new UpstreamConnection(this, port, this.connect(port));
    this.open.add(connection);
    return connection;
  }
}
