// Loopback helpers shared by the benches: a free port, waiting until something listens, and
// running a command pinned to a CPU.
import { spawnSync } from "node:child_process";
import { createConnection, createServer } from "node:net";
import { availableParallelism } from "node:os";

/** A port nothing listens on at the moment of asking (another process may take it after). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
    probe.on("error", reject);
  });
}

/** Resolves once a connection to the port succeeds; rejects after about `timeoutMs`. */
export async function waitForPort(port, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise((resolveOpen) => {
      const socket = createConnection({ port, host: "127.0.0.1" });
      socket.once("connect", () => {
        socket.destroy();
        resolveOpen(true);
      });
      socket.once("error", () => resolveOpen(false));
    });
    if (open) return;
    await new Promise((wake) => setTimeout(wake, 50));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** True when this machine has two CPUs or more and `taskset` works */
export function canPin() {
  return availableParallelism() >= 2 && spawnSync("taskset", ["-c", "0", "true"]).status === 0;
}

/** argv run on the given CPU list with `taskset`, or unchanged when `cpus` is undefined */
export function onCpu(cpus, argv) {
  return cpus === undefined ? argv : ["taskset", "-c", cpus, ...argv];
}
