import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { UserError } from "../errors.js";
import { loadServiceSpec } from "../spec/load.js";
import type { ServiceSpec, StageSpec } from "../spec/schema.js";
import { fixturesDir, repoRoot } from "../testing/paths.js";
import { canaryReplicas, labelValue, renderStage, type K8sObject, type RenderOptions } from "./render.js";
import { schemaProblems } from "./schema-validation.js";

const goldenDir = join(fixturesDir, "kube", "golden");
/** WAYBILL_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing with them. */
const updateGolden = process.env.WAYBILL_UPDATE_GOLDEN === "1";

const hello = loadServiceSpec(join(repoRoot, "examples", "hello", "waybill.yaml")).spec;
const newImage = `registry.example.com/hello@sha256:${"1".repeat(64)}`;
const oldImage = `registry.example.com/hello@sha256:${"0".repeat(64)}`;
const release: RenderOptions = { version: "1.4.0", image: newImage, namespace: "hello-prod" };
const previous = { version: "1.3.2", image: oldImage };

function withStage(spec: ServiceSpec, name: string, change: Partial<StageSpec>): ServiceSpec {
  return {
    ...spec,
    stages: spec.stages.map((stage) => (stage.name === name ? { ...stage, ...change } : stage)),
  };
}

const canaryHello = (traffic: StageSpec["traffic"]) =>
  withStage(hello, "production", { strategy: "canary", traffic, replicas: 4 });

const goldenCases: { file: string; spec: ServiceSpec; stage: string; options: RenderOptions }[] = [
  { file: "direct.yaml", spec: hello, stage: "dev", options: { ...release, namespace: "hello-dev" } },
  {
    file: "blue-green-before-switch.yaml",
    spec: hello,
    stage: "staging",
    options: { ...release, namespace: "hello-staging", slot: "green", activeSlot: "blue", previous },
  },
  {
    file: "blue-green-switched.yaml",
    spec: hello,
    stage: "staging",
    options: { ...release, namespace: "hello-staging", slot: "green", previous },
  },
  {
    file: "canary-replicas.yaml",
    spec: canaryHello("replicas"),
    stage: "production",
    options: { ...release, canaryWeight: 25, previous },
  },
  {
    file: "canary-gateway-api.yaml",
    spec: canaryHello("gateway-api"),
    stage: "production",
    options: { ...release, canaryWeight: 10, previous },
  },
  {
    file: "canary-gateway-api-promoted.yaml",
    spec: canaryHello("gateway-api"),
    stage: "production",
    options: { ...release, gateway: { name: "public", namespace: "gateways" } },
  },
  {
    file: "canary-istio.yaml",
    spec: canaryHello("istio"),
    stage: "production",
    options: { ...release, canaryWeight: 50, previous },
  },
];

describe("renderStage golden files (examples/hello)", () => {
  for (const { file, spec, stage, options } of goldenCases) {
    it(`${file} matches, byte for byte, and passes the Kubernetes schemas`, () => {
      const rendered = renderStage(spec, stage, options);
      assert.deepEqual(schemaProblems(rendered.objects), []);
      assert.deepEqual(parse(rendered.yaml.split("---\n")[0] ?? ""), rendered.objects[0]);
      const path = join(goldenDir, file);
      if (updateGolden) {
        mkdirSync(goldenDir, { recursive: true });
        writeFileSync(path, rendered.yaml);
      }
      assert.equal(rendered.yaml, readFileSync(path, "utf8"));
      assert.equal(renderStage(spec, stage, options).yaml, rendered.yaml, "same input, same bytes");
    });
  }
});

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  assert.ok(found, `${kind}/${name} rendered`);
  return found;
}

interface ContainerView {
  image: string;
  env: { name: string; value?: string }[];
}

function container(deployment: K8sObject): ContainerView {
  const spec = deployment.spec as { template: { spec: { containers: ContainerView[] } } };
  const [first] = spec.template.spec.containers;
  assert.ok(first);
  return first;
}

function replicasOf(deployment: K8sObject): number {
  return (deployment.spec as { replicas: number }).replicas;
}

describe("renderStage", () => {
  it("renders one Deployment and one Service for direct", () => {
    const { objects } = renderStage(hello, "dev", release);
    assert.deepEqual(
      objects.map((object) => `${object.kind}/${object.metadata.name}`),
      ["Deployment/hello", "Service/hello"],
    );
    assert.equal(objects[0]?.metadata.namespace, "hello-prod");
    assert.equal(
      objects[0]?.metadata.annotations?.["waybill.dev/artifact-digest"],
      `sha256:${"1".repeat(64)}`,
    );
  });

  it("sizes a container with resources: auto from the recorded rightsizing recommendation", () => {
    const auto: ServiceSpec = { ...hello, resources: { cpu: "auto", memory: "auto" } };
    const { objects } = renderStage(auto, "dev", {
      ...release,
      recommendation: { cpu: "300m", memory: "192Mi" },
    });
    const container = (
      find(objects, "Deployment", "hello").spec as {
        template: { spec: { containers: { resources: unknown; env: { name: string; value?: string }[] }[] } };
      }
    ).template.spec.containers[0];
    assert.deepEqual(container?.resources, {
      requests: { cpu: "300m", memory: "192Mi" },
      limits: { cpu: "300m", memory: "192Mi" },
    });
    const nodeOptions = container?.env.find((variable) => variable.name === "NODE_OPTIONS")?.value;
    assert.equal(nodeOptions, "--max-old-space-size=144", "the runtime hints follow the recommended size");
  });

  it("keeps a declared limit beside an auto one", () => {
    const half: ServiceSpec = { ...hello, resources: { cpu: "auto", memory: "256Mi" } };
    const { objects } = renderStage(half, "dev", {
      ...release,
      recommendation: { cpu: "2", memory: "64Mi" },
    });
    const resources = (
      find(objects, "Deployment", "hello").spec as {
        template: { spec: { containers: { resources: { limits: Record<string, string> } }[] } };
      }
    ).template.spec.containers[0]?.resources.limits;
    assert.deepEqual(resources, { cpu: "2", memory: "256Mi" });
  });

  it("security mtls with traffic istio renders a STRICT PeerAuthentication for the stage's pods", () => {
    const meshed = withStage(hello, "production", { traffic: "istio", security: { mtls: true } });
    const { objects } = renderStage(meshed, "production", { ...release, previous });
    const peer = find(objects, "PeerAuthentication", "hello-mtls");
    assert.equal(peer.apiVersion, "security.istio.io/v1");
    assert.deepEqual(peer.spec, {
      selector: { matchLabels: { "app.kubernetes.io/name": "hello", "waybill.dev/stage": "production" } },
      mtls: { mode: "STRICT" },
    });
    assert.deepEqual(schemaProblems(objects), []);
  });

  it("security mtls on Linkerd annotates the pods for injection, and renders no mesh object", () => {
    const meshed = withStage(hello, "dev", { security: { mtls: true } });
    const { objects } = renderStage(meshed, "dev", release);
    const pod = (
      find(objects, "Deployment", "hello").spec as {
        template: { metadata: { annotations: Record<string, string> } };
      }
    ).template.metadata.annotations;
    assert.equal(pod["linkerd.io/inject"], "enabled");
    assert.ok(objects.every((object) => object.kind !== "PeerAuthentication"));
    const plain = renderStage(hello, "dev", release).objects;
    const plainPod = (
      find(plain, "Deployment", "hello").spec as {
        template: { metadata: { annotations: Record<string, string> } };
      }
    ).template.metadata.annotations;
    assert.equal(plainPod["linkerd.io/inject"], undefined, "no mesh without security.mtls");
  });

  it("leaves the namespace out when none is given", () => {
    const { objects } = renderStage(hello, "dev", { version: "1", image: newImage });
    assert.ok(objects.every((object) => !("namespace" in object.metadata)));
  });

  it("points the blue-green Service at the active slot and the preview at the new one", () => {
    const { objects } = renderStage(hello, "staging", {
      ...release,
      slot: "green",
      activeSlot: "blue",
      previous,
    });
    const selector = (name: string) =>
      (find(objects, "Service", name).spec as { selector: Record<string, string> }).selector;
    assert.equal(selector("hello")["waybill.dev/slot"], "blue");
    assert.equal(selector("hello-preview")["waybill.dev/slot"], "green");
    assert.equal(container(find(objects, "Deployment", "hello-green")).image, newImage);
    assert.equal(container(find(objects, "Deployment", "hello-blue")).image, oldImage);
  });

  it("renders only the new slot when there is no previous release", () => {
    const { objects } = renderStage(hello, "staging", { ...release, slot: "green" });
    assert.deepEqual(
      objects.filter((object) => object.kind === "Deployment").map((object) => object.metadata.name),
      ["hello-green"],
    );
  });

  it("refuses to make an empty slot active", () =>
    assert.throws(
      () => renderStage(hello, "staging", { ...release, slot: "green", activeSlot: "blue" }),
      (error: unknown) => error instanceof UserError && /blue slot cannot be active/.test(error.message),
    ));

  it("runs the promoted release on the stable track with no canary pods", () => {
    const { objects } = renderStage(canaryHello("replicas"), "production", release);
    assert.equal(replicasOf(find(objects, "Deployment", "hello-stable")), 4);
    assert.equal(replicasOf(find(objects, "Deployment", "hello-canary")), 0);
    assert.equal(container(find(objects, "Deployment", "hello-stable")).image, newImage);
  });

  it("weights the HTTPRoute backends", () => {
    const { objects } = renderStage(canaryHello("gateway-api"), "production", {
      ...release,
      canaryWeight: 10,
      previous,
    });
    const route = find(objects, "HTTPRoute", "hello").spec as {
      rules: { backendRefs: { name: string; weight: number }[] }[];
    };
    assert.deepEqual(
      route.rules[0]?.backendRefs.map(({ name, weight }) => [name, weight]),
      [
        ["hello-stable", 90],
        ["hello-canary", 10],
      ],
    );
  });

  it("lets the user's env win and keeps its $( from being expanded", () => {
    const spec: ServiceSpec = {
      ...hello,
      run: { ...hello.run, env: { UV_THREADPOOL_SIZE: "16", GREETING: "$(HOME)" } },
    };
    const env = container(find(renderStage(spec, "dev", release).objects, "Deployment", "hello")).env;
    assert.deepEqual(
      env.filter(({ name }) => name === "UV_THREADPOOL_SIZE" || name === "GREETING"),
      [
        { name: "UV_THREADPOOL_SIZE", value: "16" },
        { name: "GREETING", value: "$$(HOME)" },
      ],
    );
  });

  it("defines the Downward API variables before the hints that refer to them", () => {
    const spec: ServiceSpec = { ...hello, run: { ...hello.run, runtime: "go" } };
    const names = container(find(renderStage(spec, "dev", release).objects, "Deployment", "hello")).env.map(
      ({ name }) => name,
    );
    assert.ok(names.indexOf("WAYBILL_CPU_LIMIT_CORES") < names.indexOf("GOMAXPROCS"));
  });

  const refusals: [string, () => unknown, RegExp][] = [
    [
      "an image without a digest",
      () => renderStage(hello, "dev", { version: "1", image: "hello:1.4.0" }),
      /has no digest.*@sha256/,
    ],
    ["no image at all", () => renderStage(hello, "dev", { version: "1" }), /no image to render/],
    [
      "a digest that is not the image's",
      () => renderStage(hello, "dev", { ...release, digest: `sha256:${"2".repeat(64)}` }),
      /is not the digest of the image/,
    ],
    ["an unknown stage", () => renderStage(hello, "qa", release), /no stage "qa".*dev, staging, production/],
    [
      "a canary weight without the stable release",
      () => renderStage(canaryHello("replicas"), "production", { ...release, canaryWeight: 10 }),
      /needs the previous release/,
    ],
    [
      "a canary weight over 100",
      () => renderStage(canaryHello("replicas"), "production", { ...release, canaryWeight: 101, previous }),
      /0 to 100/,
    ],
  ];
  for (const [what, render, message] of refusals) {
    it(`refuses ${what}`, () =>
      assert.throws(render, (error: unknown) => error instanceof UserError && message.test(error.message)));
  }
});

describe("canaryReplicas", () => {
  const cases: [StageSpec["traffic"], number, number, { stable: number; canary: number }][] = [
    ["replicas", 4, 25, { stable: 3, canary: 1 }],
    ["replicas", 4, 50, { stable: 2, canary: 2 }],
    ["replicas", 10, 10, { stable: 9, canary: 1 }],
    ["replicas", 1, 10, { stable: 1, canary: 1 }],
    ["replicas", 4, 0, { stable: 4, canary: 0 }],
    ["replicas", 4, 100, { stable: 0, canary: 4 }],
    ["gateway-api", 4, 10, { stable: 4, canary: 1 }],
    ["istio", 4, 50, { stable: 4, canary: 2 }],
    ["gateway-api", 4, 0, { stable: 4, canary: 0 }],
  ];
  for (const [traffic, replicas, weight, expected] of cases) {
    it(`${traffic}: ${replicas} replicas at ${weight}%`, () =>
      assert.deepEqual(canaryReplicas(traffic, replicas, weight), expected));
  }
});

describe("labelValue", () => {
  const cases: [string, string][] = [
    ["1.4.0", "1.4.0"],
    ["1.4.0+build.7", "1.4.0_build.7"],
    ["-rc-", "rc"],
    ["x".repeat(70), "x".repeat(63)],
  ];
  for (const [text, expected] of cases)
    it(`${text.slice(0, 20)} → ${expected.slice(0, 20)}`, () => assert.equal(labelValue(text), expected));
});

describe("schemaProblems", () => {
  it("reports a misspelt field and a wrong type with where they are", () => {
    const { objects } = renderStage(hello, "dev", release);
    const [deployment, service] = objects as [K8sObject, K8sObject];
    const badDeployment = structuredClone(deployment);
    const pod = (badDeployment.spec as { template: { spec: { containers: Record<string, unknown>[] } } })
      .template.spec;
    const [first] = pod.containers;
    assert.ok(first);
    first.imagePulPolicy = "Always";
    const badService = structuredClone(service);
    (badService.spec as { ports: { port: unknown }[] }).ports[0]!.port = "eighty";
    assert.deepEqual(schemaProblems([badDeployment, badService]), [
      'Deployment/hello: /spec/template/spec/containers/0: unknown field "imagePulPolicy"',
      "Service/hello: /spec/ports/0/port: must be integer",
    ]);
  });

  /** A copy of `object` with the value at each JSON pointer replaced, or removed for undefined. */
  function changed(object: K8sObject, changes: [pointer: string, value: unknown][]): K8sObject {
    const copy = structuredClone(object);
    for (const [pointer, value] of changes) {
      const keys = pointer.split("/").slice(1);
      const last = keys.pop()!;
      let parent: Record<string, unknown> = copy;
      for (const key of keys) parent = parent[key] as Record<string, unknown>;
      if (value === undefined) delete parent[last];
      else parent[last] = value;
    }
    return copy;
  }

  const direct = renderStage(hello, "dev", release).objects;
  const deployment = find(direct, "Deployment", "hello");
  const service = find(direct, "Service", "hello");
  const canary = { ...release, canaryWeight: 10, previous };
  const route = find(
    renderStage(canaryHello("gateway-api"), "production", canary).objects,
    "HTTPRoute",
    "hello",
  );
  const virtualService = find(
    renderStage(canaryHello("istio"), "production", canary).objects,
    "VirtualService",
    "hello",
  );
  const firstContainer = "/spec/template/spec/containers/0";
  const backendRef = "/spec/rules/0/backendRefs/0";
  const destination = "/spec/http/0/route/0/destination";

  // Rows whose expected list is empty are bad objects the official schemas let through: the API
  // server checks those bounds in code, so they surface only at apply time (its dry run).
  const badObjects: {
    object: K8sObject;
    problem: string;
    changes: [string, unknown][];
    expected: string[];
  }[] = [
    {
      object: deployment,
      problem: "wrong type",
      changes: [["/spec/replicas", "two"]],
      expected: ["Deployment/hello: /spec/replicas: must be integer"],
    },
    {
      object: deployment,
      problem: "container without name and image (the schema requires only the name)",
      changes: [
        [`${firstContainer}/name`, undefined],
        [`${firstContainer}/image`, undefined],
      ],
      expected: [`Deployment/hello: ${firstContainer}: missing required field "name"`],
    },
    {
      object: deployment,
      problem: "containerPort out of range (not in the schema)",
      changes: [[`${firstContainer}/ports/0/containerPort`, 70000]],
      expected: [],
    },
    {
      object: deployment,
      problem: "misspelt fields",
      changes: [
        ["/spec/replica", 2],
        [`${firstContainer}/imagePullPolicyy`, "Always"],
        ["/spec/template/metadata/lables", {}],
      ],
      expected: [
        'Deployment/hello: /spec: unknown field "replica"',
        'Deployment/hello: /spec/template/metadata: unknown field "lables"',
        `Deployment/hello: ${firstContainer}: unknown field "imagePullPolicyy"`,
      ],
    },
    {
      object: service,
      problem: "wrong type",
      changes: [["/spec/ports/0/port", "eighty"]],
      expected: ["Service/hello: /spec/ports/0/port: must be integer"],
    },
    {
      object: service,
      problem: "port without its number",
      changes: [["/spec/ports/0/port", undefined]],
      expected: ['Service/hello: /spec/ports/0: missing required field "port"'],
    },
    {
      object: service,
      problem: "port out of range (not in the schema)",
      changes: [["/spec/ports/0/port", 70000]],
      expected: [],
    },
    {
      object: service,
      problem: "misspelt field",
      changes: [["/spec/selectr", {}]],
      expected: ['Service/hello: /spec: unknown field "selectr"'],
    },
    {
      object: route,
      problem: "wrong type",
      changes: [[`${backendRef}/weight`, "ten"]],
      expected: [`HTTPRoute/hello: ${backendRef}/weight: must be integer`],
    },
    {
      object: route,
      problem: "backendRef without name",
      changes: [[`${backendRef}/name`, undefined]],
      expected: [`HTTPRoute/hello: ${backendRef}: missing required field "name"`],
    },
    {
      object: route,
      problem: "port out of range",
      changes: [[`${backendRef}/port`, 70000]],
      expected: [`HTTPRoute/hello: ${backendRef}/port: must be <= 65535`],
    },
    {
      object: route,
      problem: "misspelt field",
      changes: [[`${backendRef}/weigth`, 1]],
      expected: [`HTTPRoute/hello: ${backendRef}: unknown field "weigth"`],
    },
    {
      object: virtualService,
      problem: "wrong type",
      changes: [["/spec/http/0/route/0/weight", "ten"]],
      expected: ["VirtualService/hello: /spec/http/0/route/0/weight: must be integer"],
    },
    {
      object: virtualService,
      problem: "destination without host",
      changes: [[`${destination}/host`, undefined]],
      expected: [`VirtualService/hello: ${destination}: missing required field "host"`],
    },
    {
      object: virtualService,
      problem: "port out of range (the schema bounds it as a uint32 only)",
      changes: [[`${destination}/port/number`, 70000]],
      expected: [],
    },
    {
      object: virtualService,
      problem: "misspelt field",
      changes: [[`${destination}/hots`, "hello-canary"]],
      expected: [`VirtualService/hello: ${destination}: unknown field "hots"`],
    },
  ];

  for (const { object, problem, changes, expected } of badObjects) {
    it(`${object.kind}: ${problem}`, () => {
      assert.deepEqual(schemaProblems([changed(object, changes)]), expected);
    });
  }

  it("skips an object of a kind without a schema", () => {
    const configMap: K8sObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" }, dataa: 1 };
    assert.deepEqual(schemaProblems([configMap]), []);
  });
});
