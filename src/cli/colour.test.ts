import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { colourEnabled, paint } from "./colour.js";

describe("colour", () => {
  const cases: Array<{ name: string; env: NodeJS.ProcessEnv; tty: boolean; on: boolean }> = [
    { name: "is on for a terminal", env: {}, tty: true, on: true },
    { name: "is off for a pipe", env: {}, tty: false, on: false },
    { name: "is off with NO_COLOR, even on a terminal", env: { NO_COLOR: "1" }, tty: true, on: false },
    { name: "is forced on by FORCE_COLOR, even in a pipe", env: { FORCE_COLOR: "1" }, tty: false, on: true },
    { name: "is forced off by FORCE_COLOR=0", env: { FORCE_COLOR: "0" }, tty: true, on: false },
    {
      name: "lets FORCE_COLOR win over NO_COLOR",
      env: { FORCE_COLOR: "1", NO_COLOR: "1" },
      tty: false,
      on: true,
    },
  ];
  for (const { name, env, tty, on } of cases) {
    it(name, () => assert.equal(colourEnabled(env, tty), on));
  }

  it("wraps text in an SGR code only when enabled", () => {
    assert.equal(paint("failed", "red", true), "\u001b[31mfailed\u001b[0m");
    assert.equal(paint("failed", "red", false), "failed");
  });
});
