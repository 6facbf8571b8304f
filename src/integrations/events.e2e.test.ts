/**
 * CloudEvents in through a real control plane, sent as a CI or a registry would (plain HTTP with
 * a token made by `waybill tokens create`): an uploaded artifact is shipped again, in structured
 * and in binary mode, once however often the same event is sent; an approval arriving as an
 * event releases the run it names, and only for an approver; a malformed event is answered with
 * a problem that names what is missing.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { RunView } from "../cli/views.js";
import { cleanUp, replaceStages, runCli, scratchExample, shipToDevOnly } from "../testing/cli.js";

const scratch = scratchExample("hello");
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root, env });

interface Answer {
  status: number;
  contentType: string;
  body: Record<string, unknown>;
}

/** One POST /v1/events with node:http, as a sender that knows nothing of Waybill's client would make it */
function postEvent(
  baseUrl: string,
  token: string,
  headers: Record<string, string>,
  body: string,
): Promise<Answer> {
  const url = new URL("/v1/events", baseUrl);
  return new Promise((resolve, reject) => {
    const sent = request(
      url,
      {
        method: "POST",
        headers: {
          ...headers,
          authorization: `Bearer ${token}`,
          "content-length": String(Buffer.byteLength(body)),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({
            status: response.statusCode ?? 0,
            contentType: String(response.headers["content-type"] ?? ""),
            body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>),
          });
        });
        response.on("error", reject);
      },
    );
    sent.on("error", reject);
    sent.end(body);
  });
}

function structured(token: string, event: Record<string, unknown>): Promise<Answer> {
  return postEvent(
    controlPlaneUrl(),
    token,
    { "content-type": "application/cloudevents+json; charset=utf-8" },
    JSON.stringify({ specversion: "1.0", ...event }),
  );
}

function binary(token: string, attributes: Record<string, string>, data: unknown): Promise<Answer> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  for (const [name, value] of Object.entries(attributes)) headers[`ce-${name}`] = value;
  return postEvent(controlPlaneUrl(), token, headers, JSON.stringify(data));
}

function controlPlaneUrl(): string {
  return (JSON.parse(readFileSync(join(scratch.stateDir, "control-plane.json"), "utf8")) as { url: string })
    .url;
}

async function runs(): Promise<RunView[]> {
  const listed = await cli(["runs", "hello", "--json"]);
  assert.equal(listed.code, 0, listed.stderr);
  return (JSON.parse(listed.stdout) as { runs: RunView[] }).runs;
}

/** Polls `check` until it holds; fails naming `what` after `timeoutMs`. */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.fail(`${what} did not happen within ${timeoutMs / 1000} s`);
}

const settled = (run: RunView) => run.state === "succeeded" || run.state === "failed";

async function makeToken(name: string, role: string): Promise<string> {
  const made = await cli(["tokens", "create", name, "--role", role]);
  assert.equal(made.code, 0, made.stderr);
  return made.stdout.trim();
}

describe("CloudEvents in through a real control plane", { timeout: 600_000 }, () => {
  let developer = "";
  let approver = "";
  let viewer = "";
  let shipped: RunView | undefined;

  before(async () => {
    await shipToDevOnly(scratch.serviceDir, cli, "1.0.0");
    [shipped] = await runs();
    developer = await makeToken("ci", "developer");
    approver = await makeToken("lead", "approver");
    viewer = await makeToken("watcher", "viewer");
  });

  after(async () => {
    await cli(["down"]);
    cleanUp(scratch.root);
  });

  test("an artifact.uploaded event in structured mode ships the artifact again, once however often it is sent", async () => {
    assert.ok(shipped);
    const event = {
      id: "build-1001",
      source: "https://ci.example/pipelines/hello",
      type: "dev.waybill.artifact.uploaded",
      datacontenttype: "application/json",
      data: { service: "hello", version: "1.0.0" },
    };
    const first = await structured(developer, event);
    assert.equal(first.status, 202, JSON.stringify(first.body));
    assert.equal(first.body.duplicate, false);
    assert.equal(first.body.action, "ship");
    const outcome = first.body.outcome as { shipId: string; runs: { id: string }[] };
    assert.equal(outcome.runs.length, 1);

    const again = await structured(developer, event);
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.equal(again.body.duplicate, true);
    assert.deepEqual(again.body.outcome, first.body.outcome, "a duplicate answers with the first outcome");

    await waitFor("the re-ship finishes", async () => (await runs()).every(settled));
    const all = await runs();
    assert.equal(all.length, 2, "exactly one new ship");
    const reshipped = all.find((run) => run.shipId === outcome.shipId);
    assert.ok(reshipped);
    assert.equal(reshipped.state, "succeeded", reshipped.reason ?? "");
    assert.equal(reshipped.digest, shipped.digest, "the artifact shipped before, not a new build");
    assert.equal(reshipped.version, "1.0.0");

    const viewerRefused = await structured(viewer, { ...event, id: "build-1002" });
    assert.equal(viewerRefused.status, 403);
  });

  test("the same event in binary mode, by digest, is accepted once too", async () => {
    assert.ok(shipped);
    const attributes = {
      specversion: "1.0",
      id: "push-7",
      source: "registry.example/hello",
      type: "dev.waybill.artifact.uploaded",
    };
    const first = await binary(developer, attributes, { digest: shipped.digest });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    assert.equal(first.body.duplicate, false);
    const again = await binary(developer, attributes, { digest: shipped.digest });
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.equal(again.body.duplicate, true);

    await waitFor("the re-ship finishes", async () => (await runs()).every(settled));
    const all = await runs();
    assert.equal(all.length, 3, "exactly one more ship");
    assert.ok(all.every((run) => run.state === "succeeded"));
  });

  test("an approval.granted event releases the run it names, for an approver only", async () => {
    replaceStages(scratch.serviceDir, [
      "{ name: dev, test: false, gate: false, approval: { pass: manual, warning: manual } }",
    ]);
    const shippedWaiting = await cli(["ship", "hello", "--version", "2.0.0"], { HELLO_LABEL: "2" });
    assert.equal(shippedWaiting.code, 0, shippedWaiting.stdout + shippedWaiting.stderr);
    assert.match(shippedWaiting.stdout, /waiting for approval/);
    const waiting = (await runs()).find((run) => run.state === "waiting-approval");
    assert.ok(waiting, "a run waits for approval");

    const event = {
      id: `approve-${waiting.id}`,
      source: "https://chatops.example/approvals",
      type: "dev.waybill.approval.granted",
      data: { run: waiting.id },
    };
    const refused = await structured(developer, event);
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.match(refused.contentType, /^application\/problem\+json/);
    assert.match(String(refused.body.detail), /needs the approver role/);
    assert.equal(
      (await runs()).find((run) => run.id === waiting.id)?.state,
      "waiting-approval",
      "a refused approval decides nothing",
    );

    const granted = await structured(approver, event);
    assert.equal(granted.status, 202, JSON.stringify(granted.body));
    assert.equal(granted.body.action, "approve");
    await waitFor("the approved run is released", async () =>
      (await runs()).some((run) => run.id === waiting.id && settled(run)),
    );
    const released = (await runs()).find((run) => run.id === waiting.id);
    assert.equal(released?.state, "succeeded", released?.reason ?? "");

    const shownRun = await cli(["run", waiting.id, "--json"]);
    assert.equal(shownRun.code, 0, shownRun.stderr);
    const approvedEvent = (
      JSON.parse(shownRun.stdout) as { events: { type: string; data: { by?: string } }[] }
    ).events.find((logged) => logged.type === "dev.waybill.run.approved");
    assert.equal(approvedEvent?.data.by, "lead", "approved by the event's sender");

    const resent = await structured(approver, event);
    assert.equal(resent.status, 202);
    assert.equal(resent.body.duplicate, true);
  });

  test("a malformed CloudEvent is answered 400 with a problem naming what is missing", async () => {
    const before = (await runs()).length;
    const noSource = await structured(developer, {
      id: "x-1",
      type: "dev.waybill.artifact.uploaded",
      data: { service: "hello", version: "1.0.0" },
    });
    assert.equal(noSource.status, 400);
    assert.match(noSource.contentType, /^application\/problem\+json/);
    assert.equal(noSource.body.status, 400);
    assert.equal(typeof noSource.body.type, "string");
    assert.equal(typeof noSource.body.title, "string");
    assert.match(String(noSource.body.detail), /source is required/);

    const noId = await binary(
      developer,
      { specversion: "1.0", source: "ci", type: "dev.waybill.artifact.uploaded" },
      { service: "hello", version: "1.0.0" },
    );
    assert.equal(noId.status, 400);
    assert.match(String(noId.body.detail), /id is required/);

    const noData = await structured(developer, {
      id: "x-2",
      source: "ci",
      type: "dev.waybill.artifact.uploaded",
      data: {},
    });
    assert.equal(noData.status, 400);
    assert.match(String(noData.body.detail), /digest .*or service and version/);

    const unknownType = await structured(developer, { id: "x-3", source: "ci", type: "com.example.thing" });
    assert.equal(unknownType.status, 400);
    assert.match(String(unknownType.body.detail), /dev\.waybill\.artifact\.uploaded/);

    const notAnEvent = await postEvent(
      controlPlaneUrl(),
      developer,
      { "content-type": "application/json" },
      "{}",
    );
    assert.equal(notAnEvent.status, 400);
    assert.match(String(notAnEvent.body.detail), /not a CloudEvent/);

    assert.equal((await runs()).length, before, "a refused event ships nothing");
    const corrected = await structured(developer, {
      id: "x-2",
      source: "ci",
      type: "dev.waybill.artifact.uploaded",
      data: { service: "hello", version: "1.0.0" },
    });
    assert.equal(corrected.status, 202, "a refusal records nothing, so the corrected event may reuse its id");
    assert.equal(corrected.body.duplicate, false);
    await waitFor("the corrected event's ship finishes", async () => (await runs()).every(settled));
    assert.equal((await runs()).length, before + 1);
  });
});
