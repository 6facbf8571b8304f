import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { UserError } from "../errors.js";
import { fixturesDir } from "../testing/paths.js";
import {
  SpecError,
  formatPath,
  loadServiceSpec,
  loadSloFile,
  loadSpecFile,
  parseServiceSpec,
  parseSlo,
} from "./load.js";

const validDir = join(fixturesDir, "spec", "valid");

/** The issues of a spec that must not validate */
function issuesOf(text: string, file = "waybill.yaml"): SpecError["issues"] {
  try {
    parseServiceSpec(text, file);
  } catch (error) {
    if (error instanceof SpecError) return error.issues;
    throw error;
  }
  assert.fail("expected the spec to be invalid");
}

const minimal = "metadata: {name: hello}\nrun: {command: node server.js}\n";

describe("valid specs", () => {
  it("accepts the full example from docs/design.md", () => {
    const { spec } = loadServiceSpec(join(validDir, "design-example.yaml"));
    assert.equal(spec.metadata.name, "checkout");
    assert.equal(spec.run.health, "/healthz");
    assert.equal(spec.test.load?.rate, 200);
    assert.deepEqual(
      spec.stages.map((stage) => [stage.name, stage.strategy]),
      [
        ["dev", "direct"],
        ["staging", "blue-green"],
        ["production", "canary"],
      ],
    );
    assert.deepEqual(spec.stages[2]?.requires, ["sbom", "vulns", "slo-evaluation"]);
    assert.equal(typeof spec.slo, "object");
  });

  it("fills in every default for a minimal spec", () => {
    const spec = parseServiceSpec(minimal, "waybill.yaml");
    assert.equal(spec.apiVersion, "waybill.dev/v1");
    assert.equal(spec.kind, "Service");
    assert.deepEqual(spec.build, { artifact: ".", env: {} });
    assert.deepEqual(spec.run, {
      command: "node server.js",
      port: 8080,
      health: "/",
      healthTimeout: "30s",
      env: {},
    });
    assert.deepEqual(spec.resources, { cpu: "1", memory: "512Mi" });
    assert.deepEqual(spec.sli, []);
    assert.equal(spec.slo, undefined);
    assert.deepEqual(
      spec.stages.map((stage) => [stage.name, stage.strategy, stage.approval.pass]),
      [
        ["dev", "direct", "automatic"],
        ["staging", "blue-green", "automatic"],
        ["production", "blue-green", "manual"],
      ],
    );
  });

  it("gives every parse its own copy of the defaults", () => {
    const first = parseServiceSpec(minimal, "waybill.yaml");
    first.stages[0]?.requires.push("sbom");
    first.build.env.LEAKED = "yes";
    const second = parseServiceSpec(minimal, "waybill.yaml");
    assert.deepEqual(second.stages[0]?.requires, []);
    assert.deepEqual(second.build.env, {});
  });

  it("reads a Keptn slo.yaml unchanged", () => {
    const file = join(validDir, "keptn-slo.yaml");
    assert.deepEqual(loadSloFile(file), parse(readFileSync(file, "utf8")));
  });

  it("replaces an slo file reference with the file's content", () => {
    const loaded = loadServiceSpec(join(validDir, "with-slo-file", "waybill.yaml"));
    assert.deepEqual(loaded.spec.slo, loadSloFile(join(validDir, "keptn-slo.yaml")));
    assert.equal(loaded.sloFile, join(validDir, "with-slo-file", "slo.yaml"));
    assert.equal(loaded.dir, join(validDir, "with-slo-file"));
    assert.equal(loaded.file, join(validDir, "with-slo-file", "waybill.yaml"));
    assert.deepEqual(loaded.spec.run.command, ["node", "dist/cart.js", "--workers", "4"]);
  });

  it("finds a GitOps working copy named by a relative path next to the waybill.yaml, and leaves a URL alone", () => {
    const { spec } = loadServiceSpec(join(validDir, "with-gitops", "waybill.yaml"));
    assert.deepEqual(
      spec.stages.map((stage) => stage.gitops?.repo),
      [join(validDir, "fleet"), "git@github.com:acme/fleet.git"],
    );
  });

  it("resolves YAML anchors and merge keys", () => {
    const { spec } = loadServiceSpec(join(validDir, "anchors.yaml"));
    assert.deepEqual(
      spec.stages.map((stage) => [stage.name, stage.strategy, stage.drain]),
      [
        ["dev", "blue-green", "5s"],
        ["staging", "blue-green", "5s"],
      ],
    );
  });

  it("tells a Keptn slo.yaml from a waybill.yaml", () => {
    assert.equal(loadSpecFile(join(validDir, "keptn-slo.yaml")).kind, "slo");
    assert.equal(loadSpecFile(join(validDir, "minimal.yaml")).kind, "service");
  });
});

describe("error positions and messages", () => {
  it("points an unknown field at its key and lists the allowed ones", () => {
    const [issue] = issuesOf(`${minimal}stages:\n  - name: dev\n    replica: 2\n`);
    assert.deepEqual(
      { line: issue?.line, col: issue?.col, path: issue?.path },
      { line: 5, col: 5, path: "stages[0].replica" },
    );
    assert.match(
      issue?.message ?? "",
      /^unknown field "replica" \(did you mean "replicas"\?\); expected one of: name, target, /,
    );
  });

  it("points a missing required field at the mapping that lacks it", () => {
    const [issue] = issuesOf("kind: Service\nmetadata:\n  labels: {team: a}\nrun: {command: x}\n");
    assert.deepEqual(
      { line: issue?.line, col: issue?.col, path: issue?.path },
      { line: 3, col: 3, path: "metadata.name" },
    );
    assert.match(issue?.message ?? "", /missing required field "name"/);
  });

  it("points a bad value at the value", () => {
    const [issue] = issuesOf(`${minimal}stages:\n  - {name: dev, strategy: bluegreen}\n`);
    assert.deepEqual({ line: issue?.line, col: issue?.col }, { line: 4, col: 27 });
    assert.equal(issue?.message, 'expected one of direct, blue-green, canary, got "bluegreen"');
  });

  it("says which type was expected and which was found", () => {
    const [issue] = issuesOf("metadata: {name: a}\nrun: {command: x, port: abc}\n");
    assert.equal(issue?.message, 'expected a number, got string "abc"');
  });

  it("points an empty value at its key", () => {
    const [issue] = issuesOf("metadata: {name: a}\nrun: {command: x}\nresources:\n  cpu:\n");
    assert.deepEqual(
      { line: issue?.line, col: issue?.col, path: issue?.path },
      { line: 4, col: 3, path: "resources.cpu" },
    );
  });

  it("picks the union alternative the user meant", () => {
    const [issue] = issuesOf(
      `${minimal}stages:\n  - name: prod\n    requires: [{slo-evaluation: {min_result: warn}}]\n`,
    );
    assert.equal(issue?.path, "stages[0].requires[0].slo-evaluation.min_result");
    assert.equal(issue?.message, 'expected one of pass, warning, got "warn"');
  });

  it("says what a union accepts when no alternative fits", () => {
    const [command] = issuesOf("metadata: {name: a}\nrun: {command: 5}\n");
    assert.equal(command?.message, "expected a string or a list of strings, got number 5");
    const [requirement] = issuesOf(`${minimal}stages:\n  - {name: prod, requires: [{vuln: {}}]}\n`);
    assert.equal(
      requirement?.message,
      "expected one of sbom, provenance, vulns, test-result, slo-evaluation or a mapping with one key out of " +
        'sbom, provenance, test-result, vulns, slo-evaluation, got a mapping with key "vuln"',
    );
  });

  it("reports every problem, sorted by position, one line each", () => {
    const text = "metadata: {name: Bad_Name}\nrun: {command: x, port: 0}\nextra: 1\n";
    let message = "";
    assert.throws(
      () => parseServiceSpec(text, "svc/waybill.yaml"),
      (error: unknown) => error instanceof SpecError && ((message = error.message), true),
    );
    const lines = message.split("\n");
    assert.equal(lines.length, 3);
    assert.match(lines[0] ?? "", /^svc\/waybill\.yaml:1:18: metadata\.name: expected a lowercase DNS label/);
    assert.match(lines[1] ?? "", /^svc\/waybill\.yaml:2:25: run\.port: expected at least 1, got 0$/);
    assert.match(lines[2] ?? "", /^svc\/waybill\.yaml:3:1: extra: unknown field "extra"/);
  });

  it("caps the message at ten issues", () => {
    const env = Array.from({ length: 14 }, (_, index) => `    V${index}: ${index}`).join("\n");
    let error: unknown;
    try {
      parseServiceSpec(`metadata: {name: a}\nrun:\n  command: x\n  env:\n${env}\n`, "waybill.yaml");
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof SpecError);
    assert.equal(error.issues.length, 14);
    const lines = error.message.split("\n");
    assert.equal(lines.length, 11);
    assert.equal(lines[10], "…and 4 more");
  });

  it("is a UserError that exits 2", () => {
    assert.throws(
      () => parseServiceSpec("[]", "waybill.yaml"),
      (error: unknown) => error instanceof UserError && error.exitCode === 2,
    );
  });

  it("points SLO problems into the slo file that waybill.yaml names", () => {
    const file = join(fixturesDir, "spec", "malformed", "bad-slo-file-ref.yaml");
    assert.throws(
      () => loadServiceSpec(file),
      (error: unknown) =>
        error instanceof SpecError &&
        error.issues[0]?.file === join(fixturesDir, "spec", "malformed", "bad-slo-file-ref.slo.yaml"),
    );
  });

  it("validates a standalone Keptn SLO with its own field paths", () => {
    assert.throws(
      () => parseSlo("objectives:\n  - {sli: a, weight: heavy}\n", "slo.yaml"),
      /slo\.yaml:2:22: objectives\[0\]\.weight: expected a number, got string "heavy"$/,
    );
  });

  it("names a file it cannot read", () => {
    assert.throws(
      () => loadServiceSpec("no/such/waybill.yaml"),
      /cannot read no\/such\/waybill\.yaml: no such file/,
    );
  });
});

describe("formatPath", () => {
  const cases: [PropertyKey[], string][] = [
    [[], ""],
    [["stages", 1, "strategy"], "stages[1].strategy"],
    [["requires", 0, "slo-evaluation"], "requires[0].slo-evaluation"],
    [["headers", "x.y"], 'headers["x.y"]'],
  ];
  for (const [path, text] of cases) {
    it(`writes ${JSON.stringify(path)} as ${text || "an empty string"}`, () =>
      assert.equal(formatPath(path), text));
  }
});
