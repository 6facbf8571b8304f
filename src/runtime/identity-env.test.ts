import { describe, it, test } from "node:test";
import assert from "node:assert/strict";
import { expandPort, instanceEnvironment } from "./identity-env.js";
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

describe("$PORT in a command", () => {
  const cases: Array<[string[], string[]]> = [
    [
      ["gunicorn", "app:app", "--bind", "127.0.0.1:$PORT"],
      ["gunicorn", "app:app", "--bind", "127.0.0.1:8123"],
    ],
    [
      ["uvicorn", "main:app", "--port", "${PORT}"],
      ["uvicorn", "main:app", "--port", "8123"],
    ],
    [
      ["node", "server.js"],
      ["node", "server.js"],
    ],
    [
      ["echo", "$PORTAL", "$HOME"],
      ["echo", "$PORTAL", "$HOME"],
    ],
  ];
  for (const [command, expanded] of cases) {
    it(`expands ${command.join(" ")} without a shell`, () =>
      assert.deepEqual(expandPort(command, 8123), expanded));
  }
});
