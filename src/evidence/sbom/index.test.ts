import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { UserError } from "../../errors.js";
import { artifactDigest } from "../../artifact/digest.js";
import { generateSbom, listComponents } from "./index.js";
import { cycloneDxSchemaErrors, sbomFixtures } from "./schema.test.helpers.js";

describe("generateSbom", () => {
  const fixtureFolders = readdirSync(sbomFixtures, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  for (const folder of fixtureFolders) {
    it(`gives a BOM for ${folder} that the official CycloneDX 1.6 schema accepts`, async () => {
      const { bom } = await generateSbom(join(sbomFixtures, folder));
      assert.equal(bom.specVersion, "1.6");
      assert.ok((bom.components?.length ?? 0) > 0);
      assert.equal(await cycloneDxSchemaErrors(bom), null);
    });
  }

  it("gives the same bytes for the same folder, serial number included", async () => {
    const first = await generateSbom(join(sbomFixtures, "npm-v3"));
    const second = await generateSbom(join(sbomFixtures, "npm-v3"));
    assert.equal(JSON.stringify(first.bom), JSON.stringify(second.bom));
    assert.match(
      first.bom.serialNumber ?? "",
      /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it("changes the serial number when the content changes", async () => {
    const plain = await generateSbom(join(sbomFixtures, "npm-v3"), { digest: `sha256:${"0".repeat(64)}` });
    const named = await generateSbom(join(sbomFixtures, "npm-v3"), {
      digest: `sha256:${"0".repeat(64)}`,
      version: "2.0.0",
    });
    assert.notEqual(plain.bom.serialNumber, named.bom.serialNumber);
  });

  it("lists components sorted by purl, each with its purl as bom-ref", async () => {
    const { bom } = await generateSbom(join(sbomFixtures, "npm-big"));
    const refs = (bom.components ?? []).map((c) => c["bom-ref"]);
    assert.deepEqual(
      refs,
      [...refs].sort((a, b) => ((a ?? "") < (b ?? "") ? -1 : 1)),
    );
    assert.ok((bom.components ?? []).every((c) => c["bom-ref"] === c.purl && c.type === "library"));
  });

  it("names the artifact after waybill.yaml and carries its digest", async () => {
    const dir = await mkdtemp(join(tmpdir(), "waybill-sbom-"));
    try {
      await cp(join(sbomFixtures, "npm-v3"), dir, { recursive: true });
      await writeFile(join(dir, "waybill.yaml"), "apiVersion: waybill/v1\nmetadata:\n  name: cart\n");
      const digest = await artifactDigest(dir);
      const { bom } = await generateSbom(dir, { version: "1.4.0" });
      const artifact = bom.metadata?.component;
      assert.equal(artifact?.name, "cart");
      assert.equal(artifact?.version, "1.4.0");
      assert.deepEqual(artifact?.hashes, [{ alg: "SHA-256", content: digest.slice("sha256:".length) }]);
      assert.deepEqual(artifact?.properties, [{ name: "waybill:artifact:digest", value: digest }]);
      assert.equal(
        bom.metadata?.tools && "components" in bom.metadata.tools && bom.metadata.tools.components?.[0]?.name,
        "waybill",
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("falls back to the folder name and links the artifact to its direct dependencies", async () => {
    const { bom } = await generateSbom(join(sbomFixtures, "npm-v3"));
    assert.equal(bom.metadata?.component?.name, "npm-v3");
    const root = bom.dependencies?.find((d) => d.ref === bom.metadata?.component?.["bom-ref"]);
    assert.ok(root?.dependsOn?.includes("pkg:npm/debug@4.3.4"));
  });

  it("writes members in the order CycloneDX tools give them, empty ones left out", async () => {
    const { bom } = await generateSbom(join(sbomFixtures, "npm-v3"), { version: "1.0.0" });
    assert.deepEqual(Object.keys(bom), [
      "$schema",
      "bomFormat",
      "specVersion",
      "serialNumber",
      "version",
      "metadata",
      "components",
      "dependencies",
    ]);
    assert.deepEqual(Object.keys(bom.metadata), ["tools", "component"]);
    assert.deepEqual(Object.keys(bom.metadata.component), [
      "type",
      "name",
      "version",
      "bom-ref",
      "hashes",
      "properties",
    ]);
    const scoped = bom.components.find((c) => c.purl === "pkg:npm/%40sindresorhus/is@4.6.0");
    assert.deepEqual(Object.keys(scoped ?? {}), [
      "type",
      "name",
      "group",
      "version",
      "bom-ref",
      "scope",
      "hashes",
      "purl",
    ]);
    const dev = bom.components.find((c) => c.purl === "pkg:npm/is-number@7.0.0");
    assert.deepEqual(dev?.properties, [{ name: "cdx:npm:package:development", value: "true" }]);
    assert.deepEqual(
      bom.dependencies.find((d) => d.ref === "pkg:npm/ms@2.0.0"),
      { ref: "pkg:npm/ms@2.0.0" },
    );
    assert.deepEqual(
      bom.dependencies.map((d) => d.ref),
      ["artifact:npm-v3@1.0.0", ...bom.components.map((c) => c.purl)],
    );
  });

  it("lists every published file's SHA-256 of a Python release, sorted", async () => {
    const { bom } = await generateSbom(join(sbomFixtures, "poetry-1.1"));
    const repeated = bom.components.find((c) => (c.hashes?.length ?? 0) > 1);
    const contents = repeated?.hashes?.map((hash) => hash.content) ?? [];
    assert.ok(contents.length > 1);
    assert.ok(repeated?.hashes?.every((hash) => hash.alg === "SHA-256"));
    assert.deepEqual(contents, [...contents].sort());
    assert.equal(new Set(contents).size, contents.length);
  });

  it("refuses a folder that does not exist with a UserError", async () => {
    await assert.rejects(generateSbom(join(sbomFixtures, "no-such-folder")), UserError);
    await assert.rejects(generateSbom(join(sbomFixtures, "npm-v3", "package.json")), UserError);
  });

  it("lists the inventory without building the document", async () => {
    const components = await listComponents(join(sbomFixtures, "npm-v3"));
    const isNumber = components.find((c) => c.name === "is-number");
    assert.deepEqual(
      { ...isNumber, hashes: isNumber?.hashes.map((h) => h.alg) },
      {
        purl: "pkg:npm/is-number@7.0.0",
        name: "is-number",
        version: "7.0.0",
        ecosystem: "npm",
        hashes: ["SHA-512"],
        scope: "optional",
      },
    );
  });
});
