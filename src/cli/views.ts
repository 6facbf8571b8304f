/** The API's JSON shapes as the CLI reads them, and how they are shown to a person. */
import type { StageStatus } from "../engine/status.js";

export interface RunView {
  id: string;
  service: string;
  stage: string;
  version: string;
  digest: string;
  kind: string;
  state: string;
  result: string | null;
  task: string | null;
  reason: string | null;
  shipId: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface EventView {
  id: string;
  type: string;
  time: string;
  subject: string;
  data: Record<string, unknown>;
}

export interface StatusView {
  services: { name: string; stages: StageStatus[] }[];
}

export function table(rows: string[][]): string {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length))) ?? [];
  return (
    rows
      .map((row) =>
        row
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}

export function statusTable(status: StatusView): string {
  if (status.services.length === 0) return "no services yet: run `waybill ship <dir>`\n";
  return status.services
    .map((service) => {
      const rows = [["STAGE", "STATE", "VERSION", "URL", "NOTE"]];
      for (const stage of service.stages) {
        rows.push([stage.name, stage.state, stage.version ?? "-", stage.url ?? "-", stage.reason ?? ""]);
      }
      return `${service.name}\n${table(rows)}`;
    })
    .join("\n");
}

export function runsTable(runs: RunView[]): string {
  if (runs.length === 0) return "no runs yet\n";
  const rows = [["RUN", "SERVICE", "STAGE", "VERSION", "STATE", "RESULT", "STARTED", "FINISHED"]];
  for (const run of runs) {
    rows.push([
      run.id,
      run.service,
      run.stage,
      run.version,
      run.state,
      run.result ?? "-",
      run.startedAt ?? "-",
      run.finishedAt ?? "-",
    ]);
  }
  return table(rows);
}
