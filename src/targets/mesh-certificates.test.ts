import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, request as plainRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as connectTls } from "node:tls";
import { fileURLToPath } from "node:url";
import { MeshCa } from "../security/ca.js";
import { startTerminator } from "../security/terminator.js";
import { StageProxy } from "../runtime/proxy.js";
import { UserError } from "../errors.js";
import { MeshCertificates, type MeshSettings, meshSettingsFromEnv } from "./mesh-certificates.js";

const key = { service: "cart", stage: "staging" };
const hours = (count: number) => count * 3_600_000;

function serialOf(file: string): string {
  return new X509Certificate(readFileSync(file)).serialNumber;
}

test("certificates are written 0600 with a key that matches, and renewed after two thirds of their life", async () => {
  const root = mkdtempSync(join(tmpdir(), "waybill-mesh-certs-"));
  const mesh = new MeshCertificates(
    () => MeshCa.open(join(root, "ca"), "waybill-test.local"),
    (error: unknown) => {
      throw error;
    },
  );
  try {
    const files = await mesh.forInstance(key, "r-1", join(root, "i1"), undefined);
    assert.equal(statSync(files.keyFile).mode & 0o777, 0o600);
    const first = serialOf(files.certFile);
    const publicOf = (pem: string) => createPublicKey(pem).export({ type: "spki", format: "der" });
    const certificate = new X509Certificate(readFileSync(files.certFile));
    assert.ok(
      publicOf(certificate.publicKey.export({ type: "spki", format: "pem" }) as string).equals(
        publicOf(
          createPublicKey(createPrivateKey(readFileSync(files.keyFile))).export({
            type: "spki",
            format: "pem",
          }) as string,
        ),
      ),
    );
    assert.equal(await mesh.renewDue(new Date(Date.now() + hours(1))), 0, "not yet due");
    assert.equal(await mesh.renewDue(new Date(Date.now() + hours(17))), 1);
    assert.notEqual(serialOf(files.certFile), first, "a new certificate in the same file");
    rmSync(join(root, "i1"), { recursive: true });
    assert.equal(
      await mesh.renewDue(new Date(Date.now() + hours(40))),
      0,
      "a stopped instance's is forgotten",
    );
  } finally {
    mesh.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("renewing both sides' certificates under load drops no request", { timeout: 30_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), "waybill-mesh-rotation-"));
  const mesh = new MeshCertificates(
    () => MeshCa.open(join(root, "ca"), "waybill-test.local"),
    (error: unknown) => {
      throw error;
    },
  );
  const backend = createServer((_request, response) => response.end("ok"));
  await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
  const instanceFiles = await mesh.forInstance(key, "r-1", join(root, "i1"), undefined);
  const proxyFiles = await mesh.forProxy(key, join(root, "proxy"));
  const terminator = await startTerminator({
    host: "127.0.0.1",
    port: 0,
    upstreamPort: (backend.address() as AddressInfo).port,
    certFile: instanceFiles.certFile,
    keyFile: instanceFiles.keyFile,
    caFile: instanceFiles.caFile,
    allowedPeer: { trustDomain: "waybill-test.local", ...key, role: "proxy" },
  });
  const proxy = new StageProxy(key, { stable: "r-1", candidate: null, candidateWeight: 0 }, () => ({
    version: "1",
    port: (backend.address() as AddressInfo).port,
    tlsPort: terminator.port,
  }));
  proxy.setTls(proxyFiles);
  await proxy.listenOnFirstFree([21_000, 21_999], new Set());
  const get = () =>
    new Promise<number>((resolve) => {
      const call = plainRequest({ host: "127.0.0.1", port: proxy.port, path: "/" }, (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
      });
      call.on("error", () => resolve(0));
      call.end();
    });
  try {
    const statuses: number[] = [];
    const firstServerSerial = serialOf(instanceFiles.certFile);
    const until = Date.now() + 3_000;
    let renewed = false;
    while (Date.now() < until) {
      statuses.push(await get());
      if (!renewed && Date.now() > until - 2_500) {
        renewed = true;
        assert.equal(await mesh.renewDue(new Date(Date.now() + hours(20))), 2, "both sides renewed");
        await terminator.reload();
      }
    }
    assert.ok(statuses.length > 50, `${statuses.length} requests`);
    assert.deepEqual([...new Set(statuses)], [200], "every request answered through the rotation");
    assert.notEqual(serialOf(instanceFiles.certFile), firstServerSerial);
  } finally {
    await proxy.close();
    await terminator.close();
    backend.closeAllConnections();
    backend.close();
    mesh.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test(
  "rotating the mesh root while requests flow drops none, and the old root is refused after",
  { timeout: 60_000 },
  async () => {
    const root = mkdtempSync(join(tmpdir(), "waybill-mesh-root-rotation-"));
    const trustDomain = "waybill-test.local";
    const mesh = new MeshCertificates(
      () => MeshCa.open(join(root, "ca"), trustDomain),
      (error: unknown) => {
        throw error;
      },
      { rootSettleMs: 2_000 },
    );
    const backend = createServer((_request, response) => response.end("ok"));
    await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
    const backendPort = (backend.address() as AddressInfo).port;
    const instanceFiles = await mesh.forInstance(key, "r-1", join(root, "i1"), undefined);
    const proxyFiles = await mesh.forProxy(key, join(root, "proxy"));
    const oldProxyCert = { cert: readFileSync(proxyFiles.certFile), key: readFileSync(proxyFiles.keyFile) };
    const oldBundle = readFileSync(instanceFiles.caFile, "utf8");

    // The terminator as the runtime runs it: its own process, reloading when the certificate file changes.
    const terminator = spawn(process.execPath, [
      fileURLToPath(new URL("../security/terminator-main.js", import.meta.url)),
      ...["--port", "0", "--upstream-port", String(backendPort)],
      ...["--cert", instanceFiles.certFile, "--key", instanceFiles.keyFile, "--ca", instanceFiles.caFile],
      ...["--trust-domain", trustDomain, "--service", key.service, "--stage", key.stage],
    ]);
    let reloads = 0;
    let log = "";
    terminator.stderr.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      reloads = log.match(/reloaded the certificate/g)?.length ?? 0;
    });
    const tlsPort = await new Promise<number>((resolve, reject) => {
      terminator.stdout.once("data", (chunk: Buffer) =>
        resolve((JSON.parse(chunk.toString()) as { port: number }).port),
      );
      terminator.once("exit", () => reject(new Error(`the terminator left: ${log}`)));
    });
    const proxy = new StageProxy(key, { stable: "r-1", candidate: null, candidateWeight: 0 }, () => ({
      version: "1",
      port: backendPort,
      tlsPort,
    }));
    proxy.setTls(proxyFiles);
    await proxy.listenOnFirstFree([21_000, 21_999], new Set());

    const statuses = new Map<number, number>();
    let flowing = true;
    const get = (): Promise<number> =>
      new Promise<number>((resolve) => {
        const call = plainRequest(
          { host: "127.0.0.1", port: proxy.port, path: "/", agent: false },
          (response) => {
            response.resume();
            response.on("end", () => resolve(response.statusCode ?? 0));
          },
        );
        call.on("error", () => resolve(0));
        call.end();
      });
    const client = async (): Promise<void> => {
      while (flowing) {
        const status = await get();
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    const clients = Array.from({ length: 4 }, client);
    // Both sides look at their certificate file every second; the terminator says when it reloaded.
    const bothReloaded = async (before: number): Promise<void> => {
      while (reloads === before) await new Promise((resolve) => setTimeout(resolve, 50));
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    };
    const withOldProxyCertificate = (): Promise<string> =>
      new Promise<string>((resolve) => {
        const socket = connectTls({
          host: "127.0.0.1",
          port: tlsPort,
          ca: readFileSync(instanceFiles.caFile),
          ...oldProxyCert,
          checkServerIdentity: () => undefined,
        });
        socket.on("secureConnect", () => socket.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
        socket.on("data", () => resolve("answered"));
        socket.on("error", (error) => resolve(`refused: ${error.message}`));
        socket.on("close", () => resolve("refused: closed"));
      });
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      let before = reloads;
      assert.deepEqual(
        await mesh.rotateRoot(),
        { started: true, renewed: 2 },
        "both sides get the new bundle",
      );
      assert.equal(readFileSync(instanceFiles.caFile, "utf8").match(/BEGIN CERTIFICATE/g)?.length, 2);
      await bothReloaded(before);

      before = reloads;
      assert.equal(await mesh.renewDue(), 2, "activated: both sides issued under the new root");
      await bothReloaded(before);
      assert.equal(await withOldProxyCertificate(), "answered", "the old root is trusted until it retires");

      before = reloads;
      assert.equal(
        await mesh.renewDue(new Date(Date.now() + hours(25))),
        2,
        "retired: the old root leaves the bundles",
      );
      await bothReloaded(before);
      flowing = false;
      await Promise.all(clients);

      const total = [...statuses.values()].reduce((sum, count) => sum + count, 0);
      assert.ok(total > 100, `${total} requests`);
      assert.deepEqual([...statuses.keys()], [200], "every request answered through the rotation");

      const bundle = readFileSync(instanceFiles.caFile, "utf8");
      assert.equal(bundle.match(/BEGIN CERTIFICATE/g)?.length, 1);
      assert.ok(!oldBundle.includes(bundle.trim()), "a new root");
      const newRoot = new X509Certificate(bundle);
      for (const files of [instanceFiles, proxyFiles]) {
        assert.ok(new X509Certificate(readFileSync(files.certFile)).verify(newRoot.publicKey));
      }
      const refusal = await withOldProxyCertificate();
      assert.match(refusal, /^refused/, "a certificate of the old root is no longer let in");
    } finally {
      flowing = false;
      await proxy.close();
      terminator.kill("SIGTERM");
      backend.closeAllConnections();
      backend.close();
      mesh.close();
      rmSync(root, { recursive: true, force: true });
    }
  },
);

test("a control plane started again adopts the certificates the previous one issued, and renews them when due", async () => {
  const root = mkdtempSync(join(tmpdir(), "waybill-mesh-adopt-"));
  const openCa = () => MeshCa.open(join(root, "ca"), "waybill-test.local");
  const fail = (error: unknown) => {
    throw error;
  };
  const previous = new MeshCertificates(openCa, fail);
  try {
    const instance = await previous.forInstance(key, "r-1", join(root, "i1"), undefined);
    const proxy = await previous.forProxy(key, join(root, "proxy"));
    const gone = await previous.forInstance(key, "r-2", join(root, "i2"), undefined);
    previous.close();
    rmSync(join(root, "i2"), { recursive: true });
    const serials = [instance, proxy].map((files) => serialOf(files.certFile));

    const next = new MeshCertificates(openCa, fail);
    try {
      const holders = [
        { key, tls: instance, role: "instance" as const, instanceId: "r-1", owner: undefined },
        { key, tls: proxy, role: "proxy" as const },
        { key, tls: gone, role: "instance" as const, instanceId: "r-2", owner: undefined },
      ];
      assert.equal(await next.adopt(holders), 1, "only the one whose files are gone is issued now");
      assert.deepEqual(
        [instance, proxy].map((files) => serialOf(files.certFile)),
        serials,
      );
      assert.match(new X509Certificate(readFileSync(gone.certFile)).subjectAltName ?? "", /instance\/r-2/);
      assert.equal(
        await next.renewDue(new Date(Date.now() + hours(17))),
        3,
        "all three are renewed when due",
      );
      assert.notDeepEqual(
        [instance, proxy].map((files) => serialOf(files.certFile)),
        serials,
      );
      assert.match(new X509Certificate(readFileSync(proxy.certFile)).subjectAltName ?? "", /\/proxy/);
    } finally {
      next.close();
    }
  } finally {
    previous.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("the mesh's clocks from the environment: durations with a floor, a root outliving its certificates", () => {
  const cases: [Record<string, string>, MeshSettings | RegExp][] = [
    [{}, {}],
    [{ WAYBILL_MESH_CERT_TTL: "45s" }, { leafTtlMs: 45_000 }],
    [
      { WAYBILL_MESH_CERT_TTL: "1m", WAYBILL_MESH_ROOT_TTL: "1h", WAYBILL_MESH_ROOT_SETTLE: "5s" },
      { leafTtlMs: 60_000, rootLifetimeMs: 3_600_000, rootSettleMs: 5_000 },
    ],
    [{ WAYBILL_MESH_CERT_TTL: "soon" }, /WAYBILL_MESH_CERT_TTL: invalid duration "soon"/],
    [{ WAYBILL_MESH_CERT_TTL: "2s" }, /WAYBILL_MESH_CERT_TTL is 2s: it must be at least 10s/],
    [{ WAYBILL_MESH_CERT_TTL: "1m", WAYBILL_MESH_ROOT_TTL: "2m" }, /at least three times/],
  ];
  for (const [env, expected] of cases) {
    if (expected instanceof RegExp) {
      assert.throws(
        () => meshSettingsFromEnv(env),
        (error: unknown) => {
          assert.ok(error instanceof UserError);
          assert.match(error.message, expected);
          return true;
        },
      );
    } else {
      assert.deepEqual(meshSettingsFromEnv(env), expected, JSON.stringify(env));
    }
  }
});
