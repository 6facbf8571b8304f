/**
 * The dashboard's routes on the API shell: logging in with a token for a session cookie, the CSRF
 * token a cookie's change must carry, the page at `/` for a browser and the index for the rest, the
 * hashed files, and a run followed live over server-sent events.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import type { Role } from "../../api/contract.js";
import { CSRF_HEADER } from "../../api/session.js";
import { newEvent, type NewEvent } from "../../store/events.js";
import { openSqliteStore, type SqliteStore } from "../../store/sqlite-store.js";
import { checkRoleMatrix, tokensForEveryRole } from "../../testing/role-matrix.js";
import { createApiServer, type RouteInfo } from "../api-server.js";
import { TokenRegistry } from "../auth.js";
import { Sessions } from "../sessions.js";
import { loadDashboardFiles, registerDashboardRoutes } from "./dashboard.js";
import { registerSessionRoutes } from "./session.js";
import { registerStreamRoutes } from "./stream.js";
import { registerSystemRoutes } from "./system.js";

const stateDir = mkdtempSync(join(tmpdir(), "waybill-session-routes-"));
const assetsDir = join(stateDir, "assets");
let store: SqliteStore;
let app: FastifyInstance;
let routes: RouteInfo[];
let tokens: Record<Role, string>;
const digest = `sha256:${"d".repeat(64)}`;

function runEvents(id: string): NewEvent[] {
  const data = {
    runId: id,
    shipId: "s1",
    kind: "ship" as const,
    service: "cart",
    stage: "dev",
    stageIndex: 0,
    digest,
    version: "1",
  };
  return [newEvent("run.queued", `runs/${id}`, data, id), newEvent("run.started", `runs/${id}`, {}, id)];
}

before(async () => {
  tokens = tokensForEveryRole(stateDir);
  mkdirSync(assetsDir);
  writeFileSync(join(assetsDir, "app-ABC123.js"), "export {};\n");
  writeFileSync(join(assetsDir, "app-DEF456.css"), "body{}\n");
  writeFileSync(
    join(assetsDir, "manifest.json"),
    JSON.stringify({
      script: "app-ABC123.js",
      style: "app-DEF456.css",
      files: ["app-ABC123.js", "app-DEF456.css"],
    }),
  );
  store = await openSqliteStore(join(stateDir, "waybill.db"));
  await store.append([
    newEvent("service.registered", "services/cart", { name: "cart", dir: "/srv/cart", stages: ["dev"] }),
    ...runEvents("r-done"),
    newEvent("task.started", "runs/r-done", { task: "deploy", attempt: 1 }, "r-done"),
    newEvent("task.succeeded", "runs/r-done", { task: "deploy" }, "r-done"),
    newEvent("run.finished", "runs/r-done", { state: "succeeded" }, "r-done"),
    ...runEvents("r-live"),
  ]);
  const registry = TokenRegistry.load(stateDir, store.tokenStore());
  const sessions = new Sessions(registry, store.tokenStore().sessions());
  ({ app, routes } = createApiServer(registry, sessions));
  const dashboard = loadDashboardFiles(assetsDir);
  registerSystemRoutes(app, { openApi: {}, version: "0.0.0", shutdown: () => undefined, dashboard });
  registerDashboardRoutes(app, dashboard);
  registerSessionRoutes(app, { sessions });
  registerStreamRoutes(app, { store, engine: { liveProgress: () => undefined } });
  await app.listen({ port: 0, host: "127.0.0.1" });
});

after(async () => {
  await app.close();
  await store.close();
  rmSync(stateDir, { recursive: true, force: true });
});

async function logIn(token: string) {
  const response = await app.inject({ method: "POST", url: "/v1/session", payload: { token } });
  assert.equal(response.statusCode, 201, response.body);
  const cookie = String(response.headers["set-cookie"]).split(";")[0] ?? "";
  return {
    cookie,
    csrf: response.json<{ csrf: string }>().csrf,
    setCookie: String(response.headers["set-cookie"]),
  };
}

describe("the dashboard's session", () => {
  test("every route of the session, the stream and the files is guarded by its role", async () => {
    const mine = routes.filter((route) => /session|stream|\/ui\/|^\/$/.test(route.url));
    assert.equal(mine.length, 6, mine.map((route) => `${route.method} ${route.url}`).join(", "));
    await checkRoleMatrix(app, mine, tokens);
  });

  test("a token pasted once becomes an HttpOnly, SameSite=Strict cookie; a wrong one is refused", async () => {
    const wrong = await app.inject({
      method: "POST",
      url: "/v1/session",
      payload: { token: "not-a-token-of-ours" },
    });
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.headers["set-cookie"], undefined);
    assert.doesNotMatch(wrong.body, /not-a-token-of-ours/, "a refusal never repeats the secret");

    const { cookie, csrf, setCookie } = await logIn(tokens.approver);
    assert.match(setCookie, /^waybill_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\//);
    const who = await app.inject({ method: "GET", url: "/v1/session", headers: { cookie } });
    assert.deepEqual(who.json(), { name: "approver", role: "approver", csrf });
    const byBearer = await app.inject({
      method: "GET",
      url: "/v1/session",
      headers: { authorization: `Bearer ${tokens.viewer}` },
    });
    assert.deepEqual(byBearer.json(), { name: "viewer", role: "viewer", csrf: null });
  });

  test("a change made with the cookie needs the session's CSRF token; a bearer token needs none", async () => {
    const { cookie, csrf } = await logIn(tokens.admin);
    for (const header of [{}, { [CSRF_HEADER]: "x".repeat(43) }]) {
      const refused = await app.inject({
        method: "DELETE",
        url: "/v1/session",
        headers: { cookie, ...header },
      });
      assert.equal(refused.statusCode, 403);
      assert.match(refused.json<{ detail: string }>().detail, /CSRF token in the x-waybill-csrf header/);
    }
    const loggedOut = await app.inject({
      method: "DELETE",
      url: "/v1/session",
      headers: { cookie, [CSRF_HEADER]: csrf },
    });
    assert.equal(loggedOut.statusCode, 200);
    assert.match(String(loggedOut.headers["set-cookie"]), /^waybill_session=; Max-Age=0/);
    const after = await app.inject({ method: "GET", url: "/v1/session", headers: { cookie } });
    assert.equal(after.statusCode, 401, "a session logged out is gone");

    const bearer = await app.inject({
      method: "DELETE",
      url: "/v1/session",
      headers: { authorization: `Bearer ${tokens.viewer}` },
    });
    assert.equal(bearer.statusCode, 200);
  });

  test("a session has its token's role: a viewer's cookie with its CSRF token is still refused an admin's route", async () => {
    const { cookie, csrf } = await logIn(tokens.viewer);
    const response = await app.inject({
      method: "POST",
      url: "/v1/session",
      headers: { cookie, [CSRF_HEADER]: csrf },
      payload: { token: tokens.admin },
    });
    // Logging in again is open to anyone with a token: it replaces the session.
    assert.equal(response.statusCode, 201);
    const old = await app.inject({ method: "GET", url: "/v1/session", headers: { cookie } });
    assert.equal(old.statusCode, 401, "the session a new login replaced is gone");
  });
});

describe("the page and its files", () => {
  test("a browser gets the page at /, any other client the API's index", async () => {
    const browser = await app.inject({
      method: "GET",
      url: "/",
      headers: { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" },
    });
    assert.equal(browser.statusCode, 200);
    assert.match(String(browser.headers["content-type"]), /^text\/html/);
    assert.match(browser.body, /<script type="module" src="\/ui\/app-ABC123\.js"><\/script>/);
    assert.match(browser.body, /<link rel="stylesheet" href="\/ui\/app-DEF456\.css">/);
    assert.match(String(browser.headers["content-security-policy"]), /script-src 'self'/);
    assert.equal(browser.headers["vary"], "Accept");
    for (const accept of [undefined, "*/*", "application/json", "application/json, text/html;q=0.5"]) {
      const other = await app.inject({
        method: "GET",
        url: "/",
        headers: accept === undefined ? {} : { accept },
      });
      assert.equal(other.json<{ name: string }>().name, "waybill", `Accept: ${accept}`);
    }
  });

  test("the files are served by their hashed names as immutable, and nothing else is", async () => {
    const script = await app.inject({ method: "GET", url: "/ui/app-ABC123.js" });
    assert.equal(script.statusCode, 200);
    assert.match(String(script.headers["content-type"]), /^text\/javascript/);
    assert.equal(script.headers["cache-control"], "public, max-age=31536000, immutable");
    const style = await app.inject({ method: "GET", url: "/ui/app-DEF456.css" });
    assert.match(String(style.headers["content-type"]), /^text\/css/);
    for (const url of ["/ui/manifest.json", "/ui/app-OTHER.js", "/ui/..%2Fmanifest.json"]) {
      const response = await app.inject({ method: "GET", url });
      assert.ok([400, 404].includes(response.statusCode), `${url}: ${response.statusCode}`);
    }
  });
});

describe("a run followed live", () => {
  test("a settled run's stream sends its events and ends", async () => {
    const response = await app.inject({
      method: "GET",
      url: "/v1/runs/r-done/stream",
      headers: { authorization: `Bearer ${tokens.viewer}` },
    });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers["content-type"]), /^text\/event-stream/);
    const names = [...response.body.matchAll(/^event: (.+)$/gm)].map((match) => match[1]);
    assert.deepEqual(names, ["event", "event", "event", "event", "event", "run", "end"]);
    assert.match(response.body, /"type":"dev\.waybill\.task\.succeeded"/);
    const resumed = await app.inject({
      method: "GET",
      url: "/v1/runs/r-done/stream",
      headers: {
        authorization: `Bearer ${tokens.viewer}`,
        "last-event-id": /^id: (\d+)$/m.exec(response.body)?.[1] ?? "",
      },
    });
    assert.equal(
      [...resumed.body.matchAll(/^event: event$/gm)].length,
      4,
      "Last-Event-ID resumes after that event",
    );
  });

  test("an unknown run is a 404 problem, not a stream", async () => {
    const response = await app.inject({
      method: "GET",
      url: "/v1/runs/r-none/stream",
      headers: { authorization: `Bearer ${tokens.viewer}` },
    });
    assert.equal(response.statusCode, 404);
  });

  test("events appended while a client follows a run reach it, and the stream closes when the run settles", async () => {
    const address = app.server.address();
    assert.ok(address !== null && typeof address === "object");
    const { cookie } = await logIn(tokens.viewer);
    const response = await fetch(`http://127.0.0.1:${address.port}/v1/runs/r-live/stream`, {
      headers: { cookie },
    });
    assert.equal(response.status, 200);
    const reader = response.body?.getReader();
    assert.ok(reader);
    let received = "";
    const until = async (pattern: RegExp) => {
      while (!pattern.test(received)) {
        const chunk = await reader.read();
        if (chunk.done) break;
        received += Buffer.from(chunk.value).toString();
      }
      assert.match(received, pattern);
    };
    await until(/"type":"dev\.waybill\.run\.started"/);
    await store.append([newEvent("task.started", "runs/r-live", { task: "deploy", attempt: 1 }, "r-live")]);
    await until(/"task":"deploy","attempt":1/);
    await store.append([
      newEvent("run.finished", "runs/r-live", { state: "failed", reason: "it broke" }, "r-live"),
    ]);
    await until(/event: end\ndata: \{[^\n]*"state":"failed"/);
    assert.equal((await reader.read()).done, true, "the stream closed once the run settled");
  });
});
