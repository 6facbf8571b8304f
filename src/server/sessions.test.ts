import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import pg from "pg";
import { machineStateFile, openStore, type OpenedStore } from "../store/open-store.js";
import { openSqliteDatabase } from "../store/sqlite-store.js";
import { storeBackends } from "../testing/postgres.js";
import { tokensForEveryRole } from "../testing/role-matrix.js";
import { adminToken, mintToken, TokenRegistry } from "./auth.js";
import { csrfMatches, sessionCookie, sessionIdOf, Sessions, type SessionOptions } from "./sessions.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const backends = storeBackends("waybill-sessions-", (undo) => cleanups.push(undo));

/** Two replicas on one database and one state folder, each with its own sessions and tokens */
async function twoReplicas(
  backend: (typeof backends)[number],
  options: Partial<SessionOptions> = {},
): Promise<{ replicas: Sessions[]; opened: OpenedStore; stateDir: string; rows: () => Promise<string> }> {
  const location = await backend.location();
  tokensForEveryRole(location.stateDir);
  const replicas: Sessions[] = [];
  let first: OpenedStore | undefined;
  // On SQLite the database is one process's: both "replicas" share its handle.
  for (let index = 0; index < 2; index++) {
    const opened = backend.name === "sqlite" && first !== undefined ? first : await openStore(location);
    if (opened !== first) cleanups.push(() => opened.close());
    first ??= opened;
    const tokenStore = opened.store.tokenStore();
    replicas.push(
      new Sessions(TokenRegistry.load(location.stateDir, tokenStore), tokenStore.sessions(), options),
    );
  }
  /** Everything the sessions' table holds, as text, read past the store */
  const rows = async () => {
    if (location.databaseUrl === undefined) {
      const db = await openSqliteDatabase(machineStateFile(location.stateDir));
      try {
        return JSON.stringify(
          await db
            .selectFrom("dashboard_sessions" as never)
            .selectAll()
            .execute(),
        );
      } finally {
        await db.destroy();
      }
    }
    const client = new pg.Client({ connectionString: location.databaseUrl });
    await client.connect();
    try {
      return JSON.stringify((await client.query("select * from dashboard_sessions")).rows);
    } finally {
      await client.end();
    }
  };
  return { replicas, opened: first!, stateDir: location.stateDir, rows };
}

for (const backend of backends) {
  describe(`dashboard sessions on ${backend.name}`, { skip: backend.skip }, () => {
    test("a session opened on one replica is valid on another, and logging out on one ends it on both", async () => {
      const { replicas, stateDir } = await twoReplicas(backend);
      const [one, two] = replicas as [Sessions, Sessions];
      assert.equal(await one.open("wrong-token-0123456789"), undefined);
      const opened = await one.open(adminToken(stateDir));
      assert.ok(opened);
      assert.match(opened.id, /^[A-Za-z0-9_-]{43}$/);
      assert.notEqual(opened.id, opened.csrf);
      assert.deepEqual(await two.find(opened.id), {
        principal: { name: "admin", role: "admin" },
        csrf: opened.csrf,
      });
      await two.close(opened.id);
      assert.equal(await one.find(opened.id), undefined);
      assert.equal(await two.find(opened.id), undefined);
    });

    test("a session of a minted token ends on every replica once the token is revoked", async () => {
      const { replicas, opened: database } = await twoReplicas(backend);
      const [one, two] = replicas as [Sessions, Sessions];
      const tokens = database.store.tokenStore();
      const { token, stored } = mintToken("ada", "approver", "admin", new Date());
      assert.ok(await tokens.add(stored));
      const opened = await one.open(token);
      assert.ok(opened);
      assert.deepEqual((await two.find(opened.id))?.principal, { name: "ada", role: "approver" });
      await tokens.revoke("ada", "admin", new Date().toISOString());
      assert.equal(await two.find(opened.id), undefined);
      assert.equal(await one.find(opened.id), undefined);
    });

    test("keeps no token in the database, only references to it", async () => {
      const { replicas, opened: database, stateDir, rows } = await twoReplicas(backend);
      const { token, stored } = mintToken("bo", "viewer", "admin", new Date());
      assert.ok(await database.store.tokenStore().add(stored));
      const admin = adminToken(stateDir);
      const sessions = [await replicas[0]!.open(admin), await replicas[0]!.open(token)];
      const held = await rows();
      assert.match(held, /token_id/);
      // The secret itself may hold "_" (base64url), so it is what follows "wb_<id>_".
      const tokenSecret = /^wb_[0-9a-f]+_(.+)$/.exec(token)?.[1];
      assert.ok(tokenSecret !== undefined && tokenSecret.length > 20);
      for (const secret of [admin, token, tokenSecret, ...sessions.map((s) => s!.id)]) {
        assert.ok(!held.includes(secret), "no token and no session id is stored as it is");
      }
    });

    test("a session left idle is forgotten, one in use is kept, and the oldest goes when there are too many", async () => {
      let now = 0;
      const { replicas } = await twoReplicas(backend, {
        idleMs: 1000,
        maxSessions: 2,
        touchEveryMs: 100,
        now: () => now,
      });
      const [one, two] = replicas as [Sessions, Sessions];
      const token = "viewer-token-0123456789";
      const first = await one.open(token);
      assert.ok(first);
      now = 900;
      assert.ok(await two.find(first.id), "used within the idle time");
      now = 1800;
      assert.ok(await one.find(first.id), "use restarts the idle time, on any replica");
      now = 2900;
      assert.equal(await two.find(first.id), undefined);

      const a = await one.open(token);
      now = 3000;
      const b = await two.open(token);
      now = 3100;
      const c = await one.open(token);
      assert.ok(a && b && c);
      assert.equal(await two.find(a.id), undefined, "the least recently used went");
      assert.ok(await two.find(b.id));
      assert.ok(await one.find(c.id));
    });

    test("a session's last use is written at most once per interval, not on every request", async () => {
      let now = 0;
      const { replicas } = await twoReplicas(backend, { idleMs: 1000, touchEveryMs: 600, now: () => now });
      const [one] = replicas as [Sessions, Sessions];
      const opened = await one.open("viewer-token-0123456789");
      assert.ok(opened);
      now = 500;
      assert.ok(await one.find(opened.id), "not written: within the interval");
      now = 1100;
      assert.equal(await one.find(opened.id), undefined, "idle since 0, the use at 500 was not written");
    });
  });
}

test("the session id is read from the Cookie header, and only in its own shape", () => {
  const id = "a".repeat(43);
  const cases: [string | undefined, string | undefined][] = [
    [undefined, undefined],
    ["", undefined],
    [`waybill_session=${id}`, id],
    [`theme=dark; waybill_session=${id}; other=1`, id],
    ["waybill_session=short", undefined],
    [`waybill_session=${"a".repeat(42)}=`, undefined],
    [`not_waybill_session=${id}`, undefined],
  ];
  for (const [header, expected] of cases) assert.equal(sessionIdOf(header), expected, String(header));
});

test("the cookie is HttpOnly, SameSite=Strict and for the whole site; Secure over TLS; clearing it expires it", () => {
  assert.equal(
    sessionCookie("abc", { secure: false }),
    "waybill_session=abc; HttpOnly; SameSite=Strict; Path=/",
  );
  assert.equal(
    sessionCookie("abc", { secure: true }),
    "waybill_session=abc; HttpOnly; SameSite=Strict; Path=/; Secure",
  );
  assert.equal(
    sessionCookie(undefined, { secure: false }),
    "waybill_session=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/",
  );
});

test("the CSRF token must be the session's own, given once", () => {
  const session = { principal: { name: "a", role: "admin" as const }, csrf: "c".repeat(43) };
  const cases: [string | string[] | undefined, boolean][] = [
    ["c".repeat(43), true],
    ["c".repeat(42), false],
    ["d".repeat(43), false],
    [undefined, false],
    [["c".repeat(43), "c".repeat(43)], false],
  ];
  for (const [presented, expected] of cases)
    assert.equal(csrfMatches(session, presented), expected, String(presented));
});
