/**
 * Where a run's SLI values come from: the service's own providers from waybill.yaml
 * (Prometheus, a command) first, so they may override a built-in name, then the built-in
 * values the test task measured. The SLO's objectives say which names are wanted; every
 * built-in value is kept too, so the performance signature is the whole vector.
 */
import { builtinProvider } from "../sli/builtin.js";
import { commandProvider } from "../sli/command.js";
import { prometheusProvider } from "../sli/prometheus.js";
import { collectSlis, type SliProvider } from "../sli/provider.js";
import type { ServiceSpec, SloSpec } from "../spec/schema.js";
import { parseDuration } from "../spec/units.js";
import type { EventData } from "../store/events.js";
import type { TaskContext } from "./task.js";

export interface GatheredSlis {
  values: Record<string, number | null>;
  /** Why a wanted SLI has no value */
  reasons: Record<string, string>;
}

export async function gatherSlis(
  context: TaskContext,
  slo: SloSpec | undefined,
  measured: EventData["test.measured"] | undefined,
): Promise<GatheredSlis> {
  const builtin = measured?.slis ?? {};
  const wanted = [...(slo?.objectives ?? []).map((objective) => objective.sli), ...Object.keys(builtin)];
  const end = measured === undefined ? new Date() : new Date(measured.window.end);
  const start = measured === undefined ? new Date(end.getTime() - 60_000) : new Date(measured.window.start);
  const providers = [...configuredProviders(context.spec, context.artifact.path), builtinProvider(builtin)];
  const { run } = context;
  return collectSlis(
    providers,
    { service: run.service, stage: run.stage, version: run.version, start, end },
    wanted,
    context.signal,
  );
}

function configuredProviders(spec: ServiceSpec, artifactDir: string): SliProvider[] {
  return spec.sli.map((config) =>
    config.provider === "prometheus"
      ? prometheusProvider({ url: config.url, queries: config.queries })
      : commandProvider({
          command: config.command,
          cwd: artifactDir,
          timeoutMs: parseDuration(config.timeout),
        }),
  );
}
