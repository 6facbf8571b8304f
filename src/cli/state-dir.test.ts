import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { stateDirFrom } from "./main.js";

describe("finding the state as git finds .git", () => {
  const root = mkdtempSync(join(tmpdir(), "waybill-state-dir-"));
  const project = join(root, "project");
  const deep = join(project, "services", "cart", "src");
  mkdirSync(join(project, ".waybill"), { recursive: true });
  mkdirSync(deep, { recursive: true });
  const saved = process.env.WAYBILL_STATE;
  after(() => {
    if (saved === undefined) delete process.env.WAYBILL_STATE;
    else process.env.WAYBILL_STATE = saved;
    rmSync(root, { recursive: true, force: true });
  });

  it("takes the nearest .waybill/ above the folder a command runs in", () => {
    delete process.env.WAYBILL_STATE;
    assert.equal(stateDirFrom({}, deep), join(project, ".waybill"));
  });

  it("takes ./.waybill where no folder above has one", () => {
    delete process.env.WAYBILL_STATE;
    assert.equal(stateDirFrom({}, root), join(root, ".waybill"));
  });

  it("lets WAYBILL_STATE and then --state win", () => {
    process.env.WAYBILL_STATE = join(root, "from-env");
    assert.equal(stateDirFrom({}, deep), join(root, "from-env"));
    assert.equal(stateDirFrom({ state: "elsewhere" }, deep), join(deep, "elsewhere"));
  });
});
