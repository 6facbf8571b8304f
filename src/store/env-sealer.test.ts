import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EnvSealer } from "./env-sealer.js";

const sealer = EnvSealer.fromKey(EnvSealer.newKey());

describe("environment values at rest", () => {
  for (const value of ["", "password", "ünïcödé ✓", "a".repeat(10_000), "line\nbreak"]) {
    test(`a sealed value opens to what it was (${JSON.stringify(value.slice(0, 12))})`, () => {
      const sealed = sealer.seal(value);
      assert.ok(!sealed.includes(value) || value === "", "the sealed form does not hold the value");
      assert.equal(sealer.open(sealed), value);
    });
  }

  test("sealing twice gives different forms, and a sealed value is not sealed again", () => {
    const once = sealer.seal("secret");
    assert.notEqual(sealer.seal("secret"), once);
    assert.equal(sealer.seal(once), once);
  });

  test("an altered sealed value is refused", () => {
    const sealed = sealer.seal("secret");
    const last = sealed.at(-1) === "A" ? "B" : "A";
    assert.throws(() => sealer.open(sealed.slice(0, -1) + last), /altered, or sealed elsewhere/);
  });

  test("a value sealed under another state's key is refused", () => {
    const other = EnvSealer.fromKey(EnvSealer.newKey());
    assert.throws(() => other.open(sealer.seal("secret")), /altered, or sealed elsewhere/);
  });

  test("only run.env and build.env of a spec are sealed", () => {
    const spec = {
      metadata: { name: "shop" },
      run: { command: "node s.js", env: { DB: "pw" } },
      build: { env: { T: "t" } },
    };
    const sealed = sealer.sealSpec(spec) as typeof spec;
    assert.notEqual(sealed.run.env.DB, "pw");
    assert.notEqual(sealed.build.env.T, "t");
    assert.equal(sealed.run.command, "node s.js");
    assert.deepEqual(sealer.openSpec(sealed), spec);
  });
});
