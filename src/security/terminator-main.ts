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
import { errorMessage } from "../errors.js";
import { log, startReloadingTerminator } from "./terminator-process.js";

const { terminator, stopWatching } = await startReloadingTerminator(process.argv.slice(2));

const stop = (): void => {
  stopWatching();
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
