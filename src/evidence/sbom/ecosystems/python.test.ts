import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { sbomFixtures } from "../schema.test.helpers.js";
import { poetryEcosystem, readRequirements, requirementsEcosystem } from "./python.js";

describe("Python requirements.txt", () => {
  it("reads pinned requirements with every --hash as a SHA-256, continuation lines included", async () => {
    const reading = await requirementsEcosystem.read(join(sbomFixtures, "requirements", "requirements.txt"));
    assert.deepEqual(
      reading.components.map((c) => c.purl),
      ["pkg:pypi/cffi@1.13.2", "pkg:pypi/pycparser@2.19"],
    );
    const cffi = reading.components[0];
    assert.equal(cffi?.hashes.length, 33);
    assert.ok(cffi?.hashes.every((hash) => hash.alg === "SHA-256" && /^[0-9a-f]{64}$/.test(hash.content)));
    assert.deepEqual(reading.warnings, []);
  });

  it("skips unpinned lines with a warning and ignores options, comments and markers", () => {
    const reading = readRequirements(
      [
        "--index-url https://pypi.org/simple",
        "-r base.txt",
        "# pinned by hand",
        "Django_REST.framework[extra]==3.15.2 ; python_version >= '3.8'  # api",
        "requests>=2.0",
        "flask",
      ].join("\n"),
      false,
    );
    assert.deepEqual(
      reading.components.map((c) => c.purl),
      ["pkg:pypi/django-rest-framework@3.15.2"],
    );
    assert.deepEqual(reading.warnings, [
      "requests>=2.0 is not pinned with ==, skipped",
      "flask is not pinned with ==, skipped",
    ]);
  });

  it("counts requirements-dev.txt and the like as optional", () => {
    assert.ok(requirementsEcosystem.detect(["/a/requirements-dev.txt"]).length === 1);
    const reading = readRequirements("pytest==8.3.3\n", true);
    assert.equal(reading.components[0]?.scope, "optional");
  });
});

describe("Python poetry.lock", () => {
  it("reads packages with PEP 503 names, category dev as optional, and [metadata.files] hashes", async () => {
    const reading = await poetryEcosystem.read(join(sbomFixtures, "poetry-1.1", "poetry.lock"));
    assert.equal(reading.components.length, 12);
    const markdown = reading.components.find((c) => c.name === "markdown");
    assert.equal(markdown?.purl, "pkg:pypi/markdown@3.4.1");
    assert.equal(markdown?.scope, "optional");
    assert.deepEqual(
      markdown?.hashes.map((h) => h.content.slice(0, 8)),
      ["08fb8465", "3b809086"],
    );
    const edges = Object.fromEntries(reading.dependencies.map((edge) => [edge.from, edge.to]));
    assert.deepEqual(edges["pkg:pypi/flake8@5.0.4"], [
      "pkg:pypi/mccabe@0.7.0",
      "pkg:pypi/pycodestyle@2.9.1",
      "pkg:pypi/pyflakes@2.5.0",
    ]);
  });

  it("works out dev-only packages from pyproject groups when the lockfile has no category", async () => {
    const dir = await mkdtemp(join(tmpdir(), "waybill-poetry-"));
    try {
      const hash = "a".repeat(64);
      await writeFile(
        join(dir, "poetry.lock"),
        [
          "[[package]]",
          'name = "requests"',
          'version = "2.32.3"',
          'groups = ["main"]',
          `files = [{file = "requests-2.32.3.tar.gz", hash = "sha256:${hash}"}]`,
          "[package.dependencies]",
          'certifi = ">=2017.4.17"',
          "[[package]]",
          'name = "certifi"',
          'version = "2024.8.30"',
          "files = []",
          "[[package]]",
          'name = "pytest"',
          'version = "8.3.3"',
          "files = []",
          "[metadata]",
          'lock-version = "2.0"',
        ].join("\n"),
      );
      await writeFile(
        join(dir, "pyproject.toml"),
        '[tool.poetry.dependencies]\npython = "^3.12"\nrequests = "^2.32"\n[tool.poetry.group.dev.dependencies]\npytest = "^8"\n',
      );
      const reading = await poetryEcosystem.read(join(dir, "poetry.lock"));
      const scopes = Object.fromEntries(reading.components.map((c) => [c.name, c.scope]));
      assert.deepEqual(scopes, { requests: "required", certifi: "required", pytest: "optional" });
      assert.deepEqual(reading.components[0]?.hashes, [{ alg: "SHA-256", content: hash }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
