/** The local runtime's public surface, for the engine and the control plane. */
export {
  LocalRuntime,
  InstanceStartError,
  DEFAULT_PROXY_PORT_RANGE,
  type LocalRuntimeOptions,
} from "./local-runtime.js";
export { InMemoryRuntimeStateStore } from "./memory-store.js";
export { stopDataPlaneProcess, stopMarkedProcesses } from "./stop-all.js";
export { ROUTE_HEADER, TRANSPORT_HEADER } from "./routing.js";
export type { BackoffPolicy } from "./supervisor.js";
export type { ExitStatus } from "./instance-process.js";
export type { LogPaths } from "./logs.js";
export type * from "./types.js";
export { stageLabel } from "./types.js";
