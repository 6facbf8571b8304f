/** The load generator's public surface; other modules import from here. */
export { runLoad, prewarmLoad } from "./isolated.js";
export { loadOptionsFromSpec } from "./from-spec.js";
export { loadResultToSlis, type SliValues } from "./slis.js";
export { mergeSideResults } from "./side-results.js";
export { describeProgress } from "./progress.js";
export { runExternalLoad, parseSliJson, type ExternalLoadOptions } from "./external.js";
export type {
  LoadOptions,
  LoadRequest,
  LoadResult,
  EndpointResult,
  GeneratorTiming,
  LatencySummary,
  LoadProgress,
  LoadSide,
  SideResult,
} from "./types.js";
