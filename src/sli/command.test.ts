import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fixturesDir } from "../testing/paths.js";
import { UserError } from "../errors.js";
import { commandProvider, parseSliOutput } from "./command.js";
import type { SliQueryContext } from "./provider.js";

const fixtureDir = join(fixturesDir, "sli");
const script = join(fixtureDir, "sli-command.mjs");
const context: SliQueryContext = {
  service: "shop",
  stage: "prod",
  version: "1.4.2",
  start: new Date("2026-01-02T10:00:00Z"),
  end: new Date("2026-01-02T10:02:03Z"),
};

function provider(mode: string, options: { timeoutMs?: number; maxOutputBytes?: number } = {}) {
  return commandProvider({
    command: [process.execPath, script, mode],
    cwd: fixtureDir,
    timeoutMs: options.timeoutMs ?? 10_000,
    maxOutputBytes: options.maxOutputBytes,
  });
}

test("runs the command in its folder with the window in its environment and returns the wanted SLIs", async () => {
  const previous = process.env.WAYBILL_STATE_DIR;
  process.env.WAYBILL_STATE_DIR = "/secret/state";
  try {
    const noValue: Array<[string, string]> = [];
    const values = await provider("ok").fetch(
      [
        "db_p99",
        "queue_depth",
        "window_seconds",
        "identity_matches",
        "control_plane_settings_seen",
        "runs_in_fixture_dir",
        "argument_count",
        "not_printed",
      ],
      context,
      undefined,
      (sli, reason) => noValue.push([sli, reason]),
    );
    assert.deepEqual(values, {
      db_p99: 12.5,
      queue_depth: null,
      window_seconds: 123,
      identity_matches: 1,
      control_plane_settings_seen: 0,
      runs_in_fixture_dir: 1,
      argument_count: 1,
    });
    assert.deepEqual(noValue, [["queue_depth", "the command printed null"]]);
  } finally {
    if (previous === undefined) delete process.env.WAYBILL_STATE_DIR;
    else process.env.WAYBILL_STATE_DIR = previous;
  }
});

test("a command line is split into words without a shell, and shell syntax is refused", async () => {
  const fromString = commandProvider({
    command: `"${process.execPath}" "${script}" ok`,
    cwd: fixtureDir,
    timeoutMs: 10_000,
  });
  assert.deepEqual(await fromString.fetch(["db_p99"], context), { db_p99: 12.5 });
  assert.throws(
    () => commandProvider({ command: "node slis.mjs > out.json", cwd: fixtureDir, timeoutMs: 1000 }),
    (error: unknown) => error instanceof UserError && /redirection/.test(error.message),
  );
});

test("unreadable output, a failing exit, a timeout and too much output are clear errors", async () => {
  const cases: Array<[string, RegExp, { timeoutMs?: number; maxOutputBytes?: number }?]> = [
    ["not-json", /did not print a JSON object of SLI values on stdout; it printed "db_p99=12.5"/],
    ["array", /printed \[1,2\], not a JSON object/],
    ["string-value", /SLI "db_p99" is "12.5", expected a number or null/],
    [
      "fail",
      /exited with code 3; its stderr ends with:\nconnecting to the metrics database\nerror: connection refused$/,
    ],
    ["hang", /timed out after 0.3s/, { timeoutMs: 300 }],
    ["flood", /printed more than 1000 bytes/, { maxOutputBytes: 1000 }],
  ];
  await Promise.all(
    cases.map(async ([mode, message, options]) => {
      const startedAt = Date.now();
      await assert.rejects(provider(mode, options).fetch(["db_p99"], context), (error: unknown) => {
        assert.ok(error instanceof UserError, `${mode}: ${String(error)}`);
        assert.match(error.message, message);
        assert.match(error.message, /^SLI command ".*sli-command\.mjs/);
        return true;
      });
      assert.ok(Date.now() - startedAt < 30_000, `${mode} ended (a hang guard, not a timing test)`);
    }),
  );
  await assert.rejects(
    commandProvider({ command: ["./no-such-program"], cwd: fixtureDir, timeoutMs: 1000 }).fetch(
      ["x"],
      context,
    ),
    /could not start: spawn \.\/no-such-program ENOENT/,
  );
});

test("an aborted fetch stops the command", async () => {
  const abort = new AbortController();
  const fetching = provider("hang").fetch(["db_p99"], context, abort.signal);
  setTimeout(() => abort.abort(), 100);
  await assert.rejects(fetching, /was aborted/);
});

test("parseSliOutput accepts numbers and null, and names that are Object's own", () => {
  assert.deepEqual(parseSliOutput('{"a": 1, "b": null, "constructor": 2}', "test"), {
    a: 1,
    b: null,
    constructor: 2,
  });
  assert.throws(() => parseSliOutput('{"a": Infinity}', "test"), /did not print a JSON object/);
});
