/**
 * The stage proxy's client side of mutual TLS: an https.Agent that presents the proxy's
 * certificate, trusts only the control plane's mesh CA, and accepts an instance only when its
 * certificate names this stage (the SPIFFE URI, not the host name, is the identity). Keep-alive
 * and the agent's TLS session cache give the reuse and resumption a mesh relies on.
 *
 * The certificate is read again when its file changes (the control plane renews it before it
 * expires): new connections present the new one, while the old agent's open connections finish
 * what they carry and close on their own.
 */
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import { Agent } from "node:https";
import type { PeerCertificate } from "node:tls";
import { peerProblem, uriSans } from "../security/identity.js";
import type { MeshTls, StageKey } from "./types.js";

const CERT_WATCH_INTERVAL_MS = 1_000;

export class MeshClient {
  agent: Agent;
  private readonly onCertificateChange = (): void => {
    this.agent = this.newAgent();
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
      cert: readFileSync(tls.certFile),
      key: readFileSync(tls.keyFile),
      ca: readFileSync(tls.caFile),
      minVersion: "TLSv1.3",
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
