import type { EcosystemReader } from "../types.js";
import { goEcosystem } from "./go.js";
import { mavenEcosystem } from "./maven.js";
import { npmEcosystem } from "./npm.js";
import { pnpmEcosystem } from "./pnpm.js";
import { poetryEcosystem, requirementsEcosystem } from "./python.js";
import { yarnEcosystem } from "./yarn.js";

/** Every reader, in the order their warnings are reported. */
export const ecosystemReaders: readonly EcosystemReader[] = [
  npmEcosystem,
  pnpmEcosystem,
  yarnEcosystem,
  goEcosystem,
  requirementsEcosystem,
  poetryEcosystem,
  mavenEcosystem,
];
