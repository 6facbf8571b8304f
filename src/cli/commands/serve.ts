import { UserError } from "../../errors.js";
import { startControlPlane } from "../../server/control-plane.js";
import type { CliCommand } from "../command.js";

export const serveCommand: CliCommand = {
  name: "serve",
  summary: "run the control plane: the API, the engine and the local runtime",
  configure: (command) => command.option("--port <n>", "port on 127.0.0.1 (0 picks a free one)", "7300"),
  async run(_args, options, context) {
    const port = Number(options.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new UserError(`--port must be a whole number from 0 to 65535, got "${String(options.port)}"`);
    }
    const controlPlane = await startControlPlane({ stateDir: context.stateDir, port });
    context.stdout(`waybill control plane listening on ${controlPlane.info.url} (state ${context.stateDir})\n`);
    const stop = () => void controlPlane.close(false);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    await controlPlane.closed;
    return 0;
  },
};
