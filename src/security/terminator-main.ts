/**
 * The TLS terminator as a process of its own, for an instance whose app the runtime starts
 * separately:
 *
 *   node terminator-main.js --port N --upstream-port N --cert F --key F --ca F
 *     --trust-domain D --service S --stage S
 *
 * It listens on 127.0.0.1 only and prints `{"port":N}` on stdout once it does (`--port 0` takes
 * any free port). SIGHUP reloads the certificate, key and CA, and so does a change of the
 * certificate file (written last when a certificate is renewed); SIGTERM and SIGINT close it and
 * exit 0. A bad command line exits 2 with one line on stderr.
 */
import { unwatchFile, watchFile } from "node:fs";
import { errorMessage } from "../errors.js";
import { startTerminator } from "./terminator.js";

const CERT_WATCH_INTERVAL_MS = 1_000;
const FLAGS = [
  "--port",
  "--upstream-port",
  "--cert",
  "--key",
  "--ca",
  "--trust-domain",
  "--service",
  "--stage",
] as const;
type Flag = (typeof FLAGS)[number];

function log(message: string): void {
  process.stderr.write(`waybill tls terminator: ${message}\n`);
}

function fail(message: string): never {
  log(message);
  process.exit(2);
}

function isFlag(text: string): text is Flag {
  return (FLAGS as readonly string[]).includes(text);
}

function parseArgs(argv: readonly string[]): Record<Flag, string> {
  const values: Partial<Record<Flag, string>> = {};
  for (let index = 0; index < argv.length; index += 2) {
    const flag = argv[index] ?? "";
    const value = argv[index + 1];
    if (!isFlag(flag)) fail(`unknown argument "${flag}" (expected ${FLAGS.join(", ")})`);
    if (value === undefined) fail(`${flag} needs a value`);
    if (values[flag] !== undefined) fail(`${flag} is given twice`);
    values[flag] = value;
  }
  const missing = FLAGS.filter((flag) => values[flag] === undefined);
  if (missing.length > 0) fail(`missing ${missing.join(", ")}`);
  return values as Record<Flag, string>;
}

function port(text: string, flag: Flag, lowest: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < lowest || value > 65_535) {
    fail(`${flag} takes a port from ${lowest} to 65535, got "${text}"`);
  }
  return value;
}

const values = parseArgs(process.argv.slice(2));
const certFile = values["--cert"];
const terminator = await startTerminator({
  host: "127.0.0.1",
  port: port(values["--port"], "--port", 0),
  upstreamPort: port(values["--upstream-port"], "--upstream-port", 1),
  certFile,
  keyFile: values["--key"],
  caFile: values["--ca"],
  allowedPeer: {
    trustDomain: values["--trust-domain"],
    service: values["--service"],
    stage: values["--stage"],
    role: "proxy",
  },
  onRefused: (reason) => log(`refused a connection: ${reason}`),
}).catch((error: unknown) => {
  log(`cannot start: ${errorMessage(error)}`);
  process.exit(1);
});

const reload = (cause: string): void => {
  terminator.reload().then(
    () => log(`reloaded the certificate (${cause})`),
    (error: unknown) => log(`kept the previous certificate (${cause}): ${errorMessage(error)}`),
  );
};
const reloadOnChange = (): void => reload("the certificate file changed");
process.on("SIGHUP", () => reload("SIGHUP"));
watchFile(certFile, { interval: CERT_WATCH_INTERVAL_MS, persistent: false }, reloadOnChange);

const stop = (): void => {
  unwatchFile(certFile, reloadOnChange);
  terminator.close().then(
    () => process.exit(0),
    (error: unknown) => {
      log(`could not close cleanly: ${errorMessage(error)}`);
      process.exit(1);
    },
  );
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);

process.stdout.write(`${JSON.stringify({ port: terminator.port })}\n`);
