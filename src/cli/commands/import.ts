import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { detectProject, serviceName } from "../../spec/init.js";
import { importKeptn, type SourceFile } from "../../spec/import/keptn.js";
import { importOpenSlo } from "../../spec/import/openslo.js";
import { renderImportedService, type ImportedService } from "../../spec/import/render.js";
import { SpecError, parseServiceSpec } from "../../spec/load.js";
import { argument, defineCommand, option } from "../command.js";
import { oneOf, text } from "../options.js";

export const importCommand = defineCommand({
  name: "import",
  args: {
    kind: argument(oneOf(["keptn", "openslo"]), "what the files are"),
    files: argument(
      z.array(text).min(1, { error: "expected one file or more" }),
      "keptn: <shipyard.yaml> [slo.yaml] [sli.yaml] (Prometheus); openslo: one file of SLO and SLI objects",
    ),
  },
  options: {
    dir: option(
      "--dir <folder>",
      "the service's folder: its waybill.yaml is written there",
      text.prefault("."),
    ),
    name: option("--name <service>", "the service's name (default: the folder's name)", text.optional()),
    prometheus: option(
      "--prometheus <url>",
      "where the Prometheus SLIs are queried",
      text.prefault("http://127.0.0.1:9090"),
    ),
  },
  async run({ kind, files }, options, context) {
    const dir = resolve(options.dir);
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory())
      throw new UserError(`--dir ${dir}: no such folder`);
    const out = join(dir, "waybill.yaml");
    if (existsSync(out)) throw new UserError(`${out} already exists; waybill import does not overwrite it`);
    const sources = files.map(readSource);
    const project = detectProject(dir);
    const name = serviceName(options.name ?? basename(dir));
    const prometheusUrl = options.prometheus;
    const imported: ImportedService =
      kind === "keptn"
        ? fromKeptn(sources, dir, project, name, prometheusUrl)
        : fromOpenSlo(sources, project, name, prometheusUrl);
    const text = renderImportedService(imported);
    try {
      parseServiceSpec(text, out);
    } catch (error) {
      if (error instanceof SpecError)
        throw new UserError(`the imported waybill.yaml does not validate: ${error.message}`);
      throw error;
    }
    writeFileSync(out, text, { flag: "wx" });
    context.stdout(`wrote ${out}\n`);
    if (imported.unmapped.length > 0) {
      context.stdout(`not imported (listed at the top of the file too):\n`);
      for (const item of imported.unmapped) context.stdout(`  ${item.where}: ${item.what}\n`);
    }
    const shown = relative(process.cwd(), dir);
    const folder = shown === "" ? "." : shown.startsWith("..") ? dir : shown;
    context.stdout(`Next: waybill validate ${out}, then waybill ship ${folder}\n`);
    return 0;
  },
});

function readSource(file: string): SourceFile {
  try {
    return { file, text: readFileSync(file, "utf8") };
  } catch (error) {
    throw new UserError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? "unreadable"}`);
  }
}

function fromKeptn(
  sources: SourceFile[],
  dir: string,
  project: ReturnType<typeof detectProject>,
  name: string,
  prometheusUrl: string,
): ImportedService {
  const [shipyard, slo, sli] = sources;
  if (shipyard === undefined || sources.length > 3) {
    throw new UserError("waybill import keptn takes <shipyard.yaml> [slo.yaml] [sli.yaml]");
  }
  const imported = importKeptn(shipyard, sli);
  let sloPath: string | undefined;
  if (slo !== undefined) {
    // The SLO file goes beside waybill.yaml unchanged, and waybill.yaml names it.
    const target = join(dir, "slo.yaml");
    if (resolve(slo.file) !== target) {
      if (existsSync(target))
        throw new UserError(`${target} already exists; pass it as the slo.yaml to use it`);
      copyFileSync(slo.file, target);
    }
    sloPath = "slo.yaml";
  }
  return {
    from: `Keptn ${basename(shipyard.file)}${slo === undefined ? "" : `, ${basename(slo.file)}`}${sli === undefined ? "" : `, ${basename(sli.file)}`}`,
    project,
    name,
    stages: imported.stages,
    prometheus: { url: prometheusUrl, queries: imported.prometheusQueries },
    ...(sloPath === undefined ? {} : { slo: sloPath }),
    unmapped: [
      ...imported.unmapped,
      ...(sli === undefined
        ? []
        : [
            {
              where: `${sli.file}:1:1`,
              what: `the Prometheus URL (Keptn keeps it in a secret): set to ${prometheusUrl}`,
            },
          ]),
    ],
  };
}

function fromOpenSlo(
  sources: SourceFile[],
  project: ReturnType<typeof detectProject>,
  name: string,
  prometheusUrl: string,
): ImportedService {
  const [file] = sources;
  if (file === undefined || sources.length > 1) throw new UserError("waybill import openslo takes one file");
  const imported = importOpenSlo(file);
  if (imported.objectives.length === 0) {
    throw new UserError(
      `${file.file}: no SLO with a Prometheus ratio or threshold metric was found${imported.unmapped.map((item) => `; ${item.where}: ${item.what}`).join("")}`,
    );
  }
  return {
    from: `OpenSLO ${basename(file.file)}`,
    project,
    name: imported.service === undefined ? name : serviceName(imported.service),
    prometheus: { url: prometheusUrl, queries: imported.prometheusQueries },
    slo: { objectives: imported.objectives, total_score: { pass: "90%", warning: "75%" } },
    unmapped: imported.unmapped,
  };
}
