import { test } from "node:test";
import { rollBackStage } from "../api/stages.js";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ApiClient } from "./client.js";

async function serve(answer: string): Promise<{ server: Server; url: string }> {
  const server = createServer((_request, response) => response.end(JSON.stringify({ answer })));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

test("a read whose control plane went away goes to its successor; a write is not sent again", async () => {
  const first = await serve("first");
  const successor = await serve("successor");
  let reconnects = 0;
  const client = new ApiClient(first.url, "token").reconnectWith(async () => {
    reconnects++;
    return new ApiClient(successor.url, "token");
  });
  try {
    assert.deepEqual(await client.get("/v1/runs/r-1"), { answer: "first" });
    await new Promise((resolve) => first.server.close(resolve));
    assert.deepEqual(await client.get("/v1/runs/r-1"), { answer: "successor" });
    assert.equal(reconnects, 1);
    assert.equal(client.baseUrl, successor.url, "later calls go to the successor");

    const gone = new ApiClient(first.url, "token").reconnectWith(async () => {
      reconnects++;
      return new ApiClient(successor.url, "token");
    });
    await assert.rejects(gone.call(rollBackStage, { params: { service: "s", stage: "dev" }, body: {} }), {
      code: "ECONNREFUSED",
    });
    assert.equal(reconnects, 1, "a write that may have been carried out is never retried");
  } finally {
    successor.server.close();
  }
});
