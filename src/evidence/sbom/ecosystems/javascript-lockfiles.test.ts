import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readComponents } from "../index.js";
import { sbomFixtures } from "../schema.test.helpers.js";
import { YARN_CHECKSUM_PROPERTY } from "./yarn.js";

// One project (test/fixtures/sbom/storefront-*/package.json) locked by npm 11, pnpm 8 (lockfile 6.0),
// pnpm 9 (9.0), yarn 1.22 and yarn 4.5 within the same minute, so all resolved the same versions.
const lockedBy = ["npm", "pnpm-v6", "pnpm-v9", "yarn-classic", "yarn-berry"];

const inventory = async (folder: string) => {
  const listing = await readComponents(join(sbomFixtures, folder));
  return {
    ...listing,
    scopes: listing.components.map((c) => `${c.purl} ${c.scope}`),
  };
};

describe("npm, pnpm and yarn lockfiles of the same project", () => {
  it("give the same components with the same scopes whichever tool locked them", async () => {
    const reference = await inventory("storefront-npm");
    assert.equal(reference.components.length, 130);
    for (const tool of lockedBy.slice(1)) {
      const other = await inventory(`storefront-${tool}`);
      assert.deepEqual(other.scopes, reference.scopes, tool);
      assert.deepEqual(other.warnings, [], tool);
    }
  });

  it("count dev-only packages optional, transitive ones included, without a dev flag in pnpm 9 or yarn", async () => {
    for (const tool of lockedBy) {
      const { components } = await inventory(`storefront-${tool}`);
      const scopeOf = (purl: string) => components.find((c) => c.purl === purl)?.scope;
      assert.equal(scopeOf("pkg:npm/%40babel/core@7.26.0"), "optional", tool);
      assert.equal(scopeOf("pkg:npm/prettier@3.4.2"), "optional", tool);
      assert.equal(scopeOf("pkg:npm/express@4.21.2"), "required", tool);
      assert.equal(
        scopeOf("pkg:npm/string-width@4.2.3"),
        "required",
        `${tool}: the npm: alias resolves to string-width`,
      );
    }
  });

  it("link each package to what it depends on, and the project to its direct dependencies", async () => {
    for (const tool of lockedBy) {
      const { dependencyGraph, directDependencies } = await inventory(`storefront-${tool}`);
      assert.ok(dependencyGraph.get("pkg:npm/react-dom@18.3.1")?.has("pkg:npm/scheduler@0.23.2"), tool);
      assert.deepEqual(
        [...directDependencies].sort(),
        [
          "pkg:npm/%40babel/core@7.26.0",
          "pkg:npm/%40babel/preset-react@7.26.3",
          "pkg:npm/%40tanstack/react-query@5.62.8",
          "pkg:npm/express@4.21.2",
          "pkg:npm/prettier@3.4.2",
          "pkg:npm/react-dom@18.3.1",
          "pkg:npm/react@18.3.1",
          "pkg:npm/string-width@4.2.3",
        ],
        tool,
      );
    }
  });

  it("take npm SRI hashes from pnpm and yarn classic, and keep yarn berry's checksum out of the hashes", async () => {
    const hashesOf = async (folder: string) =>
      (await inventory(folder)).components.find((c) => c.name === "debug")?.hashes;
    const npmHashes = await hashesOf("storefront-npm");
    assert.deepEqual(await hashesOf("storefront-pnpm-v9"), npmHashes);
    assert.deepEqual(await hashesOf("storefront-yarn-classic"), npmHashes);

    const berry = (await inventory("storefront-yarn-berry")).components.find((c) => c.name === "express");
    assert.deepEqual(berry?.hashes, []);
    assert.match(
      berry?.properties.find((p) => p.name === YARN_CHECKSUM_PROPERTY)?.value ?? "",
      /^10c0\/[0-9a-f]{128}$/,
    );
  });

  it("read the small pnpm 6/9 and yarn lockfiles with an aliased package", async () => {
    for (const folder of ["pnpm-v6", "pnpm-v9", "yarn-classic", "yarn-berry"]) {
      const { components } = await inventory(folder);
      assert.deepEqual(
        components.map((c) => c.purl),
        [
          "pkg:npm/%40sindresorhus/is@4.6.0",
          "pkg:npm/debug@4.3.4",
          "pkg:npm/is-number@7.0.0",
          "pkg:npm/ms@2.0.0",
          "pkg:npm/ms@2.1.2",
        ],
        folder,
      );
    }
  });
});
