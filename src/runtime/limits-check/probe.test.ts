import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  findWebServer,
  nodeProbeKey,
  NodeProbeAnswers,
  parseInitialActiveProcessors,
  parseJvmFlags,
  parseNodeProbeOutput,
  parseProcStatLine,
  pythonProcessRole,
  type ClassifiedProcess,
  type PythonProcessRole,
} from "./probe.js";
import { sizingPartOf } from "./runtime-options.js";

describe("reading jcmd's answers", () => {
  // Lines of `jcmd <pid> VM.flags -all` from OpenJDK 17, and one in the ":=" style of older JDKs.
  const flags = [
    "16333:",
    "      int ActiveProcessorCount                     = -1                                        {product} {default}",
    "    ccstr AbortVMOnException                       =                                           {diagnostic} {default}",
    "   size_t MaxHeapSize                              = 402653184                                 {product} {ergonomic}",
    "   double MaxRAMPercentage                         = 75.000000                                 {product} {environment}",
    "     intx CICompilerCount                         := 2                                   {product}",
  ].join("\n");

  it("takes the integer flags, whatever the column widths", () => {
    const parsed = parseJvmFlags(flags);
    assert.equal(parsed.get("ActiveProcessorCount"), -1);
    assert.equal(parsed.get("MaxHeapSize"), 402653184);
    assert.equal(parsed.get("CICompilerCount"), 2);
    assert.equal(parsed.has("MaxRAMPercentage"), false, "not an integer");
    assert.equal(parsed.has("AbortVMOnException"), false, "empty");
  });

  it("takes the processors the JVM took at start from VM.info", () => {
    const info =
      "Host: AMD EPYC, 2 cores\n\nCPU: total 2 (initial active 1) (1 cores per cpu, 1 threads per core)\n";
    assert.equal(parseInitialActiveProcessors(info), 1);
    assert.equal(parseInitialActiveProcessors("CPU: total 2\n"), null);
  });
});

describe("reading the node probe's output", () => {
  it("takes the two numbers", () =>
    assert.deepEqual(parseNodeProbeOutput('{"heapSizeLimit":452984832,"availableParallelism":2}'), {
      heapSizeLimitBytes: 452984832,
      availableParallelism: 2,
    }));
  for (const output of ["", "Picked up something", '{"heapSizeLimit":"432"}', "null"]) {
    it(`refuses ${JSON.stringify(output)}`, () => assert.equal(parseNodeProbeOutput(output), null));
  }
});

describe("reading /proc/<pid>/stat", () => {
  it("finds the parent and group after a command name with spaces and parentheses", () =>
    assert.deepEqual(parseProcStatLine(42, "42 (gunicorn: worker (app)) S 41 40 40 0 -1 4194560 1 0"), {
      pid: 42,
      ppid: 41,
      pgid: 40,
    }));
  it("has nothing to say about a zombie", () =>
    assert.equal(parseProcStatLine(42, "42 (java) Z 41 40 40"), null));
});

describe("telling gunicorn and uvicorn processes apart", () => {
  const cases: [string[], PythonProcessRole][] = [
    [["/usr/bin/python3", "/usr/local/bin/gunicorn", "-b", "127.0.0.1:8000", "app:app"], "gunicorn"],
    [["gunicorn", "app:app"], "gunicorn"],
    [["gunicorn: worker [app:app]"], "gunicorn"],
    [["python3.11", "-m", "uvicorn", "app:app", "--port", "8000"], "uvicorn"],
    [["/venv/bin/uvicorn", "app:app"], "uvicorn"],
    [
      ["/usr/bin/python3", "-c", "from multiprocessing.resource_tracker import main;main(5)"],
      "multiprocessing helper",
    ],
    [
      ["/usr/bin/python3", "-c", "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=6)"],
      "other",
    ],
    [["python3", "app.py"], "other"],
    [[], "other"],
  ];
  for (const [argv, role] of cases) {
    it(`${argv.join(" ") || "(no command line)"} → ${role}`, () =>
      assert.equal(pythonProcessRole(argv), role));
  }
});

describe("counting a web server's workers", () => {
  const entry = (pid: number, ppid: number, role: PythonProcessRole): ClassifiedProcess => ({
    pid,
    ppid,
    pgid: 100,
    role,
  });

  it("counts gunicorn's forked workers, which carry the master's command line", () =>
    assert.deepEqual(
      findWebServer([
        entry(100, 1, "gunicorn"),
        entry(101, 100, "gunicorn"),
        entry(102, 100, "gunicorn"),
        entry(103, 100, "gunicorn"),
      ]),
      { name: "gunicorn", workers: 3 },
    ));

  it("finds the master behind a shell wrapper", () =>
    assert.deepEqual(
      findWebServer([entry(100, 1, "other"), entry(105, 100, "gunicorn"), entry(106, 105, "gunicorn")]),
      { name: "gunicorn", workers: 1 },
    ));

  it("counts uvicorn's spawned workers but not multiprocessing's resource tracker", () =>
    assert.deepEqual(
      findWebServer([
        entry(100, 1, "uvicorn"),
        entry(101, 100, "multiprocessing helper"),
        entry(102, 100, "other"),
        entry(103, 100, "other"),
      ]),
      { name: "uvicorn", workers: 2 },
    ));

  it("counts uvicorn serving from its master as one worker", () =>
    assert.deepEqual(findWebServer([entry(100, 1, "uvicorn")]), { name: "uvicorn", workers: 1 }));

  it("finds no web server in a single-process app", () =>
    assert.equal(findWebServer([entry(100, 1, "other"), entry(101, 100, "other")]), null));
});

describe("keeping only the sizing options of an observed variable", () => {
  it("drops a JVM option variable's system properties, which may hold secrets", () =>
    assert.equal(
      sizingPartOf(
        "JAVA_TOOL_OPTIONS",
        "-Djavax.net.ssl.keyStorePassword=hunter2 -XX:ActiveProcessorCount=1  -Xmx512m -XX:-UseContainerSupport",
      ),
      "-XX:ActiveProcessorCount=1 -Xmx512m -XX:-UseContainerSupport",
    ));
  it("keeps only the heap flags of NODE_OPTIONS", () =>
    assert.equal(
      sizingPartOf("NODE_OPTIONS", "--require ./otel.js --max-old-space-size=384 --max_semi_space_size=32"),
      "--max-old-space-size=384 --max_semi_space_size=32",
    ));
  it("keeps a plain variable as it is", () => assert.equal(sizingPartOf("GOMEMLIMIT", "460MiB"), "460MiB"));
});

describe("what the node heap probe's answer depends on", () => {
  const root = mkdtempSync(join(tmpdir(), "waybill-probe-key-"));
  after(() => rmSync(root, { recursive: true, force: true }));

  /** A cgroup hierarchy as files: root → waybill → the instance, each with its limit files */
  function hierarchy(name: string, files: { instance?: string; parent?: string } = {}): string[] {
    const top = join(root, name);
    const instance = join(top, "waybill", "instance");
    mkdirSync(instance, { recursive: true });
    for (const dir of [top, join(top, "waybill"), instance]) writeFileSync(join(dir, "cgroup.procs"), "");
    writeFileSync(join(instance, "memory.max"), files.instance ?? "536870912\n");
    writeFileSync(join(instance, "cpu.max"), "100000 100000\n");
    writeFileSync(join(top, "waybill", "memory.max"), files.parent ?? "max\n");
    return [join(instance, "cgroup.procs")];
  }

  const binary = join(root, "node");
  writeFileSync(binary, "a node binary");
  const probe = [binary, "-e", "probe"];
  const reference = hierarchy("reference");

  const cases: {
    name: string;
    key: () => Promise<string | undefined>;
    same: boolean;
  }[] = [
    {
      name: "the same probe beside limits alike",
      key: () => nodeProbeKey(probe, {}, hierarchy("alike")),
      same: true,
    },
    {
      name: "another NODE_OPTIONS",
      key: () => nodeProbeKey(probe, { NODE_OPTIONS: "--max-old-space-size=64" }, reference),
      same: false,
    },
    {
      name: "another heap flag on the command line",
      key: () => nodeProbeKey([binary, "--max-semi-space-size=4", "-e", "probe"], {}, reference),
      same: false,
    },
    {
      name: "another memory limit",
      key: () => nodeProbeKey(probe, {}, hierarchy("smaller", { instance: "268435456\n" })),
      same: false,
    },
    {
      name: "a limit on an ancestor",
      key: () => nodeProbeKey(probe, {}, hierarchy("ancestor", { parent: "134217728\n" })),
      same: false,
    },
  ];
  for (const { name, key, same } of cases) {
    it(`${same ? "is the same" : "differs"} for ${name}`, async () => {
      const first = await nodeProbeKey(probe, {}, reference);
      const second = await key();
      assert.ok(first !== undefined && second !== undefined);
      assert.equal(first === second, same);
    });
  }

  it("differs once the binary is replaced", async () => {
    const before = await nodeProbeKey(probe, {}, reference);
    writeFileSync(binary, "another node binary");
    assert.notEqual(await nodeProbeKey(probe, {}, reference), before);
  });

  it("is unknown for a binary that is not there", async () =>
    assert.equal(await nodeProbeKey([join(root, "gone"), "-e", "probe"], {}, reference), undefined));

  it("keeps the latest answers up to its capacity", () => {
    const answers = new NodeProbeAnswers(2);
    for (const key of ["a", "b", "c"]) answers.set(key, { heapSizeLimitBytes: 1, availableParallelism: 1 });
    assert.equal(answers.get("a"), undefined);
    assert.ok(answers.get("b") !== undefined && answers.get("c") !== undefined);
    assert.equal(answers.hits, 2);
  });
});
