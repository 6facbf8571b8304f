import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { unresolvedDependencies } from "./declared.js";

const root = mkdtempSync(join(tmpdir(), "waybill-declared-"));
after(() => rmSync(root, { recursive: true, force: true }));

const cases: { name: string; files: Record<string, string>; problem: RegExp | undefined }[] = [
  { name: "a folder with no manifest has nothing to resolve", files: {}, problem: undefined },
  {
    name: "a package.json without dependencies is truly dependency-free",
    files: { "package.json": '{"name":"hello","devDependencies":{"typescript":"5"}}' },
    problem: undefined,
  },
  {
    name: "a package.json with dependencies and no lockfile is named",
    files: { "package.json": '{"dependencies":{"express":"^4","lodash":"*"}}' },
    problem: /package\.json declares 2 dependencies but there is no lockfile/,
  },
  {
    name: "a lockfile resolves a package.json's dependencies",
    files: { "package.json": '{"dependencies":{"express":"^4"}}', "yarn.lock": "" },
    problem: undefined,
  },
  {
    name: "requirements.txt with ranges only",
    files: { "requirements.txt": "# web\nflask>=2\nrequests~=2.31\n" },
    problem: /requirements\.txt lists 2 requirements without exact pins/,
  },
  {
    name: "pyproject dependencies without poetry.lock",
    files: { "pyproject.toml": '[project]\nname = "x"\ndependencies = ["flask>=2"]\n' },
    problem: /pyproject\.toml declares dependencies but there is no poetry\.lock/,
  },
  {
    name: "go.mod requirements without go.sum",
    files: { "go.mod": "module x\n\ngo 1.22\n\nrequire github.com/pkg/errors v0.9.1\n" },
    problem: /go\.mod requires modules but there is no go\.sum/,
  },
  { name: "a go.mod with no requirements", files: { "go.mod": "module x\n\ngo 1.22\n" }, problem: undefined },
];

describe("dependencies a folder declares but no lockfile resolves", () => {
  cases.forEach((c, index) => {
    test(c.name, () => {
      const dir = join(root, String(index));
      mkdirSync(dir);
      for (const [file, content] of Object.entries(c.files)) writeFileSync(join(dir, file), content);
      const problem = unresolvedDependencies(dir);
      if (c.problem === undefined) assert.equal(problem, undefined);
      else assert.match(problem ?? "", c.problem);
    });
  });
});
