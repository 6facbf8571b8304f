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
