/**
 * The gate's paired method: the same `test.load` on two sides at once, interleaved request by
 * request in a random order through one entry point, window after window while a relative latency
 * criterion is undecided and `maxDuration` allows another window. The test task races a new
 * version against the live release with it; rightsizing races a smaller size against the
 * declared one.
 */
import {
  describeProgress,
  loadOptionsFromSpec,
  loadResultToSlis,
  mergeSideResults,
  runLoad,
  type SideResult,
} from "../loadgen/index.js";
import { judgePaired, pairedCriteriaOf, type PairedJudgement } from "../gate/paired-comparison.js";
import type { LoadSpec, SloSpec } from "../spec/schema.js";
import { parseDuration } from "../spec/units.js";

export interface PairedLoadRequest {
  load: LoadSpec;
  objectives: NonNullable<SloSpec["objectives"]>;
  url: string;
  /** The headers that pin a request to each side */
  baselineHeaders: Record<string, string>;
  candidateHeaders: Record<string, string>;
  /** Names the two sides in the progress line, e.g. "both versions side by side" */
  describeSides: string;
  progress(text: string): void;
  signal: AbortSignal;
}

export type PairedLoadOutcome =
  | { inconclusive: string }
  | {
      inconclusive: null;
      candidateSlis: Record<string, number>;
      baselineSlis: Record<string, number>;
      baselineSamples: number[];
      candidateSamples: number[];
      /** Requests each side sent, all windows together */
      requests: { baseline: number; candidate: number };
      judgements: PairedJudgement[];
      windows: number;
      /** When the measured load ran: from the end of the warm-up to the last answer */
      loadWindow: { fromMs: number; toMs: number };
    };

/** The longest a paired load runs: `test.load.maxDuration`, by default three windows */
export function longestPairedLoadMs(load: LoadSpec): number {
  const durationMs = parseDuration(load.duration);
  return load.maxDuration === undefined ? 3 * durationMs : parseDuration(load.maxDuration);
}

export async function drivePairedLoad(request: PairedLoadRequest): Promise<PairedLoadOutcome> {
  const { load } = request;
  const durationMs = parseDuration(load.duration);
  const maxDurationMs = longestPairedLoadMs(load);
  const criteria = pairedCriteriaOf(request.objectives);
  const sides = { baseline: [] as SideResult[], candidate: [] as SideResult[] };
  const windows = Math.max(1, Math.floor(maxDurationMs / durationMs));
  // The generator starts in a worker of its own, which on a busy machine takes a while; its
  // progress says how long it has run, so the load's start is known without a clock in common.
  let loadStartedAtMs: number | null = null;
  const warmupMs = loadOptionsFromSpec(load, request.url).warmupMs ?? 0;
  for (let window = 0; ; window++) {
    const options = loadOptionsFromSpec(load, request.url);
    if (window > 0) options.warmupMs = 0;
    // Another mix draw each window, so the windows are not one sequence repeated.
    options.seed = window + 1;
    options.sides = [
      { name: "baseline", headers: request.baselineHeaders },
      { name: "candidate", headers: request.candidateHeaders },
    ];
    const startingAtMs = Date.now();
    const result = await runLoad(options, (progress) => {
      loadStartedAtMs ??= Date.now() - progress.elapsedMs;
      request.progress(
        `${describeProgress(progress, options)}, ${request.describeSides}${windows > 1 ? ` (window ${window + 1} of at most ${windows})` : ""}`,
      );
    });
    loadStartedAtMs ??= startingAtMs;
    if (result.generator.inconclusive !== null) return { inconclusive: result.generator.inconclusive };
    const baselineSide = result.sides?.baseline;
    const candidateSide = result.sides?.candidate;
    if (baselineSide === undefined || candidateSide === undefined) {
      throw new Error("the paired load run lost a side");
    }
    sides.baseline.push(baselineSide);
    sides.candidate.push(candidateSide);
    const baseline = mergeSideResults(sides.baseline);
    const tested = mergeSideResults(sides.candidate);
    const judgements = criteria.map((paired) =>
      judgePaired({ ...paired, baseline: baseline.latencySamplesMs, candidate: tested.latencySamplesMs }),
    );
    const undecided = judgements.some((judgement) => judgement.decision === "undecided");
    const elapsedMs = (window + 1) * durationMs;
    if (!undecided || elapsedMs + durationMs > maxDurationMs || request.signal.aborted) {
      return {
        inconclusive: null,
        candidateSlis: loadResultToSlis(tested),
        baselineSlis: loadResultToSlis(baseline),
        baselineSamples: baseline.latencySamplesMs,
        candidateSamples: tested.latencySamplesMs,
        requests: { baseline: baseline.requests, candidate: tested.requests },
        judgements,
        windows: window + 1,
        loadWindow: { fromMs: loadStartedAtMs + warmupMs, toMs: Date.now() },
      };
    }
  }
}
