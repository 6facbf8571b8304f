/**
 * The artifact of a service that deploys to Kubernetes: an image pinned by digest. The
 * registry holds a digest to its content, so the reference is the artifact's identity, as a
 * folder's digest is for the local runtime.
 */
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { UserError } from "../errors.js";

export interface ImageArtifact {
  /** repository[:tag]@sha256:<hex>, what the pods run */
  image: string;
  digest: string;
}

const digestPattern = /^sha256:[0-9a-f]{64}$/;
const pinnedPattern = /^[^\s@]+@(sha256:[0-9a-f]{64})$/;

/** The digest of an image reference pinned by digest; undefined for a tag or a bare repository. */
export function pinnedDigest(reference: string): string | undefined {
  return pinnedPattern.exec(reference)?.[1];
}

export interface ImageSource {
  run: { image?: string | undefined };
  build: { image?: string | undefined; artifact: string };
}

/**
 * `run.image` when set, else `build.image`. A `build.image` without a digest names the
 * repository that `build.command` pushes to, and `build.artifact` the file where the build
 * wrote what it pushed (see `digestFromBuildOutput`).
 */
export function imageArtifact(spec: ImageSource, serviceDir: string): ImageArtifact {
  const given = spec.run.image ?? spec.build.image;
  if (given === undefined) {
    throw new UserError("run.image or build.image is required to ship to Kubernetes");
  }
  const pinned = pinnedDigest(given);
  if (pinned !== undefined) return { image: given, digest: pinned };
  if (spec.run.image !== undefined) {
    throw new UserError(
      `run.image "${given}" has no digest: a tag can point to a different image the next time a pod starts, ` +
        "so a release names its image as repository@sha256:<digest>. Pin it, or let build.command push to " +
        "build.image and write the digest to the file named by build.artifact",
    );
  }
  const output = resolve(serviceDir, spec.build.artifact);
  const stats = statSync(output, { throwIfNoEntry: false });
  if (stats?.isFile() !== true) {
    throw new UserError(
      `build.image "${given}" has no digest, and build.artifact (${spec.build.artifact}) is not a file the build ` +
        "wrote it to. Make build.command write the pushed image's digest to a file and name that file in " +
        "build.artifact, e.g. `podman push --digestfile image.digest`, `docker buildx build --push " +
        "--metadata-file image.json` or `ko build --image-refs image.ref`",
    );
  }
  const fromBuild = digestFromBuildOutput(readFileSync(output, "utf8"), given);
  if (fromBuild === undefined) {
    throw new UserError(
      `${output} holds no image digest: expected sha256:<64 hex digits> (podman/skopeo --digestfile), ` +
        "repository@sha256:<digest> (ko/crane --image-refs) or docker buildx --metadata-file JSON",
    );
  }
  return fromBuild;
}

/**
 * What the common push tools write: a bare digest (`--digestfile`), a pinned reference
 * (`--image-refs`), or buildx metadata JSON whose `containerimage.digest` is the pushed
 * manifest's digest. Docker's `--iidfile` is not accepted: that is the image config's digest,
 * which a registry cannot pull by.
 */
export function digestFromBuildOutput(content: string, repository: string): ImageArtifact | undefined {
  const text = content.trim();
  if (text.startsWith("{")) {
    const digest = buildxDigest(text);
    return digest === undefined ? undefined : { image: `${repository}@${digest}`, digest };
  }
  const firstLine = text.split("\n")[0]?.trim() ?? "";
  if (digestPattern.test(firstLine)) return { image: `${repository}@${firstLine}`, digest: firstLine };
  const pinned = pinnedDigest(firstLine);
  return pinned === undefined ? undefined : { image: firstLine, digest: pinned };
}

function buildxDigest(json: string): string | undefined {
  let metadata: unknown;
  try {
    metadata = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof metadata !== "object" || metadata === null) return undefined;
  const digest: unknown = (metadata as Record<string, unknown>)["containerimage.digest"];
  return typeof digest === "string" && digestPattern.test(digest) ? digest : undefined;
}
