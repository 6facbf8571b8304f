import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  kubeRuntimeHints,
  processorCount,
  runtimeHints,
  type ResourceLimits,
  type RuntimeName,
} from "./runtime-hints.js";

const mib = 2 ** 20;
const halfCore512Mi: ResourceLimits = { cpuMillicores: 500, memoryBytes: 512 * mib };
const twoAndAHalfCores1Gi: ResourceLimits = { cpuMillicores: 2500, memoryBytes: 1024 * mib };

describe("processorCount", () => {
  const cases: [number, number][] = [
    [1, 1],
    [500, 1],
    [1000, 1],
    [1001, 2],
    [2500, 3],
    [4000, 4],
  ];
  for (const [millicores, count] of cases) {
    it(`${millicores}m → ${count}`, () => assert.equal(processorCount(millicores), count));
  }
});

describe("runtimeHints", () => {
  const cases: [RuntimeName, ResourceLimits, Record<string, string>][] = [
    ["jvm", halfCore512Mi, { JAVA_TOOL_OPTIONS: "-XX:ActiveProcessorCount=1 -XX:MaxRAMPercentage=75" }],
    ["jvm", twoAndAHalfCores1Gi, { JAVA_TOOL_OPTIONS: "-XX:ActiveProcessorCount=3 -XX:MaxRAMPercentage=75" }],
    ["go", halfCore512Mi, { GOMAXPROCS: "1", GOMEMLIMIT: "460MiB" }],
    ["go", twoAndAHalfCores1Gi, { GOMAXPROCS: "3", GOMEMLIMIT: "921MiB" }],
    ["node", halfCore512Mi, { NODE_OPTIONS: "--max-old-space-size=384", UV_THREADPOOL_SIZE: "4" }],
    [
      "node",
      { cpuMillicores: 6000, memoryBytes: 2048 * mib },
      { NODE_OPTIONS: "--max-old-space-size=1536", UV_THREADPOOL_SIZE: "6" },
    ],
    ["python", halfCore512Mi, { WEB_CONCURRENCY: "3" }],
    ["python", twoAndAHalfCores1Gi, { WEB_CONCURRENCY: "7" }],
    // 0.75 × 512 MiB = 402653184 bytes = 0x18000000
    ["dotnet", halfCore512Mi, { DOTNET_PROCESSOR_COUNT: "1", DOTNET_GCHeapHardLimit: "0x18000000" }],
    ["dotnet", twoAndAHalfCores1Gi, { DOTNET_PROCESSOR_COUNT: "3", DOTNET_GCHeapHardLimit: "0x30000000" }],
  ];
  for (const [runtime, limits, expected] of cases) {
    it(`${runtime} at ${limits.cpuMillicores}m / ${limits.memoryBytes / mib}Mi`, () =>
      assert.deepEqual(runtimeHints(runtime, limits, {}), expected));
  }

  it("gives nothing without a runtime", () =>
    assert.deepEqual(runtimeHints(undefined, halfCore512Mi, {}), {}));

  it("leaves out a variable the user sets, keeping the others", () => {
    assert.deepEqual(runtimeHints("go", halfCore512Mi, { GOMAXPROCS: "8" }), { GOMEMLIMIT: "460MiB" });
    assert.deepEqual(runtimeHints("node", halfCore512Mi, { NODE_OPTIONS: "--enable-source-maps" }), {
      UV_THREADPOOL_SIZE: "4",
    });
  });

  it("treats a user setting of an empty string as a setting", () =>
    assert.deepEqual(runtimeHints("python", halfCore512Mi, { WEB_CONCURRENCY: "" }), {}));
});

describe("kubeRuntimeHints", () => {
  const cases: [RuntimeName, Record<string, string>][] = [
    [
      "jvm",
      { JAVA_TOOL_OPTIONS: "-XX:ActiveProcessorCount=$(WAYBILL_CPU_LIMIT_CORES) -XX:MaxRAMPercentage=75" },
    ],
    ["go", { GOMAXPROCS: "$(WAYBILL_CPU_LIMIT_CORES)", GOMEMLIMIT: "921MiB" }],
    ["node", { NODE_OPTIONS: "--max-old-space-size=768", UV_THREADPOOL_SIZE: "4" }],
    ["python", { WEB_CONCURRENCY: "7" }],
    [
      "dotnet",
      { DOTNET_PROCESSOR_COUNT: "$(WAYBILL_CPU_LIMIT_CORES)", DOTNET_GCHeapHardLimit: "0x30000000" },
    ],
  ];
  for (const [runtime, expected] of cases) {
    it(`${runtime} refers to the Downward API where no arithmetic is needed`, () =>
      assert.deepEqual(kubeRuntimeHints(runtime, twoAndAHalfCores1Gi, {}), expected));
  }

  it("leaves out a variable the user sets", () =>
    assert.deepEqual(kubeRuntimeHints("dotnet", halfCore512Mi, { DOTNET_GCHeapHardLimit: "0x1000" }), {
      DOTNET_PROCESSOR_COUNT: "$(WAYBILL_CPU_LIMIT_CORES)",
    }));
});
