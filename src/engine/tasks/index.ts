import { TaskRegistry } from "../task.js";
import { approveTask } from "./approve.js";
import { canaryTask } from "./canary.js";
import { deployTask } from "./deploy.js";
import { evaluateTask } from "./evaluate.js";
import { healthTask } from "./health.js";
import { releaseTask } from "./release.js";
import { rightsizeTask } from "./rightsize.js";
import { testTask } from "./test.js";
import { verifyArtifactTask } from "./verify-artifact.js";
import { verifyEvidenceTask } from "./verify-evidence.js";

export function builtinTasks(): TaskRegistry {
  return new TaskRegistry()
    .register(verifyArtifactTask)
    .register(verifyEvidenceTask)
    .register(deployTask)
    .register(healthTask)
    .register(testTask)
    .register(evaluateTask)
    .register(rightsizeTask)
    .register(canaryTask)
    .register(approveTask)
    .register(releaseTask);
}
