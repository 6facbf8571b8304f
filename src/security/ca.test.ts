import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { MeshCa, renewalDue } from "./ca.js";
import { spiffeUri, uriSans, type MeshIdentity } from "./identity.js";

const run = promisify(execFile);
const DOMAIN = "waybill-ca-test.local";
const PROXY: MeshIdentity = { trustDomain: DOMAIN, service: "hello", stage: "staging", role: "proxy" };
const scratch = mkdtempSync(join(tmpdir(), "waybill-mesh-ca-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

let folders = 0;
const newKeysDir = (): string => join(scratch, `keys-${++folders}`, "mesh");

test("the root is created once, kept in the keys folder and opened the same afterwards", async () => {
  const keysDir = newKeysDir();
  const first = await MeshCa.open(keysDir, DOMAIN);
  const second = await MeshCa.open(keysDir, DOMAIN);
  assert.equal(second.caPem, first.caPem);
  assert.equal(second.trustDomain, DOMAIN);
  assert.deepEqual(readdirSync(keysDir).sort(), ["mesh-ca.key", "mesh-ca.pem"], "no temporary file is left");
  assert.equal(readFileSync(join(keysDir, "mesh-ca.pem"), "utf8"), first.caPem);

  const root = new X509Certificate(first.caPem);
  assert.ok(root.ca, "basicConstraints CA");
  assert.ok(root.verify(root.publicKey), "self-signed");
  assert.equal(root.publicKey.asymmetricKeyType, "ec");
  assert.equal(root.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
  assert.deepEqual(uriSans(root.subjectAltName), [`spiffe://${DOMAIN}`]);

  const keyPem = readFileSync(join(keysDir, "mesh-ca.key"), "utf8");
  assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n/, "PKCS#8 PEM");
  assert.ok(
    createPublicKey(createPrivateKey(keyPem))
      .export({ type: "spki", format: "der" })
      .equals(root.publicKey.export({ type: "spki", format: "der" })),
    "the key file holds the root's key",
  );
});

test("the root's key file is readable by its owner only", async () => {
  const keysDir = newKeysDir();
  await MeshCa.open(keysDir, DOMAIN);
  assert.equal(statSync(join(keysDir, "mesh-ca.key")).mode & 0o777, 0o600);
  assert.equal(statSync(keysDir).mode & 0o077, 0, "nor is its folder open to others");
});

test("an issued certificate verifies against its root and names the SPIFFE ID as its only URI", async () => {
  const ca = await MeshCa.open(newKeysDir(), DOMAIN);
  const now = new Date("2030-01-01T12:00:00Z");
  const issued = await ca.issue(PROXY, { now });
  const root = new X509Certificate(ca.caPem);
  const leaf = new X509Certificate(issued.certPem);

  assert.ok(leaf.verify(root.publicKey), "signed by the root");
  assert.ok(leaf.checkIssued(root), "issued by the root");
  assert.equal(leaf.ca, false);
  assert.equal(issued.uri, spiffeUri(PROXY));
  assert.deepEqual(uriSans(leaf.subjectAltName), [issued.uri]);
  assert.match(leaf.subjectAltName ?? "", /DNS:localhost/);
  assert.match(leaf.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
  assert.ok(leaf.checkIP("127.0.0.1"));
  assert.deepEqual(
    [...(leaf.keyUsage ?? [])].sort(),
    ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"],
    "server and client auth",
  );
  assert.ok(leaf.checkPrivateKey(createPrivateKey(issued.keyPem)), "the key goes with the certificate");
  assert.equal(createPrivateKey(issued.keyPem).asymmetricKeyDetails?.namedCurve, "prime256v1");

  assert.equal(issued.notBefore.getTime(), new Date(leaf.validFrom).getTime());
  assert.equal(issued.notAfter.getTime(), new Date(leaf.validTo).getTime());
  assert.equal(issued.notAfter.getTime() - now.getTime(), 24 * 3_600_000, "a day by default");
  const backdated = now.getTime() - issued.notBefore.getTime();
  assert.ok(backdated > 0 && backdated <= 10 * 60_000, "a few minutes early for clock skew");

  const short = await ca.issue(
    { ...PROXY, role: "instance", instanceId: "web-1" },
    { ttlMs: 3_600_000, now },
  );
  assert.equal(short.notAfter.getTime() - now.getTime(), 3_600_000);
  assert.equal(short.uri, spiffeUri({ ...PROXY, role: "instance", instanceId: "web-1" }));
  assert.notEqual(new X509Certificate(short.certPem).serialNumber, leaf.serialNumber);
});

test("another keys folder is another CA whose certificates the first root does not vouch for", async () => {
  const ours = await MeshCa.open(newKeysDir(), DOMAIN);
  const theirs = await MeshCa.open(newKeysDir(), DOMAIN);
  assert.notEqual(theirs.caPem, ours.caPem);
  const foreign = new X509Certificate((await theirs.issue(PROXY)).certPem);
  const ourRoot = new X509Certificate(ours.caPem);
  assert.equal(foreign.verify(ourRoot.publicKey), false);
  assert.equal(foreign.checkIssued(ourRoot), false);
});

test("a CA refuses to issue for another trust domain, and a root is not reused for one", async () => {
  const keysDir = newKeysDir();
  const ca = await MeshCa.open(keysDir, DOMAIN);
  await assert.rejects(ca.issue({ ...PROXY, trustDomain: "waybill-other.local" }), /issues for trust domain/);
  await assert.rejects(ca.issue(PROXY, { ttlMs: 0 }), /must be positive/);
  await assert.rejects(
    MeshCa.open(keysDir, "waybill-other.local"),
    /belongs to spiffe:\/\/waybill-ca-test\.local/,
  );
});

test("a key without its certificate (a kill between the two writes) gets its root; a mismatched pair is refused", async () => {
  const keysDir = newKeysDir();
  const first = await MeshCa.open(keysDir, DOMAIN);
  rmSync(join(keysDir, "mesh-ca.pem"));
  const again = await MeshCa.open(keysDir, DOMAIN);
  assert.ok(
    new X509Certificate((await again.issue(PROXY)).certPem).verify(
      new X509Certificate(first.caPem).publicKey,
    ),
    "the same key signs",
  );

  const other = await MeshCa.open(newKeysDir(), DOMAIN);
  writeFileSync(join(keysDir, "mesh-ca.pem"), other.caPem);
  await assert.rejects(MeshCa.open(keysDir, DOMAIN), (error: Error) => {
    assert.match(error.message, /does not go with mesh-ca\.key/);
    assert.doesNotMatch(error.message, /PRIVATE KEY|BEGIN/, "no key material in the message");
    return true;
  });
});

test("a temporary file a killed process left behind is removed, one of a live process is not", async () => {
  const keysDir = newKeysDir();
  await MeshCa.open(keysDir, DOMAIN);
  const deadPid = 2 ** 22 + 1;
  const abandoned = join(keysDir, `mesh-ca.key.${deadPid}.0a1b2c3d.tmp`);
  const live = join(keysDir, `mesh-ca.key.${process.pid}.0a1b2c3d.tmp`);
  writeFileSync(abandoned, "half a key", { mode: 0o600 });
  writeFileSync(live, "being written", { mode: 0o600 });
  await MeshCa.open(keysDir, DOMAIN);
  assert.deepEqual(readdirSync(keysDir).sort(), [
    "mesh-ca.key",
    `mesh-ca.key.${process.pid}.0a1b2c3d.tmp`,
    "mesh-ca.pem",
  ]);
});

test("importing the CA, the identities and the terminator loads no X.509 library until a CA is opened", async () => {
  const modules = ["./ca.js", "./identity.js", "./terminator.js"].map(
    (path) => new URL(path, import.meta.url).href,
  );
  const script = [
    `import { createRequire } from "node:module";`,
    `const { MeshCa } = await import(${JSON.stringify(modules[0])});`,
    ...modules.slice(1).map((module) => `await import(${JSON.stringify(module)});`),
    `const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((path) => path.includes("@peculiar")).length;`,
    `const before = loaded();`,
    `await MeshCa.open(${JSON.stringify(newKeysDir())}, ${JSON.stringify(DOMAIN)});`,
    `console.log(JSON.stringify({ before, after: loaded() }));`,
  ].join("\n");
  const { stdout } = await run(process.execPath, ["--input-type=module", "--eval", script], {
    timeout: 30_000,
  });
  const { before, after } = JSON.parse(stdout) as { before: number; after: number };
  assert.equal(before, 0);
  assert.ok(after > 0, "the check does see the library once it is loaded");
});

test("renewal is due once two thirds of a certificate's lifetime since its issue have passed", () => {
  // Issued at midnight, back-dated five minutes for peers whose clocks run behind.
  const notBefore = new Date("2029-12-31T23:55:00Z");
  const notAfter = new Date("2030-01-01T03:00:00Z");
  const at = (time: string): boolean => renewalDue({ notBefore, notAfter }, new Date(`2030-01-01T${time}Z`));
  const cases: [string, boolean][] = [
    ["00:00:00", false],
    ["01:59:59", false],
    ["02:00:00", true],
    ["02:59:59", true],
    ["04:00:00", true],
  ];
  for (const [time, due] of cases) assert.equal(at(time), due, time);
  const short = { notBefore, notAfter: new Date("2030-01-01T00:00:30Z") };
  const shortCases: [string, boolean][] = [
    ["00:00:00", false],
    ["00:00:19", false],
    ["00:00:20", true],
  ];
  for (const [time, due] of shortCases) {
    assert.equal(renewalDue(short, new Date(`2030-01-01T${time}Z`)), due, `a 30 s certificate at ${time}`);
  }
});

test("a root rotation introduces, activates and retires a root, and each step survives a reopen", async () => {
  const keysDir = newKeysDir();
  const ca = await MeshCa.open(keysDir, DOMAIN);
  const oldRoot = new X509Certificate(ca.caPem);
  const start = Date.now();
  const at = (ms: number): Date => new Date(start + ms);
  const signedBy = (certPem: string, root: X509Certificate): boolean =>
    new X509Certificate(certPem).verify(root.publicKey);
  const reopened = async (): Promise<string[]> =>
    (await MeshCa.open(keysDir, DOMAIN)).roots().map((root) => root.state);
  const beforeRotation = await ca.issue(PROXY);

  assert.equal(await ca.advanceRootRotation(at(0), { settleMs: 60_000 }), null, "a young root is kept");
  assert.equal(await ca.beginRootRotation(at(0)), true);
  assert.equal(await ca.beginRootRotation(at(0)), false, "one rotation at a time");
  assert.deepEqual(
    ca.roots().map((root) => root.state),
    ["signing", "next"],
  );
  assert.equal(ca.caPem.match(/BEGIN CERTIFICATE/g)?.length, 2, "both roots in the bundle");
  assert.deepEqual(await reopened(), ["signing", "next"]);
  assert.ok(
    signedBy((await ca.issue(PROXY)).certPem, oldRoot),
    "the old root signs until the bundle settles",
  );

  assert.equal(await ca.advanceRootRotation(at(59_000), { settleMs: 60_000 }), null, "not settled yet");
  assert.equal(await ca.advanceRootRotation(at(60_000), { settleMs: 60_000 }), "activated");
  const newRoot = new X509Certificate(ca.caPem.slice(ca.caPem.lastIndexOf("-----BEGIN")));
  const afterActivation = await ca.issue(PROXY);
  assert.ok(signedBy(afterActivation.certPem, newRoot), "the new root signs");
  assert.ok(ca.signedByCurrentRoot(afterActivation.certPem));
  assert.ok(!ca.signedByCurrentRoot(beforeRotation.certPem));
  assert.deepEqual(await reopened(), ["retiring", "signing"]);
  assert.ok(!readdirSync(keysDir).includes("mesh-ca.key"), "a root that no longer signs has no key");

  const [retiring] = ca.roots();
  assert.ok(retiring?.retireAfter !== null && retiring?.retireAfter !== undefined);
  assert.ok(
    retiring.retireAfter.getTime() > beforeRotation.notAfter.getTime(),
    "kept until the last certificate it signed has expired",
  );
  const retireAt = retiring.retireAfter.getTime() - start;
  assert.equal(await ca.advanceRootRotation(at(retireAt - 1), { settleMs: 60_000 }), null);
  assert.equal(await ca.advanceRootRotation(at(retireAt), { settleMs: 60_000 }), "retired");
  assert.equal(ca.caPem, `${newRoot.toString().trim()}\n`, "only the new root is trusted");
  assert.deepEqual(await reopened(), ["signing"]);
  const files = readdirSync(keysDir).sort();
  assert.equal(files.length, 3, files.join(", "));
  assert.equal(files[2], "mesh-ca-roots.json");
  assert.match(files[0] ?? "", /^mesh-ca-[0-9a-f]{16}\.key$/);
  assert.equal(statSync(join(keysDir, files[0] ?? "")).mode & 0o777, 0o600, "the new root's key is 0600");
});

test("a root is rotated on its own two thirds into its life", async () => {
  const ca = await MeshCa.open(newKeysDir(), DOMAIN);
  const [root] = ca.roots();
  assert.ok(root !== undefined);
  const twoThirds = Date.now() + ((root.notAfter.getTime() - Date.now()) * 2) / 3 + 86_400_000;
  assert.equal(await ca.advanceRootRotation(new Date(twoThirds - 2 * 86_400_000)), null);
  assert.equal(await ca.advanceRootRotation(new Date(twoThirds)), "introduced");
});

test("a root a killed rotation wrote but never listed is not trusted, and its files go", async () => {
  const keysDir = newKeysDir();
  const ca = await MeshCa.open(keysDir, DOMAIN);
  await ca.beginRootRotation();
  const stray = await MeshCa.open(newKeysDir(), DOMAIN);
  const strayName = "mesh-ca-0123456789abcdef";
  writeFileSync(join(keysDir, `${strayName}.key`), "a key never listed", { mode: 0o600 });
  writeFileSync(join(keysDir, `${strayName}.pem`), stray.caPem);
  const again = await MeshCa.open(keysDir, DOMAIN);
  assert.equal(again.caPem, ca.caPem, "the bundle is what the manifest lists");
  assert.equal(await again.advanceRootRotation(new Date(Date.now() + 2 * 3_600_000)), "activated");
  const later = await MeshCa.open(keysDir, DOMAIN);
  assert.equal(await later.advanceRootRotation(new Date(Date.now() + 3 * 86_400_000)), "retired");
  assert.equal(await later.beginRootRotation(), true);
  assert.ok(
    !readdirSync(keysDir).some((file) => file.startsWith(strayName)),
    "removed when the next root is made",
  );
});
