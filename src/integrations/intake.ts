/**
 * What a received CloudEvent makes happen. Four event types are acted on (README.md lists what
 * their data holds): an image pushed to a registry or an artifact recorded before is shipped,
 * and an approval or rejection decides a run that waits for one. Anything else is refused, so a
 * sender learns at once that its event did nothing.
 *
 * Each event is recorded under its (source, id) before it is acted on, with a lease: a resend
 * is answered as a duplicate and acts no more. A process that dies mid-action leaves the record
 * "acting"; once its lease runs out, a resend or `resumeAbandoned` takes it over and finishes it
 * without shipping twice: the ship's id is derived from (source, id), and a ship of the same
 * digest queued after the event arrived counts as this event's own.
 */
import { publicRun } from "../engine/run-views.js";
import { createHash, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { z } from "zod";
import { roles, type Role } from "../api/contract.js";
import { pinnedDigest } from "../artifact/image.js";
import type { Deliveries } from "../engine/deliveries.js";
import type { Engine } from "../engine/engine.js";
import type { Actor } from "../engine/policies.js";
import { ConflictError, NotFoundError, UserError, errorMessage } from "../errors.js";
import { serviceSpecSchema } from "../spec/schema.js";
import { versionLabelSchema } from "../spec/version-label.js";
import type { IntakeRecord, IntegrationStore } from "../store/integration-store.js";
import type { ArtifactRecord, Store } from "../store/store.js";
import { structuredForm, type ReceivedCloudEvent } from "./cloudevents.js";

export const INTAKE_TYPES = {
  imagePushed: "dev.waybill.image.pushed",
  artifactUploaded: "dev.waybill.artifact.uploaded",
  approvalGranted: "dev.waybill.approval.granted",
  approvalRejected: "dev.waybill.approval.rejected",
} as const;

export type IntakeAction = "ship" | "approve" | "reject";

export interface IntakeDependencies {
  integrations: IntegrationStore;
  store: Pick<
    Store,
    | "getService"
    | "listServices"
    | "getArtifact"
    | "artifactsByDigest"
    | "artifactByVersion"
    | "getRun"
    | "listRuns"
  >;
  deliveries: Pick<Deliveries, "ship">;
  engine: Pick<Engine, "enqueue" | "approve" | "reject">;
  /** How long one replica holds an event it acts on before another may take it over */
  leaseMs?: number;
  log?: (line: string) => void;
}

export interface IntakePrincipal {
  name: string;
  role: Role;
}

export interface IntakeAnswer {
  source: string;
  id: string;
  type: string;
  action: IntakeAction;
  /** True when (source, id) had been received before: nothing more was done */
  duplicate: boolean;
  state: "acting" | "done";
  outcome: Record<string, unknown> | null;
}

const DEFAULT_LEASE_MS = 10 * 60_000;
const digestSchema = z
  .string()
  .regex(/^sha256:[0-9a-f]{64}$/, { error: "a digest is sha256: and 64 lowercase hex digits" });
const serviceName = z.string().min(1).max(253);
const oneLine = z
  .string()
  .max(2000)
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]*$/, { error: "a reason is one line of text, without control characters" });

const imagePushedData = z.looseObject({
  image: z
    .string({ error: "data.image is required: the pushed image, pinned as repository@sha256:<digest>" })
    .refine((image) => pinnedDigest(image) !== undefined, {
      error: "data.image must be pinned by digest: repository@sha256:<64 hex digits>",
    }),
  service: serviceName.optional(),
  version: versionLabelSchema.optional(),
});
const artifactUploadedData = z
  .looseObject({
    service: serviceName.optional(),
    digest: digestSchema.optional(),
    version: versionLabelSchema.optional(),
  })
  .refine((data) => data.digest !== undefined || (data.version !== undefined && data.service !== undefined), {
    error: "data names the artifact: digest (sha256:…), or service and version",
  });
const approvalData = z.looseObject({
  run: z.string({ error: "data.run is required: the id of the run that waits for approval" }).min(1),
  reason: oneLine.optional(),
});

type Plan =
  | { action: "ship"; kind: "image"; service: string; image: string; digest: string; version: string }
  | { action: "ship"; kind: "artifact"; artifact: ArtifactRecord }
  | { action: "approve" | "reject"; run: string; reason: string };

export class EventIntake {
  private readonly holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly leaseMs: number;

  constructor(private readonly deps: IntakeDependencies) {
    this.leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  }

  /**
   * Records and acts on one event; a duplicate of (source, id) is answered with what the first
   * one did. Refusals (a UserError) leave nothing recorded, so the corrected event may be sent again.
   */
  async receive(event: ReceivedCloudEvent, principal: IntakePrincipal): Promise<IntakeAnswer> {
    const action = actionOf(event.type);
    if (action !== "ship" && roles.indexOf(principal.role) < roles.indexOf("approver")) {
      throw new UserError(
        `an approval event needs the approver role; the token of ${principal.name} has ${principal.role}`,
        2,
        403,
      );
    }
    const known = await this.deps.integrations.intake(event.source, event.id);
    if (known !== undefined) return this.duplicateOf(known);
    const plan = await this.plan(event, action);
    const recorded = await this.deps.integrations.recordIntake(
      {
        source: event.source,
        id: event.id,
        type: event.type,
        action,
        event: structuredForm(event),
        receivedBy: principal.name,
        receivedAt: new Date().toISOString(),
      },
      { holder: this.holder, leaseMs: this.leaseMs },
    );
    if (!recorded.recorded) return this.duplicateOf(recorded.existing);
    let outcome: Record<string, unknown>;
    try {
      outcome = await this.act(plan, actorOf(principal), event, undefined);
    } catch (error) {
      if (error instanceof UserError)
        await this.deps.integrations.forgetIntake(event.source, event.id, this.holder);
      throw error;
    }
    await this.deps.integrations.finishIntake(event.source, event.id, this.holder, outcome);
    return {
      source: event.source,
      id: event.id,
      type: event.type,
      action,
      duplicate: false,
      state: "done",
      outcome,
    };
  }

  /**
   * Finishes events whose holder died mid-action (its lease ran out): the dispatcher calls this
   * on every round. An event that can no longer be acted on is recorded with why.
   */
  async resumeAbandoned(): Promise<number> {
    const abandoned = await this.deps.integrations.abandonedIntake();
    let resumed = 0;
    for (const record of abandoned) {
      const taken = await this.deps.integrations.takeOverIntake(
        record.source,
        record.id,
        this.holder,
        this.leaseMs,
      );
      if (!taken) continue;
      let outcome: Record<string, unknown>;
      try {
        const event = record.event as unknown as ReceivedCloudEvent;
        const plan = await this.plan({ ...event, extensions: {} }, record.action as IntakeAction);
        outcome = await this.act(
          plan,
          { name: record.receivedBy, mayChangePolicy: false },
          record,
          record.receivedAt,
        );
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        outcome = { refused: errorMessage(error) };
      }
      await this.deps.integrations.finishIntake(record.source, record.id, this.holder, outcome);
      this.deps.log?.(`resumed the ${record.action} of event ${record.id} from ${record.source}`);
      resumed += 1;
    }
    return resumed;
  }

  private duplicateOf(record: IntakeRecord): IntakeAnswer {
    return {
      source: record.source,
      id: record.id,
      type: record.type,
      action: record.action as IntakeAction,
      duplicate: true,
      state: record.state,
      outcome: record.outcome,
    };
  }

  /** What the event asks for, checked against the store before anything is recorded */
  private async plan(event: ReceivedCloudEvent, action: IntakeAction): Promise<Plan> {
    if (action === "approve" || action === "reject") {
      const data = parseData(approvalData, event);
      const run = await this.deps.store.getRun(data.run);
      if (run === undefined) throw new NotFoundError(`no run with id "${data.run}"`);
      return { action, run: run.id, reason: data.reason ?? "rejected" };
    }
    if (event.type === INTAKE_TYPES.imagePushed) {
      const data = parseData(imagePushedData, event);
      const digest = pinnedDigest(data.image) ?? "";
      const service = data.service ?? (await this.serviceOfImage(data.image));
      return {
        action: "ship",
        kind: "image",
        service,
        image: data.image,
        digest,
        version: data.version ?? `sha256-${digest.slice("sha256:".length, "sha256:".length + 12)}`,
      };
    }
    const data = parseData(artifactUploadedData, event);
    return { action: "ship", kind: "artifact", artifact: await this.recordedArtifact(data) };
  }

  /**
   * Carries a plan out. `since` is set when taking over an abandoned event: what its first
   * holder may have done already is looked for first.
   */
  private async act(
    plan: Plan,
    actor: Actor,
    event: { source: string; id: string },
    since: string | undefined,
  ): Promise<Record<string, unknown>> {
    if (plan.action !== "ship") {
      const run = await this.deps.store.getRun(plan.run);
      if (run === undefined) throw new NotFoundError(`no run with id "${plan.run}"`);
      if (run.state !== "waiting-approval") {
        if (since !== undefined) return { run: publicRun(run) };
        throw new ConflictError(`run ${run.id} is ${run.state}, not waiting for approval`);
      }
      if (plan.action === "approve") await this.deps.engine.approve(run.id, actor.name);
      else await this.deps.engine.reject(run.id, actor.name, plan.reason);
      const decided = await this.deps.store.getRun(run.id);
      return { run: publicRun(decided ?? run) };
    }
    const shipId = shipIdOf(event);
    if (since !== undefined) {
      const done = await this.shippedSince(plan, shipId, since);
      if (done !== undefined) return done;
    }
    if (plan.kind === "artifact") return this.enqueue(plan.artifact, shipId);
    if (since !== undefined) {
      const recorded = await this.deps.store.getArtifact(plan.service, plan.digest);
      if (recorded !== undefined) return this.enqueue(recorded, shipId);
    }
    const newest = await this.newestArtifact(plan.service);
    const service = await this.deps.store.getService(plan.service);
    if (service === undefined) throw new NotFoundError(`no service named "${plan.service}"`);
    const ship = await this.deps.deliveries.ship(
      {
        spec: newest.spec,
        serviceDir: service.dir,
        image: plan.image,
        digest: plan.digest,
        version: plan.version,
      },
      actor,
    );
    return { shipId: ship.shipId, runs: ship.runs.map(publicRun) };
  }

  /** A ship the first holder of an abandoned event queued before it died */
  private async shippedSince(
    plan: Extract<Plan, { action: "ship" }>,
    shipId: string,
    since: string,
  ): Promise<Record<string, unknown> | undefined> {
    const own = await this.deps.store.listRuns({ shipId });
    if (own.length > 0) return { shipId, runs: own.map(publicRun) };
    const service = plan.kind === "image" ? plan.service : plan.artifact.service;
    const digest = plan.kind === "image" ? plan.digest : plan.artifact.digest;
    const queued = (await this.deps.store.listRuns({ service })).find(
      (run) => run.kind === "ship" && run.digest === digest && run.createdAt >= since,
    );
    if (queued === undefined) return undefined;
    return {
      shipId: queued.shipId,
      runs: (await this.deps.store.listRuns({ shipId: queued.shipId })).map(publicRun),
    };
  }

  private async enqueue(artifact: ArtifactRecord, shipId: string): Promise<Record<string, unknown>> {
    const spec = serviceSpecSchema.parse(artifact.spec);
    const firstStage = spec.stages[0];
    if (firstStage === undefined) throw new UserError(`the service ${artifact.service} has no stages`);
    const run = await this.deps.engine.enqueue({
      shipId,
      kind: "ship",
      service: artifact.service,
      stage: firstStage.name,
      digest: artifact.digest,
      version: artifact.version,
    });
    return { shipId, runs: [publicRun(run)] };
  }

  private async recordedArtifact(data: z.output<typeof artifactUploadedData>): Promise<ArtifactRecord> {
    if (data.digest !== undefined) {
      const found = (await this.deps.store.artifactsByDigest(data.digest)).filter(
        (artifact) => data.service === undefined || artifact.service === data.service,
      );
      const [only, ...others] = found;
      if (only === undefined) {
        throw new NotFoundError(
          `no artifact ${data.digest} is recorded${data.service === undefined ? "" : ` for ${data.service}`}: ` +
            "ship it once (waybill ship), or send dev.waybill.image.pushed for a new image",
        );
      }
      if (others.length > 0) {
        throw new UserError(
          `the artifact ${data.digest} is recorded for ${found.length} services (${found.map((a) => a.service).join(", ")}): name one in data.service`,
        );
      }
      return only;
    }
    const service = data.service ?? "";
    const version = data.version ?? "";
    const found = await this.deps.store.artifactByVersion(service, version);
    if (found === undefined) throw new NotFoundError(`no artifact ${service}@${version} is recorded`);
    return found;
  }

  /** The service whose newest artifact is an image of the same repository, when data.service is not given */
  private async serviceOfImage(image: string): Promise<string> {
    const repository = repositoryOf(image);
    const matches: string[] = [];
    for (const service of await this.deps.store.listServices()) {
      const newest = await this.newestArtifact(service.name).catch(() => undefined);
      if (newest !== undefined && repositoryOf(newest.path) === repository) matches.push(service.name);
    }
    const [only, ...others] = matches;
    if (only === undefined) {
      throw new UserError(
        `no service ships images of ${repository}: name the service in data.service (it must have been shipped once, so its spec and folder are known)`,
      );
    }
    if (others.length > 0) {
      throw new UserError(
        `${matches.length} services ship images of ${repository} (${matches.join(", ")}): name one in data.service`,
      );
    }
    return only;
  }

  /** The artifact of the service's newest ship: its spec is what a shipped image runs with */
  private async newestArtifact(service: string): Promise<ArtifactRecord> {
    if ((await this.deps.store.getService(service)) === undefined) {
      throw new NotFoundError(
        `no service named "${service}": ship it once with waybill ship, so its spec and folder are known`,
      );
    }
    const newest = (await this.deps.store.listRuns({ service })).reverse().find((run) => run.kind === "ship");
    const artifact = newest && (await this.deps.store.getArtifact(service, newest.digest));
    if (artifact === undefined) {
      throw new ConflictError(
        `${service} has no shipped artifact whose spec a new image could run with: ship it once with waybill ship`,
      );
    }
    return artifact;
  }
}

export function actionOf(type: string): IntakeAction {
  switch (type) {
    case INTAKE_TYPES.imagePushed:
    case INTAKE_TYPES.artifactUploaded:
      return "ship";
    case INTAKE_TYPES.approvalGranted:
      return "approve";
    case INTAKE_TYPES.approvalRejected:
      return "reject";
    default:
      throw new UserError(
        `an event of type "${type.slice(0, 256)}" is not acted on: send ${Object.values(INTAKE_TYPES).join(", ")}`,
      );
  }
}

function parseData<Schema extends z.ZodType>(schema: Schema, event: ReceivedCloudEvent): z.output<Schema> {
  if (event.data === undefined || typeof event.data !== "object" || event.data === null) {
    throw new UserError(
      `an event of type ${event.type} carries its data as a JSON object (datacontenttype application/json)`,
    );
  }
  const result = schema.safeParse(event.data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.join(".") ?? "";
  const message = issue?.message ?? "invalid";
  throw new UserError(
    `the ${event.type} event cannot be acted on: ${message.startsWith("data.") || path === "" ? message : `data.${path}: ${message}`}`,
  );
}

/** The same (source, id) always derives the same ship id, so a ship it queued is found again after a crash */
function shipIdOf(event: { source: string; id: string }): string {
  const hex = createHash("sha256").update(`waybill-event-ship\n${event.source}\n${event.id}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function repositoryOf(image: string): string {
  const withoutDigest = image.split("@")[0] ?? image;
  const lastSlash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.indexOf(":", lastSlash + 1);
  return colon === -1 ? withoutDigest : withoutDigest.slice(0, colon);
}

function actorOf(principal: IntakePrincipal): Actor {
  return { name: principal.name, mayChangePolicy: principal.role === "admin" };
}
