import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CliCommand } from "../command.js";
import { imageArtifact } from "../../artifact/image.js";
import { UserError } from "../../errors.js";
import {
  imageDigest,
  renderStage,
  stageImage,
  stageNamespace,
  type RenderOptions,
  type Slot,
} from "../../kube/render.js";
import { schemaProblems } from "../../kube/schema-validation.js";
import { isDirectory, loadServiceSpec } from "../../spec/load.js";
import type { ServiceSpec } from "../../spec/schema.js";

export const renderCommand: CliCommand = {
  name: "render",
  configure: (command) =>
    command
      .argument("<stage>", "the stage to render")
      .option("--file <path>", "waybill.yaml, or a folder holding one", "waybill.yaml")
      .option(
        "--image <ref>",
        "image reference with a digest (default: run.image, else build.image pinned by the digest the build wrote)",
      )
      .option("--version <label>", "version label (default: the first 12 hex digits of the digest)")
      .option("--namespace <name>", "namespace (default: the one in the stage's kube: target, else none)")
      .option("--slot <slot>", "blue-green: the slot this release goes to (blue or green)")
      .option("--active-slot <slot>", "blue-green: the slot the Service points at (default: --slot)")
      .option(
        "--canary-weight <percent>",
        "canary: traffic percentage for this release (needs --previous-image)",
      )
      .option(
        "--previous-image <ref>",
        "the release live before this one (other slot, canary's stable track)",
      )
      .option("--previous-version <label>", "version label of --previous-image")
      .option("--gateway <[namespace/]name>", "gateway-api: attach the HTTPRoute to this Gateway")
      .option("--out <dir>", "write <dir>/<stage>.yaml instead of printing"),
  async run(args, options, context) {
    const stageName = args[0];
    if (stageName === undefined)
      throw new UserError("name the stage to render, e.g. waybill render production");
    const given = stringOption(options, "file") ?? "waybill.yaml";
    const { spec, dir } = loadServiceSpec(isDirectory(given) ? join(given, "waybill.yaml") : given);
    const stage = spec.stages.find((candidate) => candidate.name === stageName);
    const image = stringOption(options, "image") ?? shippedImage(spec, dir);
    const renderOptions: RenderOptions = {
      version: stringOption(options, "version") ?? shortDigest(image),
      image,
      namespace:
        stringOption(options, "namespace") ?? (stage === undefined ? undefined : stageNamespace(stage)),
      slot: slotOption(options, "slot"),
      activeSlot: slotOption(options, "activeSlot"),
      canaryWeight: weightOption(options),
      previous: previousOption(options),
      gateway: gatewayOption(options),
    };
    const rendered = renderStage(spec, stageName, renderOptions);
    const problems = schemaProblems(rendered.objects);
    if (problems.length > 0) {
      context.stderr(`${problems.map((problem) => `error: ${problem}`).join("\n")}\n`);
      return 1;
    }
    const out = stringOption(options, "out");
    if (out === undefined) {
      context.stdout(rendered.yaml);
      return 0;
    }
    mkdirSync(out, { recursive: true });
    const file = join(out, `${stageName}.yaml`);
    writeFileSync(file, rendered.yaml);
    context.stdout(
      `wrote ${file} (${rendered.objects.map((object) => `${object.kind}/${object.metadata.name}`).join(", ")})\n`,
    );
    return 0;
  },
};

/** The image `waybill ship` would deploy, read from the last build's digest file if it pushed one. */
function shippedImage(spec: ServiceSpec, dir: string): string {
  if (spec.run.image === undefined && spec.build.image === undefined) return stageImage(spec, undefined);
  try {
    return imageArtifact(spec, dir).image;
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    throw new UserError(`${error.message}; or give --image repository@sha256:<digest>`);
  }
}

/** The default version label, as `waybill ship` makes it: the first 12 hex digits of the digest. */
function shortDigest(image: string): string {
  return imageDigest(image).slice("sha256:".length, "sha256:".length + 12);
}

function stringOption(options: Record<string, unknown>, name: string): string | undefined {
  const value = options[name];
  return typeof value === "string" ? value : undefined;
}

function slotOption(options: Record<string, unknown>, name: string): Slot | undefined {
  const value = stringOption(options, name);
  if (value === undefined || value === "blue" || value === "green") return value;
  throw new UserError(`invalid slot "${value}": expected blue or green`);
}

function weightOption(options: Record<string, unknown>): number | undefined {
  const value = stringOption(options, "canaryWeight");
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new UserError(`invalid --canary-weight "${value}": expected a whole percentage from 0 to 100`);
  return Number(value);
}

function previousOption(options: Record<string, unknown>): RenderOptions["previous"] {
  const image = stringOption(options, "previousImage");
  const version = stringOption(options, "previousVersion");
  if (image === undefined) {
    if (version !== undefined) throw new UserError("--previous-version needs --previous-image");
    return undefined;
  }
  return { image, version: version ?? shortDigest(image) };
}

/** `[namespace/]name`, as kubectl writes a namespaced object. */
function gatewayOption(options: Record<string, unknown>): RenderOptions["gateway"] {
  const value = stringOption(options, "gateway");
  if (value === undefined) return undefined;
  const match = /^(?:([^/]+)\/)?([^/]+)$/.exec(value);
  const name = match?.[2];
  if (name === undefined) throw new UserError(`invalid --gateway "${value}": expected [namespace/]name`);
  const namespace = match?.[1];
  return namespace === undefined ? { name } : { name, namespace };
}
