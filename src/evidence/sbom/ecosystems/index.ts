import type { EcosystemReader } from "../types.js";
import { npmEcosystem } from "./npm.js";

/** Every reader, in the order their warnings are reported. */
export const ecosystemReaders: readonly EcosystemReader[] = [npmEcosystem];
