import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fixturesDir } from "../testing/paths.js";
import { cgroupDirectory, commandInCgroup, parseCgroupMounts, parseProcCgroup } from "./cgroups.js";
import { RuntimeHarness, STAGE, httpRequest } from "./test-harness.js";
import { errorMessage } from "../errors.js";

const appScript = join(fixturesDir, "runtime", "app.mjs");
const procFixture = (name: string): string =>
  readFileSync(join(fixturesDir, "runtime", "proc", name), "utf8");

test("reads cgroup memberships and mounts of a v1/v2 hybrid host", () => {
  const memberships = parseProcCgroup(procFixture("cgroup-hybrid.txt"));
  assert.deepEqual(
    memberships.find((entry) => entry.hierarchyId === 2),
    {
      hierarchyId: 2,
      controllers: ["cpu", "cpuacct"],
      path: "/user.slice",
    },
  );
  assert.deepEqual(
    memberships.find((entry) => entry.hierarchyId === 9)?.controllers,
    [],
    "name= is no controller",
  );
  const mounts = parseCgroupMounts(procFixture("mountinfo-hybrid.txt"));
  assert.deepEqual(
    mounts.map(({ version, mountPoint, controllers }) => [version, mountPoint, controllers.join(",")]),
    [
      [1, "/sys/fs/cgroup/cpu,cpuacct", "cpu,cpuacct"],
      [1, "/sys/fs/cgroup/cpuset", "cpuset"],
      [1, "/sys/fs/cgroup/memory", "memory"],
      [1, "/sys/fs/cgroup/pids", "pids"],
      [1, "/sys/fs/cgroup/systemd", ""],
      [2, "/sys/fs/cgroup/unified", ""],
    ],
  );
  assert.equal(cgroupDirectory(memberships, mounts, "cpu"), "/sys/fs/cgroup/cpu,cpuacct/user.slice");
  assert.equal(
    cgroupDirectory(memberships, mounts, "memory"),
    "/sys/fs/cgroup/memory/user.slice/user-1000.slice/session-3.scope",
  );
  assert.equal(
    cgroupDirectory(memberships, mounts, "unified"),
    "/sys/fs/cgroup/unified/user.slice/user-1000.slice/session-3.scope",
  );
});

test("maps a cgroup path into a mount of a subtree, with escaped characters and colons", () => {
  const memberships = parseProcCgroup(procFixture("cgroup-v2-namespaced.txt"));
  assert.deepEqual(memberships, [
    { hierarchyId: 0, controllers: [], path: "/kubepods.slice/pod 1/app:with:colons" },
  ]);
  const mounts = parseCgroupMounts(procFixture("mountinfo-v2-namespaced.txt"));
  assert.deepEqual(mounts, [
    { version: 2, mountPoint: "/sys/fs/cgroup", root: "/kubepods.slice/pod 1", controllers: [] },
  ]);
  assert.equal(cgroupDirectory(memberships, mounts, "unified"), "/sys/fs/cgroup/app:with:colons");
  assert.equal(cgroupDirectory(memberships, mounts, "cpu"), null, "no v1 hierarchy");
  const outside = parseProcCgroup("0::/elsewhere\n");
  assert.equal(cgroupDirectory(outside, mounts, "unified"), null, "not below the mounted subtree");
});

test("an app joins its cgroup through sh before exec, keeping its argv intact", () => {
  const argv = commandInCgroup(
    ["/cg/cpu/a/cgroup.procs", "/cg/memory/a/cgroup.procs"],
    ["node", "a b.js", "$HOME"],
  );
  assert.deepEqual(argv.slice(0, 2), ["/bin/sh", "-c"]);
  assert.deepEqual(argv.slice(3), [
    "waybill-cgroup-join",
    "2",
    "/cg/cpu/a/cgroup.procs",
    "/cg/memory/a/cgroup.procs",
    "node",
    "a b.js",
    "$HOME",
  ]);
});

test("an instance with limits runs in a cgroup of its own, throttled to its CPU quota", async (t) => {
  const harness = await RuntimeHarness.create(appScript);
  try {
    const runtime = harness.runtime();
    await runtime.start();
    const proxy = await runtime.ensureProxy(STAGE);
    const identity = harness.identity("limited");
    const memoryBytes = 256 * 1024 * 1024;
    identity.launch.limits = { cpuMillicores: 250, memoryBytes };
    const instance = await runtime.startInstance(identity);
    const notEnforced = harness.errors.find((error) => /limits are not enforced/.test(errorMessage(error)));
    if (notEnforced !== undefined) {
      t.skip(`this host cannot give instances cgroups: ${errorMessage(notEnforced)}`);
      return;
    }
    assert.deepEqual(harness.errors, []);

    const groupName = `waybill-${harness.controlPlaneId}/limited`;
    const memberships = parseProcCgroup(readFileSync(`/proc/${instance.pid}/cgroup`, "utf8"));
    const mounts = parseCgroupMounts(readFileSync("/proc/self/mountinfo", "utf8"));
    const v1Cpu = cgroupDirectory(memberships, mounts, "cpu");
    const dirs: string[] = [];
    if (v1Cpu?.endsWith(groupName)) {
      const memoryDir = cgroupDirectory(memberships, mounts, "memory") ?? "";
      assert.ok(memoryDir.endsWith(groupName), `memory cgroup ${memoryDir}`);
      assert.equal(readFileSync(join(v1Cpu, "cpu.cfs_quota_us"), "utf8").trim(), "25000");
      assert.equal(
        readFileSync(join(memoryDir, "memory.limit_in_bytes"), "utf8").trim(),
        String(memoryBytes),
      );
      dirs.push(v1Cpu, memoryDir);
    } else {
      const unified = cgroupDirectory(memberships, mounts, "unified") ?? "";
      assert.ok(unified.endsWith(groupName), `cgroup ${unified}`);
      assert.equal(readFileSync(join(unified, "cpu.max"), "utf8").trim(), "25000 100000");
      assert.equal(readFileSync(join(unified, "memory.max"), "utf8").trim(), String(memoryBytes));
      dirs.push(unified);
    }

    await runtime.setRoutes(STAGE, { stable: "limited", candidate: null, candidateWeight: 0 });
    const sampler = runtime.startProcessSampler("limited");
    const startedAt = Date.now();
    assert.equal((await httpRequest(proxy.port, "/burn?ms=200")).status, 200);
    const wallSeconds = (Date.now() - startedAt) / 1000;
    const metrics = await sampler.stop();
    // A quarter of a CPU: 0.2 s of CPU time takes at least 0.8 s.
    assert.ok(metrics.cpuSeconds >= 0.19, `${metrics.cpuSeconds}s CPU`);
    assert.ok(wallSeconds >= 0.6, `0.2 s of CPU time in ${wallSeconds}s`);
    assert.ok(
      metrics.cpuSeconds <= 0.25 * wallSeconds + 0.15,
      `${metrics.cpuSeconds}s CPU in ${wallSeconds}s`,
    );
    assert.ok(
      metrics.cpuThrottledPct !== null && metrics.cpuThrottledPct > 30,
      `${metrics.cpuThrottledPct}%`,
    );

    await runtime.stopInstance("limited", 0);
    for (const dir of dirs) assert.equal(existsSync(dir), false, `${dir} is removed with its instance`);
    await runtime.close({ stopInstances: true });
    for (const dir of dirs)
      assert.equal(existsSync(dirname(dir)), false, `${dirname(dir)} is removed at close`);
    assert.deepEqual(harness.errors, []);
  } finally {
    assert.deepEqual(await harness.finish(), []);
  }
});
