import { UserError } from "../../errors.js";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import { startControlPlane } from "../../server/control-plane.js";
import { superviseControlPlane, systemdUnit } from "../../server/supervise.js";
import type { CliCommand } from "../command.js";

export const serveCommand: CliCommand = {
  name: "serve",
  configure: (command) =>
    command
      .option("--port <n>", "port on 127.0.0.1 (0 picks a free one)", "7300")
      .option(
        "--metrics-port <n>",
        "port of the stage proxies' Prometheus /metrics (0 picks a free one)",
        "0",
      )
      .option(
        "--proxy-ports <low-high>",
        "port range for the stage proxies (default: $WAYBILL_PROXY_PORTS or 7400-7999)",
      )
      .option("--supervise", "keep the control plane running: start it again whenever it dies")
      .option("--systemd-unit", "print a systemd unit that runs this control plane, and exit"),
  async run(_args, options, context) {
    const port = portOption(options.port, "--port");
    const metricsPort = portOption(options.metricsPort, "--metrics-port");
    const range = (options.proxyPorts as string | undefined) ?? process.env.WAYBILL_PROXY_PORTS;
    if (range !== undefined) parsePortRange(range);
    const cli = fileURLToPath(new URL("../main.js", import.meta.url));
    const stateDir = resolve(context.stateDir);
    if (options.systemdUnit === true) {
      context.stdout(systemdUnit({ node: process.execPath, cli, stateDir, port }));
      return 0;
    }
    if (options.supervise === true) {
      const args = [
        cli,
        "--state",
        stateDir,
        "serve",
        "--port",
        String(port),
        "--metrics-port",
        String(metricsPort),
      ];
      if (range !== undefined) args.push("--proxy-ports", range);
      return superviseControlPlane({ args, log: (line) => context.stderr(`${line}\n`) });
    }
    const controlPlane = await startControlPlane({
      stateDir: context.stateDir,
      port,
      metricsPort,
      ...(range === undefined ? {} : { proxyPorts: parsePortRange(range) }),
    });
    context.stdout(
      `waybill control plane listening on ${controlPlane.info.url} (state ${context.stateDir})\n`,
    );
    const stop = () => void controlPlane.close(false);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    await controlPlane.closed;
    return 0;
  },
};

function parsePortRange(text: string): [number, number] {
  const match = /^(\d+)-(\d+)$/.exec(text.trim());
  const low = Number(match?.[1]);
  const high = Number(match?.[2]);
  if (!match || low < 1 || high > 65535 || low > high) {
    throw new UserError(`a proxy port range is written low-high, such as 7400-7999; got "${text}"`);
  }
  return [low, high];
}

function portOption(value: unknown, flag: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UserError(`${flag} must be a whole number from 0 to 65535, got "${String(value)}"`);
  }
  return port;
}
