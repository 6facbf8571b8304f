/** npm orders versions by SemVer 2.0 precedence (prereleases before their release, build ignored). */
import semver, { type SemVer } from "semver";
import type { VersionScheme } from "./scheme.js";

export const npmVersions: VersionScheme<SemVer> = {
  ecosystem: "npm",
  parse(text) {
    // loose: lockfiles and advisories occasionally carry "v1.2.3" or "=1.2.3"
    const version = semver.parse(text.trim(), { loose: true });
    return version === null ? { ok: false, error: `not a semver version: "${text}"` } : { ok: true, version };
  },
  compare: (a, b) => semver.compare(a, b),
};
