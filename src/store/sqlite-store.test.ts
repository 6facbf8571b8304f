import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { newEvent } from "./events.js";
import { openSqliteStore } from "./sqlite-store.js";

const dir = mkdtempSync(join(tmpdir(), "waybill-store-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function queued(runId: string, stage: string) {
  return newEvent(
    "run.queued",
    `runs/${runId}`,
    {
      runId,
      shipId: "ship-1",
      kind: "ship",
      service: "hello",
      stage,
      stageIndex: 0,
      digest: "sha256:aa",
      version: "1",
    },
    runId,
  );
}

describe("sqlite store", () => {
  test("appends CloudEvents 1.0 records with the waybillrun extension", async () => {
    const store = await openSqliteStore(join(dir, "events.db"));
    const [event] = await store.append([queued("r-1", "dev")]);
    assert.equal(event?.specversion, "1.0");
    assert.equal(event?.type, "dev.waybill.run.queued");
    assert.equal(event?.source, "/waybill/control-plane");
    assert.equal(event?.subject, "runs/r-1");
    assert.equal(event?.waybillrun, "r-1");
    assert.match(event?.id ?? "", /^[0-9a-f-]{36}$/);
    assert.ok(!Number.isNaN(Date.parse(event?.time ?? "")));
    await store.close();
  });

  test("projects runs and releases from the log, and rebuilding gives the same projections", async () => {
    const store = await openSqliteStore(join(dir, "projections.db"));
    await store.append([queued("r-1", "dev")]);
    await store.append([newEvent("run.started", "runs/r-1", {}, "r-1")]);
    await store.append([
      newEvent(
        "release.recorded",
        "services/hello/stages/dev",
        {
          service: "hello",
          stage: "dev",
          target: "local",
          digest: "sha256:aa",
          version: "1",
        },
        "r-1",
      ),
      newEvent("run.finished", "runs/r-1", { state: "succeeded" }, "r-1"),
    ]);
    await store.append([queued("r-2", "dev")]);
    await store.append([
      newEvent(
        "release.recorded",
        "services/hello/stages/dev",
        {
          service: "hello",
          stage: "dev",
          target: "local",
          digest: "sha256:bb",
          version: "2",
        },
        "r-2",
      ),
    ]);
    const runsBefore = await store.listRuns();
    const releasesBefore = await store.releaseHistory("hello", "dev");
    assert.deepEqual(
      runsBefore.map((run) => [run.id, run.state]),
      [
        ["r-1", "succeeded"],
        ["r-2", "queued"],
      ],
    );
    assert.deepEqual(
      (await store.currentReleases("hello", "dev")).map((r) => r.version),
      ["2"],
    );
    assert.equal(releasesBefore[1]?.replacedAt !== null, true);

    await store.rebuildProjections();
    assert.deepEqual(await store.listRuns(), runsBefore);
    assert.deepEqual(await store.releaseHistory("hello", "dev"), releasesBefore);
    await store.close();
  });

  test("keeps everything committed across a reopen, and migrations run once", async () => {
    const file = join(dir, "reopen.db");
    const first = await openSqliteStore(file);
    await first.append([queued("r-9", "staging")]);
    await first.close();
    const second = await openSqliteStore(file);
    assert.equal((await second.getRun("r-9"))?.stage, "staging");
    assert.equal((await second.events()).length, 1);
    await second.close();
  });

  test("an append whose projection fails leaves no event behind", async () => {
    const store = await openSqliteStore(join(dir, "atomic.db"));
    await assert.rejects(
      store.append([queued("r-1", "dev"), newEvent("run.started", "runs/r-x", {})]),
      /waybillrun/,
    );
    assert.equal((await store.events()).length, 0);
    assert.equal(await store.getRun("r-1"), undefined);
    await store.close();
  });
});

describe("advisory index", () => {
  const advisory = (id: string, modified: string, name: string, aliases: string[] = []) => ({
    schema_version: "1.6.0",
    id,
    modified,
    aliases,
    affected: [
      {
        package: { ecosystem: "PyPI", name },
        ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }] }],
      },
    ],
  });

  test("finds advisories by package (names compared as the ecosystem does), by id and by alias", async () => {
    const store = await openSqliteStore(join(dir, "advisories.db"));
    await store.put([advisory("PYSEC-1", "2024-01-01T00:00:00Z", "Django_Rest", ["CVE-2024-1"])]);
    assert.deepEqual(
      (await store.byPackage("PyPI", "django-rest")).map((a) => a.id),
      ["PYSEC-1"],
    );
    assert.equal((await store.advisoryById("PYSEC-1"))?.id, "PYSEC-1");
    assert.equal((await store.advisoryById("CVE-2024-1"))?.id, "PYSEC-1");
    assert.equal(await store.advisoryById("CVE-0000-0"), undefined);
    await store.close();
  });

  test("keeps the newer revision of an advisory imported twice", async () => {
    const store = await openSqliteStore(join(dir, "revisions.db"));
    await store.put([advisory("GHSA-x", "2024-02-01T00:00:00Z", "newer")]);
    await store.put([advisory("GHSA-x", "2024-01-01T00:00:00Z", "older")]);
    assert.deepEqual(
      (await store.byPackage("PyPI", "newer")).map((a) => a.id),
      ["GHSA-x"],
    );
    assert.deepEqual(await store.byPackage("PyPI", "older"), []);
    await store.close();
  });
});
