/**
 * The mesh CA: one ECDSA P-256 root per control plane, kept in its keys folder, that issues the
 * short-lived certificates the stage proxies and the instances' TLS terminators present to each
 * other. The root's key never leaves `mesh-ca.key` (0600) and this process's memory; no message
 * here carries key material.
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
import type * as X509 from "@peculiar/x509";
import { errorMessage } from "../errors.js";
import { isTrustDomain, spiffeUri, uriSans, type MeshIdentity } from "./identity.js";
import { loadX509, type X509Library } from "./x509.js";

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
  uri: string;
}

const KEY_FILE = "mesh-ca.key";
const CERT_FILE = "mesh-ca.pem";
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DEFAULT_TTL_MS = 24 * HOUR_MS;
/** A root outlives every certificate it issues by far; renewing the root itself is not automated */
const ROOT_LIFETIME_MS = 10 * 365 * 24 * HOUR_MS;
/** Back-dating, so a peer whose clock runs a little behind still takes a certificate issued just now */
const CLOCK_SKEW_MS = 5 * MINUTE_MS;
const KEY_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" } as const;
const ABANDONED_TEMPORARY = /^mesh-ca\.(?:key|pem)\.(\d+)\.[0-9a-f]+\.tmp$/;

/** Past two thirds of its lifetime, a certificate is issued anew, leaving a third for retries. */
export function renewalDue(cert: { notBefore: Date; notAfter: Date }, now: Date): boolean {
  const start = cert.notBefore.getTime();
  return now.getTime() >= start + ((cert.notAfter.getTime() - start) * 2) / 3;
}

export class MeshCa {
  private constructor(
    private readonly x509: X509Library,
    private readonly root: X509.X509Certificate,
    private readonly signingKey: webcrypto.CryptoKey,
    readonly caPem: string,
    readonly trustDomain: string,
  ) {}

  /**
   * The root kept in `keysDir`, created there on the first call. Each file appears whole or not
   * at all, so a kill at any point leaves either no root or a usable one.
   */
  static async open(keysDir: string, trustDomain: string): Promise<MeshCa> {
    if (!isTrustDomain(trustDomain)) throw new Error(`"${trustDomain}" is not a SPIFFE trust domain`);
    const x509 = await loadX509();
    await mkdir(keysDir, { recursive: true, mode: 0o700 });
    await removeAbandonedTemporaries(keysDir);
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
    const signingKey = await importSigningKey(keyPem, keysDir);
    if (rootPem === null) {
      rootPem = await selfSignRoot(x509, keyPem, signingKey, trustDomain);
      await writeWhole(certFile, rootPem, 0o644, "replace");
    }
    checkRoot(rootPem, keyPem, keysDir, trustDomain);
    return new MeshCa(x509, new x509.X509Certificate(rootPem), signingKey, rootPem, trustDomain);
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
    const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    if (!Number.isFinite(ttlMs) || ttlMs <= 0)
      throw new Error(`a certificate's lifetime must be positive, got ${ttlMs} ms`);
    const uri = spiffeUri(identity);
    const now = (options.now ?? new Date()).getTime();
    const { x509 } = this;
    const keys = await newKeyPair();
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: [{ CN: [leafCommonName(identity)] }],
      issuer: this.root.subjectName,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + ttlMs),
      publicKey: keys.publicKey,
      signingKey: this.signingKey,
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
        await x509.AuthorityKeyIdentifierExtension.create(this.root.publicKey),
      ],
    });
    const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
    return {
      certPem: certificate.toString("pem"),
      keyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"),
      notBefore: certificate.notBefore,
      notAfter: certificate.notAfter,
      uri,
    };
  }
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

async function createRootKey(keyFile: string): Promise<{ keyPem: string; ours: boolean }> {
  const keys = await newKeyPair();
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" })
    .export({ type: "pkcs8", format: "pem" })
    .toString();
  if (await writeWhole(keyFile, keyPem, 0o600, "only-if-absent")) return { keyPem, ours: true };
  const theirs = await readIfPresent(keyFile);
  if (theirs === null)
    throw new Error(`the mesh CA key ${keyFile} appeared and vanished while it was being created`);
  return { keyPem: theirs, ours: false };
}

async function importSigningKey(keyPem: string, keysDir: string): Promise<webcrypto.CryptoKey> {
  try {
    const pkcs8 = createPrivateKey(keyPem).export({ type: "pkcs8", format: "der" });
    return await crypto.subtle.importKey("pkcs8", pkcs8, KEY_ALGORITHM, false, ["sign"]);
  } catch (error) {
    throw new Error(`cannot use the mesh CA key in ${keysDir} (${KEY_FILE}): ${errorMessage(error)}`);
  }
}

async function selfSignRoot(
  x509: X509Library,
  keyPem: string,
  signingKey: webcrypto.CryptoKey,
  trustDomain: string,
): Promise<string> {
  const publicKey = await crypto.subtle.importKey(
    "spki",
    createPublicKey(keyPem).export({ type: "spki", format: "der" }),
    KEY_ALGORITHM,
    true,
    ["verify"],
  );
  const now = Date.now();
  const serialNumber = randomSerial();
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber,
    name: [{ CN: [`Waybill mesh CA ${serialNumber.slice(0, 12)}`] }],
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + ROOT_LIFETIME_MS),
    keys: { publicKey, privateKey: signingKey },
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: `spiffe://${trustDomain}` }]),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
  return root.toString("pem");
}

/** A root that does not go with its key, or that serves another trust domain, is refused whole. */
function checkRoot(rootPem: string, keyPem: string, keysDir: string, trustDomain: string): void {
  const root = new NodeCertificate(rootPem);
  const rootSpki = root.publicKey.export({ type: "spki", format: "der" });
  if (!rootSpki.equals(createPublicKey(keyPem).export({ type: "spki", format: "der" }))) {
    throw new Error(
      `the mesh CA in ${keysDir} is damaged: ${CERT_FILE} does not go with ${KEY_FILE}; ` +
        "remove both to start a new CA (every mesh certificate is then issued anew)",
    );
  }
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
    if (pid !== undefined && !processAlive(Number(pid)))
      await unlink(join(keysDir, name)).catch(() => undefined);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
