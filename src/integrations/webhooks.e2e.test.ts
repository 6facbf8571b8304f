/**
 * Webhooks out through the real CLI and a real control plane: `waybill webhooks add` subscribes
 * local receivers that verify every Standard Webhooks signature with the secret it printed; a
 * ship's run events reach them as structured CloudEvents, only of the types subscribed; a
 * receiver that fails for a while gets the delivery later; one that never answers 2xx ends in
 * the dead-letter list; and a `kill -9` of the control plane while a delivery is pending loses
 * nothing and sends nothing twice.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import type { RunView } from "../cli/views.js";
import { cleanUp, runCli, scratchExample, shipToDevOnly } from "../testing/cli.js";

/** Retries within a second or two, so the failure paths run in seconds rather than minutes */
const BACKOFF = "200ms";
const scratch = scratchExample("hello");
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, {
    stateDir: scratch.stateDir,
    cwd: scratch.root,
    env: { WAYBILL_WEBHOOK_BACKOFF: BACKOFF, ...env },
  });

interface ReceivedEvent {
  specversion: string;
  id: string;
  source: string;
  type: string;
  waybillrun?: string;
  data?: unknown;
}

interface Delivery {
  webhookId: string;
  timestamp: string;
  contentType: string;
  /** Whether webhook-signature verified with the subscription's secret */
  verified: boolean;
  event: ReceivedEvent;
  /** What the receiver answered */
  status: number;
}

/** A local webhook receiver: verifies each delivery's signature, records it, and answers as told. */
class Receiver {
  readonly deliveries: Delivery[] = [];
  secret = "";
  /** While true, every delivery is answered 500 */
  failing = false;
  /** While true, no delivery is answered at all (status 0 in the record) */
  stalling = false;
  private readonly held: ServerResponse[] = [];
  private readonly server: Server;

  constructor() {
    this.server = createServer((request, response) => {
      void readBody(request).then((body) => {
        const headers = {
          "webhook-id": String(request.headers["webhook-id"] ?? ""),
          "webhook-timestamp": String(request.headers["webhook-timestamp"] ?? ""),
          "webhook-signature": String(request.headers["webhook-signature"] ?? ""),
        };
        let verified = false;
        try {
          new Webhook(this.secret).verify(body, headers);
          verified = true;
        } catch {
          verified = false;
        }
        const status = !verified ? 401 : this.stalling ? 0 : this.failing ? 500 : 204;
        this.deliveries.push({
          webhookId: headers["webhook-id"],
          timestamp: headers["webhook-timestamp"],
          contentType: String(request.headers["content-type"] ?? ""),
          verified,
          event: JSON.parse(body) as ReceivedEvent,
          status,
        });
        if (status === 0) this.held.push(response);
        else response.writeHead(status).end();
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }

  /** Deliveries answered 2xx */
  accepted(): Delivery[] {
    return this.deliveries.filter((delivery) => delivery.status >= 200 && delivery.status < 300);
  }

  ofRun(runId: string): Delivery[] {
    return this.deliveries.filter((delivery) => delivery.event.waybillrun === runId);
  }

  /** Drops the connections of the deliveries it never answered */
  dropHeld(): void {
    for (const response of this.held.splice(0)) response.destroy();
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

/** Polls `check` every 200 ms until it holds; fails naming `what` after `timeoutMs`. */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail(`${what} did not happen within ${timeoutMs / 1000} s`);
}

/** Subscribes the receiver through the CLI and gives it the secret printed once. */
async function subscribe(receiver: Receiver, events: string): Promise<string> {
  const url = await receiver.start();
  const added = await cli(["webhooks", "add", url, "--events", events]);
  assert.equal(added.code, 0, added.stderr);
  const secret = /^(whsec_\S+)$/m.exec(added.stdout)?.[1];
  assert.ok(secret, `webhooks add prints the secret: ${added.stdout}`);
  receiver.secret = secret;
  const id = /^subscribed (\S+):/m.exec(added.stdout)?.[1];
  assert.ok(id);
  return id;
}

async function runs(): Promise<RunView[]> {
  const listed = await cli(["runs", "hello", "--json"]);
  assert.equal(listed.code, 0, listed.stderr);
  return (JSON.parse(listed.stdout) as { runs: RunView[] }).runs;
}

async function ship(version: string): Promise<RunView> {
  const shipped = await cli(["ship", "hello", "--version", version], { HELLO_LABEL: version });
  assert.equal(shipped.code, 0, shipped.stdout + shipped.stderr);
  const run = (await runs()).find((candidate) => candidate.version === version);
  assert.ok(run, `a run of ${version}`);
  return run;
}

function controlPlanePid(): number {
  return (JSON.parse(readFileSync(join(scratch.stateDir, "control-plane.json"), "utf8")) as { pid: number })
    .pid;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every webhook-id answered 2xx, with how often */
function acceptedCounts(receiver: Receiver): Map<string, number> {
  const counts = new Map<string, number>();
  for (const delivery of receiver.accepted()) {
    counts.set(delivery.webhookId, (counts.get(delivery.webhookId) ?? 0) + 1);
  }
  return counts;
}

describe("webhooks out through a real control plane", { timeout: 600_000 }, () => {
  const subscribedToStartAndFinish = new Receiver();
  const flaky = new Receiver();
  const dead = new Receiver();
  const survivor = new Receiver();
  const stalled = new Receiver();

  after(async () => {
    await cli(["down"]);
    for (const receiver of [subscribedToStartAndFinish, flaky, dead, survivor, stalled]) receiver.close();
    cleanUp(scratch.root);
  });

  test("a ship's run events arrive as signed structured CloudEvents, of the subscribed types only", async () => {
    await subscribe(subscribedToStartAndFinish, "run.started,run.finished");
    const listed = await cli(["webhooks", "--json"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.doesNotMatch(listed.stdout, /whsec_/, "a listing never shows a secret");

    await shipToDevOnly(scratch.serviceDir, cli, "1.0.0");
    const [run] = await runs();
    assert.ok(run);
    await waitFor("run.finished reaches the receiver", () =>
      subscribedToStartAndFinish
        .ofRun(run.id)
        .some((delivery) => delivery.event.type === "dev.waybill.run.finished"),
    );
    const got = subscribedToStartAndFinish.deliveries;
    assert.ok(got.length > 0);
    for (const delivery of got) {
      assert.equal(delivery.verified, true, `the signature of ${delivery.webhookId} verifies`);
      assert.match(delivery.contentType, /^application\/cloudevents\+json/);
      assert.equal(delivery.event.specversion, "1.0");
      assert.ok(delivery.event.id !== "" && delivery.event.source !== "");
      assert.equal(delivery.event.waybillrun, run.id);
    }
    await waitFor("run.started reaches the receiver too", () =>
      got.some((delivery) => delivery.event.type === "dev.waybill.run.started"),
    );
    assert.deepEqual(
      [...new Set(got.map((delivery) => delivery.event.type))].sort(),
      ["dev.waybill.run.finished", "dev.waybill.run.started"],
      "neither run.queued nor task.* events, which the subscription did not ask for",
    );
    assert.equal(new Set(got.map((d) => d.webhookId)).size, got.length, "one delivery per event");
  });

  test("a receiver that fails for a while gets every delivery once it recovers", async () => {
    flaky.failing = true;
    await subscribe(flaky, "run.*");
    const run = await ship("1.0.1");
    await waitFor("a delivery is tried again after a 500", () => {
      const attempts = new Map<string, number>();
      for (const delivery of flaky.deliveries) {
        attempts.set(delivery.webhookId, (attempts.get(delivery.webhookId) ?? 0) + 1);
      }
      return [...attempts.values()].some((count) => count >= 2);
    });
    flaky.failing = false;
    await waitFor("every event of the run is accepted, run.finished among them", () => {
      const tried = new Set(flaky.ofRun(run.id).map((delivery) => delivery.webhookId));
      const accepted = new Set(flaky.accepted().map((delivery) => delivery.webhookId));
      return (
        [...tried].every((id) => accepted.has(id)) &&
        flaky.accepted().some((delivery) => delivery.event.type === "dev.waybill.run.finished")
      );
    });
    assert.ok(flaky.deliveries.every((delivery) => delivery.verified));
    const retried = flaky.deliveries.filter((delivery) => delivery.status === 500);
    assert.ok(retried.length > 0);
    for (const failed of retried) {
      assert.ok(
        flaky.accepted().some((delivery) => delivery.webhookId === failed.webhookId),
        "the retry keeps the webhook-id",
      );
    }
    assert.ok(
      flaky.ofRun(run.id).every((delivery) => /^dev\.waybill\.run\./.test(delivery.event.type)),
      "run.* takes the run family only",
    );
  });

  test("a receiver that never recovers ends in the dead-letter list, and a retry delivers it", async () => {
    dead.failing = true;
    const subscription = await subscribe(dead, "run.finished");
    const run = await ship("1.0.2");
    await waitFor(
      "the run.finished delivery is a dead letter after its last attempt",
      async () => {
        const listed = await cli(["webhooks", "--json"]);
        const view = JSON.parse(listed.stdout) as {
          deadLetters: { subscriptionId: string; attempts: number }[];
        };
        return view.deadLetters.some((letter) => letter.subscriptionId === subscription);
      },
      180_000,
    );
    const attempts = dead.ofRun(run.id);
    assert.equal(attempts.length, 8, "8 attempts in all");
    assert.equal(new Set(attempts.map((delivery) => delivery.webhookId)).size, 1);

    const shown = await cli(["webhooks"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /dead letters/);
    assert.match(shown.stdout, /run\.finished/);
    assert.match(shown.stdout, /the receiver answered HTTP 500/);
    const view = JSON.parse((await cli(["webhooks", "--json"])).stdout) as {
      deadLetters: { id: string; subscriptionId: string }[];
    };
    const deadLetter = view.deadLetters.find((candidate) => candidate.subscriptionId === subscription);
    assert.ok(deadLetter);

    dead.failing = false;
    const retried = await cli(["webhooks", "retry", deadLetter.id]);
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stdout, /back in line for delivery/);
    await waitFor("the retried dead letter is delivered", () => dead.accepted().length === 1);
    assert.equal(dead.accepted()[0]?.webhookId, attempts[0]?.webhookId);
    const after = JSON.parse((await cli(["webhooks", "--json"])).stdout) as {
      deadLetters: { subscriptionId: string }[];
    };
    assert.ok(!after.deadLetters.some((candidate) => candidate.subscriptionId === subscription));
    const removed = await cli(["webhooks", "remove", subscription]);
    assert.equal(removed.code, 0, removed.stderr);
  });

  test("kill -9 of the control plane while a delivery is pending: it arrives once after the restart", async () => {
    survivor.failing = true;
    await subscribe(survivor, "run.*");
    const run = await ship("1.0.3");
    await waitFor("run.finished was tried and failed", () =>
      survivor
        .ofRun(run.id)
        .some((delivery) => delivery.event.type === "dev.waybill.run.finished" && delivery.status === 500),
    );
    const pid = controlPlanePid();
    process.kill(pid, "SIGKILL");
    await waitFor("the control plane is dead", () => !isAlive(pid));
    const pendingIds = new Set(survivor.deliveries.map((delivery) => delivery.webhookId));
    assert.ok(
      [...pendingIds].every((id) => !survivor.accepted().some((delivery) => delivery.webhookId === id)),
      "nothing was accepted before the kill",
    );
    survivor.failing = false;

    const restarted = await cli(["webhooks"]);
    assert.equal(restarted.code, 0, restarted.stderr);
    assert.notEqual(controlPlanePid(), pid, "a new control plane answered");
    await waitFor("every pending delivery arrives after the restart", () => {
      const accepted = acceptedCounts(survivor);
      return [...pendingIds].every((id) => accepted.has(id));
    });

    // A later run's events arriving means the dispatcher went round again after the pending
    // ones were delivered: a delivery it still thought due would have been sent again by then.
    const later = await ship("1.0.4");
    await waitFor("the later run's run.finished arrives", () =>
      survivor
        .accepted()
        .some(
          (delivery) =>
            delivery.event.waybillrun === later.id && delivery.event.type === "dev.waybill.run.finished",
        ),
    );
    const down = await cli(["down"]);
    assert.equal(down.code, 0, down.stderr);
    for (const [id, count] of acceptedCounts(survivor)) {
      assert.equal(count, 1, `webhook-id ${id} was accepted ${count} times`);
    }
    assert.ok(survivor.deliveries.every((delivery) => delivery.verified));
  });

  test("kill -9 while a request is unanswered: it is sent again, with the same webhook-id, once", async () => {
    stalled.stalling = true;
    await subscribe(stalled, "run.finished");
    const run = await ship("1.0.5");
    await waitFor("run.finished is sent and left unanswered", () => stalled.ofRun(run.id).length === 1);
    const pid = controlPlanePid();
    process.kill(pid, "SIGKILL");
    await waitFor("the control plane is dead", () => !isAlive(pid));
    stalled.dropHeld();
    stalled.stalling = false;
    const [unanswered] = stalled.ofRun(run.id);
    assert.ok(unanswered);

    const restarted = await cli(["webhooks"]);
    assert.equal(restarted.code, 0, restarted.stderr);
    // The claim of the unanswered attempt holds for twice the request timeout and 5 s more (25 s).
    await waitFor(
      "the unanswered delivery is sent again once its claim runs out",
      () => stalled.accepted().some((delivery) => delivery.webhookId === unanswered.webhookId),
      120_000,
    );
    const later = await ship("1.0.6");
    await waitFor("the later run's run.finished arrives", () =>
      stalled.accepted().some((delivery) => delivery.event.waybillrun === later.id),
    );
    const down = await cli(["down"]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(
      stalled.ofRun(run.id).map((delivery) => [delivery.webhookId, delivery.status]),
      [
        [unanswered.webhookId, 0],
        [unanswered.webhookId, 204],
      ],
      "sent twice (the first answer was never heard), accepted once, under one webhook-id",
    );
    assert.ok(stalled.deliveries.every((delivery) => delivery.verified));
  });
});
