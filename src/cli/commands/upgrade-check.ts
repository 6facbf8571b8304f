import { readFileSync, readdirSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { z } from "zod";
import { argument, defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { flag, nonEmpty, repeatable, text } from "../options.js";
import { UserError, errorMessage } from "../../errors.js";
import { kubeConfigForContext } from "../../kube/apply.js";
import { listLiveObjects, type LiveObject, type WrittenWith } from "../../kube/live-objects.js";
import { renderStage } from "../../kube/render.js";
import {
  manifestObjects,
  parseKubeVersion,
  upgradeFindings,
  type ManifestObject,
  type UpgradeFinding,
} from "../../kube/upgrade-check.js";
import { isDirectory, loadServiceSpec } from "../../spec/load.js";

const manifestExtensions = new Set([".yaml", ".yml", ".json"]);
/** Which API versions a stage renders does not depend on the image, so any pinned one will do. */
const placeholderImage = `upgrade-check.invalid/image@sha256:${"0".repeat(64)}`;

export const upgradeCheckCommand = defineCommand({
  name: "upgrade-check",
  args: {
    paths: argument(z.array(text), "YAML or JSON manifests, or folders searched for .yaml, .yml and .json"),
  },
  options: {
    kubeVersion: option(
      "--kube-version <version>",
      "the Kubernetes release to check against, e.g. 1.32",
      nonEmpty("a Kubernetes release such as 1.32"),
    ),
    stage: option(
      "--stage <name>",
      "also check this stage of waybill.yaml as rendered (repeatable)",
      repeatable(text),
    ),
    file: option(
      "--file <path>",
      "waybill.yaml for --stage, or a folder holding one",
      text.prefault("waybill.yaml"),
    ),
    live: option(
      "--live <context>",
      "also check the objects in the cluster of this kubeconfig context, by the apiVersion they were last applied or written with",
      text.optional(),
    ),
    json: option(
      "--json",
      'print {"findings": [{"file", "line", "apiVersion", "kind", "name", "removedIn", "replacement"}]}',
      flag,
    ),
  },
  async run({ paths }, options, context) {
    const { kubeVersion, stage: stages, live } = options;
    const target = parseKubeVersion(kubeVersion);
    if (paths.length === 0 && stages.length === 0 && live === undefined) {
      throw new UserError("nothing to check: give manifest files or folders, --stage NAME or --live CONTEXT");
    }
    const objects = [
      ...paths.flatMap(objectsInPath),
      ...stages.flatMap((stage) => stageObjects(stage, options.file)),
    ];
    const inventory =
      live === undefined
        ? { objects: [], listed: 0 }
        : await listLiveObjects(liveKubeConfig(live), kubeVersion);
    const findings: Finding[] = [
      ...upgradeFindings(objects, kubeVersion),
      ...inventory.objects.flatMap((object) => liveFindings(object, kubeVersion)),
    ];
    const release = `${target.major}.${target.minor}`;
    if (options.json) {
      printJson(context, { findings: findings.map(findingJson) });
    } else {
      for (const finding of findings) context.stdout(`${describeFinding(finding)}\n`);
      context.stdout(summary(findings, objects.length + inventory.listed, release));
    }
    return findings.length > 0 ? 1 : 0;
  },
});

/** A finding in a cluster also says how its version is known. */
type Finding = UpgradeFinding & { writtenWith?: WrittenWith };

function liveFindings(object: LiveObject, kubeVersion: string): Finding[] {
  return upgradeFindings([object], kubeVersion).map((finding) => ({
    ...finding,
    writtenWith: object.writtenWith,
  }));
}

function liveKubeConfig(context: string) {
  try {
    return kubeConfigForContext(context);
  } catch (error) {
    throw new UserError(`--live: ${errorMessage(error)} (kubeconfig: $KUBECONFIG, else ~/.kube/config)`);
  }
}

function objectsInPath(path: string): ManifestObject[] {
  const stats = statSync(path, { throwIfNoEntry: false });
  if (stats === undefined) throw new UserError(`cannot read ${path}: no such file or folder`);
  if (stats.isDirectory()) return manifestFiles(path).flatMap(objectsInFile);
  return objectsInFile(path);
}

/** Sorted by code point, so the findings come out in the same order on every machine. */
function manifestFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return entry.name.startsWith(".") ? [] : manifestFiles(path);
      return entry.isFile() && manifestExtensions.has(extname(entry.name)) ? [path] : [];
    });
}

function objectsInFile(path: string): ManifestObject[] {
  return manifestObjects(readFileSync(path, "utf8"), path);
}

function stageObjects(stage: string, given: string): ManifestObject[] {
  const file = isDirectory(given) ? join(given, "waybill.yaml") : given;
  const { spec } = loadServiceSpec(file);
  const { yaml } = renderStage(spec, stage, { version: "upgrade-check", image: placeholderImage });
  return manifestObjects(yaml, `${file}#${stage}`);
}

function findingJson(finding: Finding) {
  const { file, line, apiVersion, kind, name, removedIn, replacement } = finding;
  return { file, line, apiVersion, kind, name, removedIn, replacement };
}

function managerNames(managers: string[]): string {
  const quoted = managers.map((manager) => JSON.stringify(manager)).join(", ");
  return `${managers.length === 1 ? "field manager" : "field managers"} ${quoted}`;
}

function usage(finding: Finding): string {
  switch (finding.writtenWith?.record) {
    case undefined:
      return `uses ${finding.apiVersion}`;
    case "last-applied":
      return `was last applied as ${finding.apiVersion}`;
    case "field-managers":
      return `was written as ${finding.apiVersion} by ${managerNames(finding.writtenWith.managers)}`;
    case "listed":
      return `is served only as ${finding.apiVersion}`;
  }
}

function describeFinding(finding: Finding): string {
  const name = finding.name === "" ? finding.kind : `${finding.kind}/${finding.name}`;
  const fix = finding.replacementIsApiVersion
    ? `use apiVersion: ${finding.replacement}`
    : finding.replacement;
  const where = finding.writtenWith === undefined ? `${finding.file}:${finding.line}` : finding.file;
  return `${where}: ${name} ${usage(finding)}, removed in ${finding.removedIn}; ${fix}`;
}

function summary(findings: Finding[], checkedCount: number, release: string): string {
  const checked = `${checkedCount} ${checkedCount === 1 ? "object" : "objects"} checked`;
  if (findings.length === 0)
    return `ok: nothing uses an API removed in Kubernetes ${release} or earlier (${checked})\n`;
  const count = `${findings.length} ${findings.length === 1 ? "object" : "objects"}`;
  return `${count} would break on Kubernetes ${release} (${checked})\n`;
}
