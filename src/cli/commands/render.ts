import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { argument, defineCommand, option } from "../command.js";
import { fromText, oneOf, text, wholeNumber } from "../options.js";
import { imageArtifact } from "../../artifact/image.js";
import { UserError } from "../../errors.js";
import {
  imageDigest,
  renderStage,
  stageImage,
  stageNamespace,
  type RenderOptions,
} from "../../kube/render.js";
import { schemaProblems } from "../../kube/schema-validation.js";
import { isDirectory, loadServiceSpec } from "../../spec/load.js";
import type { ServiceSpec } from "../../spec/schema.js";

const slot = oneOf(["blue", "green"], { listedInHelp: false }).optional();

export const renderCommand = defineCommand({
  name: "render",
  args: { stage: argument(text, "the stage to render") },
  options: {
    file: option("--file <path>", "waybill.yaml, or a folder holding one", text.prefault("waybill.yaml")),
    image: option(
      "--image <ref>",
      "image reference with a digest (default: run.image, else build.image pinned by the digest the build wrote)",
      text.optional(),
    ),
    version: option(
      "--version <label>",
      "version label (default: the first 12 hex digits of the digest)",
      text.optional(),
    ),
    namespace: option(
      "--namespace <name>",
      "namespace (default: the one in the stage's kube: target, else none)",
      text.optional(),
    ),
    slot: option("--slot <slot>", "blue-green: the slot this release goes to (blue or green)", slot),
    activeSlot: option(
      "--active-slot <slot>",
      "blue-green: the slot the Service points at (default: --slot)",
      slot,
    ),
    canaryWeight: option(
      "--canary-weight <percent>",
      "canary: traffic percentage for this release (needs --previous-image)",
      wholeNumber({ min: 0, max: 100 }).optional(),
    ),
    previousImage: option(
      "--previous-image <ref>",
      "the release live before this one (other slot, canary's stable track)",
      text.optional(),
    ),
    previousVersion: option(
      "--previous-version <label>",
      "version label of --previous-image",
      text.optional(),
    ),
    gateway: option(
      "--gateway <[namespace/]name>",
      "gateway-api: attach the HTTPRoute to this Gateway",
      fromText("expected [namespace/]name", gatewayFrom).optional(),
    ),
    out: option("--out <dir>", "write <dir>/<stage>.yaml instead of printing", text.optional()),
  },
  async run(args, options, context) {
    const stageName = args.stage;
    const { spec, dir } = loadServiceSpec(
      isDirectory(options.file) ? join(options.file, "waybill.yaml") : options.file,
    );
    const stage = spec.stages.find((candidate) => candidate.name === stageName);
    const image = options.image ?? shippedImage(spec, dir);
    const renderOptions: RenderOptions = {
      version: options.version ?? shortDigest(image),
      image,
      namespace: options.namespace ?? (stage === undefined ? undefined : stageNamespace(stage)),
      slot: options.slot,
      activeSlot: options.activeSlot,
      canaryWeight: options.canaryWeight,
      previous: previousRelease(options.previousImage, options.previousVersion),
      gateway: options.gateway,
    };
    const rendered = renderStage(spec, stageName, renderOptions);
    const problems = schemaProblems(rendered.objects);
    if (problems.length > 0) {
      context.stderr(`${problems.map((problem) => `error: ${problem}`).join("\n")}\n`);
      return 1;
    }
    if (options.out === undefined) {
      context.stdout(rendered.yaml);
      return 0;
    }
    mkdirSync(options.out, { recursive: true });
    const file = join(options.out, `${stageName}.yaml`);
    writeFileSync(file, rendered.yaml);
    context.stdout(
      `wrote ${file} (${rendered.objects.map((object) => `${object.kind}/${object.metadata.name}`).join(", ")})\n`,
    );
    return 0;
  },
});

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

function previousRelease(image: string | undefined, version: string | undefined): RenderOptions["previous"] {
  if (image === undefined) {
    if (version !== undefined) throw new UserError("--previous-version needs --previous-image");
    return undefined;
  }
  return { image, version: version ?? shortDigest(image) };
}

/** `[namespace/]name`, as kubectl writes a namespaced object. */
function gatewayFrom(given: string): RenderOptions["gateway"] {
  const match = /^(?:([^/]+)\/)?([^/]+)$/.exec(given);
  const name = match?.[2];
  if (name === undefined) return undefined;
  const namespace = match?.[1];
  return namespace === undefined ? { name } : { name, namespace };
}
