import { readFile, rename, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { z } from "zod";
import { argument, defineCommand, option } from "../command.js";
import { duration, flag, text, wholeNumber } from "../options.js";
import { connect, type ApiClient } from "../client.js";
import { followRun } from "../follow.js";
import { printJson } from "../json-output.js";
import { rightsizeReport } from "../environment-view.js";
import { visible, type EventView } from "../views.js";
import { UserError } from "../../errors.js";
import {
  parseMinimumEnvironment,
  type MinimumEnvironmentPredicate,
} from "../../evidence/attestation/minimum-environment.js";
import { writeResources } from "../../spec/write-resources.js";
import { getRun } from "../../api/runs.js";
import { rightsizeStage } from "../../api/stages.js";
import { getStatus } from "../../api/status.js";

export const rightsizeCommand = defineCommand({
  name: "rightsize",
  args: { service: argument(text) },
  options: {
    stage: option(
      "--stage <stage>",
      "the stage whose live release is sized (default: the last one with a release)",
      text.optional(),
    ),
    maxSteps: option(
      "--max-steps <n>",
      "trial sizes in all, the confirmation included (default: rightsizing.maxSteps, 12)",
      wholeNumber({ min: 1, max: 40, of: "steps" }).optional(),
    ),
    maxTime: option(
      "--max-time <duration>",
      "no step starts after this much time (default: rightsizing.maxDuration, 15m)",
      duration({ aboveZero: true }).optional(),
    ),
    write: option(
      "--write [file]",
      "put the recommendation into waybill.yaml's resources (default ./waybill.yaml)",
      z.union([z.literal(true), text]).optional(),
    ),
    json: option("--json", "print the report as JSON", flag),
  },
  async run({ service }, options, context) {
    const client = await connect(context.stateDir);
    const stage = options.stage ?? (await defaultStage(client, service));
    const { json } = options;
    const run = await client.call(rightsizeStage, {
      params: { service, stage },
      body: {
        ...(options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps }),
        ...(options.maxTime === undefined ? {} : { maxDuration: `${options.maxTime}ms` }),
      },
    });
    if (!json) context.stdout(`rightsizing ${service} ${visible(run.version)} on ${stage} (run ${run.id})\n`);
    await followRun(client, run.id, json ? undefined : context.stdout);
    const finished = await client.call(getRun, { params: { id: run.id } });
    const report = reportOf(finished.events);
    const { events: _events, ...finishedRun } = finished;
    if (json) printJson(context, { run: finishedRun, report });
    if (finished.state !== "succeeded" || report === null || report.sizing === null) {
      context.stderr(
        `rightsizing failed (run ${run.id}): ${finished.reason ?? "no report was recorded"}\n` +
          `see the whole run with: waybill run ${run.id}\n`,
      );
      return 1;
    }
    const sized = { ...report, sizing: report.sizing };
    if (!json) context.stdout(`${rightsizeReport(sized)}\n`);
    if (options.write !== undefined) {
      const file = resolve(options.write === true ? "waybill.yaml" : options.write);
      const { recommended } = sized.sizing;
      await writeRecommendation(file, recommended);
      if (!json) {
        context.stdout(`wrote resources cpu ${recommended.cpu}, memory ${recommended.memory} into ${file}\n`);
      }
    }
    return 0;
  },
});

/** The last stage, in delivery order, that has a live release: the one closest to production. */
async function defaultStage(client: ApiClient, service: string): Promise<string> {
  const status = await client.call(getStatus, { query: { service } }).catch((error: unknown) => {
    if (error instanceof UserError && error.httpStatus === 404)
      throw new UserError(`no service named "${service}": ship it first (waybill ship)`);
    throw error;
  });
  const stages = status.services.find((entry) => entry.name === service)?.stages;
  if (stages === undefined)
    throw new UserError(`no service named "${service}": ship it first (waybill ship)`);
  const live = stages.filter((stage) => stage.version !== null);
  const chosen = live.at(-1);
  if (chosen === undefined) {
    throw new UserError(`${service} has no live release on any stage: ship it first (waybill ship)`);
  }
  return chosen.name;
}

function reportOf(events: EventView[]): MinimumEnvironmentPredicate | null {
  const recorded = events.filter((event) => event.type.endsWith(".rightsize.recorded")).at(-1);
  return recorded === undefined ? null : parseMinimumEnvironment(recorded.data);
}

async function writeRecommendation(file: string, size: { cpu: string; memory: string }): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new UserError(
      `cannot read ${file} to write the recommendation into: give the file with --write <file>`,
    );
  }
  const written = writeResources(text, size);
  // Written whole to a sibling first, so an interrupted write never leaves half a file.
  const temporary = `${file}.waybill-${process.pid}`;
  await writeFile(temporary, written);
  await rename(temporary, file);
}
