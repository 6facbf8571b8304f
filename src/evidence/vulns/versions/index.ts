import { goVersions } from "./go.js";
import { mavenVersions } from "./maven.js";
import { npmVersions } from "./npm.js";
import { pypiVersions } from "./pypi.js";
import type { VersionScheme } from "./scheme.js";

export { compareVersionTexts, type VersionParse, type VersionScheme } from "./scheme.js";
export { goVersions, mavenVersions, npmVersions, pypiVersions };

const schemes: VersionScheme<unknown>[] = [npmVersions, pypiVersions, mavenVersions, goVersions];

/**
 * The version order of an OSV ecosystem. Ecosystem names compare case-insensitively and without a
 * ":suffix" (OSV scopes some ecosystems, e.g. "Debian:12"); undefined for ecosystems we cannot order.
 */
export function versionSchemeFor(ecosystem: string): VersionScheme<unknown> | undefined {
  const base = baseEcosystem(ecosystem);
  return schemes.find((scheme) => scheme.ecosystem.toLowerCase() === base);
}

export function baseEcosystem(ecosystem: string): string {
  return (ecosystem.split(":")[0] ?? "").trim().toLowerCase();
}
