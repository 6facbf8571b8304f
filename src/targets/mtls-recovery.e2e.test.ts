/**
 * A local stage with mutual TLS survives a kill -9 of its control plane: the next control plane
 * takes back the certificates the previous one issued, so a certificate that fell due while no
 * control plane ran is renewed, and a root rotation that happens afterwards reaches the instance
 * that kept running, all while requests go through the stage proxy without one failing.
 * Certificates and the root are short-lived here (WAYBILL_MESH_CERT_TTL, WAYBILL_MESH_ROOT_TTL)
 * so that both happen within the test.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";
import { after, test } from "node:test";
import {
  cleanUp,
  controlPlaneIdOf,
  eventually,
  isAlive,
  processesOf,
  replaceStages,
  runCli,
  scratchExample,
} from "../testing/cli.js";

const CERT_TTL_S = 30;
const scratch = scratchExample("hello");
const env = {
  WAYBILL_MESH_CERT_TTL: `${CERT_TTL_S}s`,
  WAYBILL_MESH_ROOT_TTL: "100s",
  WAYBILL_MESH_ROOT_SETTLE: "3s",
};
const cli = (args: string[]) => runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root, env });

after(async () => {
  await cli(["down"]);
  cleanUp(scratch.root);
});

interface Sidecar {
  pid: number;
  tlsPort: number;
  certFile: string;
  caFile: string;
}

/** The live instance's TLS sidecar, from its command line */
function sidecar(): Sidecar {
  const found = processesOf(controlPlaneIdOf(scratch.stateDir)).flatMap((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      const flag = (name: string) => argv[argv.indexOf(name) + 1] ?? "";
      return argv.some((arg) => arg.endsWith("security/sidecar-main.js"))
        ? [{ pid, tlsPort: Number(flag("--port")), certFile: flag("--cert"), caFile: flag("--ca") }]
        : [];
    } catch {
      return [];
    }
  });
  assert.equal(found.length, 1, `one instance behind its terminator: ${JSON.stringify(found)}`);
  return found[0] as Sidecar;
}

/** The certificate the terminator presents to a new connection now */
function presented(tlsPort: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port: tlsPort, rejectUnauthorized: false });
    socket.on("secureConnect", () => {
      const certificate = socket.getPeerX509Certificate();
      socket.destroy();
      if (certificate === undefined) reject(new Error("the terminator presented no certificate"));
      else resolve(certificate);
    });
    socket.on("error", reject);
  });
}

function bundle(caFile: string): X509Certificate[] {
  return (
    readFileSync(caFile, "utf8").match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []
  ).map((pem) => new X509Certificate(pem));
}

function controlPlanePid(): number {
  return (JSON.parse(readFileSync(join(scratch.stateDir, "control-plane.json"), "utf8")) as { pid: number })
    .pid;
}

/** Requests through the stage proxy, one after another, until stopped; every answer is kept. */
function steadyLoad(url: string): { stop(): Promise<{ ok: number; failed: string[] }> } {
  let running = true;
  let ok = 0;
  const failed: string[] = [];
  const loop = (async () => {
    while (running) {
      try {
        const response = await fetch(`${url}/`, { signal: AbortSignal.timeout(5_000) });
        const body = await response.text();
        if (response.status === 200 && body.includes("hello from")) ok++;
        else failed.push(`${new Date().toISOString()} ${response.status} ${body.slice(0, 200)}`);
      } catch (error) {
        failed.push(`${new Date().toISOString()} ${String(error)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { ok, failed };
    },
  };
}

async function waitUntil(what: string, ms: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(200);
  }
  assert.fail(`${what} did not happen within ${ms / 1000} s`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
/** When a certificate was issued: its notBefore is back-dated five minutes for slow clocks */
const issuedAt = (certificate: X509Certificate) => Date.parse(certificate.validFrom) + 5 * 60_000;

test(
  "after kill -9 of the control plane, a surviving mTLS instance's certificate is renewed and a root rotation reaches it, with no request dropped",
  { timeout: 300_000 },
  async () => {
    replaceStages(scratch.serviceDir, ["{ name: dev, test: false, gate: false, security: { mtls: true } }"]);
    const shipped = await cli(["ship", "hello", "--version", "1.0.0"]);
    assert.equal(shipped.code, 0, shipped.stdout + shipped.stderr);
    const status = JSON.parse((await cli(["status", "hello", "--json"])).stdout) as {
      services: { stages: { url: string }[] }[];
    };
    const url = status.services[0]?.stages[0]?.url ?? "";
    const instance = sidecar();
    const first = await presented(instance.tlsPort);
    const rootsAtFirst = bundle(instance.caFile);
    assert.equal(rootsAtFirst.length, 1);
    assert.ok(first.verify(rootsAtFirst[0]?.publicKey ?? assert.fail()), "signed by the mesh root");

    const load = steadyLoad(url);
    try {
      const dead = controlPlanePid();
      process.kill(dead, "SIGKILL");
      await eventually("the control plane is gone", () => !isAlive(dead));
      // While no control plane runs, the certificate falls due (two thirds of its life).
      await sleep(issuedAt(first) + (CERT_TTL_S * 1000 * 2) / 3 + 500 - Date.now());
      const restartedAt = Date.now();
      const restarted = await cli(["status", "hello", "--json"]);
      assert.equal(restarted.code, 0, restarted.stderr);
      assert.equal(sidecar().pid, instance.pid, "the instance kept running and was adopted");

      // (b) renewed after the restart, by the new control plane, before it expired.
      // Issued since the restart: a serial that merely differs could be a reissue by the old
      // control plane within the second it issued the first (the same expiry), seen late.
      await eventually("the terminator presents a certificate renewed since the restart", async () => {
        return issuedAt(await presented(instance.tlsPort)) >= restartedAt - 1_000;
      });
      const renewed = await presented(instance.tlsPort);
      assert.ok(Date.parse(renewed.validTo) > Date.parse(first.validTo));
      // (a) past the first certificate's expiry, requests still go through over mTLS.
      await sleep(Date.parse(first.validTo) + 2_000 - Date.now());
      const midway = await fetch(`${url}/`);
      assert.match(await midway.text(), /hello from 1\.0\.0/);

      // (c) the root rotates (it lives 100 s): the new root reaches the instance's bundle, and
      // then signs the certificate its terminator presents.
      await waitUntil(
        "a new root joins the instance's trust bundle",
        120_000,
        () => bundle(instance.caFile).length === 2,
      );
      const newRoot = bundle(instance.caFile).find(
        (root) => root.fingerprint256 !== rootsAtFirst[0]?.fingerprint256,
      );
      assert.ok(newRoot);
      await waitUntil("the new root signs the certificate the terminator presents", 30_000, async () =>
        (await presented(instance.tlsPort)).verify(newRoot.publicKey),
      );
      // New handshakes between the proxy and the terminator, both with certificates of the new root.
      await sleep(3_000);
    } finally {
      const { ok, failed } = await load.stop();
      assert.deepEqual(failed, [], "no request through the proxy failed");
      assert.ok(ok > 100, `requests went through throughout (${ok})`);
    }
    const served = await fetch(`${url}/`, { headers: { connection: "close" } });
    assert.match(await served.text(), /hello from 1\.0\.0/);
  },
);
