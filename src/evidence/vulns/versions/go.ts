/**
 * Go module versions are SemVer with a "v" prefix (OSV records drop it, go.sum keeps it).
 * "+incompatible" is build metadata and so does not take part in ordering, and pseudo-versions
 * (v0.0.0-20191109021931-daa7c04131f5, v1.2.4-0.2019…) are ordinary prereleases whose timestamp
 * identifiers already sort in commit-time order under SemVer precedence.
 */
import semver, { type SemVer } from "semver";
import type { VersionScheme } from "./scheme.js";

export const goVersions: VersionScheme<SemVer> = {
  ecosystem: "Go",
  parse(text) {
    const trimmed = text.trim();
    const bare = trimmed.startsWith("v") ? trimmed.slice(1) : trimmed;
    const version = semver.parse(bare);
    return version === null
      ? { ok: false, error: `not a Go module version: "${text}"` }
      : { ok: true, version };
  },
  compare: (a, b) => semver.compare(a, b),
};
