import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { processExists } from "./process-exists.js";

test("a process exists until it has exited and been reaped, and pid 1 exists though it is not ours", async () => {
  assert.equal(processExists(process.pid), true);
  assert.equal(processExists(1), true);
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
  const pid = child.pid ?? 0;
  assert.equal(processExists(pid), true);
  child.kill("SIGKILL");
  await once(child, "exit");
  assert.equal(processExists(pid), false);
});
