/** Shared by the SBOM tests: the official CycloneDX 1.6 JSON schema, shipped with the library, offline. */
import * as Spec from "@cyclonedx/cyclonedx-library/Spec";
import * as Validation from "@cyclonedx/cyclonedx-library/Validation";
import { join } from "node:path";
import { fixturesDir } from "../../testing/paths.js";

const strictValidator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);

/** null when valid, else ajv's errors (the strict schema also rejects unknown members). */
export async function cycloneDxSchemaErrors(bom: unknown): Promise<unknown> {
  return strictValidator.validate(JSON.stringify(bom));
}

export const sbomFixtures = join(fixturesDir, "sbom");
