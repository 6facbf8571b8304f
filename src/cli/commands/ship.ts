import { resolve } from "node:path";
import { artifactKindOf } from "../../spec/target-kinds.js";
import { versionLabelSchema } from "../../spec/version-label.js";
import { artifactDigest } from "../../artifact/digest.js";
import { runBuild } from "../../artifact/build.js";
import { lockfileDigests, sourceFacts } from "../../artifact/build-facts.js";
import { imageArtifact } from "../../artifact/image.js";
import { UserError } from "../../errors.js";
import { stageTargets, type ServiceSpec } from "../../spec/schema.js";
import { loadServiceSpec } from "../../spec/load.js";
import { argument, defineCommand, option } from "../command.js";
import type { ApiClient } from "../client.js";
import { flag, flagOnByDefault, text } from "../options.js";
import type { RunView } from "../views.js";

export const shipCommand = defineCommand({
  name: "ship",
  args: { dir: argument(text.prefault("."), "service folder holding waybill.yaml") },
  options: {
    version: option(
      "--version <label>",
      "version label (default: the first 12 hex digits of the digest)",
      versionLabelSchema.optional(),
    ),
    json: option("--json", "print the runs this ship started, as JSON, when it ends", flag),
    wait: option("--no-wait", "return once the first run has started", flagOnByDefault),
  },
  async run(args, options, context) {
    const { spec, dir: serviceDir } = loadServiceSpec(resolve(args.dir, "waybill.yaml"));
    const { json } = options;
    const say = json ? () => undefined : context.stderr;
    const startedOn = new Date().toISOString();
    const buildCommand = spec.build.command;
    let built: Promise<void> = Promise.resolve();
    if (buildCommand !== undefined) {
      say(`building ${spec.metadata.name}: ${buildCommand}\n`);
      built = withHeartbeat(say, (output) => runBuild(buildCommand, serviceDir, spec.build.env, output));
    }
    // The build needs only the spec; what talks to the control plane is loaded while it runs.
    const shipping = loadShipping();
    // git is asked while the build runs; only its question about the working tree waits for it.
    const source = sourceFacts(serviceDir, built);
    await built;
    const finishedOn = new Date().toISOString();
    // git's answers and the artifact's hash come from different processes and files: together.
    const [sourceFound, artifact] = await Promise.all([
      source,
      deploysToKubernetes(spec)
        ? imageArtifact(spec, serviceDir)
        : folderArtifact(resolve(serviceDir, spec.build.artifact), spec.build.artifact, serviceDir),
    ]);
    const { digest } = artifact;
    const version = options.version ?? digest.slice("sha256:".length, 19);
    say(`artifact ${"image" in artifact ? artifact.image : digest} (version ${version})\n`);

    const { connect, createShip, followShip, printJson, printOutcome } = await shipping;
    const client = await connect(context.stateDir);
    const shipped = await client.call(createShip, {
      body: {
        spec,
        serviceDir,
        ...artifact,
        version,
        ...(sourceFound === undefined
          ? {}
          : {
              build: {
                command: spec.build.command ?? "",
                source: sourceFound,
                lockfiles: lockfileDigests(serviceDir),
                startedOn,
                finishedOn,
              },
            }),
      },
    });

    if (!options.wait) {
      const first = await waitUntilStarted(client, shipped.shipId);
      if (json) printJson(context, { runs: [first] });
      else context.stdout(`started run ${first.id} (${first.stage})\n`);
      return 0;
    }
    const outcome = await followShip(client, shipped.shipId, json ? undefined : context.stdout);
    if (json) printJson(context, { runs: outcome.runs });
    else await printOutcome(client, spec.metadata.name, outcome, context.stdout);
    return outcome.failed.length > 0 ? 1 : 0;
  },
});

function deploysToKubernetes(spec: ServiceSpec): boolean {
  return artifactKindOf(spec.stages.flatMap(stageTargets)) === "image";
}

async function folderArtifact(
  artifactDir: string,
  configured: string,
  serviceDir: string,
): Promise<{ artifactDir: string; digest: string }> {
  const digest = await artifactDigest(artifactDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT")
      throw new UserError(`build.artifact ${configured} does not exist in ${serviceDir}`);
    throw error;
  });
  return { artifactDir, digest };
}

async function loadShipping() {
  const [client, follow, ships, runs, json] = await Promise.all([
    import("../client.js"),
    import("../follow.js"),
    import("../../api/ships.js"),
    import("../../api/runs.js"),
    import("../json-output.js"),
  ]);
  return {
    connect: client.connect,
    followShip: follow.followShip,
    printOutcome: follow.printOutcome,
    createShip: ships.createShip,
    listRuns: runs.listRuns,
    printJson: json.printJson,
  };
}

async function waitUntilStarted(client: ApiClient, shipId: string): Promise<RunView> {
  const { listRuns } = await import("../../api/runs.js");
  for (;;) {
    const { runs } = await client.call(listRuns, { query: { ship: shipId } });
    const first = runs[0];
    if (first !== undefined && first.state !== "queued") return first;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const QUIET_BUILD_MS = 10_000;

/** A build that prints nothing for a while still says it is alive, and for how long it has run. */
async function withHeartbeat<T>(
  say: (text: string) => void,
  work: (output: (text: string) => void) => Promise<T>,
): Promise<T> {
  const started = Date.now();
  let lastOutput = started;
  const timer = setInterval(() => {
    if (Date.now() - lastOutput < QUIET_BUILD_MS) return;
    lastOutput = Date.now();
    say(`  still building (${Math.round((Date.now() - started) / 1000)} s)\n`);
  }, 1000);
  try {
    return await work((text) => {
      lastOutput = Date.now();
      say(text);
    });
  } finally {
    clearInterval(timer);
  }
}
