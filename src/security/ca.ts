/**
 * The mesh CA: an ECDSA P-256 root per control plane, kept in its keys folder, that issues the
 * short-lived certificates the stage proxies and the instances' TLS terminators present to each
 * other. A root's key never leaves its `.key` file (0600) and this process's memory; no message
 * here carries key material.
 *
 * The root is rotated before it expires without a handshake failing, in three steps a periodic
 * `advanceRootRotation` takes one at a time:
 *   introduced  a new root joins the trust bundle (`caPem`), but does not sign yet, so every side
 *               can learn to trust it before any peer presents a certificate it signed;
 *   activated   once the bundle has had time to reach every side, the new root signs and the old
 *               one stops signing, staying in the bundle (its key deleted);
 *   retired     the old root leaves the bundle once the last certificate it signed has expired.
 * Which roots there are and which one signs is one manifest, `mesh-ca-roots.json`, replaced whole:
 * each step is that one rename, after the files it names are written, so a kill at any moment
 * leaves the previous step or the next. A folder without a manifest is a CA that never rotated:
 * its one root is `mesh-ca.key`/`mesh-ca.pem`.
 */
import {
  X509Certificate as NodeCertificate,
  createPrivateKey,
  createPublicKey,
  randomBytes,
} from "node:crypto";
import type { webcrypto } from "node:crypto";
import { link, mkdir, open, readFile, readdir, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { errorMessage } from "../errors.js";
import { isTrustDomain, spiffeUri, uriSans, type MeshIdentity } from "./identity.js";
import { loadX509, type X509Library } from "./x509.js";
import { processExists } from "../exec/process-exists.js";

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
  uri: string;
}

/** The first root's files (a CA that never rotated has only these); a later root's are `mesh-ca-<id>.*` */
const FIRST_ROOT = "mesh-ca";
const KEY_FILE = `${FIRST_ROOT}.key`;
const CERT_FILE = `${FIRST_ROOT}.pem`;
const MANIFEST_FILE = "mesh-ca-roots.json";
const ROOT_FILE = /^(mesh-ca-[0-9a-f]{16})\.(?:key|pem)$/;
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DEFAULT_TTL_MS = 24 * HOUR_MS;
/** A root outlives every certificate it issues by far; it is rotated two thirds into its life */
const ROOT_LIFETIME_MS = 10 * 365 * 24 * HOUR_MS;
/** Back-dating, so a peer whose clock runs a little behind still takes a certificate issued just now */
const CLOCK_SKEW_MS = 5 * MINUTE_MS;
const KEY_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" } as const;
const ABANDONED_TEMPORARY = /^mesh-ca(?:-[0-9a-f]{16}|-roots)?\.(?:key|pem|json)\.(\d+)\.[0-9a-f]+\.tmp$/;
/** How long a new root sits in the bundle before it signs, unless the caller says otherwise */
const DEFAULT_SETTLE_MS = HOUR_MS;

const manifestSchema = z.object({
  signing: z.string().regex(/^mesh-ca(?:-[0-9a-f]{16})?$/),
  roots: z
    .array(
      z.object({
        name: z.string().regex(/^mesh-ca(?:-[0-9a-f]{16})?$/),
        introducedAt: z.number().int().nonnegative(),
        /** The latest notAfter among the certificates it signed (ms since the epoch) */
        leavesUntil: z.number().int().nonnegative(),
      }),
    )
    .min(1),
});
type Manifest = z.infer<typeof manifestSchema>;

/** One step of a root rotation, as `advanceRootRotation` took it */
export type RootRotationStep = "introduced" | "activated" | "retired";

export interface MeshRoot {
  /** SHA-256 of the certificate, as `openssl x509 -fingerprint -sha256` prints it */
  fingerprint: string;
  state: "signing" | "next" | "retiring";
  notAfter: Date;
  /** When a retiring root leaves the bundle: its last certificate's expiry, plus the clock skew */
  retireAfter: Date | null;
}

interface Root {
  name: string;
  pem: string;
  certificate: NodeCertificate;
  /** Present for the signing root and the next one; a retiring root's key is deleted */
  signingKey: webcrypto.CryptoKey | null;
}

/**
 * Past two thirds of its lifetime, a certificate is issued anew, leaving a third for retries. The
 * lifetime counts from when it was issued, not from its back-dated notBefore: otherwise a
 * certificate shorter than three times the back-dating would be due the moment it is issued.
 */
export function renewalDue(cert: { notBefore: Date; notAfter: Date }, now: Date): boolean {
  const end = cert.notAfter.getTime();
  const issued = Math.min(cert.notBefore.getTime() + CLOCK_SKEW_MS, end);
  return now.getTime() >= issued + ((end - issued) * 2) / 3;
}

export interface MeshCaOptions {
  /**
   * How long a root made from now on lives (default ten years); it is rotated two thirds into
   * its life. Shorter only to watch a rotation happen (tests).
   */
  rootLifetimeMs?: number;
  /** How long a leaf certificate lives unless `issue` is told otherwise (default a day) */
  leafTtlMs?: number;
}

export class MeshCa {
  /** Manifest changes, one at a time */
  private changing: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly x509: X509Library,
    private readonly keysDir: string,
    private manifest: Manifest,
    private readonly loaded: Map<string, Root>,
    readonly trustDomain: string,
    private readonly rootLifetimeMs: number,
    private readonly leafTtlMs: number,
  ) {}

  /**
   * The CA kept in `keysDir`, created there on the first call. Each file appears whole or not
   * at all, so a kill at any point leaves either no root or a usable one.
   */
  static async open(keysDir: string, trustDomain: string, options: MeshCaOptions = {}): Promise<MeshCa> {
    if (!isTrustDomain(trustDomain)) throw new Error(`"${trustDomain}" is not a SPIFFE trust domain`);
    const rootLifetimeMs = positiveMs(options.rootLifetimeMs ?? ROOT_LIFETIME_MS, "a mesh root's lifetime");
    const leafTtlMs = positiveMs(options.leafTtlMs ?? DEFAULT_TTL_MS, "a mesh certificate's lifetime");
    const x509 = await loadX509();
    await mkdir(keysDir, { recursive: true, mode: 0o700 });
    await removeAbandonedTemporaries(keysDir);
    const manifest = await readManifest(keysDir);
    if (manifest === null) {
      const first = await openFirstRoot(x509, keysDir, trustDomain, rootLifetimeMs);
      // Certificates the first root signed before this manifest existed were a day long at most.
      const implied: Manifest = {
        signing: FIRST_ROOT,
        roots: [
          {
            name: FIRST_ROOT,
            introducedAt: 0,
            leavesUntil: Date.now() + Math.max(DEFAULT_TTL_MS, leafTtlMs),
          },
        ],
      };
      return new MeshCa(
        x509,
        keysDir,
        implied,
        new Map([[FIRST_ROOT, first]]),
        trustDomain,
        rootLifetimeMs,
        leafTtlMs,
      );
    }
    const loaded = new Map<string, Root>();
    const signingAt = manifest.roots.findIndex((root) => root.name === manifest.signing);
    for (const [index, { name }] of manifest.roots.entries()) {
      loaded.set(name, await loadRoot(keysDir, name, trustDomain, index >= signingAt));
    }
    const ca = new MeshCa(x509, keysDir, manifest, loaded, trustDomain, rootLifetimeMs, leafTtlMs);
    await ca.deleteRetiredKeys();
    return ca;
  }

  /** The trust bundle: every root a peer's certificate may be signed by, PEM */
  get caPem(): string {
    return this.manifest.roots.map((root) => `${this.root(root.name).pem.trim()}\n`).join("");
  }

  roots(): MeshRoot[] {
    const signingAt = this.signingIndex();
    return this.manifest.roots.map((entry, index) => {
      const { certificate } = this.root(entry.name);
      const state = index === signingAt ? "signing" : index < signingAt ? "retiring" : "next";
      return {
        fingerprint: certificate.fingerprint256,
        state,
        notAfter: new Date(certificate.validTo),
        retireAfter: state === "retiring" ? new Date(entry.leavesUntil + CLOCK_SKEW_MS) : null,
      };
    });
  }

  /** Whether a certificate was signed by the root that signs now */
  signedByCurrentRoot(certPem: string | Buffer): boolean {
    try {
      return new NodeCertificate(certPem).verify(this.root(this.manifest.signing).certificate.publicKey);
    } catch {
      return false;
    }
  }

  /**
   * Starts a rotation now, whatever the signing root's age: a new root joins the bundle. False
   * when one is under way already (a root waits to sign, or an old one to leave).
   */
  async beginRootRotation(now: Date = new Date()): Promise<boolean> {
    return this.change(async () => {
      if (this.manifest.roots.length > 1) return false;
      await this.introduce(now);
      return true;
    });
  }

  /**
   * Takes the next step of a rotation, if one is due: retires an old root whose certificates
   * have all expired, lets a new root sign once `settleMs` has passed since it joined the bundle,
   * or starts a rotation once the signing root is two thirds through its life.
   */
  async advanceRootRotation(
    now: Date = new Date(),
    { settleMs = DEFAULT_SETTLE_MS }: { settleMs?: number } = {},
  ): Promise<RootRotationStep | null> {
    return this.change(async () => {
      const at = now.getTime();
      const signingAt = this.signingIndex();
      const retired = this.manifest.roots.filter(
        (root, index) => index < signingAt && root.leavesUntil + CLOCK_SKEW_MS <= at,
      );
      if (retired.length > 0) {
        await this.commit({
          ...this.manifest,
          roots: this.manifest.roots.filter((root) => !retired.includes(root)),
        });
        for (const { name } of retired) {
          this.loaded.delete(name);
          await removeRootFiles(this.keysDir, name);
        }
        return "retired";
      }
      const next = this.manifest.roots[signingAt + 1];
      if (next !== undefined) {
        if (at < next.introducedAt + settleMs) return null;
        await this.commit({ ...this.manifest, signing: next.name });
        await this.deleteRetiredKeys();
        return "activated";
      }
      if (this.manifest.roots.length > 1) return null;
      const { certificate } = this.root(this.manifest.signing);
      const life = { notBefore: new Date(certificate.validFrom), notAfter: new Date(certificate.validTo) };
      if (!renewalDue(life, now)) return null;
      await this.introduce(now);
      return "introduced";
    });
  }

  async issue(
    identity: MeshIdentity,
    options: { ttlMs?: number; now?: Date } = {},
  ): Promise<IssuedCertificate> {
    if (identity.trustDomain !== this.trustDomain) {
      throw new Error(
        `this mesh CA issues for trust domain ${this.trustDomain}, not ${identity.trustDomain}`,
      );
    }
    const ttlMs = options.ttlMs ?? this.leafTtlMs;
    if (!Number.isFinite(ttlMs) || ttlMs <= 0)
      throw new Error(`a certificate's lifetime must be positive, got ${ttlMs} ms`);
    const uri = spiffeUri(identity);
    const now = (options.now ?? new Date()).getTime();
    const { x509 } = this;
    // Taken once: a certificate signed while the root changes is recorded against its signer.
    const signer = this.root(this.manifest.signing);
    const signerKey = signer.signingKey;
    if (signerKey === null) throw new Error(`the signing mesh root ${signer.name} has no key`);
    const issuer = new x509.X509Certificate(signer.pem);
    const keys = await newKeyPair();
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: [{ CN: [leafCommonName(identity)] }],
      issuer: issuer.subjectName,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + ttlMs),
      publicKey: keys.publicKey,
      signingKey: signerKey,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([
          x509.ExtendedKeyUsage.serverAuth,
          x509.ExtendedKeyUsage.clientAuth,
        ]),
        new x509.SubjectAlternativeNameExtension([
          { type: "url", value: uri },
          { type: "dns", value: "localhost" },
          { type: "ip", value: "127.0.0.1" },
        ]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey),
      ],
    });
    const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
    // Recorded before the certificate is handed out: its root stays trusted until it expires.
    await this.recordLeaf(signer.name, certificate.notAfter.getTime());
    return {
      certPem: certificate.toString("pem"),
      keyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"),
      notBefore: certificate.notBefore,
      notAfter: certificate.notAfter,
      uri,
    };
  }

  private root(name: string): Root {
    const root = this.loaded.get(name);
    if (root === undefined) throw new Error(`the mesh CA in ${this.keysDir} lost its root ${name}`);
    return root;
  }

  private signingIndex(): number {
    return this.manifest.roots.findIndex((root) => root.name === this.manifest.signing);
  }

  private change<T>(work: () => Promise<T>): Promise<T> {
    const result = this.changing.then(work);
    this.changing = result.catch(() => undefined);
    return result;
  }

  private async commit(manifest: Manifest): Promise<void> {
    await writeWhole(
      join(this.keysDir, MANIFEST_FILE),
      `${JSON.stringify(manifest, null, 2)}\n`,
      0o644,
      "replace",
    );
    this.manifest = manifest;
  }

  private recordLeaf(name: string, notAfter: number): Promise<void> {
    return this.change(async () => {
      const roots = this.manifest.roots.map((root) =>
        root.name === name && root.leavesUntil < notAfter ? { ...root, leavesUntil: notAfter } : root,
      );
      if (roots.some((root, index) => root !== this.manifest.roots[index]))
        await this.commit({ ...this.manifest, roots });
    });
  }

  /** A new root, its files written whole before the manifest names it */
  private async introduce(now: Date): Promise<void> {
    await removeUnlistedRoots(this.keysDir, this.manifest);
    const name = `${FIRST_ROOT}-${randomBytes(8).toString("hex")}`;
    const keyPem = await newRootKeyPem();
    await writeWhole(join(this.keysDir, `${name}.key`), keyPem, 0o600, "only-if-absent");
    const signingKey = await importSigningKey(keyPem, this.keysDir, `${name}.key`);
    const pem = await selfSignRoot(this.x509, keyPem, signingKey, this.trustDomain, {
      now: now.getTime(),
      lifetimeMs: this.rootLifetimeMs,
    });
    await writeWhole(join(this.keysDir, `${name}.pem`), pem, 0o644, "replace");
    this.loaded.set(name, { name, pem, certificate: new NodeCertificate(pem), signingKey });
    await this.commit({
      ...this.manifest,
      roots: [...this.manifest.roots, { name, introducedAt: now.getTime(), leavesUntil: 0 }],
    });
  }

  /** A root that no longer signs needs no key: it is deleted (again, after a kill) */
  private async deleteRetiredKeys(): Promise<void> {
    const signingAt = this.signingIndex();
    for (const [index, { name }] of this.manifest.roots.entries()) {
      if (index >= signingAt) continue;
      const root = this.loaded.get(name);
      if (root !== undefined) root.signingKey = null;
      await unlink(join(this.keysDir, `${name}.key`)).catch(ignoreMissing);
    }
  }
}

function positiveMs(value: number, what: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${what} must be positive, got ${value} ms`);
  return value;
}

/** Subjects are for people reading a certificate; peers go by the URI SAN alone. */
function leafCommonName(identity: MeshIdentity): string {
  const who = identity.role === "proxy" ? "proxy" : `instance ${identity.instanceId ?? ""}`;
  return `${identity.service}/${identity.stage} ${who}`.slice(0, 64);
}

async function newKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  // Node types generateKey's result as a key or a pair, whatever the algorithm; ECDSA gives a pair.
  return (await crypto.subtle.generateKey(KEY_ALGORITHM, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
}

/** 128 random bits, positive and without a leading zero byte, as X.509 asks of a serial */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString("hex");
}

async function newRootKeyPem(): Promise<string> {
  const keys = await newKeyPair();
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" })
    .export({ type: "pkcs8", format: "pem" })
    .toString();
}

/** The root of a CA that never rotated, created on the first open */
async function openFirstRoot(
  x509: X509Library,
  keysDir: string,
  trustDomain: string,
  lifetimeMs: number,
): Promise<Root> {
  const keyFile = join(keysDir, KEY_FILE);
  const certFile = join(keysDir, CERT_FILE);
  let keyPem = await readIfPresent(keyFile);
  let rootPem = keyPem === null ? null : await readIfPresent(certFile);
  if (keyPem === null) {
    const created = await createRootKey(keyFile);
    keyPem = created.keyPem;
    // Another process opening the same folder at the same moment won; its certificate may follow.
    if (!created.ours) rootPem = await readIfPresent(certFile);
  }
  const signingKey = await importSigningKey(keyPem, keysDir, KEY_FILE);
  if (rootPem === null) {
    rootPem = await selfSignRoot(x509, keyPem, signingKey, trustDomain, { now: Date.now(), lifetimeMs });
    await writeWhole(certFile, rootPem, 0o644, "replace");
  }
  checkRootKey(rootPem, keyPem, keysDir, FIRST_ROOT);
  checkRootDomain(rootPem, keysDir, trustDomain);
  return { name: FIRST_ROOT, pem: rootPem, certificate: new NodeCertificate(rootPem), signingKey };
}

/** A root the manifest names; `withKey` for the signing root and the next one */
async function loadRoot(keysDir: string, name: string, trustDomain: string, withKey: boolean): Promise<Root> {
  const pem = await readIfPresent(join(keysDir, `${name}.pem`));
  const keyPem = withKey ? await readIfPresent(join(keysDir, `${name}.key`)) : null;
  if (pem === null || (withKey && keyPem === null)) {
    throw new Error(
      `the mesh CA in ${keysDir} is damaged: ${MANIFEST_FILE} names the root ${name}, whose ` +
        `${pem === null ? `${name}.pem` : `${name}.key`} is missing`,
    );
  }
  checkRootDomain(pem, keysDir, trustDomain);
  if (keyPem === null) return { name, pem, certificate: new NodeCertificate(pem), signingKey: null };
  checkRootKey(pem, keyPem, keysDir, name);
  const signingKey = await importSigningKey(keyPem, keysDir, `${name}.key`);
  return { name, pem, certificate: new NodeCertificate(pem), signingKey };
}

async function readManifest(keysDir: string): Promise<Manifest | null> {
  const text = await readIfPresent(join(keysDir, MANIFEST_FILE));
  if (text === null) return null;
  let parsed: Manifest;
  try {
    parsed = manifestSchema.parse(JSON.parse(text));
  } catch (error) {
    throw new Error(
      `the mesh CA in ${keysDir} is damaged: ${MANIFEST_FILE} does not parse (${errorMessage(error)})`,
    );
  }
  if (!parsed.roots.some((root) => root.name === parsed.signing)) {
    throw new Error(
      `the mesh CA in ${keysDir} is damaged: ${MANIFEST_FILE} signs with ${parsed.signing}, which it does not list`,
    );
  }
  return parsed;
}

/** Files of a root a killed rotation wrote but never listed, and of one it retired */
async function removeUnlistedRoots(keysDir: string, manifest: Manifest): Promise<void> {
  const listed = new Set(manifest.roots.map((root) => root.name));
  for (const file of await readdir(keysDir)) {
    const name = ROOT_FILE.exec(file)?.[1];
    if (name !== undefined && !listed.has(name)) await unlink(join(keysDir, file)).catch(ignoreMissing);
  }
}

async function removeRootFiles(keysDir: string, name: string): Promise<void> {
  for (const suffix of [".key", ".pem"]) await unlink(join(keysDir, `${name}${suffix}`)).catch(ignoreMissing);
}

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
}

async function createRootKey(keyFile: string): Promise<{ keyPem: string; ours: boolean }> {
  const keyPem = await newRootKeyPem();
  if (await writeWhole(keyFile, keyPem, 0o600, "only-if-absent")) return { keyPem, ours: true };
  const theirs = await readIfPresent(keyFile);
  if (theirs === null)
    throw new Error(`the mesh CA key ${keyFile} appeared and vanished while it was being created`);
  return { keyPem: theirs, ours: false };
}

async function importSigningKey(keyPem: string, keysDir: string, file: string): Promise<webcrypto.CryptoKey> {
  try {
    const pkcs8 = createPrivateKey(keyPem).export({ type: "pkcs8", format: "der" });
    return await crypto.subtle.importKey("pkcs8", pkcs8, KEY_ALGORITHM, false, ["sign"]);
  } catch (error) {
    throw new Error(`cannot use the mesh CA key in ${keysDir} (${file}): ${errorMessage(error)}`);
  }
}

async function selfSignRoot(
  x509: X509Library,
  keyPem: string,
  signingKey: webcrypto.CryptoKey,
  trustDomain: string,
  { now, lifetimeMs }: { now: number; lifetimeMs: number },
): Promise<string> {
  const publicKey = await crypto.subtle.importKey(
    "spki",
    createPublicKey(keyPem).export({ type: "spki", format: "der" }),
    KEY_ALGORITHM,
    true,
    ["verify"],
  );
  const serialNumber = randomSerial();
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber,
    name: [{ CN: [`Waybill mesh CA ${serialNumber.slice(0, 12)}`] }],
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + lifetimeMs),
    keys: { publicKey, privateKey: signingKey },
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: `spiffe://${trustDomain}` }]),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
  return `${root.toString("pem").trim()}\n`;
}

/** A root that does not go with its key is refused whole. */
function checkRootKey(rootPem: string, keyPem: string, keysDir: string, name: string): void {
  const root = new NodeCertificate(rootPem);
  const rootSpki = root.publicKey.export({ type: "spki", format: "der" });
  if (!rootSpki.equals(createPublicKey(keyPem).export({ type: "spki", format: "der" }))) {
    throw new Error(
      `the mesh CA in ${keysDir} is damaged: ${name}.pem does not go with ${name}.key; ` +
        "remove the folder's mesh-ca files to start a new CA (every mesh certificate is then issued anew)",
    );
  }
}

/** Each control plane keeps a CA of its own: a root of another trust domain is refused. */
function checkRootDomain(rootPem: string, keysDir: string, trustDomain: string): void {
  const root = new NodeCertificate(rootPem);
  const domains = uriSans(root.subjectAltName);
  if (!domains.includes(`spiffe://${trustDomain}`)) {
    throw new Error(
      `the mesh CA in ${keysDir} belongs to ${domains.join(", ") || "no trust domain"}, not spiffe://${trustDomain}; ` +
        "each control plane keeps a CA of its own",
    );
  }
}

async function readIfPresent(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/**
 * Written beside and then renamed (or, for a file that must not be replaced, hard-linked) into
 * place, after an fsync: a reader never sees half a file.
 */
async function writeWhole(
  file: string,
  content: string,
  mode: number,
  how: "replace" | "only-if-absent",
): Promise<boolean> {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const handle = await open(temporary, "wx", mode);
  try {
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (how === "replace") {
      await rename(temporary, file);
      return true;
    }
    try {
      await link(temporary, file);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/** What a process killed in the middle of `writeWhole` left behind */
async function removeAbandonedTemporaries(keysDir: string): Promise<void> {
  for (const name of await readdir(keysDir)) {
    const pid = ABANDONED_TEMPORARY.exec(name)?.[1];
    if (pid !== undefined && !processExists(Number(pid)))
      await unlink(join(keysDir, name)).catch(() => undefined);
  }
}
