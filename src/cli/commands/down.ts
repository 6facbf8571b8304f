import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { stopDataPlaneProcess, stopMarkedProcesses } from "../../runtime/index.js";
import { defineCommand, option } from "../command.js";
import { findControlPlane, isControlPlaneCommandLine, readControlPlaneInfo } from "../client.js";
import { flag } from "../options.js";
import { shutdown } from "../../api/system.js";
import { processExists } from "../../exec/process-exists.js";

const APP_STOP_GRACE_MS = 5000;

export const downCommand = defineCommand({
  name: "down",
  options: { keepApps: option("--keep-apps", "leave the app processes running", flag) },
  async run(_args, { keepApps }, context) {
    const client = await findControlPlane(context.stateDir);
    if (client !== undefined) {
      const pid = readControlPlaneInfo(context.stateDir)?.pid;
      await client.call(shutdown, { body: { stopApps: !keepApps } });
      await waitUntilGone(pid, 30_000);
      context.stdout("control plane stopped\n");
      return 0;
    }
    // No control plane answers: it is dead (or hung), and its apps may still run without it.
    const hung = controlPlanePid(context.stateDir);
    if (hung !== undefined && isControlPlaneProcess(hung)) {
      process.kill(hung, "SIGKILL");
      await waitUntilGone(hung, 5_000);
      context.stdout(`control plane (pid ${hung}) did not answer: killed\n`);
    } else {
      context.stdout("no control plane is running\n");
    }
    const id = controlPlaneId(context.stateDir);
    if (keepApps || id === undefined) return 0;
    if (await stopDataPlaneProcess(context.stateDir, APP_STOP_GRACE_MS)) {
      context.stdout("stopped the data plane (the stage proxies)\n");
    }
    const stopped = await stopMarkedProcesses(id, APP_STOP_GRACE_MS);
    if (stopped > 0) context.stdout(`stopped ${stopped} app process group${stopped === 1 ? "" : "s"}\n`);
    return 0;
  },
});

function controlPlaneId(stateDir: string): string | undefined {
  const file = join(stateDir, "id");
  return existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
}

function controlPlanePid(stateDir: string): number | undefined {
  const file = join(stateDir, "control-plane.pid");
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

async function waitUntilGone(pid: number | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pid !== undefined && processExists(pid) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A pid file can outlive its process and the pid be reused: only a `waybill serve` is killed. */
function isControlPlaneProcess(pid: number): boolean {
  try {
    return isControlPlaneCommandLine(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0"));
  } catch {
    return false;
  }
}
