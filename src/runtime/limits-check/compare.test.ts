import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runtimeHints, type ResourceLimits, type RuntimeName } from "../../kube/runtime-hints.js";
import { compareLimits, type RuntimeObservation } from "./compare.js";
import { observedVariables } from "./runtime-options.js";

const mib = 2 ** 20;
const oneCpu512Mi: ResourceLimits = { cpuMillicores: 1000, memoryBytes: 512 * mib };
const hints = (runtime: RuntimeName): Record<string, string> => runtimeHints(runtime, oneCpu512Mi, {});

interface Vector {
  behaviour: string;
  limits?: ResourceLimits;
  launchEnv: Record<string, string>;
  observation: RuntimeObservation;
  mismatches: string[];
}

const jvm = (
  availableProcessors: number,
  maxHeapMiB: number,
  activeProcessorCountFlag = availableProcessors,
): RuntimeObservation => ({
  runtime: "jvm",
  environment: {},
  availableProcessors,
  activeProcessorCountFlag,
  maxHeapBytes: maxHeapMiB * mib,
});

const node = (heapSizeLimitMiB: number, environment: Record<string, string>): RuntimeObservation => ({
  runtime: "node",
  environment,
  heapSizeLimitBytes: heapSizeLimitMiB * mib,
  availableParallelism: 2,
});

const python = (webServer: { name: "gunicorn" | "uvicorn"; workers: number } | null): RuntimeObservation => ({
  runtime: "python",
  environment: {},
  webServer,
});

const vectors: Vector[] = [
  {
    behaviour: "a JVM under the hints that sees one processor and a 75% heap took its limits",
    launchEnv: hints("jvm"),
    observation: jvm(1, 384),
    mismatches: [],
  },
  {
    behaviour: "a JVM that sees every host CPU under a 1-CPU limit is a mismatch",
    launchEnv: {},
    observation: jvm(8, 128, -1),
    mismatches: ["the JVM sees 8 processors; its CPU limit is 1 (no ActiveProcessorCount was set)"],
  },
  {
    behaviour:
      "a JVM that derives one processor from its cgroup, with no ActiveProcessorCount, took its limit",
    launchEnv: {},
    observation: jvm(1, 128, -1),
    mismatches: [],
  },
  {
    behaviour: "a JVM whose user forced ActiveProcessorCount above the CPU limit is a mismatch",
    launchEnv: { JAVA_TOOL_OPTIONS: "-XX:ActiveProcessorCount=2" },
    observation: jvm(2, 128),
    mismatches: ["the JVM sees 2 processors; its CPU limit is 1 (ActiveProcessorCount=2 was set)"],
  },
  {
    behaviour: "a JVM whose command line overrode the hinted ActiveProcessorCount is a mismatch",
    launchEnv: hints("jvm"),
    observation: jvm(4, 384),
    mismatches: ["the JVM sees 4 processors; its CPU limit is 1 (ActiveProcessorCount=1 was set)"],
  },
  {
    behaviour: "_JAVA_OPTIONS overrides JAVA_TOOL_OPTIONS, as in the JVM",
    launchEnv: {
      JAVA_TOOL_OPTIONS: "-XX:ActiveProcessorCount=1",
      _JAVA_OPTIONS: "-XX:ActiveProcessorCount=2",
    },
    observation: jvm(2, 128),
    mismatches: ["the JVM sees 2 processors; its CPU limit is 1 (ActiveProcessorCount=2 was set)"],
  },
  {
    behaviour: "a 2.5-CPU limit is 3 processors for the JVM",
    limits: { cpuMillicores: 2500, memoryBytes: 1024 * mib },
    launchEnv: runtimeHints("jvm", { cpuMillicores: 2500, memoryBytes: 1024 * mib }, {}),
    observation: jvm(3, 768),
    mismatches: [],
  },
  {
    behaviour: "a JVM heap a GC alignment away from what MaxRAMPercentage implies took its limit",
    launchEnv: hints("jvm"),
    observation: jvm(1, 386),
    mismatches: [],
  },
  {
    behaviour: "a JVM heap far below what MaxRAMPercentage implies is a mismatch",
    launchEnv: hints("jvm"),
    observation: jvm(1, 128),
    mismatches: [
      "the JVM's max heap is 128 MiB; MaxRAMPercentage=75 of the 512 MiB memory limit implies about 384 MiB",
    ],
  },
  {
    behaviour: "a JVM heap that -Xmx puts above the memory limit is a mismatch",
    launchEnv: { JAVA_TOOL_OPTIONS: "-XX:ActiveProcessorCount=1 -Xmx1g" },
    observation: jvm(1, 1024),
    mismatches: ["the JVM's max heap is 1024 MiB, above its memory limit of 512 MiB"],
  },
  {
    behaviour: "an -Xmx wins over MaxRAMPercentage, as in the JVM",
    launchEnv: { ...hints("jvm"), JDK_JAVA_OPTIONS: "-Xmx256m" },
    observation: jvm(1, 256),
    mismatches: [],
  },
  {
    behaviour: "a Go process with the hinted GOMAXPROCS and GOMEMLIMIT in its environment took its limits",
    launchEnv: hints("go"),
    observation: { runtime: "go", environment: hints("go") },
    mismatches: [],
  },
  {
    behaviour: "a Go process whose environment lacks GOMAXPROCS is a mismatch",
    launchEnv: hints("go"),
    observation: { runtime: "go", environment: { GOMEMLIMIT: "460MiB" } },
    mismatches: ["GOMAXPROCS is not set in the process's environment; it was launched with GOMAXPROCS=1"],
  },
  {
    behaviour: "a Go process whose wrapper changed GOMEMLIMIT is a mismatch",
    launchEnv: hints("go"),
    observation: { runtime: "go", environment: { GOMAXPROCS: "1", GOMEMLIMIT: "1GiB" } },
    mismatches: ["GOMEMLIMIT is 1GiB in the process's environment; it was launched with GOMEMLIMIT=460MiB"],
  },
  {
    behaviour: "a user's own GOMAXPROCS wins over the hint",
    launchEnv: { ...hints("go"), GOMAXPROCS: "4" },
    observation: { runtime: "go", environment: { GOMAXPROCS: "4", GOMEMLIMIT: "460MiB" } },
    mismatches: [],
  },
  {
    behaviour: "a Go process launched without the hints is held to them",
    launchEnv: {},
    observation: { runtime: "go", environment: {} },
    mismatches: [
      "GOMAXPROCS is not set in the process's environment; the hints say GOMAXPROCS=1",
      "GOMEMLIMIT is not set in the process's environment; the hints say GOMEMLIMIT=460MiB",
    ],
  },
  {
    behaviour: "a .NET process with the hinted processor count and heap limit took its limits",
    launchEnv: hints("dotnet"),
    observation: { runtime: "dotnet", environment: hints("dotnet") },
    mismatches: [],
  },
  {
    behaviour: "a .NET process without DOTNET_GCHeapHardLimit is a mismatch",
    launchEnv: hints("dotnet"),
    observation: { runtime: "dotnet", environment: { DOTNET_PROCESSOR_COUNT: "1" } },
    mismatches: [
      "DOTNET_GCHeapHardLimit is not set in the process's environment; it was launched with DOTNET_GCHeapHardLimit=0x18000000",
    ],
  },
  {
    behaviour: "a node heap of --max-old-space-size plus V8's 48 MiB young generation took its limit",
    launchEnv: hints("node"),
    observation: node(432, hints("node")),
    mismatches: [],
  },
  {
    behaviour: "a node heap from a user NODE_OPTIONS larger than the memory limit is a mismatch",
    launchEnv: { NODE_OPTIONS: "--max-old-space-size=1024", UV_THREADPOOL_SIZE: "4" },
    observation: node(1072, { NODE_OPTIONS: "--max-old-space-size=1024", UV_THREADPOOL_SIZE: "4" }),
    mismatches: ["V8's heap limit is 1072 MiB, above the memory limit of 512 MiB"],
  },
  {
    behaviour: "a node heap that is not what --max-old-space-size asks is a mismatch",
    launchEnv: hints("node"),
    observation: node(259, hints("node")),
    mismatches: [
      "V8's heap limit is 259 MiB; --max-old-space-size=384 implies 384 MiB of old space and a young generation of 3 to 48 MiB",
    ],
  },
  {
    behaviour: "a node heap with the small young generation V8 picks under a 512 MiB limit took its limit",
    launchEnv: hints("node"),
    observation: node(387, hints("node")),
    mismatches: [],
  },
  {
    behaviour: "--max-semi-space-size grows the young generation V8 counts in its heap limit",
    launchEnv: { NODE_OPTIONS: "--max-old-space-size=192 --max_semi_space_size=32", UV_THREADPOOL_SIZE: "4" },
    observation: node(288, { UV_THREADPOOL_SIZE: "4" }),
    mismatches: [],
  },
  {
    behaviour: "a node process whose NODE_OPTIONS sets no heap is held to its memory limit only",
    launchEnv: { NODE_OPTIONS: "--enable-source-maps", UV_THREADPOOL_SIZE: "4" },
    observation: node(259, { UV_THREADPOOL_SIZE: "4" }),
    mismatches: [],
  },
  {
    behaviour: "a node process without UV_THREADPOOL_SIZE in its environment is a mismatch",
    launchEnv: hints("node"),
    observation: node(432, { NODE_OPTIONS: "--max-old-space-size=384" }),
    mismatches: [
      "UV_THREADPOOL_SIZE is not set in the process's environment; it was launched with UV_THREADPOOL_SIZE=4",
    ],
  },
  {
    behaviour: "gunicorn with as many workers as WEB_CONCURRENCY took its limit",
    launchEnv: hints("python"),
    observation: python({ name: "gunicorn", workers: 3 }),
    mismatches: [],
  },
  {
    behaviour: "gunicorn with more workers than WEB_CONCURRENCY is a mismatch",
    launchEnv: hints("python"),
    observation: python({ name: "gunicorn", workers: 5 }),
    mismatches: ["gunicorn runs 5 workers; it was launched with WEB_CONCURRENCY=3"],
  },
  {
    behaviour: "uvicorn serving alone from its master under WEB_CONCURRENCY=3 is a mismatch",
    launchEnv: hints("python"),
    observation: python({ name: "uvicorn", workers: 1 }),
    mismatches: ["uvicorn runs 1 worker; it was launched with WEB_CONCURRENCY=3"],
  },
  {
    behaviour: "a single-process Python app is not a mismatch",
    launchEnv: hints("python"),
    observation: python(null),
    mismatches: [],
  },
  {
    behaviour: "without WEB_CONCURRENCY any number of workers goes",
    launchEnv: {},
    observation: python({ name: "gunicorn", workers: 4 }),
    mismatches: [],
  },
];

describe("compareLimits", () => {
  for (const vector of vectors) {
    it(vector.behaviour, () => {
      const report = compareLimits({
        limits: vector.limits ?? oneCpu512Mi,
        launchEnv: vector.launchEnv,
        observation: vector.observation,
      });
      assert.deepEqual(report.mismatches, vector.mismatches);
    });
  }

  it("reports what the JVM should take beside what it took", () => {
    const report = compareLimits({
      limits: oneCpu512Mi,
      launchEnv: hints("jvm"),
      observation: {
        ...jvm(2, 384, 2),
        environment: { JAVA_TOOL_OPTIONS: "-XX:ActiveProcessorCount=2" },
      },
    });
    assert.deepEqual(report, {
      runtime: "jvm",
      expected: { processors: "1", maxHeap: "about 384 MiB, at most 512 MiB" },
      seen: {
        processors: "2",
        ActiveProcessorCount: "2",
        JAVA_TOOL_OPTIONS: "-XX:ActiveProcessorCount=2",
        maxHeap: "384 MiB",
      },
      mismatches: ["the JVM sees 2 processors; its CPU limit is 1 (ActiveProcessorCount=1 was set)"],
    });
  });

  it("observes every variable the hints set", () => {
    for (const runtime of Object.keys(observedVariables) as RuntimeName[]) {
      const observed: readonly string[] = observedVariables[runtime];
      for (const name of Object.keys(hints(runtime)))
        assert.ok(observed.includes(name), `${runtime}: ${name}`);
    }
  });
});
