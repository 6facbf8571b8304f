import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { sbomFixtures } from "../schema.test.helpers.js";
import {
  GO_FROM_GO_SUM_PROPERTY,
  GO_H1_PROPERTY,
  GO_INDIRECT_PROPERTY,
  GO_REPLACES_PROPERTY,
  compareGoVersions,
  goEcosystem,
} from "./go.js";

const readFixture = () => goEcosystem.read(join(sbomFixtures, "go", "go.mod"));
const property = (properties: Array<{ name: string; value: string }>, name: string) =>
  properties.find((p) => p.name === name)?.value;

describe("Go go.mod and go.sum", () => {
  it("lists required modules with the module path kept as written and the purl lowercased", async () => {
    const { components } = await readFixture();
    const azcore = components.find((c) => c.name === "github.com/Azure/azure-sdk-for-go/sdk/azcore");
    assert.equal(azcore?.purl, "pkg:golang/github.com/azure/azure-sdk-for-go/sdk/azcore@v0.16.1");
    assert.equal(azcore?.version, "v0.16.1");
  });

  it("records the go.sum h1 dirhash as a property, never as a CycloneDX hash", async () => {
    const { components } = await readFixture();
    const testify = components.find((c) => c.name === "github.com/stretchr/testify");
    assert.deepEqual(testify?.hashes, []);
    assert.equal(
      property(testify?.properties ?? [], GO_H1_PROPERTY),
      "h1:nwc3DEeHmmLAfoZucVR881uASk0Mfjw8xYJ99tb5CcY=",
    );
  });

  it("notes // indirect and keeps indirect modules out of the direct dependencies", async () => {
    const { components, directDependencies } = await readFixture();
    const net = components.find((c) => c.name === "golang.org/x/net");
    assert.equal(property(net?.properties ?? [], GO_INDIRECT_PROPERTY), "true");
    assert.ok(!directDependencies.includes(net?.purl ?? ""));
    assert.ok(directDependencies.includes("pkg:golang/github.com/stretchr/testify@v1.7.0"));
  });

  it("follows replace directives: versioned ones swap the module, local ones drop it", async () => {
    const { components } = await readFixture();
    const yaml = components.filter((c) => c.name === "gopkg.in/yaml.v2");
    assert.deepEqual(
      yaml.map((c) => c.version),
      ["v2.4.0"],
    );
    assert.equal(property(yaml[0]?.properties ?? [], GO_REPLACES_PROPERTY), "gopkg.in/yaml.v2 v2.2.1");
    assert.ok(!components.some((c) => c.name === "github.com/Azure/azure-sdk-for-go/sdk/internal"));
  });

  it("fills in modules from go.sum before go 1.17, at their highest version", async () => {
    const { components } = await readFixture();
    const text = components.find((c) => c.name === "golang.org/x/text");
    assert.equal(text?.version, "v0.3.6");
    assert.equal(property(text?.properties ?? [], GO_FROM_GO_SUM_PROPERTY), "true");
    // go.sum lines with only a /go.mod hash were never built
    assert.ok(!components.some((c) => c.name === "golang.org/x/tools"));
  });

  it("trusts go.mod alone from go 1.17 on", async () => {
    const dir = await mkdtemp(join(tmpdir(), "waybill-go-"));
    try {
      await writeFile(
        join(dir, "go.mod"),
        "module example.com/app\n\ngo 1.22\n\nrequire github.com/BurntSushi/toml v1.4.0\n",
      );
      await writeFile(
        join(dir, "go.sum"),
        "golang.org/x/text v0.3.6 h1:aRYxNxv6iGQlyVaZmk6ZgYEDa+Jg18DxebPSrd6bg1M=\n",
      );
      const { components } = await goEcosystem.read(join(dir, "go.mod"));
      assert.deepEqual(
        components.map((c) => c.purl),
        ["pkg:golang/github.com/burntsushi/toml@v1.4.0"],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("orders versions as Go does, pseudo-versions before releases", () => {
    assert.ok(compareGoVersions("v1.10.0", "v1.9.0") > 0);
    assert.ok(
      compareGoVersions("v0.0.0-20210510120150-4163338589ed", "v0.0.0-20201010224723-4f7140c49acb") > 0,
    );
    assert.ok(compareGoVersions("v1.0.0-20200101000000-abc", "v1.0.0") < 0);
    assert.equal(compareGoVersions("v14.2.0+incompatible", "v14.2.0"), 0);
  });
});
