import { UserError } from "../../errors.js";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import { startControlPlane } from "../../server/control-plane.js";
import { databaseUrlFrom, maskedDatabaseUrl } from "../../store/database-url.js";
import { superviseControlPlane, systemdUnit } from "../../server/supervise.js";
import { defineCommand, option } from "../command.js";
import { duration, flag, fromText, text, wholeNumber } from "../options.js";

const portNumber = wholeNumber({ min: 0, max: 65535 });
const PORT_RANGE = "expected a port range written low-high, such as 7400-7999";

export const serveCommand = defineCommand({
  name: "serve",
  options: {
    port: option("--port <n>", "port on 127.0.0.1 (0 picks a free one)", portNumber.prefault("7300")),
    metricsPort: option(
      "--metrics-port <n>",
      "port of the stage proxies' Prometheus /metrics (0 picks a free one)",
      portNumber.prefault("0"),
    ),
    proxyPorts: option(
      "--proxy-ports <low-high>",
      "port range for the stage proxies (default: $WAYBILL_PROXY_PORTS or 7400-7999)",
      fromText(PORT_RANGE, portRangeFrom).optional(),
    ),
    database: option(
      "--database <url>",
      "a PostgreSQL URL for the shared store (default: $WAYBILL_DATABASE_URL, else SQLite in the state folder)",
      text.optional(),
    ),
    lease: option(
      "--lease <duration>",
      "how long a replica holds a run it drives unless it renews the lease; another replica takes over a dead one's runs after this (default: $WAYBILL_LEASE or 15s)",
      duration({ aboveZero: true }).optional(),
    ),
    supervise: option("--supervise", "keep the control plane running: start it again whenever it dies", flag),
    systemdUnit: option(
      "--systemd-unit",
      "print a systemd unit that runs this control plane, and exit",
      flag,
    ),
  },
  async run(_args, options, context) {
    const { port, metricsPort } = options;
    const proxyPorts = options.proxyPorts ?? proxyPortsFromEnvironment();
    const databaseUrl = databaseUrlFrom(options.database);
    const leaseMs = options.lease ?? leaseFromEnvironment();
    const cli = fileURLToPath(new URL("../main.js", import.meta.url));
    const stateDir = resolve(context.stateDir);
    if (options.systemdUnit) {
      context.stdout(systemdUnit({ node: process.execPath, cli, stateDir, port }));
      if (databaseUrl !== undefined) {
        context.stderr(
          "the unit does not carry the database URL (it holds a password): give it WAYBILL_DATABASE_URL " +
            "in an EnvironmentFile= readable only by root\n",
        );
      }
      return 0;
    }
    if (options.supervise) {
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
      if (proxyPorts !== undefined) args.push("--proxy-ports", proxyPorts.join("-"));
      if (leaseMs !== undefined) args.push("--lease", `${leaseMs}ms`);
      // Through the environment, not argv: `ps` shows every user a process's arguments.
      if (databaseUrl !== undefined) process.env.WAYBILL_DATABASE_URL = databaseUrl;
      return superviseControlPlane({ args, log: (line) => context.stderr(`${line}\n`) });
    }
    const controlPlane = await startControlPlane({
      stateDir: context.stateDir,
      port,
      metricsPort,
      ...(proxyPorts === undefined ? {} : { proxyPorts }),
      ...(databaseUrl === undefined ? {} : { databaseUrl }),
      ...(leaseMs === undefined ? {} : { leaseMs }),
    });
    const database = databaseUrl === undefined ? "" : `, database ${maskedDatabaseUrl(databaseUrl)}`;
    context.stdout(
      `waybill control plane listening on ${controlPlane.info.url} (state ${context.stateDir}${database})\n`,
    );
    const stop = () => void controlPlane.close(false);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    await controlPlane.closed;
    return 0;
  },
});

function leaseFromEnvironment(): number | undefined {
  const given = process.env.WAYBILL_LEASE;
  if (given === undefined) return undefined;
  const ms = duration({ aboveZero: true }).safeParse(given);
  if (!ms.success)
    throw new UserError(
      `WAYBILL_LEASE: expected a duration above 0, such as 2s or 15s, got ${JSON.stringify(given)}`,
    );
  return ms.data;
}

function proxyPortsFromEnvironment(): [number, number] | undefined {
  const text = process.env.WAYBILL_PROXY_PORTS;
  if (text === undefined) return undefined;
  const range = portRangeFrom(text);
  if (range === undefined)
    throw new UserError(`WAYBILL_PROXY_PORTS: ${PORT_RANGE}, got ${JSON.stringify(text)}`);
  return range;
}

function portRangeFrom(text: string): [number, number] | undefined {
  const match = /^(\d+)-(\d+)$/.exec(text.trim());
  const low = Number(match?.[1]);
  const high = Number(match?.[2]);
  return match && low >= 1 && high <= 65535 && low <= high ? [low, high] : undefined;
}
