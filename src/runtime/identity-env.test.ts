import { test } from "node:test";
import assert from "node:assert/strict";
import { instanceEnvironment } from "./identity-env.js";
import type { InstanceIdentity } from "./types.js";

const identity: InstanceIdentity = {
  service: "shop",
  stage: "prod",
  id: "r1-candidate",
  runId: "r1",
  version: "1.2.3",
  digest: "sha256:abc",
  launch: {
    cwd: "/app",
    command: ["node", "server.js"],
    env: { LOG_LEVEL: "debug", PORT: "1" },
    healthPath: "/",
    healthTimeoutMs: 1,
  },
};

test("an app inherits the environment, gets its own, and cannot override its identity", () => {
  const env = instanceEnvironment(
    { PATH: "/usr/bin", WAYBILL_STATE: "/secret", WAYBILL_TOKEN: "t", UNSET: undefined },
    {
      ...identity,
      launch: { ...identity.launch, env: { ...identity.launch.env, WAYBILL_INSTANCE: "other" } },
    },
    8123,
    "cp-1",
  );
  assert.deepEqual(env, {
    PATH: "/usr/bin",
    LOG_LEVEL: "debug",
    PORT: "8123",
    WAYBILL_SERVICE: "shop",
    WAYBILL_STAGE: "prod",
    WAYBILL_VERSION: "1.2.3",
    WAYBILL_DIGEST: "sha256:abc",
    WAYBILL_INSTANCE: "r1-candidate",
    WAYBILL_CONTROL_PLANE: "cp-1",
  });
});
