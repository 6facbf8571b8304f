/**
 * The house rules that no single folder owns: each folder imports only what its README allows
 * (eslint.boundaries.mjs, run by `npm run lint`), and the published package carries no tests,
 * test doubles or harnesses.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ESLint } from "eslint";
import { repoRoot } from "./paths.js";

describe("folder boundaries", () => {
  const eslint = new ESLint({ cwd: repoRoot });
  const lint = async (file: string, code: string) =>
    (await eslint.lintText(code, { filePath: join(repoRoot, file) }))
      .flatMap((result) => result.messages)
      .filter((message) => message.ruleId === "no-restricted-imports");

  const cases: { file: string; imports: string; refused: boolean; why: string }[] = [
    { file: "src/gate/x.ts", imports: "../store/store.js", refused: true, why: "the gate is pure" },
    { file: "src/gate/x.ts", imports: "../spec/schema.js", refused: false, why: "the gate reads spec types" },
    {
      file: "src/targets/x.ts",
      imports: "../engine/engine.js",
      refused: true,
      why: "no cycle through the engine",
    },
    {
      file: "src/engine/x.ts",
      imports: "../targets/target.js",
      refused: false,
      why: "the engine knows the interface",
    },
    { file: "src/engine/x.ts", imports: "../targets/local.js", refused: true, why: "not an implementation" },
    {
      file: "src/store/x.ts",
      imports: "../server/app.js",
      refused: true,
      why: "the store is below the server",
    },
    { file: "src/server/x.ts", imports: "../cli/main.js", refused: true, why: "nothing imports the CLI" },
    {
      file: "src/engine/deep/x.ts",
      imports: "../../testing/cli.js",
      refused: true,
      why: "harnesses are for tests",
    },
    {
      file: "src/engine/x.test.ts",
      imports: "../testing/cli.js",
      refused: false,
      why: "tests may use harnesses",
    },
  ];
  for (const { file, imports, refused, why } of cases) {
    test(`${refused ? "refuses" : "lets"} ${file} import ${imports} (${why})`, async () => {
      const messages = await lint(file, `import "${imports}";\n`);
      assert.equal(messages.length > 0, refused, messages.map((message) => message.message).join("; "));
    });
  }
});

test("the published package carries no tests, test doubles or harnesses", () => {
  const [pack] = JSON.parse(
    execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
      cwd: repoRoot,
      encoding: "utf8",
    }),
  ) as [{ files: { path: string }[] }];
  const paths = pack.files.map((file) => file.path);
  assert.ok(paths.includes("dist/cli/main.js"), "the CLI is in the package");
  const stray = paths.filter((path) => /(^|\/)testing\/|\.test\.|(^|\/)test\//.test(path));
  assert.deepEqual(stray, []);
});
