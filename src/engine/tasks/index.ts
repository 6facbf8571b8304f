import { TaskRegistry } from "../task.js";
import { approveTask } from "./approve.js";
import { deployTask } from "./deploy.js";
import { healthTask } from "./health.js";
import { releaseTask } from "./release.js";
import { verifyArtifactTask } from "./verify-artifact.js";

export function builtinTasks(): TaskRegistry {
  return new TaskRegistry()
    .register(verifyArtifactTask)
    .register(deployTask)
    .register(healthTask)
    .register(approveTask)
    .register(releaseTask);
}
