/**
 * Real processes, recorded end to end: a Node, a Python and a JVM service each have packages on
 * disk that they never load; started with the recorder's environment, hit once over HTTP and
 * stopped with SIGTERM, the comparison with the SBOM names exactly those.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { readComponents } from "../../evidence/sbom/index.js";
import { locatePackages } from "../../evidence/usage/locate.js";
import { unusedPackages, type UsageReport } from "../../evidence/usage/unused-packages.js";
import { loadRecorderEnv, readLoadedFiles, type RecordedRuntime } from "./recorder.js";

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;
const BUILD_TIMEOUT_MS = 120_000;

const scratch = mkdtempSync(join(tmpdir(), "waybill-load-recorder-e2e-"));
// Another user runs one of the apps: it must be able to pass through
chmodSync(scratch, 0o755);
after(() => rmSync(scratch, { recursive: true, force: true }));

function writeFiles(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

function hasCommand(command: string): boolean {
  try {
    execFileSync(command, ["--version"], { stdio: "ignore", timeout: BUILD_TIMEOUT_MS });
    return true;
  } catch {
    return false;
  }
}

function pythonExecutable(): string {
  const printed = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], {
    encoding: "utf8",
    timeout: BUILD_TIMEOUT_MS,
  });
  return printed.trim();
}

/** This environment without what the test runner sets for itself. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && name !== "NODE_OPTIONS" && name !== "NODE_TEST_CONTEXT") env[name] = value;
  }
  return env;
}

interface Stopped {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

interface RunningApp {
  port: number;
  /** SIGTERM, then the exit */
  stop(): Promise<Stopped>;
  /** SIGKILL to the whole group, whatever state it is in */
  kill(): void;
}

/** Starts a command that prints `listening <port>` once it serves on 127.0.0.1. */
function startApp(command: string[], cwd: string, env: Record<string, string>): Promise<RunningApp> {
  const [program = "", ...args] = command;
  const child = spawn(program, args, { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  // "close" rather than "exit": by then all of stderr has arrived
  const exited = new Promise<Stopped>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal, stderr })),
  );
  const kill = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`${program} did not start within ${START_TIMEOUT_MS} ms: ${stderr}`));
    }, START_TIMEOUT_MS);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${program} exited (${code ?? signal}) before serving: ${stderr}`));
    });
    child.stdout.on("data", () => {
      const port = /listening (\d+)/.exec(stdout)?.[1];
      if (port === undefined) return;
      clearTimeout(timer);
      resolve({
        port: Number(port),
        kill,
        async stop() {
          child.kill("SIGTERM");
          const timeout = new Promise<never>((_, rejectStop) =>
            setTimeout(() => rejectStop(new Error(`${program} ignored SIGTERM`)), STOP_TIMEOUT_MS).unref(),
          );
          return Promise.race([exited, timeout]);
        },
      });
    });
  });
}

async function get(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(30_000) });
  assert.equal(response.status, 200);
  return response.text();
}

/** Runs the app once under the recorder and compares what it loaded with the folder's SBOM. */
async function recordedRun(options: {
  runtime: RecordedRuntime;
  appDir: string;
  command: string[];
  env?: Record<string, string>;
  expectedBody: string;
}): Promise<{ report: UsageReport; loadedFiles: string[]; stopped: Stopped }> {
  const records = join(scratch, `${options.runtime}-records`);
  const userEnv = { ...baseEnv(), ...options.env };
  const env = { ...userEnv, ...loadRecorderEnv(options.runtime, records, userEnv) };
  const app = await startApp(options.command, options.appDir, env);
  let stopped: Stopped;
  try {
    assert.equal(await get(app.port), options.expectedBody);
    stopped = await app.stop();
  } finally {
    app.kill();
  }
  const loadedFiles = await readLoadedFiles(options.runtime, records);
  const { components } = await readComponents(options.appDir);
  const located = await locatePackages(options.appDir, components);
  const report = unusedPackages({ components, loadedFiles, ...located });
  return { report, loadedFiles, stopped };
}

const neverLoadedPurls = (report: UsageReport) => report.neverLoaded.map(({ purl }) => purl).sort();

const nodeApp: Record<string, string> = {
  "package.json": JSON.stringify({
    name: "recorded-app",
    version: "1.0.0",
    dependencies: { "used-dep": "1.0.0", "esm-dep": "1.0.0", "never-a": "1.0.0", "never-b": "1.0.0" },
    devDependencies: { "dev-tool": "1.0.0" },
  }),
  "package-lock.json": JSON.stringify({
    name: "recorded-app",
    version: "1.0.0",
    lockfileVersion: 3,
    requires: true,
    packages: {
      "": {
        name: "recorded-app",
        version: "1.0.0",
        dependencies: { "used-dep": "1.0.0", "esm-dep": "1.0.0", "never-a": "1.0.0", "never-b": "1.0.0" },
        devDependencies: { "dev-tool": "1.0.0" },
      },
      "node_modules/used-dep": { version: "1.0.0", dependencies: { helper: "1.0.0" } },
      "node_modules/used-dep/node_modules/helper": { version: "1.0.0" },
      "node_modules/esm-dep": { version: "1.0.0" },
      "node_modules/never-a": { version: "1.0.0" },
      "node_modules/never-b": { version: "1.0.0" },
      "node_modules/dev-tool": { version: "1.0.0", dev: true },
    },
  }),
  // CommonJS: used-dep at start-up, the ES module on the first request
  "server.js": `
const http = require("node:http");
const exclaim = require("used-dep");
const server = http.createServer(async (request, response) => {
  const { shout } = await import("esm-dep");
  response.end(shout(exclaim("hello")) + " " + http.maxHeaderSize);
});
server.listen(0, "127.0.0.1", () => console.log("listening " + server.address().port));
`,
  "node_modules/used-dep/package.json": '{"name":"used-dep","version":"1.0.0","main":"index.js"}',
  "node_modules/used-dep/index.js":
    'const helper = require("helper");\nmodule.exports = (text) => helper(text) + "!";\n',
  "node_modules/used-dep/node_modules/helper/package.json": '{"name":"helper","version":"1.0.0"}',
  "node_modules/used-dep/node_modules/helper/index.js": 'module.exports = (text) => text + " world";\n',
  "node_modules/esm-dep/package.json":
    '{"name":"esm-dep","version":"1.0.0","type":"module","exports":"./index.js"}',
  "node_modules/esm-dep/index.js": "export const shout = (text) => text.toUpperCase();\n",
  "node_modules/never-a/package.json": '{"name":"never-a","version":"1.0.0"}',
  "node_modules/never-a/index.js": 'throw new Error("never-a was loaded");\n',
  "node_modules/never-b/package.json":
    '{"name":"never-b","version":"1.0.0","type":"module","exports":"./index.js"}',
  "node_modules/never-b/index.js": 'throw new Error("never-b was loaded");\n',
  "node_modules/dev-tool/package.json": '{"name":"dev-tool","version":"1.0.0"}',
  "node_modules/dev-tool/index.js": 'throw new Error("dev-tool was loaded");\n',
};

const pythonApp: Record<string, string> = {
  "requirements.txt": "fake-used==1.0.0\nfake-unused==2.0.0\n",
  // Imports on the first request, not at start-up
  "app.py": `
import http.server
import os


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        import usedpkg

        body = (usedpkg.greet() + " " + os.environ.get("USER_SITECUSTOMIZE", "-")).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print("listening", server.server_address[1], flush=True)
server.serve_forever()
`,
  // Module names unlike the distributions': only RECORD tells which is which
  "site-packages/usedpkg/__init__.py":
    "from usedpkg.words import GREETING\n\n\ndef greet():\n    return GREETING\n",
  "site-packages/usedpkg/words.py": 'GREETING = "hello"\n',
  "site-packages/fake_used-1.0.0.dist-info/METADATA":
    "Metadata-Version: 2.1\nName: fake-used\nVersion: 1.0.0\n\n",
  "site-packages/fake_used-1.0.0.dist-info/RECORD":
    "usedpkg/__init__.py,,\nusedpkg/words.py,,\nfake_used-1.0.0.dist-info/METADATA,,\nfake_used-1.0.0.dist-info/RECORD,,\n",
  "site-packages/unusedpkg/__init__.py": 'raise ImportError("unusedpkg was imported")\n',
  "site-packages/fake_unused-2.0.0.dist-info/METADATA":
    "Metadata-Version: 2.1\nName: fake_unused\nVersion: 2.0.0\n\n",
  "site-packages/fake_unused-2.0.0.dist-info/RECORD":
    "unusedpkg/__init__.py,,\nfake_unused-2.0.0.dist-info/METADATA,,\nfake_unused-2.0.0.dist-info/RECORD,,\n",
  "once.py": "import usedpkg\n\nprint(usedpkg.greet())\n",
  // The user's own sitecustomize, which the recorder's shadows and must still run
  "user-site/sitecustomize.py": 'import os\n\nos.environ["USER_SITECUSTOMIZE"] = "ran"\n',
};

describe("recording what a service loads", () => {
  test("a Node service: CommonJS, nested and ES module packages are loaded, the two it never required are not", async () => {
    const appDir = join(scratch, "node-app");
    writeFiles(appDir, nodeApp);
    const { report, loadedFiles, stopped } = await recordedRun({
      runtime: "node",
      appDir,
      command: [process.execPath, "server.js"],
      env: { NODE_OPTIONS: "--max-http-header-size=20000" },
      // The user's NODE_OPTIONS still reach the app
      expectedBody: "HELLO WORLD! 20000",
    });
    assert.equal(stopped.signal, "SIGTERM");
    assert.equal(stopped.stderr, "");
    assert.ok(loadedFiles.includes(join(appDir, "server.js")), loadedFiles.join("\n"));
    assert.deepEqual(report.loaded, [
      "pkg:npm/esm-dep@1.0.0",
      "pkg:npm/helper@1.0.0",
      "pkg:npm/used-dep@1.0.0",
    ]);
    assert.deepEqual(neverLoadedPurls(report), ["pkg:npm/never-a@1.0.0", "pkg:npm/never-b@1.0.0"]);
    for (const { bytes } of report.neverLoaded) assert.ok(bytes > 0);
    assert.ok(report.shareOfArtifactPct > 0 && report.shareOfArtifactPct < 100);
  });

  test("a Node service's ES modules are recorded in its own thread, and the app's own reads are not", async () => {
    const appDir = join(scratch, "node-esm-threads");
    writeFiles(appDir, {
      "data.txt": "read, not loaded",
      "lib.mjs": "export const answer = 42;\n",
      // The thread count after loading: a loader hooks thread would be one more than without the recorder
      "main.mjs": [
        'import { readFile } from "node:fs/promises";',
        'import { readFileSync } from "node:fs";',
        'const { answer } = await import("./lib.mjs");',
        'await readFile(new URL("./data.txt", import.meta.url));',
        'const threads = /Threads:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];',
        "process.stdout.write(`${answer} ${threads}`);",
      ].join("\n"),
    });
    const records = join(scratch, "node-esm-threads-records");
    const run = (env: Record<string, string>) =>
      execFileSync(process.execPath, ["main.mjs"], {
        cwd: appDir,
        env,
        encoding: "utf8",
        timeout: START_TIMEOUT_MS,
      });
    const [answer, threadsWithout] = run(baseEnv()).split(" ");
    const recorded = run({ ...baseEnv(), ...loadRecorderEnv("node", records, {}) }).split(" ");
    assert.deepEqual(recorded, [answer, threadsWithout]);
    assert.deepEqual(await readLoadedFiles("node", records), [
      join(appDir, "lib.mjs"),
      join(appDir, "main.mjs"),
    ]);
  });

  test("a Node service that cannot write the records runs as it would, and nothing is judged", async () => {
    const appDir = join(scratch, "node-app-unwritable");
    writeFiles(appDir, nodeApp);
    const records = join(scratch, "unwritable-records");
    const env = { ...baseEnv(), ...loadRecorderEnv("node", records, {}) };
    // Root writes anywhere, so the app runs as nobody; anyone else cannot write a read-only folder
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) chmodSync(records, 0o555);
    const command = asRoot
      ? [
          "setpriv",
          "--reuid=nobody",
          "--regid=nogroup",
          "--clear-groups",
          "--",
          process.execPath,
          "server.js",
        ]
      : [process.execPath, "server.js"];
    let stopped: Stopped;
    try {
      const app = await startApp(command, appDir, env);
      try {
        assert.equal(await get(app.port), `HELLO WORLD! ${16 * 1024}`);
        stopped = await app.stop();
      } finally {
        app.kill();
      }
    } finally {
      // So the scratch folder can be removed
      chmodSync(records, 0o755);
    }
    assert.equal(stopped.signal, "SIGTERM");
    assert.equal(stopped.stderr, "");
    const loadedFiles = await readLoadedFiles("node", records);
    assert.deepEqual(loadedFiles, []);
    const { components } = await readComponents(appDir);
    const report = unusedPackages({ components, loadedFiles, ...(await locatePackages(appDir, components)) });
    assert.equal(report.recorded, false);
    assert.deepEqual(report.neverLoaded, []);
  });

  test(
    "a Python service: the distribution it imports is loaded, the other one on its path is not",
    { skip: !hasCommand("python3") && "python3 is not installed" },
    async () => {
      const appDir = join(scratch, "python-app");
      const site = join(appDir, "site-packages");
      const userSite = join(appDir, "user-site");
      writeFiles(appDir, pythonApp);
      const { report, loadedFiles, stopped } = await recordedRun({
        runtime: "python",
        appDir,
        // The interpreter itself: a version manager's shim would take the SIGTERM meant for it
        command: [pythonExecutable(), "-u", "app.py"],
        env: { PYTHONPATH: `${site}:${userSite}`, PYTHONDONTWRITEBYTECODE: "1" },
        expectedBody: "hello ran",
      });
      // Python's own answer to SIGTERM: the process ends by the signal
      assert.equal(stopped.signal, "SIGTERM");
      assert.equal(stopped.stderr, "");
      assert.ok(loadedFiles.includes(join(site, "usedpkg", "words.py")), loadedFiles.join("\n"));
      // The main script is no import: only the writer on SIGTERM sees it
      assert.ok(loadedFiles.includes(join(appDir, "app.py")), loadedFiles.join("\n"));
      assert.deepEqual(report.loaded, ["pkg:pypi/fake-used@1.0.0"]);
      assert.deepEqual(neverLoadedPurls(report), ["pkg:pypi/fake-unused@2.0.0"]);
      assert.ok((report.neverLoaded[0]?.bytes ?? 0) > 0);
    },
  );

  test(
    "a Python script that runs to its end is recorded at exit, its main file too",
    { skip: !hasCommand("python3") && "python3 is not installed" },
    async () => {
      const appDir = join(scratch, "python-script");
      writeFiles(appDir, pythonApp);
      const records = join(scratch, "python-script-records");
      const userEnv = { ...baseEnv(), PYTHONPATH: join(appDir, "site-packages") };
      const output = execFileSync(pythonExecutable(), ["once.py"], {
        cwd: appDir,
        env: { ...userEnv, ...loadRecorderEnv("python", records, userEnv) },
        encoding: "utf8",
        timeout: START_TIMEOUT_MS,
      });
      assert.equal(output, "hello\n");
      const loadedFiles = await readLoadedFiles("python", records);
      assert.ok(loadedFiles.includes(join(appDir, "once.py")), loadedFiles.join("\n"));
      assert.ok(
        loadedFiles.includes(join(appDir, "site-packages", "usedpkg", "words.py")),
        loadedFiles.join("\n"),
      );
    },
  );

  test(
    "a JVM service: the jar it uses is loaded, the other jar on its class path is not",
    { skip: !hasCommand("javac") && "javac is not installed" },
    async () => {
      const appDir = join(scratch, "jvm-app");
      const build = join(scratch, "jvm-build");
      writeFiles(build, {
        "src/fixture/used/Greeting.java":
          'package fixture.used;\n\npublic class Greeting {\n  public static String text() {\n    return "hello";\n  }\n}\n',
        "src/fixture/unused/Nothing.java": "package fixture.unused;\n\npublic class Nothing {}\n",
        "src/Main.java": `
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

public class Main {
  public static void main(String[] args) throws Exception {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/", exchange -> {
      byte[] body = fixture.used.Greeting.text().getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    server.start();
    System.out.println("listening " + server.getAddress().getPort());
  }
}
`,
        "used/META-INF/maven/fixture/used/pom.properties":
          "groupId=fixture\nartifactId=used\nversion=1.0.0\n",
        "unused/META-INF/maven/fixture/unused/pom.properties":
          "groupId=fixture\nartifactId=unused\nversion=2.0.0\n",
      });
      const run = (command: string, args: string[]) =>
        execFileSync(command, args, { cwd: build, stdio: "pipe", timeout: BUILD_TIMEOUT_MS });
      mkdirSync(join(appDir, "lib"), { recursive: true });
      run("javac", ["-d", "used", "src/fixture/used/Greeting.java"]);
      run("javac", ["-d", "unused", "src/fixture/unused/Nothing.java"]);
      run("jar", ["cf", join(appDir, "lib", "used-1.0.0.jar"), "-C", "used", "."]);
      run("jar", ["cf", join(appDir, "lib", "unused-2.0.0.jar"), "-C", "unused", "."]);
      run("javac", [
        "-cp",
        join(appDir, "lib", "used-1.0.0.jar"),
        "-d",
        join(appDir, "classes"),
        "src/Main.java",
      ]);

      const { report, loadedFiles, stopped } = await recordedRun({
        runtime: "jvm",
        appDir,
        command: ["java", "-cp", "classes:lib/used-1.0.0.jar:lib/unused-2.0.0.jar", "Main"],
        expectedBody: "hello",
      });
      // The JVM runs its shutdown hooks on SIGTERM and exits 128 + 15
      assert.equal(stopped.code, 143);
      assert.ok(loadedFiles.includes(join(appDir, "classes")), loadedFiles.join("\n"));
      assert.deepEqual(report.loaded, ["pkg:maven/fixture/used@1.0.0"]);
      assert.deepEqual(neverLoadedPurls(report), ["pkg:maven/fixture/unused@2.0.0"]);
      assert.ok((report.neverLoaded[0]?.bytes ?? 0) > 0);
    },
  );
});
