/**
 * SLSA provenance v1 predicates for Waybill's builds (build.command run on the local builder).
 * Pure: the caller gathers the git facts, lockfile digests and times.
 */
import { UserError } from "../../errors.js";

export const BUILDER_ID = "https://waybill.dev/builder/local/v1";
export const BUILD_TYPE = "https://waybill.dev/build/command/v1";

/** SLSA's ResourceDescriptor, limited to the fields Waybill writes. */
export interface ResourceDescriptor {
  uri?: string;
  name?: string;
  digest: Record<string, string>;
  annotations?: Record<string, unknown>;
}

export interface ProvenanceInput {
  service: string;
  /** build.command as written in waybill.yaml */
  command: string;
  /** Settings the builder chose rather than the user, e.g. the working folder */
  internalParameters?: Record<string, unknown>;
  source: {
    /** Where the source lives, e.g. https://github.com/acme/cart.git */
    repository: string;
    /** The ref built, e.g. refs/heads/main; left out of the URI when unknown */
    ref?: string;
    /** 40-hex git commit */
    commit: string;
    /** When the commit was made, where known: where DORA's lead time for changes starts */
    committedAt?: string;
    /** The working tree had changes not in the commit, so the commit alone does not describe the build */
    dirty: boolean;
    /** The commit carries a signature git could verify */
    signedCommit: boolean;
  };
  /** Lockfiles the build resolved its dependencies from, with their sha256 */
  lockfiles: { path: string; sha256: string }[];
  invocationId: string;
  startedOn: Date | string;
  finishedOn: Date | string;
}

export interface ProvenancePredicate {
  buildDefinition: {
    buildType: string;
    externalParameters: { command: string; service: string };
    internalParameters: Record<string, unknown>;
    resolvedDependencies: ResourceDescriptor[];
  };
  runDetails: {
    builder: { id: string };
    metadata: { invocationId: string; startedOn: string; finishedOn: string };
  };
}

export function buildProvenancePredicate(input: ProvenanceInput): ProvenancePredicate {
  const { source } = input;
  if (!/^[0-9a-f]{40}$/.test(source.commit)) {
    throw new UserError(`provenance: commit must be 40 lowercase hex characters, not "${source.commit}"`);
  }
  const repository = source.repository.startsWith("git+") ? source.repository : `git+${source.repository}`;
  const sourceDependency: ResourceDescriptor = {
    uri: source.ref === undefined ? repository : `${repository}@${source.ref}`,
    digest: { sha1: source.commit },
    annotations: {
      dirty: source.dirty,
      signedCommit: source.signedCommit,
      ...(source.committedAt === undefined
        ? {}
        : { committedAt: isoTime(source.committedAt, "committedAt") }),
    },
  };
  const lockfiles = input.lockfiles.map(({ path, sha256 }): ResourceDescriptor => {
    if (!/^[0-9a-f]{64}$/.test(sha256))
      throw new UserError(`provenance: ${path}: sha256 must be 64 lowercase hex`);
    return { name: path, digest: { sha256 } };
  });
  const startedOn = isoTime(input.startedOn, "startedOn");
  const finishedOn = isoTime(input.finishedOn, "finishedOn");
  if (finishedOn < startedOn) throw new UserError("provenance: finishedOn is before startedOn");
  return {
    buildDefinition: {
      buildType: BUILD_TYPE,
      externalParameters: { command: input.command, service: input.service },
      internalParameters: input.internalParameters ?? {},
      resolvedDependencies: [sourceDependency, ...lockfiles],
    },
    runDetails: {
      builder: { id: BUILDER_ID },
      metadata: { invocationId: input.invocationId, startedOn, finishedOn },
    },
  };
}

/** RFC 3339 in UTC, which SLSA asks for and which sorts as text. */
export function isoTime(value: Date | string, field: string): string {
  const time = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(time.getTime())) throw new UserError(`${field} is not a valid time: "${String(value)}"`);
  return time.toISOString();
}
