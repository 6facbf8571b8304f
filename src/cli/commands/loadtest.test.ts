import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Command } from "commander";
import { UserError } from "../../errors.js";
import { runCommand } from "../../testing/cli.js";
import { loadtestCommand } from "./loadtest.js";

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const received: Received[] = [];
const server = createServer((request, response) => {
  let body = "";
  request.setEncoding("utf8");
  request.on("data", (chunk: string) => (body += chunk));
  request.on("end", () => {
    received.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers, body });
    response.end("ok");
  });
});
let base = "";

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

async function loadtest(args: string[], options: Record<string, unknown>) {
  return runCommand(loadtestCommand, args, options);
}

/** What commander hands to run() for a command line, so flag spellings are checked too */
async function parsedFlags(argv: string[]): Promise<{ args: string[]; options: Record<string, unknown> }> {
  const command = loadtestCommand.configure(new Command("loadtest")).exitOverride();
  let parsed: { args: string[]; options: Record<string, unknown> } | undefined;
  command.action((...actionArgs: unknown[]) => {
    const self = actionArgs[actionArgs.length - 1] as Command;
    parsed = { args: self.args, options: self.opts() };
  });
  await command.parseAsync(argv, { from: "user" });
  assert.ok(parsed !== undefined);
  return parsed;
}

describe("waybill loadtest", () => {
  it("prints the result as JSON with --json, sending method, path, query, headers and body", async () => {
    received.length = 0;
    const { args, options } = await parsedFlags([
      `${base}/orders?page=2`,
      "--rate=200",
      "--duration=250ms",
      "--warmup=0s",
      "--method=post",
      "--header",
      "X-Run: 42",
      "--header",
      "Authorization: Bearer abc",
      "--body",
      '{"item":1}',
      "--json",
    ]);
    const { exitCode, stdout } = await loadtest(args, options);
    assert.equal(exitCode, 0);
    const result = JSON.parse(stdout) as {
      requests: number;
      errors: number;
      endpoints: Record<string, unknown>;
    };
    assert.equal(result.requests, 50);
    assert.equal(result.errors, 0);
    assert.deepEqual(Object.keys(result.endpoints), ["POST /orders?page=2"]);
    assert.equal(received.length, 50);
    const first = received[0];
    assert.equal(first?.method, "POST");
    assert.equal(first?.url, "/orders?page=2");
    assert.equal(first?.headers["x-run"], "42");
    assert.equal(first?.headers.authorization, "Bearer abc");
    assert.equal(first?.body, '{"item":1}');
  });

  it("prints a short readable summary without --json", async () => {
    const { exitCode, stdout } = await loadtest([`${base}/`], {
      closed: true,
      connections: "2",
      duration: "200ms",
      warmup: "0s",
      maxRequests: "30",
    });
    assert.equal(exitCode, 0);
    const lines = stdout.trimEnd().split("\n");
    assert.equal(lines.length, 4);
    assert.match(
      lines[0] ?? "",
      /^GET http:\/\/127\.0\.0\.1:\d+\/: closed model, 2 connections back to back, 200ms measured/,
    );
    assert.match(lines[1] ?? "", /^requests 30 {2}errors 0 \(0\.00%\) {2}throughput \d+\.\d req\/s$/);
    assert.match(lines[2] ?? "", /^latency ms {2}p50 \d+\.\d\d {2}p90 .* p99 \d+\.\d\d {2}max \d+\.\d\d$/);
    assert.match(lines[3] ?? "", /^generator kept its rate \(held up \d+ ms in all, longest \d+ ms\)$/);
  });

  it("shares the load among --workers threads and reports it as one", async () => {
    const { args, options } = await parsedFlags([
      `${base}/`,
      "--closed",
      "--connections=4",
      "--workers=2",
      "--duration=2s",
      "--warmup=0s",
      "--max-requests=40",
      "--json",
    ]);
    const { exitCode, stdout } = await loadtest(args, options);
    assert.equal(exitCode, 0);
    const result = JSON.parse(stdout) as { requests: number; errors: number };
    assert.deepEqual({ requests: result.requests, errors: result.errors }, { requests: 40, errors: 0 });
  });

  it("says so when nothing answered", async () => {
    const { stdout } = await loadtest(["http://127.0.0.1:1/"], {
      duration: "100ms",
      warmup: "0s",
      rate: "50",
    });
    assert.match(stdout, /nothing answered: is a server listening at http:\/\/127\.0\.0\.1:1\?/);
  });

  it("refuses a bad URL or flag as a user error", async () => {
    const bad: [string[], Record<string, unknown>][] = [
      [[], {}],
      [["not a url"], {}],
      [["https://127.0.0.1:1/"], {}],
      [["http://user:pw@127.0.0.1:1/"], {}],
      [[`${base}/`], { rate: "fast" }],
      [[`${base}/`], { rate: "0" }],
      [[`${base}/`], { closed: true, rate: "10" }],
      [[`${base}/`], { duration: "10" }],
      [[`${base}/`], { duration: "0s" }],
      [[`${base}/`], { connections: "2.5" }],
      [[`${base}/`], { workers: "0" }],
      [[`${base}/`], { maxRequests: "-1" }],
      [[`${base}/`], { header: ["no colon"] }],
      [[`${base}/`], { method: "GE T" }],
      [[`${base}/`], { timeout: "soon" }],
    ];
    for (const [args, options] of bad) {
      await assert.rejects(loadtest(args, options), UserError, JSON.stringify([args, options]));
    }
  });
});
