import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { UserError } from "../errors.js";
import { fixturesDir } from "../testing/paths.js";
import { parseSliJson, runExternalLoad } from "./external.js";

const fixture = (name: string) => join(fixturesDir, "loadgen", name);
const node = process.execPath;

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("external load tool", () => {
  it("returns the SLI values the command prints, with arguments and environment passed without a shell", async () => {
    const slis = await runExternalLoad([node, fixture("prints-slis.mjs"), "12.5"], {
      timeoutMs: 10_000,
      env: { FIXTURE_ERROR_RATE: "0.25" },
    });
    assert.deepEqual(slis, { latency_p99: 12.5, error_rate: 0.25, "throughput:GET /": 99.5 });
  });

  it("rejects output that is not JSON, quoting it", async () => {
    await assert.rejects(runExternalLoad([node, fixture("prints-text.mjs")], { timeoutMs: 10_000 }), {
      name: "UserError",
      message: /did not print a JSON object of SLI values on stdout, got "Requests\/sec: 1234/,
    });
  });

  it("rejects a value that is not a number, naming the SLI", async () => {
    await assert.rejects(runExternalLoad([node, fixture("prints-bad-values.mjs")], { timeoutMs: 10_000 }), {
      name: "UserError",
      message: /SLI "latency_p99" is "fast", expected a number/,
    });
  });

  it("reports a failing command with its exit code and stderr", async () => {
    await assert.rejects(runExternalLoad([node, fixture("fails.mjs")], { timeoutMs: 10_000 }), {
      name: "UserError",
      message: /exited with code 3\ncannot reach http:\/\/127\.0\.0\.1:9\//,
    });
  });

  it("reports a command that cannot start", async () => {
    await assert.rejects(runExternalLoad(["/nonexistent/load-tool"], { timeoutMs: 10_000 }), {
      name: "UserError",
      message: /could not start: .*ENOENT/,
    });
    await assert.rejects(runExternalLoad([], { timeoutMs: 10_000 }), UserError);
  });

  it("stops a command that prints more than the output bound", async () => {
    await assert.rejects(
      runExternalLoad([node, fixture("prints-too-much.mjs")], { timeoutMs: 10_000, maxOutputBytes: 10_000 }),
      { name: "UserError", message: /printed more than 10000 bytes/ },
    );
  });

  it("stops a command at its timeout, together with the processes it started", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "waybill-external-"));
    try {
      const pidFile = join(scratch, "child.pid");
      const started = performance.now();
      await assert.rejects(runExternalLoad([node, fixture("hangs.mjs"), pidFile], { timeoutMs: 1500 }), {
        name: "UserError",
        message: /timed out after 1500 ms/,
      });
      assert.ok(performance.now() - started < 5000);
      const grandchild = Number(readFileSync(pidFile, "utf8"));
      for (let attempt = 0; attempt < 40 && isRunning(grandchild); attempt++) await sleep(50);
      assert.equal(isRunning(grandchild), false, "the command's own child is still running");
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it("accepts only an object of finite numbers", () => {
    assert.deepEqual(parseSliJson(' {"error_rate": 0, "latency_p50:GET /": 1.5}\n', "t"), {
      error_rate: 0,
      "latency_p50:GET /": 1.5,
    });
    for (const text of ["[1, 2]", "null", "{}", '{"": 1}', '{"a": null}', '{"a": "1"}', "{}{}"]) {
      assert.throws(() => parseSliJson(text, "t"), UserError, text);
    }
  });
});
