/**
 * What the test learns of an artifact's minimum environment, end to end through the real CLI:
 * a Node service that declares four dependencies and requires one has exactly the other three
 * reported as never loaded under the test load, in `waybill run` and `waybill evidence`; a JVM
 * service under a 1-CPU limit is reported as seeing 1 processor.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { cleanUp, runCli } from "../testing/cli.js";
import type { RunView } from "../cli/views.js";
import type { EventData } from "../store/events.js";

const root = mkdtempSync(join(tmpdir(), "waybill-min-env-"));
chmodSync(root, 0o711);
const stateDir = join(root, "state");
const cli = (args: string[]) => runCli(args, { stateDir, cwd: root, timeoutMs: 300_000 });

after(async () => {
  await cli(["down"]);
  cleanUp(root);
});

function writeTree(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

function spec(name: string, run: string, runtime: string): string {
  return `metadata:
  name: ${name}
run:
  command: ${run}
  health: /healthz
  healthTimeout: 20s
  runtime: ${runtime}
resources:
  cpu: 1
  memory: 256Mi
test:
  load:
    rate: 20
    duration: 2s
    warmup: 200ms
    requests: [{ path: /hello }]
slo:
  objectives:
    - sli: error_rate
      pass: [{ criteria: ["<1"] }]
stages:
  - name: staging
`;
}

async function measuredOf(service: string): Promise<{ runId: string; measured: EventData["test.measured"] }> {
  const shipped = await cli(["ship", service, "--version", "1.0.0", "--json"]);
  assert.equal(shipped.code, 0, shipped.stdout + shipped.stderr);
  const run = (JSON.parse(shipped.stdout) as { runs: RunView[] }).runs.find((r) => r.stage === "staging");
  assert.equal(run?.state, "succeeded");
  const shown = JSON.parse((await cli(["run", run?.id ?? "", "--json"])).stdout) as {
    events: { type: string; data: unknown }[];
  };
  const measured = shown.events.find((event) => event.type.endsWith(".test.measured"));
  assert.ok(measured, "the test measured the new version");
  return { runId: run?.id ?? "", measured: measured.data as EventData["test.measured"] };
}

const declared = ["used-dep", "never-a", "never-b", "never-c"];

test(
  "a Node service's declared packages it never required are reported as never loaded, and only those",
  { timeout: 300_000 },
  async () => {
    const dir = join(root, "deps");
    const packages = Object.fromEntries(declared.map((name) => [name, "1.0.0"]));
    writeTree(dir, {
      "waybill.yaml": spec("deps", "node server.js", "node"),
      "package.json": JSON.stringify({ name: "deps", version: "1.0.0", dependencies: packages }),
      "package-lock.json": JSON.stringify({
        name: "deps",
        version: "1.0.0",
        lockfileVersion: 3,
        requires: true,
        packages: {
          "": { name: "deps", version: "1.0.0", dependencies: packages },
          ...Object.fromEntries(declared.map((name) => [`node_modules/${name}`, { version: "1.0.0" }])),
        },
      }),
      "server.js": `const http = require("node:http");
const greet = require("used-dep");
http.createServer((request, response) => response.end(greet())).listen(Number(process.env.PORT), "127.0.0.1");
`,
      ...Object.fromEntries(
        declared.flatMap((name) => [
          [`node_modules/${name}/package.json`, JSON.stringify({ name, version: "1.0.0", main: "index.js" })],
          [`node_modules/${name}/index.js`, `module.exports = () => "hello from ${name}";\n`],
        ]),
      ),
    });

    const { runId, measured } = await measuredOf("deps");
    const usage = measured.dependencies;
    assert.ok(usage?.recorded, JSON.stringify(usage));
    assert.deepEqual(usage.neverLoaded.map((entry) => entry.name).sort(), ["never-a", "never-b", "never-c"]);
    assert.deepEqual(usage.loaded, ["pkg:npm/used-dep@1.0.0"]);
    const limits = measured.runtimeLimits;
    assert.ok(limits !== undefined && "mismatches" in limits, JSON.stringify(limits));
    assert.deepEqual(limits.mismatches, [], "the node runtime took its heap limit");

    const shown = await cli(["run", runId]);
    assert.match(shown.stdout, /dependencies never loaded under the test load: 3 of 4/);
    assert.match(shown.stdout, /never-a\s+1\.0\.0/);
    assert.match(shown.stdout, /candidates for removal, not proof/);
    assert.match(shown.stdout, /runtime limits: the node runtime took them/);
    const evidence = await cli(["evidence", "deps@1.0.0"]);
    assert.equal(evidence.code, 0, evidence.stderr);
    assert.match(evidence.stdout, /3 declared package\(s\) never loaded under the test load/);
  },
);

test(
  "a JVM service under a 1-CPU limit is reported as seeing 1 processor",
  { timeout: 300_000 },
  async () => {
    const dir = join(root, "jvm");
    writeTree(dir, {
      "waybill.yaml": spec("jvm", "java -cp classes Hello", "jvm"),
      "src/Hello.java": `import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;

public class Hello {
  public static void main(String[] args) throws Exception {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", Integer.parseInt(System.getenv("PORT"))), 0);
    server.createContext("/", exchange -> {
      byte[] body = String.valueOf(Runtime.getRuntime().availableProcessors()).getBytes();
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    server.start();
  }
}
`,
    });
    execFileSync("javac", ["-d", join(dir, "classes"), join(dir, "src", "Hello.java")]);

    const { runId, measured } = await measuredOf("jvm");
    const limits = measured.runtimeLimits;
    assert.ok(limits !== undefined && "mismatches" in limits, JSON.stringify(limits));
    assert.equal(limits.seen.processors, "1", JSON.stringify(limits));
    assert.deepEqual(limits.mismatches, []);
    const shown = await cli(["run", runId]);
    assert.match(shown.stdout, /runtime limits: the jvm runtime took them \(processors 1/);
  },
);
