import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { UserError } from "../errors.js";
import { kubeConfigForServer } from "./apply.js";
import {
  lastAppliedAnnotation,
  listLiveObjects,
  resourcesToList,
  writtenVersions,
  type LiveObject,
  type ServedResource,
} from "./live-objects.js";
import { cluster124, servedBy124 } from "./testing/cluster-1.24.js";
import { FakeApiServer } from "./testing/fake-api-server.js";
import { upgradeFindings } from "./upgrade-check.js";

const lastApplied = (apiVersion: string) => ({
  [lastAppliedAnnotation]: JSON.stringify({ apiVersion, kind: "Deployment", metadata: { name: "web" } }),
});
const manager = (name: string, apiVersion: string) => ({ manager: name, operation: "Update", apiVersion });

describe("writtenVersions: the versions a listed object was written with", () => {
  const listed = { apiVersion: "apps/v1", kind: "Deployment" };
  const cases: [string, unknown, Pick<LiveObject, "apiVersion" | "writtenWith">[]][] = [
    [
      "the last-applied-configuration's apiVersion, not the version it was listed at",
      { metadata: { name: "web", namespace: "shop", annotations: lastApplied("extensions/v1beta1") } },
      [{ apiVersion: "extensions/v1beta1", writtenWith: { record: "last-applied" } }],
    ],
    [
      "the annotation over the field managers when both are there",
      {
        metadata: {
          name: "web",
          namespace: "shop",
          annotations: lastApplied("apps/v1"),
          managedFields: [manager("legacy-operator", "extensions/v1beta1")],
        },
      },
      [{ apiVersion: "apps/v1", writtenWith: { record: "last-applied" } }],
    ],
    [
      "each field manager's version without the annotation, managers grouped by version",
      {
        metadata: {
          name: "web",
          namespace: "shop",
          managedFields: [
            manager("helm", "extensions/v1beta1"),
            manager("kube-controller-manager", "apps/v1"),
            manager("kubectl-edit", "extensions/v1beta1"),
          ],
        },
      },
      [
        {
          apiVersion: "extensions/v1beta1",
          writtenWith: { record: "field-managers", managers: ["helm", "kubectl-edit"] },
        },
        {
          apiVersion: "apps/v1",
          writtenWith: { record: "field-managers", managers: ["kube-controller-manager"] },
        },
      ],
    ],
    [
      "the field managers when the annotation is not JSON",
      {
        metadata: {
          name: "web",
          namespace: "shop",
          annotations: { [lastAppliedAnnotation]: "{not json" },
          managedFields: [manager("kubectl-create", "apps/v1beta2")],
        },
      },
      [
        {
          apiVersion: "apps/v1beta2",
          writtenWith: { record: "field-managers", managers: ["kubectl-create"] },
        },
      ],
    ],
    [
      "the listed version when there is no record",
      { metadata: { name: "web", namespace: "shop", annotations: { team: "shop" } } },
      [{ apiVersion: "apps/v1", writtenWith: { record: "listed" } }],
    ],
    [
      "the listed version when managedFields entries carry no apiVersion",
      { metadata: { name: "web", namespace: "shop", managedFields: [{ manager: "odd" }, "junk"] } },
      [{ apiVersion: "apps/v1", writtenWith: { record: "listed" } }],
    ],
  ];
  for (const [what, item, expected] of cases) {
    it(`takes ${what}`, () => {
      assert.deepEqual(
        writtenVersions(item, listed, "live:prod"),
        expected.map((version) => ({
          file: "live:prod/shop",
          line: 0,
          kind: "Deployment",
          name: "web",
          ...version,
        })),
      );
    });
  }

  it("names a cluster-scoped object's file after the context alone, and an unnamed object with an empty name", () => {
    assert.deepEqual(
      writtenVersions(
        { metadata: {} },
        { apiVersion: "policy/v1beta1", kind: "PodSecurityPolicy" },
        "live:prod",
      ),
      [
        {
          file: "live:prod",
          line: 0,
          apiVersion: "policy/v1beta1",
          kind: "PodSecurityPolicy",
          name: "",
          writtenWith: { record: "listed" },
        },
      ],
    );
  });
});

describe("resourcesToList: one listable resource per kind that a release removes", () => {
  const resource = (
    groupVersion: string,
    kind: string,
    name: string,
    verbs = ["get", "list"],
  ): ServedResource => ({
    groupVersion,
    kind,
    resource: name,
    namespaced: true,
    verbs,
  });
  const deployments = (groupVersion: string) => resource(groupVersion, "Deployment", "deployments");
  const cases: [string, ServedResource[], string, string[]][] = [
    [
      "lists Deployments once, as apps/v1, when extensions/v1beta1 is served too",
      [deployments("extensions/v1beta1"), deployments("apps/v1"), deployments("apps/v1beta2")],
      "1.16",
      ["apps/v1 deployments"],
    ],
    [
      "lists a kind at a removed version when the cluster serves nothing newer",
      [resource("policy/v1beta1", "PodSecurityPolicy", "podsecuritypolicies")],
      "1.25",
      ["policy/v1beta1 podsecuritypolicies"],
    ],
    [
      "takes the version removed last when every served one is removed",
      [
        resource("extensions/v1beta1", "PodSecurityPolicy", "podsecuritypolicies"),
        resource("policy/v1beta1", "PodSecurityPolicy", "podsecuritypolicies"),
      ],
      "1.25",
      ["policy/v1beta1 podsecuritypolicies"],
    ],
    [
      "takes a version the target still serves even if a later one removes it",
      [
        resource("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", "flowschemas"),
        resource("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", "flowschemas"),
        resource("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "flowschemas"),
      ],
      "1.29",
      ["flowcontrol.apiserver.k8s.io/v1beta3 flowschemas"],
    ],
    [
      "takes a version of the kind's group that the table does not name (autoscaling/v1)",
      [
        resource("autoscaling/v2beta2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
        resource("autoscaling/v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
      ],
      "1.26",
      ["autoscaling/v1 horizontalpodautoscalers"],
    ],
    [
      "skips subresources, resources that cannot be listed and kinds of other groups",
      [
        resource("apps/v1", "Deployment", "deployments/status"),
        resource("authentication.k8s.io/v1", "TokenReview", "tokenreviews", ["create"]),
        resource("example.com/v1", "Ingress", "ingresses"),
      ],
      "1.32",
      [],
    ],
  ];
  for (const [what, served, kubeVersion, expected] of cases) {
    it(what, () => {
      assert.deepEqual(
        resourcesToList(served, kubeVersion).map((listed) => `${listed.groupVersion} ${listed.resource}`),
        expected,
      );
    });
  }
});

describe("listLiveObjects against the fake API server", () => {
  const server = new FakeApiServer({ served: servedBy124 });
  before(async () => {
    await server.start();
    for (const object of cluster124) server.seed(object);
  });
  after(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
    server.forbid = undefined;
  });
  const config = () => kubeConfigForServer(server.url, server.token);
  const brokenBy = async (kubeVersion: string) =>
    upgradeFindings((await listLiveObjects(config(), kubeVersion)).objects, kubeVersion).map(
      (finding) => `${finding.kind}/${finding.name} ${finding.apiVersion}`,
    );

  it("finds what objects were last applied or written with, which listing alone hides", async () => {
    assert.deepEqual(await brokenBy("1.25"), [
      "PodSecurityPolicy/restricted policy/v1beta1",
      "CronJob/nightly batch/v1beta1",
      "PodDisruptionBudget/web policy/v1beta1",
    ]);
    assert.deepEqual(await brokenBy("1.29"), [
      "PodSecurityPolicy/restricted policy/v1beta1",
      "CronJob/nightly batch/v1beta1",
      "PodDisruptionBudget/web policy/v1beta1",
      "FlowSchema/batch-jobs flowcontrol.apiserver.k8s.io/v1beta2",
    ]);
    assert.deepEqual(await brokenBy("1.24"), []);
  });

  it("counts each listed object once, and names where it lives", async () => {
    const inventory = await listLiveObjects(config(), "1.25");
    assert.equal(inventory.listed, 7);
    assert.deepEqual(
      inventory.objects.filter((object) => object.kind === "PodDisruptionBudget"),
      [
        {
          file: "live:waybill/shop",
          line: 0,
          apiVersion: "policy/v1beta1",
          kind: "PodDisruptionBudget",
          name: "web",
          writtenWith: { record: "field-managers", managers: ["helm"] },
        },
        {
          file: "live:waybill/shop",
          line: 0,
          apiVersion: "policy/v1",
          kind: "PodDisruptionBudget",
          name: "web",
          writtenWith: { record: "field-managers", managers: ["kube-controller-manager"] },
        },
      ],
    );
  });

  it("lists each kind once in all namespaces, at a version the target still serves, and never TokenReviews", async () => {
    await listLiveObjects(config(), "1.25");
    const lists = server.requests
      .map((request) => request.path)
      .filter((path) => path.split("/").length === 5);
    assert.deepEqual(lists, [
      "/apis/networking.k8s.io/v1/networkpolicies",
      "/apis/apps/v1/daemonsets",
      "/apis/apps/v1/deployments",
      "/apis/apps/v1/statefulsets",
      "/apis/apps/v1/replicasets",
      "/apis/policy/v1beta1/podsecuritypolicies",
      "/apis/networking.k8s.io/v1/ingresses",
      "/apis/networking.k8s.io/v1/ingressclasses",
      "/apis/batch/v1/cronjobs",
      "/apis/autoscaling/v2/horizontalpodautoscalers",
      "/apis/policy/v1/poddisruptionbudgets",
      "/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas",
      "/apis/flowcontrol.apiserver.k8s.io/v1beta2/prioritylevelconfigurations",
    ]);
  });

  it("follows continue tokens until the last page", async () => {
    const paged = new FakeApiServer({ served: ["apps/v1"] });
    await paged.start();
    try {
      for (const name of ["a", "b", "c", "d", "e"]) {
        paged.seed({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace: "shop" } });
      }
      const inventory = await listLiveObjects(kubeConfigForServer(paged.url, paged.token), "1.32", {
        pageSize: 2,
      });
      assert.equal(inventory.listed, 5);
      assert.deepEqual(
        inventory.objects.map((object) => object.name),
        ["a", "b", "c", "d", "e"],
      );
      const pages = paged.requests.filter((request) => request.path === "/apis/apps/v1/deployments");
      assert.deepEqual(
        pages.map((request) => [request.query.limit, request.query.continue !== undefined]),
        [
          ["2", false],
          ["2", true],
          ["2", true],
        ],
      );
    } finally {
      await paged.close();
    }
  });

  const refused: [string, () => void, () => ReturnType<typeof config>, RegExp][] = [
    [
      "a token the server refuses (401)",
      () => {},
      () => kubeConfigForServer(server.url, "stale-token"),
      /^the API server of kubeconfig context "waybill" \(http:\/\/127\.0\.0\.1:\d+\) refused its credentials \(HTTP 401\) when asked to discover the API groups/,
    ],
    [
      "a list RBAC forbids (403)",
      () => {
        server.forbid = (request) => request.path === "/apis/batch/v1/cronjobs";
      },
      config,
      /^kubeconfig context "waybill" may not list cronjobs\.batch in all namespaces: GET \/apis\/batch\/v1\/cronjobs is forbidden \(HTTP 403\)/,
    ],
    [
      "a server nobody listens on",
      () => {},
      () => kubeConfigForServer("http://127.0.0.1:1", server.token),
      /^cannot reach the API server of kubeconfig context "waybill" \(http:\/\/127\.0\.0\.1:1\): .*ECONNREFUSED/,
    ],
  ];
  for (const [what, arrange, kubeConfig, message] of refused) {
    it(`reports ${what} as the user's to fix`, async () => {
      arrange();
      await assert.rejects(
        listLiveObjects(kubeConfig(), "1.25"),
        (error: unknown) => error instanceof UserError && error.exitCode === 2 && message.test(error.message),
      );
    });
  }
});
