/**
 * The waybill.yaml an import writes: how the service builds and runs comes from the project
 * folder (as `waybill init` detects it), the rest from the imported files. What could not be
 * mapped is listed at the top, each with its file:line:col, for the user to finish by hand.
 */
import { stringify } from "yaml";
import type { DetectedProject } from "../init.js";
import type { ImportedStage, Unmapped } from "./keptn.js";

export interface ImportedService {
  /** Where it came from, for the file's first line, e.g. "Keptn shipyard.yaml" */
  from: string;
  project: DetectedProject;
  name: string;
  stages?: ImportedStage[];
  prometheus?: { url: string; queries: Record<string, string> };
  /** A path to a Keptn slo.yaml, or the SLO itself */
  slo?: string | Record<string, unknown>;
  unmapped: Unmapped[];
}

export function renderImportedService(imported: ImportedService): string {
  const { project } = imported;
  const spec: Record<string, unknown> = {
    apiVersion: "waybill.dev/v1",
    kind: "Service",
    metadata: { name: imported.name },
    ...(project.build === undefined ? {} : { build: project.build }),
    run: {
      command: project.run.command,
      ...(project.run.runtime === undefined ? {} : { runtime: project.run.runtime }),
    },
  };
  if (imported.stages?.some((stage) => stage.test) ?? true) {
    spec.test = { load: { rate: 50, duration: "30s", requests: [{ path: "/" }] } };
  }
  if (imported.prometheus !== undefined && Object.keys(imported.prometheus.queries).length > 0) {
    spec.sli = [{ provider: "prometheus", ...imported.prometheus }];
  }
  if (imported.slo !== undefined) spec.slo = imported.slo;
  if (imported.stages !== undefined) spec.stages = imported.stages;
  const notes = [
    ...project.notes.map((note) => `TODO: ${note}`),
    ...imported.unmapped.map((item) => `not imported: ${item.where}: ${item.what}`),
  ];
  return [
    `# waybill.yaml imported from ${imported.from}. Check it with: waybill validate`,
    project.evidence === undefined
      ? "# How it builds and runs was not found in this folder: set build and run."
      : `# build and run come from this folder (found ${project.evidence}).`,
    ...notes.map((note) => `# ${note}`),
    stringify(spec, { lineWidth: 0 }),
  ].join("\n");
}
