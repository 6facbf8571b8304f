import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { artifactDigest } from "../artifact/digest.js";
import { PREDICATE_TYPES } from "../evidence/attestation/predicate-types.js";
import { openSqliteStore, type SqliteStore } from "../store/sqlite-store.js";
import { Deliveries } from "./deliveries.js";
import { Engine } from "./engine.js";
import { recordingControlPlane } from "../testing/recording-control-plane.js";

const root = mkdtempSync(join(tmpdir(), "waybill-deliveries-"));
const stateDir = join(root, "state");
let store: SqliteStore;
let engine: Engine;
let deliveries: Deliveries;
// An admin, whose first ship of a service may set its stage policies.
const actor = { name: "admin", mayChangePolicy: true };

before(async () => {
  mkdirSync(stateDir);
  store = await openSqliteStore(join(stateDir, "waybill.db"));
  ({ engine, deliveries } = recordingControlPlane(store, stateDir));
  // The runs are only queued here, never executed.
  await engine.stop();
});

after(async () => {
  await engine.stop();
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

function lockfile(dependency: string): string {
  return JSON.stringify({
    name: "shop",
    version: "1.0.0",
    lockfileVersion: 3,
    requires: true,
    packages: {
      "": { name: "shop", version: "1.0.0", dependencies: { [dependency]: "1.0.0" } },
      [`node_modules/${dependency}`]: { version: "1.0.0" },
    },
  });
}

/** A service folder locked to `service-dep`, whose dist/ carries its own lockfile when asked */
function serviceFolder(name: string, distLockedTo: string | undefined): string {
  const dir = join(root, name);
  mkdirSync(join(dir, "dist"), { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "shop", version: "1.0.0" }));
  writeFileSync(join(dir, "package-lock.json"), lockfile("service-dep"));
  writeFileSync(join(dir, "dist", "server.js"), `console.log(${JSON.stringify(name)})\n`);
  if (distLockedTo !== undefined) {
    writeFileSync(join(dir, "dist", "package.json"), JSON.stringify({ name: "shop", version: "1.0.0" }));
    writeFileSync(join(dir, "dist", "package-lock.json"), lockfile(distLockedTo));
  }
  return dir;
}

const spec = (name: string) => ({ metadata: { name }, run: { command: "node server.js" } });

describe("Deliveries.ship", () => {
  const cases = [
    {
      name: "a dist/ without lockfiles is described by the service folder's",
      distLockedTo: undefined,
      expected: "service-dep",
    },
    {
      name: "an artifact with its own lockfile is described by it",
      distLockedTo: "artifact-dep",
      expected: "artifact-dep",
    },
  ];
  for (const { name, distLockedTo, expected } of cases) {
    test(name, async () => {
      const service = `shop-${expected}`;
      const dir = serviceFolder(service, distLockedTo);
      const digest = await artifactDigest(join(dir, "dist"));
      const request = {
        spec: spec(service),
        serviceDir: dir,
        artifactDir: join(dir, "dist"),
        digest,
        version: "1",
      };
      await deliveries.ship(request, actor);
      const [sbom] = await store.attestations(digest, PREDICATE_TYPES.sbom);
      assert.ok(sbom, "the SBOM was recorded");
      const statement = JSON.parse(Buffer.from(sbom.envelope.payload, "base64").toString()) as {
        predicate: { components?: { name: string }[] };
      };
      assert.deepEqual(
        statement.predicate.components?.map((component) => component.name),
        [expected],
      );
    });
  }

  test("a service folder that does not exist is refused for that, and nothing is recorded", async () => {
    const dir = join(root, "missing");
    const request = {
      spec: spec("ghost"),
      serviceDir: dir,
      artifactDir: join(dir, "dist"),
      digest: `sha256:${"a".repeat(64)}`,
      version: "1",
    };
    await assert.rejects(deliveries.ship(request, actor), /serviceDir .*missing does not exist/);
    assert.equal(await store.getService("ghost"), undefined);
  });
});
