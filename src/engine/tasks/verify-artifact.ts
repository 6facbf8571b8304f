import { artifactDigest } from "../../artifact/digest.js";
import type { TaskHandler } from "../task.js";

/**
 * Recomputes the digest of the stored copy, so a tampered or damaged artifact never deploys. A
 * Kubernetes artifact is an image reference pinned by digest; the registry holds it to that
 * digest, so the reference itself is checked.
 */
export const verifyArtifactTask: TaskHandler = {
  name: "verify-artifact",
  order: 10,
  timeoutMs: 120_000,
  async run({ artifact, run }) {
    const image = /^[^\s@]+@(sha256:[0-9a-f]{64})$/.exec(artifact.path);
    if (image !== null) {
      return image[1] === run.digest
        ? { kind: "succeeded", output: { digest: run.digest, image: artifact.path } }
        : { kind: "failed", reason: `the image ${artifact.path} is not ${run.digest}` };
    }
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
