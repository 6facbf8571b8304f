/**
 * The compiled terminator process with real certificate files: it announces its port, carries
 * mutual TLS to a plain app, takes a renewed certificate on SIGHUP and on a change of the
 * certificate file, and leaves with status 0 on SIGTERM.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { fileURLToPath } from "node:url";
import { MeshCa, type IssuedCertificate } from "./ca.js";
import { peerProblem, uriSans, type MeshIdentity } from "./identity.js";

const ENTRY = fileURLToPath(new URL("./terminator-main.js", import.meta.url));
const DOMAIN = "waybill-terminator-main-test.local";
const STAGE = { trustDomain: DOMAIN, service: "hello", stage: "staging" };
const PROXY: MeshIdentity = { ...STAGE, role: "proxy" };
const INSTANCE: MeshIdentity = { ...STAGE, role: "instance", instanceId: "web-1" };
const UPSTREAM_ANSWER = "hello from upstream";
const STEP_TIMEOUT_MS = 15_000;

const scratch = mkdtempSync(join(tmpdir(), "waybill-terminator-main-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

function within<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), STEP_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function writeWhole(file: string, content: string): void {
  writeFileSync(`${file}.tmp`, content, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

function exited(child: ChildProcessWithoutNullStreams): Promise<number | NodeJS.Signals | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
}

test("the terminator process serves mutual TLS, reloads on SIGHUP and on a new certificate file, and exits 0 on SIGTERM", async () => {
  const ca = await MeshCa.open(join(scratch, "keys"), DOMAIN);
  const proxyCert = await ca.issue(PROXY);
  const files = {
    cert: join(scratch, "cert.pem"),
    key: join(scratch, "key.pem"),
    ca: join(scratch, "ca.pem"),
  };
  const install = (issued: IssuedCertificate): void => {
    writeWhole(files.ca, ca.caPem);
    writeWhole(files.key, issued.keyPem);
    writeWhole(files.cert, issued.certPem);
  };
  install(await ca.issue(INSTANCE));

  const upstream = createServer((_request, response) => response.end(UPSTREAM_ANSWER));
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const upstreamAddress = upstream.address();
  assert.ok(upstreamAddress !== null && typeof upstreamAddress === "object");

  const child = spawn(process.execPath, [
    ENTRY,
    ...["--port", "0", "--upstream-port", String(upstreamAddress.port)],
    ...["--cert", files.cert, "--key", files.key, "--ca", files.ca],
    ...["--trust-domain", DOMAIN, "--service", STAGE.service, "--stage", STAGE.stage],
  ]);
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    const announced = await within(
      "the port line",
      new Promise<string>((resolve, reject) => {
        let stdout = "";
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.includes("\n")) resolve(stdout.slice(0, stdout.indexOf("\n")));
        });
        child.once("exit", (code) =>
          reject(new Error(`the terminator exited (${code}) before listening: ${stderr}`)),
        );
      }),
    );
    const { port } = JSON.parse(announced) as { port: number };
    assert.ok(Number.isInteger(port) && port > 0, announced);

    const serverSerial = (): Promise<{ body: string; serial: string }> =>
      within(
        "an answer through the terminator",
        new Promise((resolve, reject) => {
          const outgoing = request(
            {
              host: "127.0.0.1",
              port,
              path: "/",
              agent: false,
              cert: proxyCert.certPem,
              key: proxyCert.keyPem,
              ca: ca.caPem,
              checkServerIdentity: (_host, certificate) => {
                const problem = peerProblem(uriSans(certificate.subjectaltname), {
                  ...STAGE,
                  role: "instance",
                });
                return problem === null ? undefined : new Error(problem);
              },
            },
            (response) => {
              const serial = (response.socket as TLSSocket).getPeerCertificate().serialNumber;
              let body = "";
              response.setEncoding("utf8");
              response.on("data", (chunk: string) => (body += chunk));
              response.on("end", () => resolve({ body, serial }));
            },
          );
          outgoing.on("error", reject);
          outgoing.end();
        }),
      );
    const awaitSerial = async (what: string, expected: string): Promise<void> => {
      const deadline = Date.now() + STEP_TIMEOUT_MS;
      for (;;) {
        const answer = await serverSerial();
        assert.equal(answer.body, UPSTREAM_ANSWER);
        if (answer.serial === expected) return;
        if (Date.now() > deadline) assert.fail(`${what}: still serving ${answer.serial}, not ${expected}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };

    const awaitLog = async (line: RegExp): Promise<void> => {
      const deadline = Date.now() + STEP_TIMEOUT_MS;
      while (!line.test(stderr)) {
        if (Date.now() > deadline) assert.fail(`the terminator never logged ${line}: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };

    const first = await serverSerial();
    assert.equal(first.body, UPSTREAM_ANSWER);

    const renewedForSighup = await ca.issue(INSTANCE);
    install(renewedForSighup);
    child.kill("SIGHUP");
    await awaitSerial("after SIGHUP", new X509Certificate(renewedForSighup.certPem).serialNumber);
    await awaitLog(/reloaded the certificate \(SIGHUP\)/);

    const renewedOnDisk = await ca.issue(INSTANCE);
    install(renewedOnDisk);
    await awaitSerial(
      "after the certificate file changed",
      new X509Certificate(renewedOnDisk.certPem).serialNumber,
    );
    await awaitLog(/reloaded the certificate \(the certificate file changed\)/);

    child.kill("SIGTERM");
    assert.equal(await within("the exit", exited(child)), 0, stderr);
    assert.doesNotMatch(stderr, /PRIVATE KEY/);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test("the terminator process refuses an unknown flag with one line and status 2", async () => {
  const child = spawn(process.execPath, [ENTRY, "--port", "0", "--bind", "0.0.0.0"]);
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  assert.equal(await within("the exit", exited(child)), 2);
  assert.equal(stderr.trim().split("\n").length, 1, stderr);
  assert.match(stderr, /unknown argument "--bind"/);
});
