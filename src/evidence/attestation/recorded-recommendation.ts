/**
 * What an artifact's minimum-environment attestations say: the size the newest rightsizing
 * recommends, for `resources: auto`. A record that does not parse is skipped, not trusted.
 */
import type { AttestationRecord } from "../../store/store.js";
import type { RecordedRecommendation } from "../../spec/resources.js";
import { decodePayload } from "./dsse.js";
import { parseMinimumEnvironment, type MinimumEnvironmentPredicate } from "./minimum-environment.js";
import { PREDICATE_TYPES } from "./predicate-types.js";
import { parseStatement } from "./statement.js";

export interface AttestationReader {
  attestations(digest: string, predicateType?: string): Promise<AttestationRecord[]>;
}

/** The newest minimum-environment attestation of the artifact that carries `part` */
export async function latestMinimumEnvironment(
  store: AttestationReader,
  digest: string,
  part: "sizing" | "runtimeLimits" | "dependencies",
): Promise<MinimumEnvironmentPredicate | null> {
  const records = await store.attestations(digest, PREDICATE_TYPES["minimum-environment"]);
  for (const record of [...records].sort((a, b) => b.recordedAt.localeCompare(a.recordedAt))) {
    try {
      const predicate = parseMinimumEnvironment(parseStatement(decodePayload(record.envelope)).predicate);
      if (predicate !== null && predicate[part] !== null) return predicate;
    } catch {
      // A record that does not decode says nothing about the size.
    }
  }
  return null;
}

export async function recordedRecommendation(
  store: AttestationReader,
  digest: string,
): Promise<RecordedRecommendation | null> {
  const sizing = (await latestMinimumEnvironment(store, digest, "sizing"))?.sizing;
  return sizing === null || sizing === undefined
    ? null
    : { cpu: sizing.recommended.cpu, memory: sizing.recommended.memory };
}
