/**
 * The certificates of a local stage with `security.mtls`: one for the stage proxy (its client
 * side) and one per instance (its terminator's server side), issued by the control plane's mesh
 * CA and written where each side reads them: PEM files, the keys 0600 and owned by whoever
 * presents them (the app user for an instance). Certificates are short-lived; `renewDue` issues
 * new ones once two thirds of a lifetime has passed, and each side picks the new files up for
 * its next handshakes without dropping a connection.
 *
 * `renewDue` also moves a rotation of the mesh root along (see `security/ca.ts`): after each
 * step every holder whose trust bundle or signer is out of date is issued anew, which is what
 * makes both sides read the bundle again (they reload when the certificate file changes).
 *
 * The holders are known only to the control plane that issued to them; the next one, after a
 * restart, takes them back from the runtime's records (`adopt`), or they would expire.
 */
import { X509Certificate } from "node:crypto";
import { chown, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { UserError, errorMessage } from "../errors.js";
import { parseDuration } from "../spec/units.js";
import type { MeshCa, MeshCaOptions } from "../security/ca.js";
import { renewalDue } from "../security/ca.js";
import type { MeshIdentity } from "../security/identity.js";
import type { AppUser } from "../runtime/app-user.js";
import type { MeshTls, StageKey } from "../runtime/types.js";

/** Checked this often at most; a renewal is due long before a certificate expires */
const RENEWAL_CHECK_MS = 10 * 60_000;
/** Checks per lifetime at least, so a short-lived certificate's renewal is not missed */
const CHECKS_PER_LIFETIME = 6;
const SECOND_MS = 1_000;

interface Holder {
  identity: MeshIdentity;
  dir: string;
  owner: AppUser | undefined;
}

/** The mesh's clocks: the defaults (a day per certificate, ten years per root) suit production. */
export interface MeshSettings extends MeshCaOptions {
  /**
   * How long a new root is only trusted before it signs: long enough for every holder to have
   * been issued the new bundle and both sides to have reloaded it (they look every second).
   */
  rootSettleMs?: number;
}

/** A certificate a previous control plane issued, as the runtime's records name it */
export type IssuedHolder = { key: StageKey; tls: MeshTls } & (
  { role: "proxy" } | { role: "instance"; instanceId: string; owner: AppUser | undefined }
);

const ENV_SETTINGS = [
  ["WAYBILL_MESH_CERT_TTL", "leafTtlMs", 10 * SECOND_MS],
  ["WAYBILL_MESH_ROOT_TTL", "rootLifetimeMs", 60 * SECOND_MS],
  ["WAYBILL_MESH_ROOT_SETTLE", "rootSettleMs", SECOND_MS],
] as const;

/**
 * Shorter clocks from the environment, to watch renewal and root rotation happen (tests, drills):
 * `WAYBILL_MESH_CERT_TTL`, `WAYBILL_MESH_ROOT_TTL` (a root made from then on) and
 * `WAYBILL_MESH_ROOT_SETTLE`, each a duration such as 45s. Read before anything starts.
 */
export function meshSettingsFromEnv(env: Record<string, string | undefined>): MeshSettings {
  const settings: MeshSettings = {};
  for (const [name, field, least] of ENV_SETTINGS) {
    const text = env[name]?.trim();
    if (text === undefined || text === "") continue;
    let ms: number;
    try {
      ms = parseDuration(text);
    } catch (error) {
      throw new UserError(`${name}: ${errorMessage(error)}`);
    }
    if (ms < least) throw new UserError(`${name} is ${text}: it must be at least ${least / SECOND_MS}s`);
    settings[field] = ms;
  }
  const { leafTtlMs, rootLifetimeMs } = settings;
  if (leafTtlMs !== undefined && rootLifetimeMs !== undefined && rootLifetimeMs < 3 * leafTtlMs) {
    throw new UserError(
      "WAYBILL_MESH_ROOT_TTL must be at least three times WAYBILL_MESH_CERT_TTL: a root outlives the certificates it signs",
    );
  }
  return settings;
}

export class MeshCertificates {
  private ca: Promise<MeshCa> | null = null;
  /** By certificate file: every certificate issued here, for renewal */
  private readonly holders = new Map<string, Holder>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly openCa: () => Promise<MeshCa>,
    private readonly onError: (error: unknown) => void,
    private readonly options: MeshSettings = {},
  ) {
    const checkMs =
      options.leafTtlMs === undefined
        ? RENEWAL_CHECK_MS
        : Math.max(SECOND_MS, Math.min(RENEWAL_CHECK_MS, options.leafTtlMs / CHECKS_PER_LIFETIME));
    this.timer = setInterval(() => void this.renewDue().catch(this.onError), checkMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** The stage proxy's certificate, issued into `dir` */
  async forProxy(key: StageKey, dir: string): Promise<MeshTls> {
    const ca = await this.meshCa();
    const identity: MeshIdentity = { trustDomain: ca.trustDomain, ...key, role: "proxy" };
    return this.issueInto({ identity, dir, owner: undefined });
  }

  /** An instance's certificate, issued into `dir` and given to the user the instance runs as */
  async forInstance(
    key: StageKey,
    instanceId: string,
    dir: string,
    owner: AppUser | undefined,
  ): Promise<MeshTls> {
    const ca = await this.meshCa();
    const identity: MeshIdentity = { trustDomain: ca.trustDomain, ...key, role: "instance", instanceId };
    return this.issueInto({ identity, dir, owner });
  }

  /**
   * After a restart: renews from now on the certificates a previous control plane issued (every
   * instance that kept running, its stage's proxy) as if issued here, and at once those that are
   * due, whose bundle is stale, or whose files are gone. Each side picks the new files up for its
   * next handshakes. Returns how many were issued anew.
   */
  async adopt(holders: readonly IssuedHolder[], now: Date = new Date()): Promise<number> {
    const ca = await this.meshCa();
    let missing = 0;
    for (const holder of holders) {
      const dir = dirname(holder.tls.certFile);
      if (basename(holder.tls.certFile) !== "cert.pem" || dirname(holder.tls.keyFile) !== dir) {
        this.onError(
          new Error(
            `${holder.key.service}/${holder.key.stage}: the mesh certificate at ${holder.tls.certFile} was not issued by this control plane's layout, so it is not renewed`,
          ),
        );
        continue;
      }
      const identity: MeshIdentity =
        holder.role === "proxy"
          ? { trustDomain: ca.trustDomain, ...holder.key, role: "proxy" }
          : { trustDomain: ca.trustDomain, ...holder.key, role: "instance", instanceId: holder.instanceId };
      const taken: Holder = { identity, dir, owner: holder.role === "proxy" ? undefined : holder.owner };
      const present = await Promise.all(
        [holder.tls.certFile, holder.tls.keyFile, holder.tls.caFile].map((file) =>
          readFile(file).then(
            () => true,
            () => false,
          ),
        ),
      );
      if (present.every(Boolean)) {
        this.holders.set(holder.tls.certFile, taken);
        continue;
      }
      await this.issueInto(taken);
      missing++;
    }
    return missing + (await this.renewDue(now));
  }

  /**
   * Takes the next step of a root rotation if one is due, then issues again every certificate
   * past two thirds of its lifetime, signed by a root that no longer signs, or beside a trust
   * bundle that is not the CA's.
   */
  async renewDue(now: Date = new Date()): Promise<number> {
    const ca = await this.meshCa();
    await ca.advanceRootRotation(now, { settleMs: this.options.rootSettleMs });
    return this.reissueStale(ca, now);
  }

  /** Starts a rotation of the mesh root now (a new root joins every holder's trust bundle). */
  async rotateRoot(now: Date = new Date()): Promise<{ started: boolean; renewed: number }> {
    const ca = await this.meshCa();
    const started = await ca.beginRootRotation(now);
    return { started, renewed: await this.reissueStale(ca, now) };
  }

  private async reissueStale(ca: MeshCa, now: Date): Promise<number> {
    let renewed = 0;
    for (const [certFile, holder] of [...this.holders]) {
      let certPem: Buffer;
      let bundle: string;
      try {
        certPem = await readFile(certFile);
        bundle = await readFile(join(holder.dir, "ca.pem"), "utf8");
      } catch {
        // Its holder is gone (an instance stopped, its folder removed): nothing to renew.
        this.holders.delete(certFile);
        continue;
      }
      const certificate = new X509Certificate(certPem);
      const lifetime = {
        notBefore: new Date(certificate.validFrom),
        notAfter: new Date(certificate.validTo),
      };
      const stale = bundle !== ca.caPem || !ca.signedByCurrentRoot(certPem);
      if (!stale && !renewalDue(lifetime, now)) continue;
      await this.issueInto(holder);
      renewed++;
    }
    return renewed;
  }

  private meshCa(): Promise<MeshCa> {
    this.ca ??= this.openCa();
    return this.ca;
  }

  private async issueInto(holder: Holder): Promise<MeshTls> {
    const ca = await this.meshCa();
    const issued = await ca.issue(holder.identity);
    const files: MeshTls = {
      certFile: join(holder.dir, "cert.pem"),
      keyFile: join(holder.dir, "key.pem"),
      caFile: join(holder.dir, "ca.pem"),
      trustDomain: ca.trustDomain,
    };
    await mkdir(holder.dir, { recursive: true, mode: 0o700 });
    if (holder.owner !== undefined) await chown(holder.dir, holder.owner.uid, holder.owner.gid);
    // The key first and the certificate last: a side that sees the new certificate finds its key.
    await writeOwned(files.caFile, ca.caPem, holder.owner);
    await writeOwned(files.keyFile, issued.keyPem, holder.owner);
    await writeOwned(files.certFile, issued.certPem, holder.owner);
    this.holders.set(files.certFile, holder);
    return files;
  }
}

/** Whole or not at all: written beside, then renamed over, so no reader sees half a PEM. */
async function writeOwned(file: string, content: string, owner: AppUser | undefined): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, content, { mode: 0o600 });
  if (owner !== undefined) await chown(temporary, owner.uid, owner.gid);
  await rename(temporary, file);
}
