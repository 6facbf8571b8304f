import { newEvent } from "../../store/events.js";
import type { TaskHandler } from "../task.js";

/**
 * Makes the new version the live one on every target. The release events are committed with
 * the task's completion, so a crash can repeat the switch (idempotent) but never the release.
 */
export const releaseTask: TaskHandler = {
  name: "release",
  order: 80,
  appliesTo: (run) => run.kind !== "rightsize",
  timeoutMs: 120_000,
  async run(context) {
    const { run } = context;
    for (const target of context.targets) {
      await target.release({ ...context, previous: context.previous.get(target.name) });
    }
    return {
      kind: "succeeded",
      events: context.targets.map((target) =>
        newEvent(
          "release.recorded",
          `services/${run.service}/stages/${run.stage}`,
          {
            service: run.service,
            stage: run.stage,
            target: target.name,
            digest: run.digest,
            version: run.version,
          },
          run.id,
        ),
      ),
    };
  },
};
