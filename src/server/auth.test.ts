import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { UserError } from "../errors.js";
import { TokenRegistry } from "./auth.js";

const root = mkdtempSync(join(tmpdir(), "waybill-auth-"));
after(() => rmSync(root, { recursive: true, force: true }));

let count = 0;
function stateWithTokens(content: string, mode = 0o600): string {
  const stateDir = join(root, `state-${++count}`);
  mkdirSync(stateDir);
  const file = join(stateDir, "tokens.json");
  writeFileSync(file, content, { mode });
  chmodSync(file, mode);
  return stateDir;
}

function loadError(stateDir: string): UserError {
  try {
    TokenRegistry.load(stateDir);
  } catch (error) {
    if (error instanceof UserError) return error;
    throw error;
  }
  assert.fail("the tokens file was accepted");
}

const ci = { name: "ci", role: "developer", token: "ci-token-0123456789abcdef" };

describe("the tokens file", () => {
  test("gives each listed token its role", async () => {
    const registry = TokenRegistry.load(stateWithTokens(JSON.stringify([ci])));
    assert.deepEqual(await registry.authenticate(`Bearer ${ci.token}`), { name: "ci", role: "developer" });
    assert.equal(await registry.authenticate("Bearer not-a-token-at-all-000"), undefined);
  });

  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    test(`is refused while others may read or write it (mode ${mode.toString(8)})`, () => {
      const error = loadError(stateWithTokens(JSON.stringify([ci]), mode));
      assert.equal(error.exitCode, 2);
      assert.match(error.message, new RegExp(`mode 0${mode.toString(8)}.*chmod 600 .*tokens\\.json`));
    });
  }

  const malformed: [string, string, RegExp][] = [
    ["broken JSON", '[{"name": "ci",\n  "role": }]', /tokens\.json(:2:11)?: not valid JSON \(.*"role": }/],
    ["not a list", JSON.stringify(ci), /tokens\.json: the file: .*expected array/],
    ["an unknown role", JSON.stringify([{ ...ci, role: "root" }]), /entry 1, role: .*"viewer"/],
    ["a short token", JSON.stringify([{ ...ci, token: "short" }]), /entry 1, token: a token is 16 to 512/],
    ["a token with a space", JSON.stringify([{ ...ci, token: "has a space in it 0123" }]), /entry 1, token/],
    ["an unknown field", JSON.stringify([{ ...ci, admin: true }]), /entry 1: .*admin/],
    [
      "a name given twice",
      JSON.stringify([ci, { ...ci, token: "another-token-0123456789" }]),
      /"ci" is given twice/,
    ],
    ["a token given twice", JSON.stringify([ci, { ...ci, name: "ci2" }]), /token of "ci2" is also another's/],
  ];
  for (const [what, content, message] of malformed) {
    test(`with ${what} is refused with where and why, as a user error`, () => {
      const error = loadError(stateWithTokens(content));
      assert.equal(error.exitCode, 2);
      assert.match(error.message, message);
    });
  }
});
