import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, request as plainRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MeshCa } from "../security/ca.js";
import { startTerminator } from "../security/terminator.js";
import { StageProxy } from "../runtime/proxy.js";
import { MeshCertificates } from "./mesh-certificates.js";

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
