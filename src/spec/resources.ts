/**
 * The CPU and memory an instance gets. `resources` may say `auto` for either: then the artifact's
 * recorded rightsizing recommendation (its minimum-environment attestation) decides, and where
 * none is recorded, the default size. Pure: the caller looks the recommendation up.
 */
import type { ServiceSpec } from "./schema.js";
import { parseCpuMillicores, parseMemoryBytes } from "./units.js";

export const DEFAULT_RESOURCES = { cpu: "1", memory: "512Mi" } as const;

export interface RecordedRecommendation {
  cpu: string;
  memory: string;
}

export interface ResolvedResources {
  cpuMillicores: number;
  memoryBytes: number;
  /** Where each limit came from */
  source: { cpu: ResourceSource; memory: ResourceSource };
}

export type ResourceSource = "declared" | "recommendation" | "default";

export function usesAuto(spec: ServiceSpec): boolean {
  return spec.resources.cpu === "auto" || spec.resources.memory === "auto";
}

export function resolveResources(
  spec: ServiceSpec,
  recommendation: RecordedRecommendation | null,
): ResolvedResources {
  const pick = (declared: string | number, recommended: string | undefined, fallback: string) =>
    declared !== "auto"
      ? { value: declared, source: "declared" as const }
      : recommended !== undefined
        ? { value: recommended, source: "recommendation" as const }
        : { value: fallback, source: "default" as const };
  const cpu = pick(spec.resources.cpu, recommendation?.cpu, DEFAULT_RESOURCES.cpu);
  const memory = pick(spec.resources.memory, recommendation?.memory, DEFAULT_RESOURCES.memory);
  return {
    cpuMillicores: parseCpuMillicores(cpu.value),
    memoryBytes: parseMemoryBytes(String(memory.value)),
    source: { cpu: cpu.source, memory: memory.source },
  };
}
