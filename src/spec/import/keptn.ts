/**
 * `waybill import keptn`: a Keptn shipyard (and its slo.yaml and Prometheus sli.yaml) as a
 * waybill.yaml. Pure: it takes the files' text and returns the new file's stages and SLIs, and
 * every part it could not map, with file:line:col, so nothing is dropped in silence.
 *
 * Per stage, from its delivery sequence (the one with a deployment task):
 * - `deploymentstrategy: blue_green_service` → blue-green; `direct` and `user_managed` → direct;
 * - an `approval` task's `pass`/`warning` (automatic/manual) → approval; none → automatic;
 * - a `test` task → test: true, an `evaluation` task → gate: true, each false without one.
 * Other sequences (remediation, rollback, custom ones) and other tasks are listed as unmapped.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node, type YAMLMap } from "yaml";
import { UserError } from "../../errors.js";

export interface SourceFile {
  file: string;
  text: string;
}

export interface Unmapped {
  /** file:line:col */
  where: string;
  what: string;
}

export interface ImportedStage {
  name: string;
  strategy: "direct" | "blue-green";
  approval: { pass: "automatic" | "manual"; warning: "automatic" | "manual" };
  test: boolean;
  gate: boolean;
}

export interface KeptnImport {
  project: string | undefined;
  stages: ImportedStage[];
  /** Prometheus queries by SLI name, with Keptn's placeholders turned into Waybill's */
  prometheusQueries: Record<string, string>;
  unmapped: Unmapped[];
}

const STRATEGIES: Record<string, ImportedStage["strategy"]> = {
  blue_green_service: "blue-green",
  direct: "direct",
  user_managed: "direct",
};
const KNOWN_TASKS = new Set(["deployment", "test", "evaluation", "release", "approval"]);
const APPROVAL = new Set(["automatic", "manual"]);

/** Keptn's SLI placeholders and Waybill's; $PROJECT and labels have no counterpart. */
const PLACEHOLDERS: Record<string, string> = {
  $SERVICE: "$service",
  $STAGE: "$stage",
  $DURATION_SECONDS: "$duration",
  $DEPLOYMENT: "$version",
};

export function importKeptn(shipyard: SourceFile, sli?: SourceFile): KeptnImport {
  const unmapped: Unmapped[] = [];
  const { root, where } = parse(shipyard);
  const kind = scalarAt(root, "kind");
  if (kind !== "Shipyard") {
    throw new UserError(
      `${where(root)}: ${shipyard.file} is not a Keptn shipyard (kind is ${kind ?? "missing"})`,
    );
  }
  const spec = mapAt(root, "spec");
  const stageNodes = spec === undefined ? undefined : spec.get("stages", true);
  if (!isSeq(stageNodes) || stageNodes.items.length === 0) {
    throw new UserError(`${where(spec ?? root)}: the shipyard has no spec.stages`);
  }
  const stages: ImportedStage[] = [];
  for (const stageNode of stageNodes.items) {
    if (!isMap(stageNode)) continue;
    const name = scalarAt(stageNode, "name");
    if (name === undefined) {
      unmapped.push({ where: where(stageNode), what: "a stage without a name" });
      continue;
    }
    stages.push(importStage(name, stageNode, where, unmapped));
  }
  return {
    project: scalarAt(mapAt(root, "metadata"), "name"),
    stages,
    prometheusQueries: sli === undefined ? {} : importSlis(sli, unmapped),
    unmapped,
  };
}

function importStage(
  name: string,
  stageNode: YAMLMap,
  where: (node: Node | undefined) => string,
  unmapped: Unmapped[],
): ImportedStage {
  const stage: ImportedStage = {
    name,
    strategy: "direct",
    approval: { pass: "automatic", warning: "automatic" },
    test: false,
    gate: false,
  };
  const sequences = stageNode.get("sequences", true);
  const items = isSeq(sequences) ? sequences.items.filter(isMap) : [];
  const delivery = items.find((sequence) =>
    tasksOf(sequence).some((task) => scalarAt(task, "name") === "deployment"),
  );
  for (const sequence of items) {
    if (sequence === delivery) continue;
    unmapped.push({
      where: where(sequence),
      what: `stage ${name}: sequence "${scalarAt(sequence, "name") ?? "?"}" (Waybill runs one delivery per stage; rollback is automatic)`,
    });
  }
  if (delivery === undefined) {
    unmapped.push({ where: where(stageNode), what: `stage ${name}: no sequence with a deployment task` });
    return stage;
  }
  for (const task of tasksOf(delivery)) {
    const taskName = scalarAt(task, "name") ?? "";
    const properties = mapAt(task, "properties");
    if (taskName === "deployment") {
      const strategy = scalarAt(properties, "deploymentstrategy") ?? "direct";
      const mapped = STRATEGIES[strategy];
      if (mapped === undefined) {
        unmapped.push({
          where: where(properties ?? task),
          what: `stage ${name}: deploymentstrategy "${strategy}"`,
        });
      } else {
        stage.strategy = mapped;
      }
    } else if (taskName === "approval") {
      for (const result of ["pass", "warning"] as const) {
        const mode = scalarAt(properties, result) ?? "automatic";
        if (APPROVAL.has(mode)) stage.approval[result] = mode as "automatic" | "manual";
        else
          unmapped.push({
            where: where(properties ?? task),
            what: `stage ${name}: approval ${result}: "${mode}"`,
          });
      }
    } else if (taskName === "test") {
      stage.test = true;
    } else if (taskName === "evaluation") {
      stage.gate = true;
    } else if (!KNOWN_TASKS.has(taskName)) {
      unmapped.push({ where: where(task), what: `stage ${name}: task "${taskName}"` });
    }
  }
  return stage;
}

function importSlis(sli: SourceFile, unmapped: Unmapped[]): Record<string, string> {
  const { root, where } = parse(sli);
  const indicators = mapAt(root, "indicators");
  if (indicators === undefined) {
    unmapped.push({ where: where(root), what: "the sli.yaml has no indicators" });
    return {};
  }
  const queries: Record<string, string> = {};
  for (const pair of indicators.items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : undefined;
    const query = isScalar(pair.value) ? String(pair.value.value) : undefined;
    if (name === undefined || query === undefined) continue;
    let translated = query;
    for (const [keptn, waybill] of Object.entries(PLACEHOLDERS))
      translated = translated.replaceAll(keptn, waybill);
    const left = /\$(PROJECT|LABEL\.[\w.]+|[A-Z_]{2,})/.exec(translated);
    if (left !== null) {
      unmapped.push({
        where: where(pair.value as Node),
        what: `SLI ${name}: placeholder ${left[0]} has no Waybill counterpart (Waybill has $service, $stage, $version, $start, $end, $duration); it is kept as written`,
      });
    }
    queries[name] = translated;
  }
  return queries;
}

function tasksOf(sequence: YAMLMap): YAMLMap[] {
  const tasks = sequence.get("tasks", true);
  return isSeq(tasks) ? tasks.items.filter(isMap) : [];
}

function mapAt(node: YAMLMap | undefined, key: string): YAMLMap | undefined {
  const value = node?.get(key, true);
  return isMap(value) ? value : undefined;
}

function scalarAt(node: YAMLMap | undefined, key: string): string | undefined {
  const value = node?.get(key, true);
  return isScalar(value) && value.value !== null ? String(value.value) : undefined;
}

function parse(source: SourceFile): { root: YAMLMap; where: (node: Node | undefined) => string } {
  const lineCounter = new LineCounter();
  const document = parseDocument(source.text, { lineCounter, prettyErrors: false });
  const where = (node: Node | undefined): string => {
    const { line, col } = lineCounter.linePos(node?.range?.[0] ?? 0);
    return `${source.file}:${line}:${col}`;
  };
  const [error] = document.errors;
  if (error !== undefined) {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    throw new UserError(
      `${source.file}:${line}:${col}: not valid YAML: ${error.message.split("\n")[0] ?? ""}`,
    );
  }
  if (!isMap(document.contents)) throw new UserError(`${source.file}:1:1: expected a YAML mapping`);
  return { root: document.contents, where };
}
