/**
 * The stage proxy's client side of mutual TLS: a pool of the proxy's upstream client
 * (`upstream-pool.ts`) whose connections present the proxy's certificate, trust only the control
 * plane's mesh CA, and accept an instance only when its certificate names this stage (the SPIFFE
 * URI, not the host name, is the identity). Kept-alive connections, and a TLS session kept per
 * instance port for the next connection to resume, give the reuse and resumption a mesh relies on.
 *
 * The certificate, its key and the trust bundle are read again when the certificate file changes
 * (the control plane renews it before it expires, and at each step of a mesh root rotation): new
 * connections present the new one, the old pool's idle connections close at once and its busy
 * ones once they have carried their response. Files that do not make a context (a key that does
 * not fit its certificate) leave the running pool as it was.
 */
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import { type PeerCertificate, connect, createSecureContext } from "node:tls";
import { errorMessage } from "../errors.js";
import { peerProblem, uriSans } from "../security/identity.js";
import { LOOPBACK } from "./ports.js";
import type { MeshTls, StageKey } from "./types.js";
import { UpstreamPool } from "./upstream-pool.js";

const CERT_WATCH_INTERVAL_MS = 1_000;

export class MeshClient {
  pool: UpstreamPool;
  private readonly onCertificateChange = (): void => {
    const previous = this.pool;
    try {
      this.pool = this.newPool();
    } catch (error) {
      process.emitWarning(
        `the stage proxy of ${this.key.service}/${this.key.stage} kept its previous mesh certificate: ${errorMessage(error)}`,
      );
      return;
    }
    previous.retire();
  };

  constructor(
    private readonly key: StageKey,
    readonly tls: MeshTls,
  ) {
    this.pool = this.newPool();
    watchFile(
      tls.certFile,
      { interval: CERT_WATCH_INTERVAL_MS, persistent: false },
      this.onCertificateChange,
    );
  }

  close(): void {
    unwatchFile(this.tls.certFile, this.onCertificateChange);
    this.pool.close();
  }

  private newPool(): UpstreamPool {
    const { key, tls } = this;
    // One context for every connection, parsed once, rather than cert, key and ca per connection.
    const secureContext = createSecureContext({
      cert: readFileSync(tls.certFile),
      key: readFileSync(tls.keyFile),
      ca: readFileSync(tls.caFile),
      minVersion: "TLSv1.3",
    });
    const checkServerIdentity = (_host: string, certificate: PeerCertificate): Error | undefined => {
      const problem = peerProblem(uriSans(certificate.subjectaltname), {
        trustDomain: tls.trustDomain,
        service: key.service,
        stage: key.stage,
        role: "instance",
      });
      return problem === null ? undefined : new Error(`refused the instance's certificate: ${problem}`);
    };
    // The newest ticket per instance port; a new pool (a new certificate) starts without, so
    // every connection after a renewal makes a full handshake with the new certificate.
    const sessions = new Map<number, Buffer>();
    return new UpstreamPool((port) => {
      const socket = connect({
        host: LOOPBACK,
        port,
        secureContext,
        checkServerIdentity,
        session: sessions.get(port),
      });
      socket.on("session", (session: Buffer) => sessions.set(port, session));
      // As node's https agent does: a session that went with a failure is not offered again.
      socket.once("error", () => sessions.delete(port));
      return socket;
    });
  }
}
