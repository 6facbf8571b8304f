/**
 * Real runtimes in a real cgroup with a 1-CPU, 512 MiB limit: a JVM HTTP server compiled here
 * with javac, and node. Python and Go have no runtime here, so stand-ins of their process shape
 * (a forking script named gunicorn, a sleep with Go's variables) prove the /proc side.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { promisify } from "node:util";
import { errorMessage } from "../../errors.js";
import { runtimeHints, type ResourceLimits } from "../../kube/runtime-hints.js";
import {
  commandInCgroup,
  createInstanceCgroup,
  locateCgroups,
  prepareCgroups,
  removeEmptyParents,
  removeInstanceCgroup,
  type CgroupPlacement,
  type CgroupProcsFiles,
} from "../cgroups.js";
import { compareLimits, type LimitsReport, type RuntimeObservation } from "./compare.js";
import { NodeProbeAnswers, observeRuntime, type ObservationTarget } from "./probe.js";

const mib = 2 ** 20;
const limits: ResourceLimits = { cpuMillicores: 1000, memoryBytes: 512 * mib };
const controlPlaneId = `limits-check-test-${randomUUID()}`;
/** A JVM starts in a second or two; a busy 2-core machine may take several times that. */
const START_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 10_000;
const TEST_TIMEOUT_MS = 120_000;
const basePath = process.env.PATH ?? "/usr/bin:/bin";

const processorsServerSource = `
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

public class ProcessorsServer {
  public static void main(String[] args) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/healthz", exchange -> respond(exchange, "ok"));
    server.createContext(
        "/processors", exchange -> respond(exchange, String.valueOf(Runtime.getRuntime().availableProcessors())));
    server.start();
    System.out.println(server.getAddress().getPort());
  }

  private static void respond(HttpExchange exchange, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.sendResponseHeaders(200, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }
}
`;

// The process shape of gunicorn: a master and the workers it forks, all with its command line.
const gunicornStandIn = `#!/usr/bin/env python3
import os, sys, time
workers = int(sys.argv[sys.argv.index("--workers") + 1]) if "--workers" in sys.argv else int(os.environ.get("WEB_CONCURRENCY", "1"))
for _ in range(workers):
    if os.fork() == 0:
        time.sleep(300)
        os._exit(0)
print("ready", flush=True)
time.sleep(300)
`;

let workDir = "";
let javaCompiled: { ok: true } | { ok: false; reason: string } = { ok: false, reason: "not compiled yet" };
let cgroups: { placement: CgroupPlacement } | { reason: string } = { reason: "not located yet" };

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), "waybill-limits-check-"));
  await writeFile(join(workDir, "ProcessorsServer.java"), processorsServerSource);
  await writeFile(join(workDir, "gunicorn"), gunicornStandIn);
  await chmod(join(workDir, "gunicorn"), 0o755);
  try {
    await promisify(execFile)("javac", ["-d", workDir, join(workDir, "ProcessorsServer.java")], {
      timeout: START_TIMEOUT_MS * 2,
    });
    javaCompiled = { ok: true };
  } catch (error) {
    javaCompiled = { ok: false, reason: `javac could not compile the test server: ${errorMessage(error)}` };
  }
  const location = await locateCgroups(controlPlaneId);
  if (!location.found) {
    cgroups = { reason: location.reason };
    return;
  }
  const prepared = await prepareCgroups(location.placement);
  cgroups = prepared.ok ? { placement: location.placement } : { reason: prepared.reason };
});

after(async () => {
  if ("placement" in cgroups) await removeEmptyParents(cgroups.placement);
  await rm(workDir, { recursive: true, force: true });
});

/** Runs `body` with a fresh instance cgroup, removed afterwards; skips the test where there is none. */
async function withInstanceCgroup(
  t: TestContext,
  body: (procsFiles: CgroupProcsFiles) => Promise<void>,
): Promise<void> {
  if (!("placement" in cgroups)) {
    t.skip(`no writable cgroup hierarchy: ${cgroups.reason}`);
    return;
  }
  const { placement } = cgroups;
  const instanceId = `probe-${randomUUID()}`;
  const procsFiles = await createInstanceCgroup(placement, instanceId, limits);
  try {
    await body(procsFiles);
  } finally {
    await removeInstanceCgroup(placement, instanceId);
  }
}

interface RunningApp {
  child: ChildProcess;
  pid: number;
  /** The first line the app printed: its port, or "ready" */
  firstLine: string;
}

/** Starts `argv` as the leader of a process group of its own, as the runtime starts instances. */
async function startApp(argv: readonly string[], env: Record<string, string>): Promise<RunningApp> {
  const [file, ...args] = argv;
  assert.ok(file !== undefined);
  const child = spawn(file, args, { detached: true, stdio: ["ignore", "pipe", "pipe"], env });
  const pid = child.pid;
  assert.ok(pid !== undefined, "spawned");
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const firstLine = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no output within ${START_TIMEOUT_MS} ms; stderr: ${stderr}`)),
      START_TIMEOUT_MS,
    );
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const newline = stdout.indexOf("\n");
      if (newline === -1) return;
      clearTimeout(timer);
      resolve(stdout.slice(0, newline).trim());
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before it was ready; stderr: ${stderr}`));
    });
  });
  return { child, pid, firstLine };
}

async function stopApp(app: RunningApp | undefined): Promise<void> {
  if (app === undefined || app.child.exitCode !== null || app.child.signalCode !== null) return;
  const exited = new Promise((resolve) => app.child.once("exit", resolve));
  try {
    process.kill(-app.pid, "SIGKILL");
  } catch {
    // The group is gone already.
  }
  await exited;
}

async function observeAndCompare(
  target: ObservationTarget,
  launchEnv: Record<string, string>,
): Promise<{ observation: RuntimeObservation; report: LimitsReport }> {
  const observation = await observeRuntime(target);
  assert.ok(!("unobservable" in observation), `observable: ${JSON.stringify(observation)}`);
  return { observation, report: compareLimits({ limits, launchEnv, observation }) };
}

async function getText(port: string, path: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  assert.equal(response.status, 200, path);
  return response.text();
}

test("a JVM in a 1-CPU cgroup", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (!javaCompiled.ok) {
    t.skip(javaCompiled.reason);
    return;
  }
  await withInstanceCgroup(t, async (procsFiles) => {
    const startServer = (launchEnv: Record<string, string>): Promise<RunningApp> =>
      startApp(commandInCgroup(procsFiles, ["java", "-cp", workDir, "ProcessorsServer"]), {
        PATH: basePath,
        ...launchEnv,
      });

    await t.test("under the jvm hints it reports 1 processor, and the check finds no mismatch", async () => {
      const launchEnv = runtimeHints("jvm", limits, {});
      let app: RunningApp | undefined;
      try {
        app = await startServer(launchEnv);
        assert.equal(await getText(app.firstLine, "/healthz"), "ok");
        assert.equal(await getText(app.firstLine, "/processors"), "1", "the app's own view");
        const { report } = await observeAndCompare({ runtime: "jvm", pid: app.pid }, launchEnv);
        assert.equal(report.seen.processors, "1");
        assert.equal(report.seen.maxHeap, "384 MiB", "MaxRAMPercentage=75 of the 512 MiB limit");
        assert.deepEqual(report.mismatches, []);
      } finally {
        await stopApp(app);
      }
    });

    await t.test("with ActiveProcessorCount=2 from the user's own env it is a mismatch", async () => {
      const secret = "-Dwaybill.test.password=hunter2";
      const userEnv = { JAVA_TOOL_OPTIONS: `-XX:ActiveProcessorCount=2 ${secret}` };
      const launchEnv = { ...userEnv, ...runtimeHints("jvm", limits, userEnv) };
      let app: RunningApp | undefined;
      try {
        app = await startServer(launchEnv);
        assert.equal(await getText(app.firstLine, "/processors"), "2", "the app's own view");
        const { report } = await observeAndCompare({ runtime: "jvm", pid: app.pid }, launchEnv);
        assert.deepEqual(report.mismatches, [
          "the JVM sees 2 processors; its CPU limit is 1 (ActiveProcessorCount=2 was set)",
        ]);
        assert.equal(report.seen.JAVA_TOOL_OPTIONS, "-XX:ActiveProcessorCount=2");
        assert.ok(!JSON.stringify(report).includes("hunter2"), "no system property reaches the report");
      } finally {
        await stopApp(app);
      }
    });
  });
});

test("node in a 512 MiB cgroup", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withInstanceCgroup(t, async (procsFiles) => {
    const check = async (
      userEnv: Record<string, string>,
    ): Promise<{ heapMiB: number; report: LimitsReport }> => {
      const launchEnv = { ...userEnv, ...runtimeHints("node", limits, userEnv) };
      const keepAlive = 'process.stdout.write("ready\\n"); setInterval(() => {}, 60_000);';
      let app: RunningApp | undefined;
      try {
        app = await startApp(commandInCgroup(procsFiles, [process.execPath, "-e", keepAlive]), {
          PATH: basePath,
          ...launchEnv,
        });
        const { observation, report } = await observeAndCompare(
          { runtime: "node", pid: app.pid, procsFiles },
          launchEnv,
        );
        assert.equal(observation.runtime, "node");
        return { heapMiB: observation.heapSizeLimitBytes / mib, report };
      } finally {
        await stopApp(app);
      }
    };

    await t.test("under the node hints it is no mismatch", async () => {
      const { heapMiB, report } = await check({});
      assert.ok(
        heapMiB > 384 && heapMiB <= 432,
        `384 MiB of old space and a young generation: ${heapMiB} MiB`,
      );
      assert.deepEqual(report.mismatches, []);
    });

    await t.test("with the user's NODE_OPTIONS heap above the memory limit it is a mismatch", async () => {
      const { heapMiB, report } = await check({ NODE_OPTIONS: "--max-old-space-size=1024" });
      assert.deepEqual(report.mismatches, [
        `V8's heap limit is ${Math.round(heapMiB * 10) / 10} MiB, above the memory limit of 512 MiB`,
      ]);
    });

    await t.test(
      "a second instance of the same binary, flags and limits is answered without a probe",
      async () => {
        const answers = new NodeProbeAnswers();
        const launchEnv = runtimeHints("node", limits, {});
        const keepAlive = 'process.stdout.write("ready\\n"); setInterval(() => {}, 60_000);';
        const observe = async (): Promise<RuntimeObservation> => {
          let app: RunningApp | undefined;
          try {
            app = await startApp(commandInCgroup(procsFiles, [process.execPath, "-e", keepAlive]), {
              PATH: basePath,
              ...launchEnv,
            });
            const observation = await observeRuntime({ runtime: "node", pid: app.pid, procsFiles }, answers);
            assert.ok(!("unobservable" in observation), JSON.stringify(observation));
            return observation;
          } finally {
            await stopApp(app);
          }
        };
        const first = await observe();
        assert.equal(answers.hits, 0);
        assert.deepEqual(await observe(), first);
        assert.equal(answers.hits, 1);
      },
    );

    await t.test("without a heap flag V8 sizes its heap from the cgroup the probe joined", async () => {
      const { heapMiB, report } = await check({ NODE_OPTIONS: "--enable-source-maps" });
      // On this host's memory instead, V8 would take a heap of up to 4 GiB.
      assert.ok(heapMiB <= 512, `${heapMiB} MiB`);
      assert.deepEqual(report.mismatches, []);
    });
  });
});

test("a gunicorn-shaped Python master and its workers", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const launchEnv = runtimeHints("python", limits, {});
  const check = async (extraArgs: string[]): Promise<LimitsReport> => {
    let app: RunningApp | undefined;
    try {
      app = await startApp([join(workDir, "gunicorn"), "app:app", ...extraArgs], {
        PATH: basePath,
        ...launchEnv,
      });
      return (await observeAndCompare({ runtime: "python", pid: app.pid }, launchEnv)).report;
    } finally {
      await stopApp(app);
    }
  };

  await t.test("as many workers as WEB_CONCURRENCY is no mismatch", async () => {
    const report = await check([]);
    assert.equal(report.seen.workers, "3 (gunicorn)");
    assert.deepEqual(report.mismatches, []);
  });

  await t.test("workers set on the command line against WEB_CONCURRENCY is a mismatch", async () => {
    const report = await check(["--workers", "5"]);
    assert.deepEqual(report.mismatches, ["gunicorn runs 5 workers; it was launched with WEB_CONCURRENCY=3"]);
  });
});

test("a process's own environment, and nothing else of it", { timeout: TEST_TIMEOUT_MS }, async () => {
  const launchEnv = runtimeHints("go", limits, {});
  const script = "echo ready; exec sleep 300";
  let app: RunningApp | undefined;
  try {
    app = await startApp(["/bin/sh", "-c", script], {
      PATH: basePath,
      ...launchEnv,
      GOMEMLIMIT: "1GiB",
      API_TOKEN: "hunter2",
    });
    const { observation, report } = await observeAndCompare({ runtime: "go", pid: app.pid }, launchEnv);
    assert.deepEqual(observation, { runtime: "go", environment: { GOMAXPROCS: "1", GOMEMLIMIT: "1GiB" } });
    assert.deepEqual(report.mismatches, [
      "GOMEMLIMIT is 1GiB in the process's environment; it was launched with GOMEMLIMIT=460MiB",
    ]);
    assert.deepEqual(await observeRuntime({ runtime: "jvm", pid: app.pid }), {
      unobservable: `no java process in the process group of ${app.pid}`,
    });
  } finally {
    await stopApp(app);
  }
  assert.deepEqual(await observeRuntime({ runtime: "go", pid: app.pid }), {
    unobservable: `process ${app.pid} is not running`,
  });
});
