import type { TaskHandler } from "../task.js";

/** Checks the new version answers through the stage's own entry point, not only on its port. */
export const healthTask: TaskHandler = {
  name: "health",
  order: 40,
  appliesTo: (run) => run.kind !== "rightsize",
  perTarget: true,
  timeoutMs: 60_000,
  async run(context) {
    for (const target of context.targets) {
      await target.checkHealth({ ...context, previous: context.previous.get(target.name) });
    }
    return { kind: "succeeded" };
  },
};
