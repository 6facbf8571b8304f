/**
 * `waybill import openslo`: OpenSLO v1 `SLO` objects (with their `SLI`s, inline or by
 * `indicatorRef`) as Prometheus SLIs and a Keptn-format SLO. Pure: text in, objectives out.
 *
 * - A ratio metric (`good` or `bad` over `total`, Prometheus queries) becomes one SLI, the
 *   percentage of good events; an objective's `target: 0.99` becomes the criterion `>=99`.
 * - A threshold metric becomes one SLI as queried; an objective's `op: lte, value: 200`
 *   becomes `<=200`.
 * Anything else (another metric source, a time-slice budget) is listed with file:line:col.
 */
import { LineCounter, parseAllDocuments } from "yaml";
import { UserError } from "../../errors.js";
import type { SourceFile, Unmapped } from "./keptn.js";

export interface OpenSloImport {
  service: string | undefined;
  prometheusQueries: Record<string, string>;
  objectives: { sli: string; pass: { criteria: string[] }[]; key_sli?: boolean }[];
  unmapped: Unmapped[];
}

interface MetricSource {
  metricSource?: { type?: string; spec?: { query?: string } };
}

interface SliSpec {
  ratioMetric?: { good?: MetricSource; bad?: MetricSource; total?: MetricSource };
  thresholdMetric?: MetricSource;
}

interface OpenSloObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
  spec?: {
    service?: string;
    indicator?: { metadata?: { name?: string }; spec?: SliSpec };
    indicatorRef?: string;
    objectives?: { target?: number; op?: string; value?: number; displayName?: string }[];
  } & SliSpec;
}

const OPERATORS: Record<string, string> = { lt: "<", lte: "<=", gt: ">", gte: ">=" };

export function importOpenSlo(source: SourceFile): OpenSloImport {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(source.text, { lineCounter });
  if (!Array.isArray(documents)) throw new UserError(`${source.file}:1:1: no YAML documents`);
  const objects: { object: OpenSloObject; where: string }[] = [];
  for (const document of documents) {
    const [error] = document.errors;
    if (error !== undefined) {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      throw new UserError(
        `${source.file}:${line}:${col}: not valid YAML: ${error.message.split("\n")[0] ?? ""}`,
      );
    }
    const { line, col } = lineCounter.linePos(document.contents?.range?.[0] ?? 0);
    objects.push({
      object: (document.toJS() ?? {}) as OpenSloObject,
      where: `${source.file}:${line}:${col}`,
    });
  }
  const unmapped: Unmapped[] = [];
  const indicators = new Map<string, SliSpec>();
  for (const { object } of objects) {
    if (object.kind === "SLI" && object.metadata?.name !== undefined)
      indicators.set(object.metadata.name, object.spec ?? {});
  }
  const result: OpenSloImport = { service: undefined, prometheusQueries: {}, objectives: [], unmapped };
  for (const { object, where } of objects) {
    if (object.apiVersion !== "openslo/v1") {
      unmapped.push({
        where,
        what: `apiVersion ${object.apiVersion ?? "missing"} (only openslo/v1 is read)`,
      });
      continue;
    }
    if (object.kind === "SLI") continue;
    if (object.kind !== "SLO") {
      unmapped.push({ where, what: `kind ${object.kind ?? "missing"}` });
      continue;
    }
    result.service ??= object.spec?.service;
    const name = sliName(
      object.spec?.indicator?.metadata?.name ?? object.spec?.indicatorRef ?? object.metadata?.name ?? "sli",
    );
    const indicator = object.spec?.indicator?.spec ?? indicators.get(object.spec?.indicatorRef ?? "");
    if (indicator === undefined) {
      unmapped.push({
        where,
        what: `SLO ${object.metadata?.name ?? "?"}: no indicator (inline or by indicatorRef)`,
      });
      continue;
    }
    const query = queryOf(indicator);
    if (typeof query !== "string") {
      unmapped.push({ where, what: `SLO ${object.metadata?.name ?? "?"}: ${query.problem}` });
      continue;
    }
    result.prometheusQueries[name] = query;
    const criteria = (object.spec?.objectives ?? []).flatMap((objective) => {
      if (indicator.ratioMetric !== undefined && typeof objective.target === "number") {
        return [`>=${round(objective.target * 100)}`];
      }
      const operator = OPERATORS[objective.op ?? ""];
      if (operator !== undefined && typeof objective.value === "number")
        return [`${operator}${objective.value}`];
      unmapped.push({
        where,
        what: `SLO ${object.metadata?.name ?? "?"}: objective ${objective.displayName ?? ""} has neither a ratio target nor op and value`,
      });
      return [];
    });
    if (criteria.length > 0) result.objectives.push({ sli: name, pass: [{ criteria }] });
  }
  return result;
}

function queryOf(indicator: SliSpec): string | { problem: string } {
  const prometheus = (source: MetricSource | undefined): string | undefined =>
    source?.metricSource?.type?.toLowerCase() === "prometheus" ? source.metricSource.spec?.query : undefined;
  if (indicator.ratioMetric !== undefined) {
    const total = prometheus(indicator.ratioMetric.total);
    const good = prometheus(indicator.ratioMetric.good);
    const bad = prometheus(indicator.ratioMetric.bad);
    if (total === undefined || (good === undefined && bad === undefined)) {
      return { problem: "a ratio metric whose good/bad and total are not Prometheus queries" };
    }
    return good !== undefined ? `100 * (${good}) / (${total})` : `100 * (1 - (${bad ?? "0"}) / (${total}))`;
  }
  const threshold = prometheus(indicator.thresholdMetric);
  if (threshold !== undefined) return threshold;
  return { problem: "an indicator that is neither a Prometheus ratio nor a threshold metric" };
}

/** OpenSLO names are DNS labels; SLI names here are identifiers. */
function sliName(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, "_");
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
