/**
 * Starting deliveries: a ship records the service and its artifact and queues the first
 * stage; a rollback queues the stage's previous release again.
 */
import { randomUUID } from "node:crypto";
import { isAbsolute, relative } from "node:path";
import type { ContentStore } from "../artifact/content-store.js";
import { ConflictError, NotFoundError, UserError } from "../errors.js";
import { serviceSpecSchema } from "../spec/schema.js";
import { newEvent } from "../store/events.js";
import type { RunRecord, Store } from "../store/store.js";
import type { Engine } from "./engine.js";

export interface ShipRequest {
  spec: unknown;
  serviceDir: string;
  artifactDir: string;
  digest: string;
  version: string;
}

export class Deliveries {
  constructor(
    private readonly store: Store,
    private readonly engine: Engine,
    private readonly artifacts: ContentStore,
  ) {}

  async ship(request: ShipRequest): Promise<{ shipId: string; runs: RunRecord[] }> {
    const parsed = serviceSpecSchema.safeParse(request.spec);
    if (!parsed.success) {
      throw new UserError(`the service spec is not valid: ${parsed.error.issues[0]?.message ?? "invalid"}`);
    }
    const spec = parsed.data;
    if (!isAbsolute(request.serviceDir) || !isAbsolute(request.artifactDir)) {
      throw new UserError("serviceDir and artifactDir must be absolute paths");
    }
    const mountPath = relative(request.serviceDir, request.artifactDir) || ".";
    if (mountPath.startsWith("..")) throw new UserError("the artifact must be inside the service folder");
    const path = await this.artifacts.put(request.artifactDir, request.digest);
    const name = spec.metadata.name;
    await this.store.append([
      newEvent("service.registered", `services/${name}`, {
        name,
        dir: request.serviceDir,
        stages: spec.stages.map((stage) => stage.name),
      }),
      newEvent("artifact.recorded", `services/${name}/artifacts/${request.digest}`, {
        service: name,
        digest: request.digest,
        version: request.version,
        path,
        mountPath,
        spec,
      }),
    ]);
    const firstStage = spec.stages[0];
    if (firstStage === undefined) throw new UserError("the service has no stages");
    const run = await this.engine.enqueue({
      shipId: randomUUID(),
      kind: "ship",
      service: name,
      stage: firstStage.name,
      digest: request.digest,
      version: request.version,
    });
    return { shipId: run.shipId, runs: [run] };
  }

  async rollback(service: string, stage: string): Promise<RunRecord> {
    await this.requireStage(service, stage);
    const history = await this.store.releaseHistory(service, stage);
    const current = history[0];
    const previous = history.find((release) => current !== undefined && release.digest !== current.digest);
    if (current === undefined || previous === undefined) {
      throw new ConflictError(`${service}/${stage} has no earlier release to roll back to`);
    }
    return this.engine.enqueue({
      shipId: randomUUID(),
      kind: "rollback",
      service,
      stage,
      digest: previous.digest,
      version: previous.version,
    });
  }

  async requireStage(service: string, stage: string): Promise<void> {
    const record = await this.store.getService(service);
    if (record === undefined) throw new NotFoundError(`no service named "${service}"`);
    if (!record.stages.includes(stage)) {
      throw new NotFoundError(
        `service "${service}" has no stage "${stage}" (stages: ${record.stages.join(", ")})`,
      );
    }
  }
}
