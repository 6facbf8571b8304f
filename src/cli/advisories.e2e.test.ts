/**
 * `waybill advisories` through the real CLI and control plane: a fresh state says nothing is
 * loaded; an import from a URL (a local server playing OSV's bucket), a folder or a file fills
 * the database with progress; a failed download leaves it as it was; only an admin imports.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, test } from "node:test";
import { zipSync } from "fflate";
import { defaultArchiveUrl } from "../evidence/vulns/download.js";
import { cleanUp, runCli, scratchExample } from "../testing/cli.js";
import { fixturesDir } from "../testing/paths.js";

const scratch = scratchExample("hello");
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root, env });
const advisories = join(fixturesDir, "vulns", "advisories");
const npmFiles = readdirSync(join(advisories, "npm")).filter((name) => name.endsWith(".json"));
const archive = zipSync(
  Object.fromEntries(
    npmFiles.map((name) => [name, new Uint8Array(readFileSync(join(advisories, "npm", name)))]),
  ),
);
const bucket = createServer((request, response) => {
  if (request.url !== "/npm/all.zip") {
    response.writeHead(404).end("no such object");
    return;
  }
  response.writeHead(200, { "content-type": "application/zip", "content-length": archive.length });
  response.end(Buffer.from(archive));
});

after(async () => {
  bucket.close();
  await cli(["down"]);
  cleanUp(scratch.root);
});

test("OSV's archive of an ecosystem is where an ecosystem's name points", () => {
  assert.equal(defaultArchiveUrl("pypi"), "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip");
  assert.equal(defaultArchiveUrl("npm"), "https://osv-vulnerabilities.storage.googleapis.com/npm/all.zip");
  assert.equal(defaultArchiveUrl("cobol"), undefined);
});

test(
  "advisories are imported from a URL or a folder, with progress, and listed with their age",
  { timeout: 120_000 },
  async () => {
    await new Promise<void>((resolve) => bucket.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(bucket.address() as AddressInfo).port}`;

    const empty = await cli(["advisories"]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /no advisories are loaded .* every vulnerability scan will say "not scanned"/);

    const fromUrl = await cli(["advisories", "import", `${base}/npm/all.zip`]);
    assert.equal(fromUrl.code, 0, fromUrl.stderr);
    assert.match(fromUrl.stderr, /downloading .*\/npm\/all\.zip: [\d.]+ MiB of [\d.]+ MiB \(100%\)/);
    assert.match(fromUrl.stdout, new RegExp(`imported ${npmFiles.length} advisories`));
    assert.match(fromUrl.stdout, new RegExp(`npm\\s+${npmFiles.length}`));

    const broken = await cli(["advisories", "import", `${base}/nope/all.zip`]);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /could not download .*: the server answered 404/);
    const listed = await cli(["advisories", "--json"]);
    const view = JSON.parse(listed.stdout) as { advisories: Record<string, number>; newestModified: string };
    assert.equal(view.advisories.npm, npmFiles.length, "a failed download leaves the database as it was");
    assert.ok(!Number.isNaN(Date.parse(view.newestModified)));

    const fromFolder = await cli(["advisories", "import", join(advisories, "go")]);
    assert.equal(fromFolder.code, 0, fromFolder.stderr);
    assert.match(fromFolder.stdout, /go\s+\d+/);

    writeFileSync(
      join(scratch.stateDir, "tokens.json"),
      JSON.stringify([{ name: "dana", role: "developer", token: "developer-token-for-advisories" }]),
      { mode: 0o600 },
    );
    await cli(["down"]);
    const refused = await cli(["advisories", "import", join(advisories, "pypi")], {
      WAYBILL_TOKEN: "developer-token-for-advisories",
    });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /needs the admin role/);
  },
);
