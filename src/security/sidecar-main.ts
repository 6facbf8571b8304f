/**
 * An instance of a stage with mutual TLS runs as this process: it starts the TLS terminator on
 * the instance's TLS port, then the app as its child, and leaves when the app does, with the
 * app's exit status. The runtime starts, measures, restarts and stops the two as one process
 * group, as a pod holds an app and its mesh sidecar; this process's own CPU time is the
 * terminator's.
 *
 *   node sidecar-main.js <the flags of terminator-main.js> -- <app argv…>
 *
 * SIGHUP reloads the certificate (so does a change of the certificate file); SIGTERM and SIGINT
 * go on to the app, and this process follows it out.
 */
import { spawn } from "node:child_process";
import { fail, log, startReloadingTerminator } from "./terminator-process.js";

const argv = process.argv.slice(2);
const separator = argv.indexOf("--");
if (separator === -1 || separator === argv.length - 1) fail("give the app's command after --");
const { terminator } = await startReloadingTerminator(argv.slice(0, separator));

const [command, ...args] = argv.slice(separator + 1) as [string, ...string[]];
const child = spawn(command, args, { stdio: "inherit" });
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => child.kill(signal));
}
child.on("error", (error) => {
  log(`cannot start ${command}: ${error.message}`);
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
