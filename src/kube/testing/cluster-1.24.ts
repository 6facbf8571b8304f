/** A 1.24 cluster for the `--live` tests: what its discovery serves and the objects it holds. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { fixturesDir } from "../../testing/paths.js";
import type { SeedObject } from "./fake-api-server.js";

const liveFixtures = join(fixturesDir, "kube", "live");

export const servedBy124 = (
  JSON.parse(readFileSync(join(liveFixtures, "served-1.24.json"), "utf8")) as { groupVersions: string[] }
).groupVersions;

/** Objects written with APIs that 1.25 and 1.29 remove, with their last-applied and managedFields records */
export const cluster124 = (
  parse(readFileSync(join(liveFixtures, "cluster-1.24.yaml"), "utf8")) as { items: SeedObject[] }
).items;
