import { prewarmLoad } from "../../loadgen/index.js";
import type { TaskHandler } from "../task.js";

/** Starts the new version on every target of the stage, in order. */
export const deployTask: TaskHandler = {
  name: "deploy",
  order: 30,
  appliesTo: (run) => run.kind !== "rightsize",
  perTarget: true,
  timeoutMs: 300_000,
  async run(context) {
    const { run, spec, stage } = context;
    // The test's generator threads compile while the new version starts, not after it: they run in
    // the control plane, outside the instance's cgroup.
    if (
      run.kind === "ship" &&
      stage.test &&
      spec.test.load !== undefined &&
      spec.test.external === undefined
    ) {
      prewarmLoad(spec.test.load);
    }
    for (const target of context.targets) {
      await target.deploy({ ...context, previous: context.previous.get(target.name) });
    }
    return { kind: "succeeded", output: { targets: context.targets.map((target) => target.name) } };
  },
};
