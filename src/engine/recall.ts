/**
 * Recall: which deployments, current and past, carry a package version range or an
 * advisory's affected packages; and redeploying a fixed version through the stages. Like
 * tracing a car's VIN back to a faulty part.
 */
import { NotFoundError } from "../errors.js";
import { findDrift, type Drift } from "../evidence/recall/drift.js";
import { parseRecallQuery, versionMatches } from "../evidence/recall/query.js";
import { importAdvisories } from "../evidence/vulns/import.js";
import { matchAdvisory, normalisePackageName, type Osv } from "../evidence/vulns/index.js";
import type { DeployedComponent, RunRecord, Store } from "../store/store.js";
import type { Deliveries } from "./deliveries.js";

export interface RecallMatch {
  service: string;
  stage: string;
  target: string;
  digest: string;
  version: string;
  component: string;
  from: string;
  until: string | null;
}

export interface RecallResult {
  query: string;
  advisory: { id: string; aliases: string[] } | null;
  matches: RecallMatch[];
  drift: Drift[];
}

export class Recall {
  constructor(
    private readonly store: Store,
    private readonly deliveries: Deliveries,
    private readonly advisoriesDir: string,
  ) {}

  async find(text: string): Promise<RecallResult> {
    const query = parseRecallQuery(text);
    let found: DeployedComponent[];
    let advisory: RecallResult["advisory"] = null;
    if (query.kind === "package") {
      found = (await this.store.deployedComponents(query.ecosystem, query.name)).filter((component) =>
        versionMatches(component.ecosystem, component.version, query.constraints),
      );
    } else {
      const osv = await this.advisory(query.id);
      advisory = { id: osv.id, aliases: osv.aliases ?? [] };
      found = [];
      for (const affected of osv.affected ?? []) {
        const pkg = affected.package;
        if (pkg === undefined) continue;
        const candidates = await this.store.deployedComponents(
          pkg.ecosystem,
          normalisePackageName(pkg.ecosystem, pkg.name),
        );
        found.push(
          ...candidates.filter(
            (c) => matchAdvisory(osv, { ecosystem: c.ecosystem, name: c.name, version: c.version }).affected,
          ),
        );
      }
    }
    const matches = found.map((component): RecallMatch => ({
      service: component.release.service,
      stage: component.release.stage,
      target: component.release.target,
      digest: component.release.digest,
      version: component.release.version,
      component: component.purl,
      from: component.release.releasedAt,
      until: component.release.replacedAt,
    }));
    matches.sort(
      (a, b) => Number(a.until !== null) - Number(b.until !== null) || b.from.localeCompare(a.from),
    );
    const affectedPurls = new Set(matches.map((match) => match.component));
    const drift = findDrift(await this.store.driftCandidates()).filter((d) => affectedPurls.has(d.purl));
    return { query: text, advisory, matches: dedupe(matches), drift };
  }

  async allDrift(): Promise<Drift[]> {
    return findDrift(await this.store.driftCandidates());
  }

  /** Ships `version` of every service the query finds deployed now, from its first stage. */
  async redeploy(text: string, version: string): Promise<RunRecord[]> {
    const { matches } = await this.find(text);
    const services = [...new Set(matches.filter((m) => m.until === null).map((m) => m.service))];
    if (services.length === 0) throw new NotFoundError(`nothing deployed now matches ${text}`);
    const runs: RunRecord[] = [];
    for (const service of services) {
      const artifact = await this.store.artifactByVersion(service, version);
      if (artifact === undefined)
        throw new NotFoundError(`${service} has no artifact with version ${version}`);
      runs.push(await this.deliveries.reship(artifact));
    }
    return runs;
  }

  private async advisory(id: string): Promise<Osv> {
    await importAdvisories(this.store, this.advisoriesDir);
    const osv = await this.store.advisoryById(id);
    if (osv === undefined) {
      throw new NotFoundError(
        `advisory ${id} is not known: put its OSV record (or an all.zip) in ${this.advisoriesDir}`,
      );
    }
    return osv;
  }
}

function dedupe(matches: RecallMatch[]): RecallMatch[] {
  const seen = new Set<string>();
  return matches.filter((match) => {
    const key = `${match.service}|${match.stage}|${match.target}|${match.digest}|${match.from}|${match.component}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
