/**
 * The stage proxy's client side of mutual TLS: an https.Agent that presents the proxy's
 * certificate, trusts only the control plane's mesh CA, and accepts an instance only when its
 * certificate names this stage (the SPIFFE URI, not the host name, is the identity). Keep-alive
 * and the agent's TLS session cache give the reuse and resumption a mesh relies on.
 *
 * The certificate, its key and the trust bundle are read again when the certificate file changes
 * (the control plane renews it before it expires, and at each step of a mesh root rotation): new
 * connections present the new one, the old agent's idle connections close at once and its busy
 * ones once they have carried their response. Files that do not make a context (a key that does
 * not fit its certificate) leave the running agent as it was.
 */
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import { Agent } from "node:https";
import { type PeerCertificate, createSecureContext } from "node:tls";
import { errorMessage } from "../errors.js";
import { peerProblem, uriSans } from "../security/identity.js";
import type { MeshTls, StageKey } from "./types.js";

const CERT_WATCH_INTERVAL_MS = 1_000;

export class MeshClient {
  agent: Agent;
  private readonly onCertificateChange = (): void => {
    const previous = this.agent;
    try {
      this.agent = this.newAgent();
    } catch (error) {
      process.emitWarning(
        `the stage proxy of ${this.key.service}/${this.key.stage} kept its previous mesh certificate: ${errorMessage(error)}`,
      );
      return;
    }
    retire(previous);
  };

  constructor(
    private readonly key: StageKey,
    readonly tls: MeshTls,
  ) {
    this.agent = this.newAgent();
    watchFile(
      tls.certFile,
      { interval: CERT_WATCH_INTERVAL_MS, persistent: false },
      this.onCertificateChange,
    );
  }

  close(): void {
    unwatchFile(this.tls.certFile, this.onCertificateChange);
    this.agent.destroy();
  }

  private newAgent(): Agent {
    const { key, tls } = this;
    return new Agent({
      keepAlive: true,
      // One context for every connection, rather than cert, key and ca as options: Node's https
      // agent puts those into the pool key it builds for each request (PEM text turned into a
      // string and hashed every time) and parses them again for each new connection.
      secureContext: createSecureContext({
        cert: readFileSync(tls.certFile),
        key: readFileSync(tls.keyFile),
        ca: readFileSync(tls.caFile),
        minVersion: "TLSv1.3",
      }),
      checkServerIdentity: (_host: string, certificate: PeerCertificate) => {
        const problem = peerProblem(uriSans(certificate.subjectaltname), {
          trustDomain: tls.trustDomain,
          service: key.service,
          stage: key.stage,
          role: "instance",
        });
        return problem === null ? undefined : new Error(`refused the instance's certificate: ${problem}`);
      },
    });
  }
}

/**
 * An agent replaced by a renewal: its idle connections close now, its busy ones once they have
 * carried their response, so the old certificate and trust bundle leave with them.
 */
function retire(agent: Agent): void {
  agent.maxFreeSockets = 0;
  for (const sockets of Object.values(agent.freeSockets)) {
    for (const socket of sockets ?? []) socket.destroy();
  }
}
