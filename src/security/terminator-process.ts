/**
 * What the terminator's processes share (`terminator-main.ts` on its own, `sidecar-main.ts` in
 * front of an app): their command line, and a terminator that reloads its certificate on SIGHUP
 * and whenever the certificate file changes (written last when a certificate is renewed).
 */
import { unwatchFile, watchFile } from "node:fs";
import { errorMessage } from "../errors.js";
import { startTerminator, type Terminator, type TerminatorOptions } from "./terminator.js";

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

export function log(message: string): void {
  process.stderr.write(`waybill tls terminator: ${message}\n`);
}

export function fail(message: string): never {
  log(message);
  process.exit(2);
}

function isFlag(text: string): text is Flag {
  return (FLAGS as readonly string[]).includes(text);
}

export function parseArgs(argv: readonly string[]): Record<Flag, string> {
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

export function port(text: string, flag: Flag, lowest: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < lowest || value > 65_535) {
    fail(`${flag} takes a port from ${lowest} to 65535, got "${text}"`);
  }
  return value;
}

/** The terminator the command line asks for; a bad line exits 2, a failed start 1. */
export async function startReloadingTerminator(argv: readonly string[]): Promise<{
  terminator: Terminator;
  stopWatching(): void;
}> {
  const values = parseArgs(argv);
  const certFile = values["--cert"];
  const options: TerminatorOptions = {
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
  };
  const terminator = await startTerminator(options).catch((error: unknown) => {
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
  return { terminator, stopWatching: () => unwatchFile(certFile, reloadOnChange) };
}
