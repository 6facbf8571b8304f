import type { TaskHandler } from "../task.js";

/** Starts the new version on every target of the stage, in order. */
export const deployTask: TaskHandler = {
  name: "deploy",
  order: 30,
  appliesTo: (run) => run.kind !== "rightsize",
  perTarget: true,
  timeoutMs: 300_000,
  async run(context) {
    for (const target of context.targets) {
      await target.deploy({ ...context, previous: context.previous.get(target.name) });
    }
    return { kind: "succeeded", output: { targets: context.targets.map((target) => target.name) } };
  },
};
