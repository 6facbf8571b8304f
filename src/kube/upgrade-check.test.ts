import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UserError } from "../errors.js";
import {
  manifestObjects,
  parseKubeVersion,
  removedApis,
  upgradeFindings,
  type ManifestObject,
} from "./upgrade-check.js";

const at = (apiVersion: string, kind: string): ManifestObject => ({
  file: "m.yaml",
  line: 1,
  apiVersion,
  kind,
  name: "x",
});

describe("removed-apis.json", () => {
  it("covers every release in the migration guide", () =>
    assert.deepEqual(
      [...new Set(removedApis.map((api) => api.removedIn))],
      ["1.16", "1.22", "1.25", "1.26", "1.27", "1.29", "1.32"],
    ));

  it("lists each apiVersion and kind once", () => {
    const keys = removedApis.map((api) => `${api.apiVersion} ${api.kind}`);
    assert.equal(new Set(keys).size, keys.length);
  });
});

describe("parseKubeVersion", () => {
  const valid: [string, number][] = [
    ["1.29", 29],
    ["v1.32", 32],
    ["1.25.4", 25],
    [" v1.16.0 ", 16],
  ];
  for (const [text, minor] of valid)
    it(`reads ${JSON.stringify(text)}`, () => assert.equal(parseKubeVersion(text).minor, minor));
  for (const text of ["", "1", "latest", "1.x", "1.29-rc"]) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.throws(() => parseKubeVersion(text), UserError));
  }
});

describe("upgradeFindings", () => {
  const cases: [string, ManifestObject, string, string | undefined][] = [
    ["1.15", at("extensions/v1beta1", "Deployment"), "not removed yet", undefined],
    ["1.16", at("extensions/v1beta1", "Deployment"), "removed in its release", "apps/v1"],
    ["1.30", at("apps/v1beta2", "StatefulSet"), "removed long before", "apps/v1"],
    ["1.32", at("apps/v1", "Deployment"), "a current API", undefined],
    ["1.32", at("extensions/v1beta1", "NetworkPolicy"), "same group, other kind", "networking.k8s.io/v1"],
    ["1.21", at("networking.k8s.io/v1beta1", "Ingress"), "a release before its removal", undefined],
    [
      "1.26",
      at("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
      "whose replacement still works",
      "flowcontrol.apiserver.k8s.io/v1beta2",
    ],
    [
      "1.29",
      at("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
      "whose replacement is gone too",
      "flowcontrol.apiserver.k8s.io/v1",
    ],
    [
      "1.16",
      at("extensions/v1beta1", "PodSecurityPolicy"),
      "PodSecurityPolicy before 1.25",
      "policy/v1beta1",
    ],
    [
      "1.25",
      at("extensions/v1beta1", "PodSecurityPolicy"),
      "PodSecurityPolicy from 1.25",
      "no replacement API: migrate to Pod Security Admission or a third-party admission webhook",
    ],
    [
      "1.32",
      at("flowcontrol.apiserver.k8s.io/v1beta3", "PriorityLevelConfiguration"),
      "the newest removal",
      "flowcontrol.apiserver.k8s.io/v1",
    ],
  ];
  for (const [version, object, what, replacement] of cases) {
    it(`${object.apiVersion} ${object.kind} on ${version}: ${what}`, () => {
      const findings = upgradeFindings([object], version);
      assert.deepEqual(
        findings.map((finding) => finding.replacement),
        replacement === undefined ? [] : [replacement],
      );
    });
  }
});

describe("manifestObjects", () => {
  it("finds each document with the line it starts on", () => {
    const text = [
      "# leading comment",
      "apiVersion: apps/v1",
      "kind: Deployment",
      "metadata: {name: web}",
      "---",
      "",
      "apiVersion: v1",
      "kind: Service",
      "metadata:",
      "  name: web",
      "---",
      "just: values",
      "",
    ].join("\n");
    assert.deepEqual(
      manifestObjects(text, "m.yaml").map(({ line, kind, name }) => [line, kind, name]),
      [
        [2, "Deployment", "web"],
        [7, "Service", "web"],
      ],
    );
  });

  it("reads the items of a List", () => {
    const text =
      "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: batch/v1beta1\n    kind: CronJob\n    metadata: {name: a}\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n";
    assert.deepEqual(
      manifestObjects(text, "l.yaml").map(({ line, kind, name }) => [line, kind, name]),
      [
        [4, "CronJob", "a"],
        [7, "ConfigMap", "b"],
      ],
    );
  });

  it("reads JSON and an empty file", () => {
    assert.equal(
      manifestObjects('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}', "p.json")[0]?.name,
      "p",
    );
    assert.deepEqual(manifestObjects("", "empty.yaml"), []);
  });

  it("reports a syntax error with file and line as bad input", () =>
    assert.throws(
      () => manifestObjects("apiVersion: v1\nkind: [Service\n", "bad.yaml"),
      (error: unknown) =>
        error instanceof UserError && /^bad\.yaml:\d+:\d+: YAML syntax error/.test(error.message),
    ));
});
