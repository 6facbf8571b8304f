import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MeshCa } from "../security/ca.js";
import { MeshClient } from "./mesh-client.js";

const DOMAIN = "waybill-mesh-client-test.local";
const key = { service: "cart", stage: "staging" };

function writeWhole(file: string, content: string): void {
  writeFileSync(`${file}.tmp`, content, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 50) {
    if (waited > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test("a renewed certificate makes a new pool, and one whose key does not fit keeps the running one", async () => {
  const dir = mkdtempSync(join(tmpdir(), "waybill-mesh-client-"));
  const ca = await MeshCa.open(join(dir, "ca"), DOMAIN);
  const files = {
    certFile: join(dir, "cert.pem"),
    keyFile: join(dir, "key.pem"),
    caFile: join(dir, "ca.pem"),
    trustDomain: DOMAIN,
  };
  const install = (certPem: string, keyPem: string): void => {
    writeWhole(files.caFile, ca.caPem);
    writeWhole(files.keyFile, keyPem);
    writeWhole(files.certFile, certPem);
  };
  const first = await ca.issue({ trustDomain: DOMAIN, ...key, role: "proxy" });
  install(first.certPem, first.keyPem);
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning.message);
  process.on("warning", onWarning);
  const client = new MeshClient(key, files);
  try {
    const original = client.pool;
    const other = await ca.issue({ trustDomain: DOMAIN, ...key, role: "proxy" });
    install(other.certPem, first.keyPem);
    await until("the warning", () => warnings.length > 0);
    assert.equal(client.pool, original, "the running pool stays");
    assert.match(warnings[0] ?? "", /kept its previous mesh certificate/);
    assert.doesNotMatch(warnings[0] ?? "", /PRIVATE KEY|BEGIN/, "no key material in the message");

    install(other.certPem, other.keyPem);
    await until("a new pool", () => client.pool !== original);
    assert.ok(original.isRetired, "the old pool is retired");
    assert.equal(original.idleCount(), 0, "the old pool keeps no idle connection");
  } finally {
    client.close();
    process.off("warning", onWarning);
    rmSync(dir, { recursive: true, force: true });
  }
});
