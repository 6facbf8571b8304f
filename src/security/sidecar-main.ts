/**
 * An instance of a stage with mutual TLS runs as this process: it starts the TLS terminator on
 * the instance's TLS port, then the app as its child, and leaves when the app does, with the
 * app's exit status. The runtime starts, measures, restarts and stops the two as one process
 * group, as a pod holds an app and its mesh sidecar; this process's own CPU time is the
 * terminator's.
 *
 *   node sidecar-main.js --port N --upstream-port N --cert F --key F --ca F
 *     --trust-domain D --service S --stage S -- <app argv…>
 *
 * SIGHUP reloads the certificate (so does a change of the certificate file); SIGTERM and SIGINT
 * go on to the app, and this process follows it out.
 */
import { spawn } from "node:child_process";
import { watchFile } from "node:fs";
import { startTerminator } from "./terminator.js";

const CERT_WATCH_INTERVAL_MS = 1_000;
const VALUE_FLAGS = [
  "--port",
  "--upstream-port",
  "--cert",
  "--key",
  "--ca",
  "--trust-domain",
  "--service",
  "--stage",
] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];

function fail(message: string): never {
  process.stderr.write(`waybill tls sidecar: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): { values: Record<ValueFlag, string>; app: string[] } {
  const separator = argv.indexOf("--");
  if (separator === -1 || separator === argv.length - 1) fail("give the app's command after --");
  const values: Partial<Record<ValueFlag, string>> = {};
  const flags = argv.slice(0, separator);
  for (let index = 0; index < flags.length; index += 2) {
    const flag = flags[index] as ValueFlag;
    const value = flags[index + 1];
    if (!VALUE_FLAGS.includes(flag)) fail(`unknown flag ${flags[index] ?? ""}`);
    if (value === undefined) fail(`${flag} needs a value`);
    values[flag] = value;
  }
  const missing = VALUE_FLAGS.filter((flag) => values[flag] === undefined);
  if (missing.length > 0) fail(`missing ${missing.join(", ")}`);
  return { values: values as Record<ValueFlag, string>, app: argv.slice(separator + 1) };
}

function port(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 65_535) fail(`${flag} takes a port, got "${text}"`);
  return value;
}

const { values, app } = parseArgs(process.argv.slice(2));
const terminator = await startTerminator({
  host: "127.0.0.1",
  port: port(values["--port"], "--port"),
  upstreamPort: port(values["--upstream-port"], "--upstream-port"),
  certFile: values["--cert"],
  keyFile: values["--key"],
  caFile: values["--ca"],
  allowedPeer: {
    trustDomain: values["--trust-domain"],
    service: values["--service"],
    stage: values["--stage"],
    role: "proxy",
  },
}).catch((error: unknown) =>
  fail(`cannot listen for TLS: ${error instanceof Error ? error.message : String(error)}`),
);

const reload = (): void => {
  terminator.reload().catch((error: unknown) => {
    process.stderr.write(
      `waybill tls sidecar: kept the previous certificate: ${error instanceof Error ? error.message : String(error)}\n`,
    );
  });
};
process.on("SIGHUP", reload);
watchFile(values["--cert"], { interval: CERT_WATCH_INTERVAL_MS, persistent: false }, reload);

const [command, ...args] = app as [string, ...string[]];
const child = spawn(command, args, { stdio: "inherit" });
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => child.kill(signal));
}
child.on("error", (error) => {
  process.stderr.write(`waybill tls sidecar: cannot start ${command}: ${error.message}\n`);
  void terminator.close().finally(() => process.exit(127));
});
child.on("exit", (code, signal) => {
  void terminator.close().finally(() => {
    if (signal !== null) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
});
