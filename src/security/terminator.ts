/**
 * The TLS terminator beside an instance, as a mesh sidecar is beside a pod's app: it takes mutual
 * TLS on its own port, lets in only the stage proxy's certificate from this control plane's mesh
 * CA, and carries each connection's bytes to the app's plain port on 127.0.0.1 and back, one
 * upstream connection per TLS connection (keep-alive stays the client's decision).
 *
 * TLS 1.3 only: both ends are Waybill's, so there is no older client to wait for. Stateless
 * session tickets (Node's default) let the proxy resume a session on a new connection without a
 * full handshake; a resumed session still passes the identity check, as the peer's certificate
 * travels inside the ticket.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { createServer, type SecureContextOptions, type TLSSocket } from "node:tls";
import { peerProblem, uriSans } from "./identity.js";

export interface TerminatorOptions {
  host: "127.0.0.1";
  /** 0 takes any free port */
  port: number;
  upstreamPort: number;
  certFile: string;
  keyFile: string;
  caFile: string;
  allowedPeer: { trustDomain: string; service: string; stage: string; role: "proxy" };
  /** Why a connection was turned away (never with key material), for the process's log */
  onRefused?: (reason: string) => void;
}

export interface TerminatorStats {
  /** Connections let through to the app since the start */
  connections: number;
  /** Connections turned away since the start: failed handshakes and certificates of another peer */
  refused: number;
}

export interface Terminator {
  port: number;
  reload(): Promise<void>;
  close(): Promise<void>;
  stats(): TerminatorStats;
}

/** Ticket keys: 16 bytes of name, 16 of HMAC secret, 16 of AES key */
const TICKET_KEYS_BYTES = 48;
/** As much as libuv offers a plain socket's read, so an answer arrives in as few reads */
const UPSTREAM_READ_BYTES = 64 * 1024;

export async function startTerminator(options: TerminatorOptions): Promise<Terminator> {
  const { allowedPeer, onRefused } = options;
  // Ours rather than OpenSSL's, so the same keys go into every secure context a reload makes:
  // a session ticket issued before a rotation still resumes after it.
  const ticketKeys = randomBytes(TICKET_KEYS_BYTES);
  const stats: TerminatorStats = { connections: 0, refused: 0 };
  const open = new Set<Socket>();
  const upstreamReads = Buffer.allocUnsafe(UPSTREAM_READ_BYTES);
  const refuse = (reason: string): void => {
    stats.refused++;
    onRefused?.(reason);
  };

  const server = createServer({
    ...(await readCredentials(options)),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
    ticketKeys,
    allowHalfOpen: true,
    // Requests and responses are small and already whole when written: Nagle's algorithm would
    // only hold a segment back waiting for the peer's ACK of the previous one.
    noDelay: true,
  });
  // Every TCP connection, handshaken or not, so that close() need not wait for any of them.
  server.on("connection", (socket: Socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
  });
  server.on("tlsClientError", (error, socket) => refuse(handshakeProblem(error, socket)));
  server.on("secureConnection", (client: TLSSocket) => {
    const problem = peerProblem(uriSans(client.getPeerCertificate().subjectaltname), allowedPeer);
    if (problem !== null) {
      refuse(problem);
      client.destroy();
      return;
    }
    stats.connections++;
    splice(client, options.upstreamPort, upstreamReads, open);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string")
    throw new Error("the TLS terminator has no TCP address");

  return {
    port: address.port,
    async reload() {
      // Read whole before anything changes: a file that cannot be read or a key that does not fit
      // its certificate leaves the running context as it was.
      server.setSecureContext({ ...(await readCredentials(options)), ticketKeys });
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      });
    },
    stats: () => ({ ...stats }),
  };
}

/**
 * A certificate that does not verify (another CA, expired) is refused by Node after the
 * handshake with a bare "socket hang up"; the verification's own verdict is the useful part.
 */
function handshakeProblem(error: Error & { reason?: unknown }, socket: TLSSocket): string {
  const verdict: unknown = socket.authorizationError;
  if (verdict !== null && verdict !== undefined)
    return `the peer's certificate did not verify: ${String(verdict)}`;
  return `the TLS handshake failed: ${typeof error.reason === "string" ? error.reason : error.message}`;
}

async function readCredentials(
  options: Pick<TerminatorOptions, "certFile" | "keyFile" | "caFile">,
): Promise<Required<Pick<SecureContextOptions, "cert" | "key" | "ca">>> {
  const [cert, key, ca] = await Promise.all([
    readFile(options.certFile),
    readFile(options.keyFile),
    readFile(options.caFile),
  ]);
  return { cert, key, ca };
}

/**
 * Each side's bytes go to the other, with backpressure and half-close passed through; once
 * either side is fully closed or fails, both go.
 *
 * The app's side reads into `reads`, one buffer for all of a terminator's connections (`onread`):
 * no allocation per read and none of the readable stream's per-chunk work (part of the Node
 * machinery that makes this hop dearer than nginx's). Sharing it is safe because each read is handed on before the
 * next read of any socket can land in it: the TLS socket gets a copy of the bytes, as a write it
 * cannot take at once waits in its queue.
 */
function splice(client: TLSSocket, upstreamPort: number, reads: Buffer, open: Set<Socket>): void {
  const upstream = connect({
    host: "127.0.0.1",
    port: upstreamPort,
    allowHalfOpen: true,
    noDelay: true,
    onread: {
      buffer: reads,
      // false pauses the app's socket until the TLS socket drains
      callback: (bytes, buffer) => client.write(Buffer.from(buffer.subarray(0, bytes))),
    },
  });
  open.add(upstream);
  const closeBoth = (): void => {
    client.destroy();
    upstream.destroy();
    open.delete(upstream);
  };
  for (const socket of [client, upstream]) {
    socket.on("error", closeBoth);
    socket.on("close", closeBoth);
  }
  client.on("data", (chunk: Buffer) => {
    if (!upstream.write(chunk)) client.pause();
  });
  upstream.on("drain", () => client.resume());
  client.on("drain", () => upstream.resume());
  client.on("end", () => upstream.end());
  upstream.on("end", () => client.end());
}
