/**
 * Every file under test/fixtures/spec/malformed/ is a realistic mistake. `waybill validate`
 * must reject each with exit code 2 and a message that points at the right line, column and
 * field; expected.json says where.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { validateCommand } from "../cli/commands/validate.js";
import type { CliContext } from "../cli/command.js";
import { fixturesDir } from "../testing/paths.js";
import { SpecError } from "./load.js";

interface Expectation {
  /** The file the error points into, when it is not the file validated (a referenced slo.yaml) */
  file?: string;
  line: number;
  col: number;
  /** The field path, empty for YAML-level problems */
  path: string;
  /** A fragment of the explanation */
  message: string;
}

const corpusDir = join(fixturesDir, "spec", "malformed");
const expectations = JSON.parse(readFileSync(join(corpusDir, "expected.json"), "utf8")) as Record<
  string,
  Expectation
>;

const quietContext: CliContext = { stateDir: ".waybill", stdout: () => {}, stderr: () => {} };

async function validateError(file: string): Promise<SpecError> {
  try {
    await validateCommand.run([file], {}, quietContext);
  } catch (error) {
    if (error instanceof SpecError) return error;
    throw error;
  }
  assert.fail(`${file} validated, but it is malformed`);
}

describe("malformed waybill.yaml corpus", () => {
  it("has at least 32 cases, and an expectation for every file", () => {
    const referenced = new Set(Object.values(expectations).flatMap((expected) => expected.file ?? []));
    const files = readdirSync(corpusDir).filter((name) => name.endsWith(".yaml") && !referenced.has(name));
    assert.ok(files.length >= 32, `only ${files.length} cases`);
    assert.deepEqual(files.sort(), Object.keys(expectations).sort());
  });

  for (const [name, expected] of Object.entries(expectations)) {
    it(`rejects ${name} at ${expected.line}:${expected.col}${expected.path ? ` (${expected.path})` : ""}`, async () => {
      const file = join(corpusDir, name);
      const error = await validateError(file);
      assert.equal(error.exitCode, 2);
      const location = `${join(corpusDir, expected.file ?? name)}:${expected.line}:${expected.col}: `;
      const prefix = expected.path === "" ? location : `${location}${expected.path}: `;
      const firstLine = error.message.split("\n")[0] ?? "";
      assert.ok(firstLine?.startsWith(prefix), `expected "${prefix}…", got "${firstLine}"`);
      assert.ok(firstLine.includes(expected.message), `expected "${expected.message}" in "${firstLine}"`);
      assert.equal(error.issues[0]?.path, expected.path);
    });
  }
});
