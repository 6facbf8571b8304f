/**
 * The environment an app process gets. WAYBILL_INSTANCE and WAYBILL_CONTROL_PLANE also mark the
 * process: after a control-plane restart, recovery recognises its processes by them in
 * /proc/<pid>/environ, which a reused pid cannot fake.
 */
import type { InstanceIdentity } from "./types.js";

export const INSTANCE_VAR = "WAYBILL_INSTANCE";
export const CONTROL_PLANE_VAR = "WAYBILL_CONTROL_PLANE";

export function instanceEnvironment(
  inherited: NodeJS.ProcessEnv,
  identity: InstanceIdentity,
  port: number,
  controlPlaneId: string,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(inherited)) {
    // The control plane's own WAYBILL_* settings (state dir, tokens) are not the app's business.
    if (value !== undefined && !name.startsWith("WAYBILL_")) env[name] = value;
  }
  Object.assign(env, identity.launch.env);
  // Ours come last: an app must not be able to pose as another instance or stage.
  Object.assign(env, {
    PORT: String(port),
    WAYBILL_SERVICE: identity.service,
    WAYBILL_STAGE: identity.stage,
    WAYBILL_VERSION: identity.version,
    WAYBILL_DIGEST: identity.digest,
    [INSTANCE_VAR]: identity.id,
    [CONTROL_PLANE_VAR]: controlPlaneId,
  });
  return env;
}

/**
 * `$PORT` and `${PORT}` in the command's words become the instance's port, as a shell would
 * expand them, so `gunicorn app:app --bind 127.0.0.1:$PORT` (a Procfile's habit) works without
 * wrapping the command in `sh -c`. Nothing else is expanded: there is no shell.
 */
export function expandPort(command: readonly string[], port: number): string[] {
  return command.map((word) => word.replace(/\$\{PORT\}|\$PORT(?![A-Za-z0-9_])/g, String(port)));
}
