import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { CliContext } from "../command.js";
import { UserError } from "../../errors.js";
import { fixturesDir, repoRoot } from "../../testing/paths.js";
import { upgradeCheckCommand } from "./upgrade-check.js";

const corpus = join(fixturesDir, "kube", "upgrade");
const hello = join(repoRoot, "examples", "hello");

async function upgradeCheck(args: string[], options: Record<string, unknown>) {
  let stdout = "";
  const context: CliContext = { stateDir: ".waybill", stdout: (text) => (stdout += text), stderr: () => {} };
  const exitCode = await upgradeCheckCommand.run(args, { stage: [], ...options }, context);
  return { exitCode, stdout };
}

interface FindingJson {
  file: string;
  line: number;
  apiVersion: string;
  kind: string;
  name: string;
  removedIn: string;
  replacement: string;
}

async function findingsFor(kubeVersion: string): Promise<FindingJson[]> {
  const { stdout } = await upgradeCheck([corpus], { kubeVersion, json: true });
  return (JSON.parse(stdout) as { findings: FindingJson[] }).findings;
}

describe("waybill upgrade-check on the corpus", () => {
  // Every removed object in the corpus, in the order the files are read (sorted paths), with
  // the release that removes it: one or more from each release in the migration guide.
  const corpusRemovals: [string, number][] = [
    ["CronJob/nightly", 25],
    ["PodDisruptionBudget/web", 25],
    ["HorizontalPodAutoscaler/web", 26],
    ["Deployment/web", 16],
    ["Ingress/web", 22],
    ["FlowSchema/batch-jobs", 29],
    ["PriorityLevelConfiguration/batch", 32],
    ["PodSecurityPolicy/restricted", 25],
    ["CSIStorageCapacity/fast-zone-a", 27],
  ];
  for (const minor of [15, 16, 22, 25, 26, 27, 29, 32]) {
    const expected = corpusRemovals.filter(([, removedIn]) => removedIn <= minor).map(([object]) => object);
    it(`1.${minor}: ${expected.length} objects would break`, async () => {
      const findings = await findingsFor(`1.${minor}`);
      assert.deepEqual(
        findings.map(({ kind, name }) => `${kind}/${name}`),
        expected,
      );
    });
  }

  it("gives file, document start line, removal and replacement in --json", async () => {
    const findings = await findingsFor("1.32");
    assert.deepEqual(
      findings.find((finding) => finding.kind === "Ingress"),
      {
        file: join(corpus, "apps", "web.yaml"),
        line: 14,
        apiVersion: "networking.k8s.io/v1beta1",
        kind: "Ingress",
        name: "web",
        removedIn: "1.22",
        replacement: "networking.k8s.io/v1",
      },
    );
    assert.equal(
      findings.find((finding) => finding.kind === "FlowSchema")?.line,
      5,
      "a List item's own line",
    );
  });

  it("exits 1 and prints one line per finding and a summary", async () => {
    const { exitCode, stdout } = await upgradeCheck([join(corpus, "apps", "web.yaml")], {
      kubeVersion: "v1.22.3",
    });
    assert.equal(exitCode, 1);
    assert.equal(
      stdout,
      `${join(corpus, "apps", "web.yaml")}:2: Deployment/web uses extensions/v1beta1, removed in 1.16; use apiVersion: apps/v1\n` +
        `${join(corpus, "apps", "web.yaml")}:14: Ingress/web uses networking.k8s.io/v1beta1, removed in 1.22; use apiVersion: networking.k8s.io/v1\n` +
        "2 objects would break on Kubernetes 1.22 (3 objects checked)\n",
    );
  });

  it("exits 0 when nothing would break, skipping files that are not manifests", async () => {
    const { exitCode, stdout } = await upgradeCheck([join(corpus, "current")], { kubeVersion: "1.32" });
    assert.equal(exitCode, 0);
    assert.equal(
      stdout,
      "ok: nothing uses an API removed in Kubernetes 1.32 or earlier (2 objects checked)\n",
    );
  });

  it("checks rendered stages of a waybill.yaml", async () => {
    const { exitCode, stdout } = await upgradeCheck([], {
      kubeVersion: "1.32",
      stage: ["dev", "staging"],
      file: hello,
    });
    assert.equal(exitCode, 0);
    assert.match(stdout, /\(5 objects checked\)/);
  });
});

describe("waybill upgrade-check bad input (exit 2)", () => {
  const dir = mkdtempSync(join(tmpdir(), "waybill-upgrade-check-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const broken = join(dir, "broken.yaml");
  writeFileSync(broken, "apiVersion: v1\nkind: [Service\n");

  const cases: [string, string[], Record<string, unknown>, RegExp][] = [
    ["a bad version", [corpus], { kubeVersion: "latest" }, /invalid Kubernetes version/],
    ["a missing path", [join(dir, "nope")], { kubeVersion: "1.30" }, /no such file or folder/],
    ["a YAML syntax error", [broken], { kubeVersion: "1.30" }, /broken\.yaml:\d+:\d+: YAML syntax error/],
    ["nothing to check", [], { kubeVersion: "1.30" }, /nothing to check/],
    ["an unknown stage", [], { kubeVersion: "1.30", stage: ["qa"], file: hello }, /no stage "qa"/],
    ["--live", [corpus], { kubeVersion: "1.30", live: "prod" }, /--live is not available yet/],
  ];
  for (const [what, args, options, message] of cases) {
    it(`refuses ${what}`, () =>
      assert.rejects(
        upgradeCheck(args, options),
        (error: unknown) => error instanceof UserError && error.exitCode === 2 && message.test(error.message),
      ));
  }
});
