/**
 * Entry of the data plane process (`node data-plane-main.js --state DIR --ports LOW-HIGH
 * --metrics-port N`), started detached by the control plane; see data-plane-daemon.ts. Kept
 * apart from the CLI so it starts without loading it.
 */
import { parseArgs } from "node:util";
import { errorMessage } from "../errors.js";
import { runDataPlaneDaemon } from "./data-plane-daemon.js";

const { values } = parseArgs({
  options: {
    state: { type: "string" },
    ports: { type: "string" },
    "metrics-port": { type: "string", default: "0" },
  },
});
const range = /^(\d+)-(\d+)$/.exec(values.ports ?? "");
if (values.state === undefined || range === null) {
  process.stderr.write("usage: data-plane-main.js --state DIR --ports LOW-HIGH [--metrics-port N]\n");
  process.exit(2);
}
// The socket may have to live in /tmp (a long state path): nobody else may open it.
process.umask(0o077);
runDataPlaneDaemon({
  stateDir: values.state,
  portRange: [Number(range[1]), Number(range[2])],
  metricsPort: Number(values["metrics-port"]),
}).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`waybill data plane: ${errorMessage(error)}\n`);
    process.exit(1);
  },
);
