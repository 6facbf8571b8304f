/**
 * A local stage with `security: {mtls: true}`, end to end through the real CLI: the stage proxy
 * reaches each instance only through the TLS terminator beside it, and what crosses the
 * instance's port is TLS on the wire (a tcpdump capture on loopback holds TLS records and no
 * HTTP); the terminator refuses a client without a certificate, with a certificate of another
 * stage, and with one from another control plane's CA.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { after, test } from "node:test";
import { MeshCa } from "../security/ca.js";
import { trustDomainFor } from "../security/identity.js";
import {
  cleanUp,
  controlPlaneIdOf,
  processesOf,
  replaceStages,
  runCli,
  scratchExample,
} from "../testing/cli.js";

const scratch = scratchExample("hello");
const cli = (args: string[]) => runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root });

after(async () => {
  await cli(["down"]);
  cleanUp(scratch.root);
});

/** The TLS ports of this control plane's running sidecars, from their command lines */
function sidecarPorts(): number[] {
  return processesOf(controlPlaneIdOf(scratch.stateDir)).flatMap((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      const at = argv.indexOf("--port");
      return argv.some((arg) => arg.endsWith("security/sidecar-main.js")) && at !== -1
        ? [Number(argv[at + 1])]
        : [];
    } catch {
      return [];
    }
  });
}

async function capture(port: number, during: () => Promise<void>): Promise<Buffer> {
  const file = join(mkdtempSync(join(tmpdir(), "waybill-capture-")), "lo.pcap");
  const tcpdump = spawn("tcpdump", ["-i", "lo", "-U", "-n", "-w", file, "tcp", "port", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  await new Promise<void>((resolve, reject) => {
    tcpdump.stderr.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("listening on")) resolve();
    });
    tcpdump.on("error", reject);
    setTimeout(() => reject(new Error("tcpdump did not start")), 10_000);
  });
  try {
    await during();
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    tcpdump.kill("SIGINT");
    await new Promise((resolve) => tcpdump.on("close", resolve));
  }
  return readFileSync(file);
}

function refused(port: number, options: { cert?: string; key?: string; ca: string }): Promise<string> {
  return new Promise((resolve) => {
    const call = request(
      {
        host: "127.0.0.1",
        port,
        path: "/",
        ca: options.ca,
        ...(options.cert === undefined ? {} : { cert: options.cert, key: options.key }),
        checkServerIdentity: () => undefined,
        agent: false,
        timeout: 5_000,
      },
      (response) => resolve(`answered ${response.statusCode ?? 0}`),
    );
    call.on("error", (error) => resolve(`refused: ${error.message}`));
    call.on("timeout", () => call.destroy(new Error("timed out")));
    call.end();
  });
}

test(
  "a stage with mtls: true speaks TLS to its instance and the terminator refuses strangers",
  { timeout: 300_000 },
  async () => {
    replaceStages(scratch.serviceDir, [
      "name: staging\n    security: { mtls: true }\n    approval: { pass: automatic, warning: automatic }",
    ]);
    const shipped = await cli(["ship", "hello", "--version", "1.0.0"]);
    assert.equal(shipped.code, 0, shipped.stdout + shipped.stderr);
    const second = await cli(["ship", "hello", "--version", "1.0.1"]);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.match(second.stdout, /\[staging\] gate pass/);

    const status = JSON.parse((await cli(["status", "--json"])).stdout) as {
      services: { stages: { name: string; url: string }[] }[];
    };
    const url = status.services[0]?.stages.find((stage) => stage.name === "staging")?.url ?? "";
    const ports = sidecarPorts();
    assert.equal(ports.length, 1, `one live instance behind its terminator: ${JSON.stringify(ports)}`);
    const tlsPort = ports[0] ?? 0;

    const wire = await capture(tlsPort, async () => {
      for (let i = 0; i < 5; i++) {
        const response = await fetch(`${url}/`, { headers: { connection: "close" } });
        assert.match(await response.text(), /hello from 1\.0\.1/);
      }
    });
    const tlsRecords = [0x16, 0x17].some((type) => wire.includes(Buffer.from([type, 0x03, 0x03])));
    assert.ok(tlsRecords, "TLS records cross the instance's port");
    assert.ok(!wire.includes("HTTP/1.1"), "no plain HTTP crosses it");
    assert.ok(!wire.includes("hello from"), "the app's answer crosses it encrypted");

    const meshCa = await MeshCa.open(
      join(scratch.stateDir, "keys", "mesh"),
      trustDomainFor(controlPlaneIdOf(scratch.stateDir)),
    );
    const otherStage = await meshCa.issue({
      trustDomain: meshCa.trustDomain,
      service: "hello",
      stage: "production",
      role: "proxy",
    });
    const stranger = await MeshCa.open(
      mkdtempSync(join(tmpdir(), "waybill-other-ca-")),
      trustDomainFor(controlPlaneIdOf(scratch.stateDir)),
    );
    const strangerCert = await stranger.issue({
      trustDomain: stranger.trustDomain,
      service: "hello",
      stage: "staging",
      role: "proxy",
    });
    const sameStage = await meshCa.issue({
      trustDomain: meshCa.trustDomain,
      service: "hello",
      stage: "staging",
      role: "proxy",
    });
    assert.equal(
      await refused(tlsPort, { cert: sameStage.certPem, key: sameStage.keyPem, ca: meshCa.caPem }),
      "answered 200",
      "the stage's own proxy identity is let through",
    );
    assert.match(await refused(tlsPort, { ca: meshCa.caPem }), /^refused/, "no certificate");
    assert.match(
      await refused(tlsPort, { cert: otherStage.certPem, key: otherStage.keyPem, ca: meshCa.caPem }),
      /^refused/,
      "a certificate of another stage",
    );
    assert.match(
      await refused(tlsPort, { cert: strangerCert.certPem, key: strangerCert.keyPem, ca: meshCa.caPem }),
      /^refused/,
      "a certificate from another control plane's CA",
    );
    // TLS 1.3 finishes the client's side of the handshake before the server has judged the
    // client's certificate; the refusal is the alert that follows, so no request gets an answer.
    const answer = await new Promise<string>((resolve) => {
      let received = "";
      const socket = connect({ host: "127.0.0.1", port: tlsPort, rejectUnauthorized: false });
      socket.on("secureConnect", () => socket.write("GET / HTTP/1.1\r\nhost: hello\r\n\r\n"));
      socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
      socket.on("error", () => undefined);
      socket.on("close", () => resolve(received));
      socket.setTimeout(5_000, () => socket.destroy());
    });
    assert.doesNotMatch(answer, /HTTP\/1\.1/, "a TLS client without a certificate gets no answer");
  },
);

test(
  "the test measures what TLS adds on the same version, and a budget it cannot meet fails the gate with the breakdown",
  { timeout: 300_000 },
  async () => {
    const runs = JSON.parse((await cli(["runs", "hello", "--json"])).stdout) as {
      runs: { id: string; version: string }[];
    };
    const measuredRun = runs.runs.find((run) => run.version === "1.0.1");
    const shown = await cli(["run", measuredRun?.id ?? ""]);
    assert.match(
      shown.stdout,
      /mutual TLS, measured on the same version with and without it \(\d+ \+ \d+ requests\)/,
    );
    assert.match(shown.stdout, /proxy\s+-?[\d.]+\s+-?[\d.]+\s+-?[\d.]+%/);
    assert.match(shown.stdout, /security \(TLS\)\s+-?[\d.]+\s+-?[\d.]+\s+-?[\d.]+%/);
    assert.match(shown.stdout, /app\s+[\d.]+\s+[\d.]+\s+[\d.]+%/);
    assert.match(shown.stdout, /the terminator used [\d.]+ CPU seconds per 1,000 requests/);
    const json = JSON.parse((await cli(["run", measuredRun?.id ?? "", "--json"])).stdout) as {
      events: { type: string; data: { slis?: Record<string, number> } }[];
    };
    const slis = json.events.find((event) => event.type.endsWith(".test.measured"))?.data.slis ?? {};
    for (const sli of [
      "security_added_latency_p50",
      "security_added_latency_p99",
      "security_latency_share_pct",
      "security_cpu_per_1k_rps",
    ]) {
      assert.equal(typeof slis[sli], "number", `${sli} in ${JSON.stringify(slis)}`);
    }
    assert.ok((slis.security_cpu_per_1k_rps ?? 0) > 0, "TLS costs the terminator some CPU");

    const file = join(scratch.serviceDir, "waybill.yaml");
    const spec = readFileSync(file, "utf8").replace(
      "  objectives:\n",
      '  objectives:\n    - sli: security_cpu_per_1k_rps\n      pass: [{ criteria: ["<=0.000001"] }]\n      key_sli: true\n',
    );
    writeFileSync(file, spec);
    const overBudget = await cli(["ship", "hello", "--version", "1.0.2"]);
    assert.equal(overBudget.code, 1, overBudget.stdout + overBudget.stderr);
    assert.match(
      overBudget.stdout,
      /security_cpu_per_1k_rps key SLI = [\d.]+ violates <=0\.000001.*end-to-end p99 [\d.]+ ms: security \(TLS\) -?[\d.]+ ms \[.*\], proxy -?[\d.]+ ms, app [\d.]+ ms/,
    );
  },
);
