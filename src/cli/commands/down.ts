import type { CliCommand } from "../command.js";
import { findControlPlane, readControlPlaneInfo } from "../client.js";

export const downCommand: CliCommand = {
  name: "down",
  summary: "stop the local control plane and every app process it runs",
  configure: (command) => command.option("--keep-apps", "leave the app processes running"),
  async run(_args, options, context) {
    const client = await findControlPlane(context.stateDir);
    if (client === undefined) {
      context.stdout("no control plane is running\n");
      return 0;
    }
    const pid = readControlPlaneInfo(context.stateDir)?.pid;
    await client.post("/v1/shutdown", { stopApps: options.keepApps !== true });
    const deadline = Date.now() + 30_000;
    while (pid !== undefined && isAlive(pid) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    context.stdout("control plane stopped\n");
    return 0;
  },
};

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
