import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PackageURL } from "packageurl-js";
import {
  golangPurl,
  mavenPurl,
  normalisePypiName,
  npmPurl,
  purlFor,
  pypiPurl,
  splitNpmName,
} from "./purl.js";

describe("purls per the purl spec", () => {
  const table: Array<[string, string, string]> = [
    ["npm, unscoped", npmPurl("lodash", "4.17.21"), "pkg:npm/lodash@4.17.21"],
    ["npm, scope as an encoded namespace", npmPurl("@babel/core", "7.26.0"), "pkg:npm/%40babel/core@7.26.0"],
    ["npm, names lowercased", npmPurl("@Types/Node", "20.0.0"), "pkg:npm/%40types/node@20.0.0"],
    ["npm, prerelease version", npmPurl("typescript", "5.8.0-beta"), "pkg:npm/typescript@5.8.0-beta"],
    [
      "pypi, PEP 503 runs of -_. become one dash",
      pypiPurl("Django_REST.framework", "3.15.2"),
      "pkg:pypi/django-rest-framework@3.15.2",
    ],
    ["pypi, plain", pypiPurl("requests", "2.32.3"), "pkg:pypi/requests@2.32.3"],
    [
      "maven, group as namespace, case kept",
      mavenPurl("org.springframework.boot", "spring-boot", "3.3.5"),
      "pkg:maven/org.springframework.boot/spring-boot@3.3.5",
    ],
    [
      "golang, module path split into namespace and name",
      golangPurl("github.com/gorilla/mux", "v1.8.1"),
      "pkg:golang/github.com/gorilla/mux@v1.8.1",
    ],
    [
      "golang, uppercase path lowercased as the type requires",
      golangPurl("github.com/BurntSushi/toml", "v1.4.0"),
      "pkg:golang/github.com/burntsushi/toml@v1.4.0",
    ],
    ["golang, single-element module path", golangPurl("rsc.io", "v1.0.0"), "pkg:golang/rsc.io@v1.0.0"],
    [
      "golang, +incompatible version",
      golangPurl("github.com/Azure/go-autorest", "v14.2.0+incompatible"),
      "pkg:golang/github.com/azure/go-autorest@v14.2.0+incompatible",
    ],
  ];
  for (const [behaviour, actual, expected] of table) {
    it(behaviour, () => assert.equal(actual, expected));
  }

  it("normalises PyPI names the way pip compares them", () => {
    assert.equal(normalisePypiName("Friendly-Bard"), "friendly-bard");
    assert.equal(normalisePypiName("FRIENDLY._-bard"), "friendly-bard");
  });

  it("gives callers holding a name and version the same purl the SBOM uses", () => {
    assert.equal(purlFor("npm", "@babel/core", "7.26.0"), npmPurl("@babel/core", "7.26.0"));
    assert.equal(purlFor("maven", "org.yaml:snakeyaml", "2.2"), "pkg:maven/org.yaml/snakeyaml@2.2");
    assert.equal(
      purlFor("golang", "github.com/BurntSushi/toml", "v1.4.0"),
      "pkg:golang/github.com/burntsushi/toml@v1.4.0",
    );
    assert.equal(purlFor("pypi", "Django", "5.1"), "pkg:pypi/django@5.1");
  });

  describe("npm purls written directly are the ones packageurl-js gives", () => {
    const names: Array<[string, string]> = [
      ["lodash", "4.17.21"],
      ["@babel/core", "7.26.0"],
      ["lodash.merge", "4.6.2"],
      ["@sindresorhus/is", "4.6.0"],
      ["typescript", "5.8.0-beta.1"],
      ["semver", "1.0.0+build.5"],
      ["left_pad", "1.0.0"],
      ["~tilde", "1.0.0"],
      ["JSONStream", "1.3.5"],
      ["@Types/Node", "20.0.0"],
      ["@scope/name", "1.0.0 "],
      ["name", "1.0.0_x:y"],
      ["@scope/na me", "1.0.0"],
      ["@/odd", "1.0.0"],
      ["@scope", "1.0.0"],
      ["ünïcode", "1.0.0"],
      ["name", "github:user/repo#v1"],
      ["x(1)", "2!0"],
    ];
    for (const [name, version] of names) {
      it(`${name}@${version}`, () => {
        const { group, localName } = splitNpmName(name);
        const expected = new PackageURL("npm", group, localName, version, undefined, undefined).toString();
        assert.equal(npmPurl(name, version), expected);
      });
    }
  });
});
