/**
 * A control plane that only records, for tests of what a ship, an event or a route records: the
 * state folder's evidence service, an engine with no tasks and no targets, and the deliveries that
 * record ships into the store. Its runs are queued and never deployed: there is nowhere to deploy
 * them.
 */
import { join } from "node:path";
import { ContentStore } from "../artifact/content-store.js";
import { Deliveries } from "../engine/deliveries.js";
import { Engine } from "../engine/engine.js";
import { StagePolicies } from "../engine/policies.js";
import { TaskRegistry } from "../engine/task.js";
import { EvidenceService } from "../evidence/evidence-service.js";
import type { Store } from "../store/store.js";

export interface RecordingControlPlane {
  evidence: EvidenceService;
  engine: Engine;
  deliveries: Deliveries;
}

export function recordingControlPlane(store: Store, stateDir: string): RecordingControlPlane {
  const evidence = EvidenceService.open(stateDir);
  const engine = new Engine({
    store,
    evidence,
    tasks: new TaskRegistry(),
    targets: {
      resolve() {
        throw new Error("no targets: this control plane only records");
      },
    },
    log: () => undefined,
  });
  const deliveries = new Deliveries(
    store,
    engine,
    new ContentStore(join(stateDir, "artifacts")),
    evidence,
    join(stateDir, "advisories"),
    new StagePolicies(store),
  );
  return { evidence, engine, deliveries };
}
