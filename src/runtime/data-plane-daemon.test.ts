import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { dataPlaneSocket, runDataPlaneDaemon } from "./data-plane-daemon.js";

const stateDir = mkdtempSync(join(tmpdir(), "waybill-data-plane-"));
after(() => rmSync(stateDir, { recursive: true, force: true }));

function send(path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { socketPath: dataPlaneSocket(stateDir), path, method: "POST", agent: false },
      (response) => {
        let text = "";
        response.on("data", (chunk: Buffer) => (text += chunk.toString()));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

test("the data plane's socket is the owner's alone, and a malformed request gets a 4xx, not a crash", async () => {
  const served = runDataPlaneDaemon({ stateDir, portRange: [29400, 29420], metricsPort: 0 });
  for (let i = 0; i < 100; i++) {
    if ((await send("/hello", "{}").catch(() => undefined))?.status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(statSync(dataPlaneSocket(stateDir)).mode & 0o777, 0o600);

  const badShape = await send("/routes", JSON.stringify({ key: { service: "shop" }, routes: {} }));
  assert.equal(badShape.status, 400);
  assert.match(badShape.body, /bad \/routes request/);
  assert.equal((await send("/stats", "{not json")).status, 400);
  assert.equal((await send("/nowhere", "{}")).status, 404);
  assert.equal((await send("/windows/read", JSON.stringify({ id: "nope" }))).status, 404);
  assert.equal((await send("/hello", "{}")).status, 200, "still serving after bad requests");

  assert.equal((await send("/shutdown", "{}")).status, 200);
  await served;
});
