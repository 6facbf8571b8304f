import assert from "node:assert/strict";
import { test } from "node:test";
import type { Principal } from "./auth.js";
import { csrfMatches, sessionCookie, sessionIdOf, Sessions } from "./sessions.js";

/** Tokens as the registry knows them; a test revokes one by deleting it */
function registry(known: Record<string, Principal>) {
  return {
    known,
    async authenticate(header: string | undefined) {
      return known[(header ?? "").replace(/^Bearer /, "")];
    },
  };
}

test("a session stands for its token: a wrong token opens none, a revoked one ends it", async () => {
  const tokens = registry({ "token-of-ada-0123456789": { name: "ada", role: "approver" } });
  const sessions = new Sessions(tokens);
  assert.equal(await sessions.open("wrong-token-0123456789"), undefined);
  const opened = await sessions.open("token-of-ada-0123456789");
  assert.ok(opened);
  assert.match(opened.id, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(opened.id, opened.csrf);
  assert.deepEqual(await sessions.find(opened.id), {
    principal: { name: "ada", role: "approver" },
    csrf: opened.csrf,
  });
  delete tokens.known["token-of-ada-0123456789"];
  assert.equal(await sessions.find(opened.id), undefined);
});

test("a session left idle is forgotten, one in use is kept, and the oldest goes when there are too many", async () => {
  let now = 0;
  const tokens = registry({ t: { name: "v", role: "viewer" } });
  const sessions = new Sessions(tokens, { idleMs: 1000, maxSessions: 2, now: () => now });
  const first = await sessions.open("t");
  assert.ok(first);
  now = 900;
  assert.ok(await sessions.find(first.id), "used within the idle time");
  now = 1800;
  assert.ok(await sessions.find(first.id), "use restarts the idle time");
  now = 2900;
  assert.equal(await sessions.find(first.id), undefined);

  const a = await sessions.open("t");
  const b = await sessions.open("t");
  const c = await sessions.open("t");
  assert.ok(a && b && c);
  assert.equal(await sessions.find(a.id), undefined, "the least recently used went");
  assert.ok(await sessions.find(b.id));
  assert.ok(await sessions.find(c.id));
  sessions.close(c.id);
  assert.equal(await sessions.find(c.id), undefined);
});

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
