import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { UserError } from "../../errors.js";
import { cluster124, servedBy124 } from "../../kube/testing/cluster-1.24.js";
import { FakeApiServer } from "../../kube/testing/fake-api-server.js";
import { runCli, runCommand } from "../../testing/cli.js";
import { fixturesDir, repoRoot } from "../../testing/paths.js";
import { upgradeCheckCommand } from "./upgrade-check.js";

const corpus = join(fixturesDir, "kube", "upgrade");
const hello = join(repoRoot, "examples", "hello");

async function upgradeCheck(args: string[], options: Record<string, unknown>) {
  return runCommand(upgradeCheckCommand, args, { stage: [], ...options });
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
  ];
  for (const [what, args, options, message] of cases) {
    it(`refuses ${what}`, () =>
      assert.rejects(
        upgradeCheck(args, options),
        (error: unknown) => error instanceof UserError && error.exitCode === 2 && message.test(error.message),
      ));
  }
});

describe("waybill upgrade-check --live against the fake API server", () => {
  /** A 1.24 cluster holding objects written with APIs 1.25 and 1.29 remove */
  const old = new FakeApiServer({ served: servedBy124 });
  /** A 1.29 cluster holding only objects written with current APIs */
  const clean = new FakeApiServer({
    served: [
      "v1",
      "apps/v1",
      "batch/v1",
      "policy/v1",
      "autoscaling/v2",
      "autoscaling/v1",
      "networking.k8s.io/v1",
    ],
  });
  const dir = mkdtempSync(join(tmpdir(), "waybill-upgrade-check-live-"));
  const env = { KUBECONFIG: join(dir, "kubeconfig") };
  const webFile = join(corpus, "apps", "web.yaml");

  before(async () => {
    await Promise.all([old.start(), clean.start()]);
    for (const object of cluster124) old.seed(object);
    for (const object of cluster124.filter((item) => ["Deployment", "Ingress"].includes(item.kind))) {
      clean.seed(object);
    }
    const contexts: [string, string, string][] = [
      ["old", old.url, old.token],
      ["clean", clean.url, clean.token],
      ["stale-token", old.url, "expired"],
      ["down", "http://127.0.0.1:1", old.token],
    ];
    writeFileSync(
      env.KUBECONFIG,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        // Plain http to the fake: the client wants TLS verification off for it.
        clusters: contexts.map(([name, server]) => ({
          name,
          cluster: { server, "insecure-skip-tls-verify": true },
        })),
        users: contexts.map(([name, , token]) => ({ name, user: { token } })),
        contexts: contexts.map(([name]) => ({ name, context: { cluster: name, user: name } })),
        "current-context": "clean",
      }),
    );
  });
  after(async () => {
    await Promise.all([old.close(), clean.close()]);
    rmSync(dir, { recursive: true, force: true });
  });
  const waybill = (...args: string[]) =>
    runCli(["upgrade-check", ...args], { stateDir: join(dir, "state"), env, timeoutMs: 30_000 });

  it("exits 1 and names the objects last applied or written with removed APIs, and how that is known", async () => {
    const { code, stdout, stderr } = await waybill("--kube-version", "1.25", "--live", "old");
    assert.equal(stderr, "");
    assert.equal(code, 1);
    assert.equal(
      stdout,
      "live:old: PodSecurityPolicy/restricted is served only as policy/v1beta1, removed in 1.25; no replacement API: migrate to Pod Security Admission or a third-party admission webhook\n" +
        "live:old/shop: CronJob/nightly was last applied as batch/v1beta1, removed in 1.25; use apiVersion: batch/v1\n" +
        'live:old/shop: PodDisruptionBudget/web was written as policy/v1beta1 by field manager "helm", removed in 1.25; use apiVersion: policy/v1\n' +
        "3 objects would break on Kubernetes 1.25 (7 objects checked)\n",
    );
  });

  it("prints live findings in the --json shape, with file live:<context>[/<namespace>] and line 0", async () => {
    const { code, stdout } = await waybill("--kube-version", "1.29", "--live", "old", "--json", webFile);
    assert.equal(code, 1);
    const { findings } = JSON.parse(stdout) as { findings: FindingJson[] };
    assert.deepEqual(
      findings.map(({ file, line, kind, name }) => `${file}:${line} ${kind}/${name}`),
      [
        `${webFile}:2 Deployment/web`,
        `${webFile}:14 Ingress/web`,
        "live:old:0 PodSecurityPolicy/restricted",
        "live:old/shop:0 CronJob/nightly",
        "live:old/shop:0 PodDisruptionBudget/web",
        "live:old:0 FlowSchema/batch-jobs",
      ],
    );
    assert.deepEqual(findings.at(-1), {
      file: "live:old",
      line: 0,
      apiVersion: "flowcontrol.apiserver.k8s.io/v1beta2",
      kind: "FlowSchema",
      name: "batch-jobs",
      removedIn: "1.29",
      replacement: "flowcontrol.apiserver.k8s.io/v1",
    });
  });

  it("exits 0 for a cluster whose objects were all written with current APIs", async () => {
    const { code, stdout } = await waybill("--kube-version", "1.32", "--live", "clean");
    assert.equal(code, 0);
    assert.equal(
      stdout,
      "ok: nothing uses an API removed in Kubernetes 1.32 or earlier (2 objects checked)\n",
    );
  });

  const refusals: [string, string, RegExp][] = [
    [
      "an unknown context",
      "prod",
      /^error: --live: no kubeconfig context "prod"; the contexts are old, clean, stale-token, down \(kubeconfig: \$KUBECONFIG, else ~\/\.kube\/config\)\n$/,
    ],
    [
      "credentials the API server refuses",
      "stale-token",
      /^error: the API server of kubeconfig context "stale-token" \(http:\/\/127\.0\.0\.1:\d+\) refused its credentials \(HTTP 401\) when asked to discover the API groups: log in again or fix the context's user\n$/,
    ],
    [
      "a server nobody listens on",
      "down",
      /^error: cannot reach the API server of kubeconfig context "down" \(http:\/\/127\.0\.0\.1:1\): request to http:\/\/127\.0\.0\.1:1\/apis failed, reason: connect ECONNREFUSED 127\.0\.0\.1:1\n$/,
    ],
  ];
  for (const [what, context, message] of refusals) {
    it(`exits 2 with one line and no stack trace for ${what}`, async () => {
      const { code, stdout, stderr } = await waybill("--kube-version", "1.25", "--live", context);
      assert.equal(code, 2);
      assert.equal(stdout, "");
      assert.match(stderr, message);
    });
  }
});
