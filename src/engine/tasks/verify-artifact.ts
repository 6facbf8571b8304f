import { artifactDigest } from "../../artifact/digest.js";
import type { TaskHandler } from "../task.js";

/** Recomputes the digest of the stored copy, so a tampered or damaged artifact never deploys. */
export const verifyArtifactTask: TaskHandler = {
  name: "verify-artifact",
  order: 10,
  timeoutMs: 120_000,
  async run({ artifact, run }) {
    const actual = await artifactDigest(artifact.path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return "missing";
      throw error;
    });
    if (actual === run.digest) return { kind: "succeeded", output: { digest: actual } };
    return {
      kind: "failed",
      reason:
        actual === "missing"
          ? `the stored artifact ${run.digest} is missing from ${artifact.path}`
          : `the stored artifact does not match its digest: expected ${run.digest}, found ${actual}`,
    };
  },
};
