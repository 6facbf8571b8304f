import { serviceSpecSchema, type ServiceSpec } from "./schema.js";

/** The spec an artifact was shipped with, as the store keeps it (checked when it was shipped) */
export function parseStoredSpec(artifact: { spec: unknown }): ServiceSpec {
  return serviceSpecSchema.parse(artifact.spec);
}
