import assert from "node:assert/strict";
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import pg from "pg";
import { freshDatabase, postgresAvailability, type TestDatabase } from "../testing/postgres.js";
import type { InstanceRecord, ProxyRecord } from "../runtime/types.js";
import { newEvent } from "./events.js";
import { DatabaseNewerThanBinaryError, knownMigrations } from "./migrator.js";
import { machineStateFile, migrateDatabase, openStore, type StoreLocation } from "./open-store.js";
import { openPostgresStore } from "./postgres-store.js";
import { openSqliteStore } from "./sqlite-store.js";

const postgres = postgresAvailability();

/** A place for one test's state: a state dir, and for PostgreSQL a fresh database. */
interface Place {
  location: StoreLocation;
  /** Runs one statement on the store's database, as the backend's own client */
  query(statement: string): Promise<Record<string, unknown>[]>;
}

interface Backend {
  name: "sqlite" | "postgres";
  skip: string | false;
  place(): Promise<Place>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "waybill-store-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function onSqlite(file: string, statement: string): Promise<Record<string, unknown>[]> {
  const database = new Database(file);
  try {
    const prepared = database.prepare(statement);
    if (prepared.reader) return prepared.all() as Record<string, unknown>[];
    prepared.run();
    return [];
  } finally {
    database.close();
  }
}

async function onPostgres(url: string, statement: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(statement)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

async function postgresDatabase(): Promise<TestDatabase> {
  const database = await freshDatabase();
  cleanups.push(() => database.drop());
  return database;
}

const backends: Backend[] = [
  {
    name: "sqlite",
    skip: false,
    async place() {
      const dir = stateDir();
      return {
        location: { stateDir: dir },
        query: (statement) => onSqlite(machineStateFile(dir), statement),
      };
    },
  },
  {
    name: "postgres",
    skip: postgres.available ? false : postgres.reason,
    async place() {
      const database = await postgresDatabase();
      return {
        location: { stateDir: stateDir(), databaseUrl: database.url },
        query: (statement) => onPostgres(database.url, statement),
      };
    },
  },
];

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

function released(runId: string, digest: string, version: string) {
  return newEvent(
    "release.recorded",
    "services/hello/stages/dev",
    { service: "hello", stage: "dev", target: "local", digest, version },
    runId,
  );
}

function artifact(digest: string, version: string) {
  return newEvent("artifact.recorded", `artifacts/${digest}`, {
    service: "hello",
    digest,
    version,
    path: `/artifacts/${digest}`,
    mountPath: ".",
    spec: { run: { env: { GREETING: "hi" } } },
  });
}

const advisory = (id: string, modified: string, ecosystem: string, name: string, aliases: string[] = []) => ({
  schema_version: "1.6.0",
  id,
  modified,
  aliases,
  affected: [
    {
      package: { ecosystem, name },
      ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }] }],
    },
  ],
});

const instance = (id: string): InstanceRecord => ({
  service: "hello",
  stage: "dev",
  id,
  runId: `run-${id}`,
  version: "1",
  digest: "sha256:aa",
  port: 7401,
  pid: 4242,
  state: "running",
  restarts: 0,
  launch: {
    cwd: "/srv/hello",
    command: ["node", "app.js"],
    env: {},
    healthPath: "/healthz",
    healthTimeoutMs: 5000,
  },
});

const proxy: ProxyRecord = {
  service: "hello",
  stage: "dev",
  port: 7400,
  routes: { stable: "web-1", candidate: null, candidateWeight: 0 },
};

for (const backend of backends) {
  describe(`store on ${backend.name}`, { skip: backend.skip }, () => {
    test("appends CloudEvents 1.0 records with the waybillrun extension", async () => {
      const { location } = await backend.place();
      const { store, close } = await openStore(location);
      const [event] = await store.append([queued("r-1", "dev")]);
      assert.equal(event?.specversion, "1.0");
      assert.equal(event?.type, "dev.waybill.run.queued");
      assert.equal(event?.source, "/waybill/control-plane");
      assert.equal(event?.subject, "runs/r-1");
      assert.equal(event?.waybillrun, "r-1");
      assert.equal(typeof event?.seq, "number");
      assert.match(event?.id ?? "", /^[0-9a-f-]{36}$/);
      assert.ok(!Number.isNaN(Date.parse(event?.time ?? "")));
      await close();
    });

    test("keeps text that looks like SQL or its quoting as given, in the log and every projection", async () => {
      // On PostgreSQL an append travels as literals in one message (kysely-store.ts), not as parameters.
      const tricky = `it's $j0$ $$ \\ "x"; drop table runs; -- ünïcode $1`;
      const { location } = await backend.place();
      const { store, close } = await openStore(location);
      const runId = `r-'${tricky}`;
      const envelope = { payloadType: tricky, payload: "", signatures: [] };
      await store.append([
        newEvent("service.registered", "services/hello", { name: "hello", dir: tricky, stages: ["dev"] }),
        { ...queued(runId, "dev"), data: { ...queued(runId, "dev").data, version: tricky } },
        newEvent("attestation.recorded", "artifacts/sha256:aa/attestations", {
          service: "hello",
          digest: "sha256:aa",
          predicateType: tricky,
          stage: null,
          envelope,
        }),
      ]);
      await store.append([
        newEvent("run.started", `runs/${runId}`, {}, runId),
        newEvent("task.failed", `runs/${runId}`, { task: "deploy", reason: tricky }, runId),
      ]);
      const run = await store.getRun(runId);
      assert.equal(run?.version, tricky);
      assert.equal(run?.reason, tricky);
      assert.equal(run?.state, "running");
      assert.equal((await store.getService("hello"))?.dir, tricky);
      assert.deepEqual(
        (await store.attestations("sha256:aa")).map((a) => [a.predicateType, a.envelope]),
        [[tricky, envelope]],
      );
      const events = await store.events();
      assert.deepEqual(
        events.map((event) => event.seq),
        [1, 2, 3, 4, 5],
      );
      assert.equal(events[1]?.data.version, tricky);
      const runsBefore = await store.listRuns();
      await store.rebuildProjections();
      assert.deepEqual(await store.listRuns(), runsBefore);
      await close();
    });

    test("projects runs and releases from the log, and rebuilding gives the same projections", async () => {
      const { location } = await backend.place();
      const { store, close } = await openStore(location);
      await store.append([queued("r-1", "dev")]);
      await store.append([newEvent("run.started", "runs/r-1", {}, "r-1")]);
      await store.append([
        released("r-1", "sha256:aa", "1"),
        newEvent("run.finished", "runs/r-1", { state: "succeeded" }, "r-1"),
      ]);
      await store.append([queued("r-2", "dev")]);
      await store.append([released("r-2", "sha256:bb", "2")]);
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
      assert.deepEqual(
        (await store.listRuns({ limit: 1 })).map((run) => run.id),
        ["r-2"],
      );

      await store.rebuildProjections();
      assert.deepEqual(await store.listRuns(), runsBefore);
      assert.deepEqual(await store.releaseHistory("hello", "dev"), releasesBefore);
      await close();
    });

    test("keeps everything committed across a reopen, and migrations run once", async () => {
      const { location } = await backend.place();
      const first = await openStore(location);
      await first.store.append([queued("r-9", "staging")]);
      await first.close();
      const second = await openStore(location);
      assert.equal((await second.store.getRun("r-9"))?.stage, "staging");
      assert.equal((await second.store.events()).length, 1);
      assert.deepEqual((await migrateDatabase(location)).applied, []);
      await second.close();
    });

    test("an append whose projection fails leaves no event behind", async () => {
      const { location } = await backend.place();
      const { store, close } = await openStore(location);
      await assert.rejects(
        store.append([queued("r-1", "dev"), newEvent("run.started", "runs/r-x", {})]),
        /waybillrun/,
      );
      assert.equal((await store.events()).length, 0);
      assert.equal(await store.getRun("r-1"), undefined);
      await close();
    });

    test("finds artifacts by digest prefix and by version label", async () => {
      const { location } = await backend.place();
      const { store, close } = await openStore(location);
      await store.append([
        artifact("sha256:ab12", "1"),
        artifact("sha256:ab34", "2"),
        artifact("sha256:cd56", "2"),
      ]);
      assert.deepEqual(await store.digestsWithPrefix("sha256:ab"), ["sha256:ab12", "sha256:ab34"]);
      assert.deepEqual(await store.digestsWithPrefix("sha256:ab3"), ["sha256:ab34"]);
      assert.deepEqual(await store.digestsWithPrefix("sha256:%"), []);
      assert.equal((await store.artifactByVersion("hello", "1"))?.digest, "sha256:ab12");
      assert.deepEqual((await store.getArtifact("hello", "sha256:cd56"))?.spec, {
        run: { env: { GREETING: "hi" } },
      });
      await close();
    });

    test("finds advisories by package (names compared as the ecosystem does), by id and by alias", async () => {
      const { location } = await backend.place();
      const { store, close } = await openStore(location);
      await store.put([advisory("PYSEC-1", "2024-01-01T00:00:00Z", "PyPI", "Django_Rest", ["CVE-2024-1"])]);
      assert.deepEqual(
        (await store.byPackage("PyPI", "django-rest")).map((a) => a.id),
        ["PYSEC-1"],
      );
      assert.equal((await store.advisoryById("PYSEC-1"))?.id, "PYSEC-1");
      assert.equal((await store.advisoryById("CVE-2024-1"))?.id, "PYSEC-1");
      assert.equal(await store.advisoryById("CVE-0000-0"), undefined);
      await close();
    });

    test("keeps the newer revision of an advisory imported twice", async () => {
      const { location } = await backend.place();
      const { store, close } = await openStore(location);
      await store.put([advisory("GHSA-x", "2024-02-01T00:00:00Z", "PyPI", "newer")]);
      await store.put([advisory("GHSA-x", "2024-01-01T00:00:00Z", "PyPI", "older")]);
      assert.deepEqual(
        (await store.byPackage("PyPI", "newer")).map((a) => a.id),
        ["GHSA-x"],
      );
      assert.deepEqual(await store.byPackage("PyPI", "older"), []);
      await close();
    });

    test("counts the advisories of each ecosystem (by its base name, lowercase)", async () => {
      const { location } = await backend.place();
      const { store, close } = await openStore(location);
      await store.put([
        advisory("PYSEC-1", "2024-01-01T00:00:00Z", "PyPI", "a"),
        advisory("PYSEC-2", "2024-03-01T00:00:00Z", "PyPI", "b"),
        advisory("GHSA-n", "2024-02-01T00:00:00Z", "npm", "c"),
      ]);
      assert.deepEqual(await store.coverage(), {
        advisories: { pypi: 2, npm: 1 },
        newestModified: "2024-03-01T00:00:00Z",
      });
      await close();
    });

    test("migrate applies every migration to an empty database, then nothing", async () => {
      const { location } = await backend.place();
      const first = await migrateDatabase(location);
      assert.deepEqual(first.before.applied, []);
      assert.deepEqual(first.applied, knownMigrations());
      const second = await migrateDatabase(location);
      assert.deepEqual(second.applied, []);
      assert.deepEqual(second.before.applied, knownMigrations());
    });

    test("refuses a database newer than the binary, and writes nothing to it", async () => {
      const place = await backend.place();
      await migrateDatabase(place.location);
      await place.query(
        "insert into kysely_migration (name, timestamp) values ('9999_from_a_newer_waybill', '2030-01-01T00:00:00Z')",
      );
      const snapshot = () =>
        place.query(
          "select (select count(*) from kysely_migration) as migrations, (select count(*) from events) as events",
        );
      const before = await snapshot();
      const newest = knownMigrations().at(-1) ?? "";
      const refusal = (error: unknown) => {
        assert.ok(error instanceof DatabaseNewerThanBinaryError);
        assert.match(error.message, /9999_from_a_newer_waybill/);
        assert.ok(error.message.includes(newest), error.message);
        assert.equal(error.exitCode, 2);
        return true;
      };
      await assert.rejects(openStore(place.location), refusal);
      await assert.rejects(migrateDatabase(place.location), refusal);
      assert.deepEqual(await snapshot(), before);
    });

    test("keeps the process table in this machine's own file, where a reopen finds it", async () => {
      const { location } = await backend.place();
      const first = await openStore(location);
      await first.machine.putInstance(instance("web-1"));
      await first.machine.putProxy(proxy);
      await first.close();
      const again = await openStore(location);
      assert.deepEqual(await again.machine.listInstances(), [instance("web-1")]);
      assert.deepEqual(await again.machine.listProxies(), [proxy]);
      await again.machine.deleteInstance("web-1");
      assert.deepEqual(await again.machine.listInstances(), []);
      await again.close();
      const local = await onSqlite(machineStateFile(location.stateDir), "select count(*) as n from proxies");
      assert.equal(local[0]?.n, 1);
    });

    test("finds the instances and proxies an earlier version recorded in the state folder", async () => {
      const { location } = await backend.place();
      // What an earlier Waybill left: the embedded database, with the process table in it.
      const earlier = await openStore({ stateDir: location.stateDir });
      await earlier.close();
      const file = machineStateFile(location.stateDir);
      await onSqlite(
        file,
        `insert into instances (id, record) values ('web-1', '${JSON.stringify(instance("web-1"))}')`,
      );
      await onSqlite(
        file,
        `insert into proxies (service, stage, record) values ('hello', 'dev', '${JSON.stringify(proxy)}')`,
      );
      const upgraded = await openStore(location);
      assert.deepEqual(await upgraded.machine.listInstances(), [instance("web-1")]);
      assert.deepEqual(await upgraded.machine.listProxies(), [proxy]);
      await upgraded.close();
    });
  });
}

describe(
  "store on postgres, shared by several processes",
  { skip: postgres.available ? false : postgres.reason },
  () => {
    test("keeps the process table out of the shared database", async () => {
      const database = await postgresDatabase();
      const here = await openStore({ stateDir: stateDir(), databaseUrl: database.url });
      const there = await openStore({ stateDir: stateDir(), databaseUrl: database.url });
      await here.machine.putInstance(instance("web-1"));
      await here.machine.putProxy(proxy);
      assert.deepEqual(await there.machine.listInstances(), []);
      assert.deepEqual(await there.machine.listProxies(), []);
      const tables = await onPostgres(
        database.url,
        "select table_name from information_schema.tables where table_name in ('instances', 'proxies')",
      );
      assert.deepEqual(tables, []);
      await here.close();
      await there.close();
    });

    test("two stores appending at once: seq strictly increasing, in commit order, projections consistent", async () => {
      const database = await postgresDatabase();
      const stores = [await openPostgresStore(database.url), await openPostgresStore(database.url)];
      const reader = await openPostgresStore(database.url);
      const perStore = 25;
      let appending = true;
      // A reader tailing by afterSeq while the appends run: if a lower seq could commit after a
      // higher one, the reader would pass over it for good.
      const tailed: number[] = [];
      const tail = (async () => {
        for (;;) {
          const last = !appending;
          const batch = await reader.events({ afterSeq: tailed.at(-1) ?? 0 });
          tailed.push(...batch.map((event) => event.seq));
          if (last) return;
        }
      })();
      await Promise.all(
        stores.map((store, which) =>
          Promise.all(
            Array.from({ length: perStore }, async (_, i) => {
              const runId = `r-${which}-${i}`;
              await store.append([queued(runId, "dev"), newEvent("run.started", `runs/${runId}`, {}, runId)]);
              await store.append([newEvent("run.finished", `runs/${runId}`, { state: "succeeded" }, runId)]);
            }),
          ),
        ),
      );
      appending = false;
      await tail;

      const events = await reader.events();
      const seqs = events.map((event) => event.seq);
      assert.equal(events.length, 2 * perStore * 3);
      assert.ok(
        seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] ?? 0)),
        "seq strictly increasing",
      );
      assert.deepEqual(tailed, seqs);
      for (const run of events.filter((event) => event.type.endsWith("run.queued"))) {
        const id = run.waybillrun ?? "";
        const own = events
          .filter((event) => event.waybillrun === id)
          .map((event) => event.type.split(".").at(-1));
        assert.deepEqual(own, ["queued", "started", "finished"]);
      }
      const runs = await reader.listRuns();
      assert.equal(runs.length, 2 * perStore);
      assert.ok(runs.every((run) => run.state === "succeeded" && run.startedAt !== null));
      for (const store of [...stores, reader]) await store.close();
    });
  },
);

describe("embedded store", () => {
  test("openSqliteStore opens a database file of its own, as before", async () => {
    const file = join(stateDir(), "nested", "events.db");
    const store = await openSqliteStore(file);
    await store.append([queued("r-1", "dev")]);
    assert.equal((await store.getRun("r-1"))?.state, "queued");
    await store.close();
  });
});
