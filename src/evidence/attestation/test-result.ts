/**
 * in-toto test-result v0.1 predicates: which tests passed, warned and failed against which
 * configuration. Pure.
 */
import type { ResourceDescriptor } from "./provenance.js";

export type TestResultOutcome = "PASSED" | "WARNED" | "FAILED";

export interface TestResultInput {
  /** Derived from the test lists when left out: any failure fails, else any warning warns */
  result?: TestResultOutcome;
  /** What the tests ran against, e.g. the test config file and its digest */
  configuration: ResourceDescriptor[];
  /** Where the full report can be read */
  url?: string;
  passedTests: string[];
  warnedTests?: string[];
  failedTests?: string[];
}

export interface TestResultPredicate {
  result: TestResultOutcome;
  configuration: ResourceDescriptor[];
  url?: string;
  passedTests: string[];
  warnedTests: string[];
  failedTests: string[];
}

export function buildTestResultPredicate(input: TestResultInput): TestResultPredicate {
  const warnedTests = input.warnedTests ?? [];
  const failedTests = input.failedTests ?? [];
  const derived: TestResultOutcome =
    failedTests.length > 0 ? "FAILED" : warnedTests.length > 0 ? "WARNED" : "PASSED";
  return {
    result: input.result ?? derived,
    configuration: input.configuration,
    ...(input.url === undefined ? {} : { url: input.url }),
    passedTests: input.passedTests,
    warnedTests,
    failedTests,
  };
}
