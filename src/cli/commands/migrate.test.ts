import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import pg from "pg";
import { runCli } from "../../testing/cli.js";
import { freshDatabase, postgresAvailability } from "../../testing/postgres.js";
import { knownMigrations } from "../../store/migrator.js";

const postgres = postgresAvailability();
const scratch = mkdtempSync(join(tmpdir(), "waybill-migrate-cmd-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
let states = 0;
const newStateDir = () => join(scratch, `state-${++states}`);

async function onPostgres(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(statement).finally(() => client.end());
}

describe("waybill migrate", () => {
  test("upgrades the state folder's database when no URL is given", async () => {
    const stateDir = newStateDir();
    const first = await runCli(["migrate"], { stateDir, env: { WAYBILL_DATABASE_URL: "" } });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`applied ${knownMigrations().length} migration`));
    const second = await runCli(["migrate"], { stateDir, env: { WAYBILL_DATABASE_URL: "" } });
    assert.match(second.stdout, /up to date/);
  });

  test("refuses a URL that is not a PostgreSQL one, with exit 2", async () => {
    const result = await runCli(["migrate", "--database", "mysql://root:hunter2@db/waybill"], {
      stateDir: newStateDir(),
    });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /expected a PostgreSQL URL/);
    assert.doesNotMatch(result.stderr + result.stdout, /hunter2/);
  });

  describe("on PostgreSQL", { skip: postgres.available ? false : postgres.reason }, () => {
    test("applies every migration to an empty database and prints them, the password masked", async (t) => {
      const database = await freshDatabase();
      t.after(() => database.drop());
      const password = new URL(database.url).password;
      const result = await runCli(["migrate", "--database", database.url], { stateDir: newStateDir() });
      assert.equal(result.code, 0, result.stderr);
      for (const name of knownMigrations()) assert.match(result.stdout, new RegExp(`^  ${name}$`, "m"));
      assert.match(result.stdout, /:\*\*\*\*@/);
      if (password !== "") assert.ok(!(result.stdout + result.stderr).includes(password));
      const again = await runCli(["migrate"], {
        stateDir: newStateDir(),
        env: { WAYBILL_DATABASE_URL: database.url },
      });
      assert.match(again.stdout, /up to date/);
    });

    test("serve and migrate refuse a database newer than the binary, with exit 2", async (t) => {
      const database = await freshDatabase();
      t.after(() => database.drop());
      assert.equal(
        (await runCli(["migrate", "--database", database.url], { stateDir: newStateDir() })).code,
        0,
      );
      await onPostgres(
        database.url,
        "insert into kysely_migration (name, timestamp) values ('9999_from_a_newer_waybill', '2030-01-01')",
      );
      const newest = knownMigrations().at(-1) ?? "";
      for (const args of [["migrate"], ["serve", "--port", "0"]]) {
        const result = await runCli([...args, "--database", database.url], { stateDir: newStateDir() });
        assert.equal(result.code, 2, `${args[0]}: ${result.stderr}`);
        assert.match(result.stderr, /9999_from_a_newer_waybill/);
        assert.ok(result.stderr.includes(newest), result.stderr);
        assert.doesNotMatch(result.stderr, /at .*\.js:\d+/);
      }
    });

    test("says it cannot connect, without the password, when the password is wrong", async (t) => {
      const database = await freshDatabase();
      t.after(() => database.drop());
      const wrong = new URL(database.url);
      wrong.password = "not-the-password-5f3a";
      const result = await runCli(["migrate", "--database", wrong.toString()], { stateDir: newStateDir() });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /could not connect to the database postgres:\/\/[^:]+:\*\*\*\*@/);
      assert.doesNotMatch(result.stderr + result.stdout, /not-the-password-5f3a/);
    });
  });
});
