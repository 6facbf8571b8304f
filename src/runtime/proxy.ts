/**
 * The reverse proxy of one stage: it listens on the stage's stable port and sends each request
 * to the instance its routes choose. Routes are one immutable object swapped by reference, so a
 * switch is atomic: each request is routed, and its in-flight count taken, in the same tick.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { connect } from "node:net";
import { forward, replyWithText } from "./forward.js";
import { LOOPBACK, listenOn, listenOnFirstFreePort } from "./ports.js";
import { readRequestHead } from "./forwarding-headers.js";
import { ROUTE_HEADER, chooseRoute } from "./routing.js";
import { TrafficMeter } from "./traffic.js";
import { type MeshTls, type ProxyRecord, type Routes, type StageKey, stageLabel } from "./types.js";
import { MeshClient } from "./mesh-client.js";
import { UpstreamPool } from "./upstream-pool.js";
import { isDeepStrictEqual } from "node:util";

export interface Upstream {
  version: string;
  /** Undefined while the instance cannot take requests */
  port: number | undefined;
  /** Its TLS terminator, for a stage with mutual TLS */
  tlsPort?: number | undefined;
}

/** Undefined for an instance the runtime does not know (any more). */
export type UpstreamLookup = (instanceId: string) => Upstream | undefined;

export class StageProxy {
  readonly meter = new TrafficMeter();
  private routes: Readonly<Routes>;
  private listeningPort: number | null = null;
  private readonly server: Server;
  private readonly pool = new UpstreamPool((port) => connect({ host: LOOPBACK, port }));
  private mesh: MeshClient | null = null;

  constructor(
    readonly key: StageKey,
    routes: Routes,
    private readonly upstream: UpstreamLookup,
    private readonly random: () => number = Math.random,
  ) {
    this.routes = Object.freeze({ ...routes });
    // No request timeout: long uploads and streams are the app's business, not the proxy's.
    this.server = createServer({ requestTimeout: 0 }, (request, response) => this.handle(request, response));
    this.server.on("upgrade", (_request, socket) => {
      socket.end("HTTP/1.1 501 Not Implemented\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    });
  }

  get port(): number {
    if (this.listeningPort === null) throw new Error(`the proxy of ${stageLabel(this.key)} is not listening`);
    return this.listeningPort;
  }

  async listen(port: number): Promise<void> {
    await listenOn(this.server, port);
    this.listeningPort = port;
  }

  async listenOnFirstFree(range: [number, number], reserved: ReadonlySet<number>): Promise<number> {
    this.listeningPort = await listenOnFirstFreePort(this.server, range, reserved);
    return this.listeningPort;
  }

  setRoutes(routes: Routes): void {
    this.routes = Object.freeze({ ...routes });
  }

  /** Mutual TLS to every instance from now on, or plain HTTP again without `tls` */
  setTls(tls: MeshTls | undefined): void {
    if (isDeepStrictEqual(tls, this.mesh?.tls)) return;
    this.mesh?.close();
    this.mesh = tls === undefined ? null : new MeshClient(this.key, tls);
  }

  record(): ProxyRecord {
    return {
      ...this.key,
      port: this.port,
      routes: { ...this.routes },
      ...(this.mesh === null ? {} : { tls: { ...this.mesh.tls } }),
    };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    this.pool.close();
    this.mesh?.close();
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const head = readRequestHead(request.rawHeaders);
    const pinned = head.routePin;
    const choice = chooseRoute(this.routes, pinned, this.random());
    if (choice === null) {
      const which = pinned === undefined ? "" : ` (${ROUTE_HEADER}: ${pinned})`;
      replyWithText(response, 503, `no route: nothing serves ${stageLabel(this.key)}${which}\n`);
      return;
    }
    const upstream = this.upstream(choice.instanceId);
    const tally = this.meter.begin(choice.instanceId, upstream?.version ?? "");
    const port = upstream?.port;
    if (port === undefined) {
      replyWithText(response, 503, `instance ${choice.instanceId} is not running\n`, choice.instanceId);
      tally.finish({ status: 503, upstreamFailed: true });
      return;
    }
    if (this.mesh === null || head.transport === "plain") {
      forward({
        request,
        response,
        instanceId: choice.instanceId,
        port,
        pool: this.pool,
        hasBody: head.hasBody,
        chunked: head.chunked,
        tally,
      });
      return;
    }
    // Mutual TLS or nothing: a stage that requires it never falls back to the plain port.
    const tlsPort = upstream?.tlsPort;
    if (tlsPort === undefined) {
      replyWithText(
        response,
        503,
        `instance ${choice.instanceId} has no TLS terminator, and ${stageLabel(this.key)} requires mutual TLS\n`,
        choice.instanceId,
      );
      tally.finish({ status: 503, upstreamFailed: true });
      return;
    }
    forward({
      request,
      response,
      instanceId: choice.instanceId,
      port: tlsPort,
      pool: this.mesh.pool,
      hasBody: head.hasBody,
      chunked: head.chunked,
      tally,
    });
  }
}
