/**
 * Table shapes for kysely. JSON columns hold text on both dialects. `Database` is what the
 * shared store holds; `MachineTables` (the process table) lives only in a machine's own SQLite
 * file, never in a shared database.
 */
import type { Generated } from "kysely";

import type { TokenTables } from "./token-store.js";

export interface Database extends TokenTables {
  events: {
    seq: Generated<number>;
    id: string;
    source: string;
    type: string;
    time: string;
    subject: string;
    run_id: string | null;
    data: string;
  };
  services: { name: string; dir: string; stages: string };
  artifacts: {
    service: string;
    digest: string;
    version: string;
    path: string;
    mount_path: string;
    spec: string;
    created_at: string;
  };
  runs: {
    id: string;
    queue_seq: number;
    ship_id: string;
    kind: string;
    service: string;
    stage: string;
    stage_index: number;
    digest: string;
    version: string;
    state: string;
    result: string | null;
    task: string | null;
    reason: string | null;
    created_at: string;
    started_at: string | null;
    finished_at: string | null;
  };
  releases: {
    id: Generated<number>;
    service: string;
    stage: string;
    target: string;
    digest: string;
    version: string;
    run_id: string;
    released_at: string;
    replaced_at: string | null;
  };
  evaluations: {
    run_id: string;
    seq: number;
    service: string;
    stage: string;
    digest: string;
    version: string;
    result: string;
    score: number;
    record: string;
    created_at: string;
  };
  attestations: {
    id: Generated<number>;
    seq: number;
    service: string;
    digest: string;
    predicate_type: string;
    stage: string | null;
    envelope: string;
    created_at: string;
  };
  components: {
    digest: string;
    service: string;
    ecosystem: string;
    name: string;
    version: string;
    purl: string;
    hashes: string;
  };
  advisories: { id: string; modified: string; record: string };
  advisory_packages: { id: string; package_key: string };
  advisory_aliases: { alias: string; id: string };
  advisory_imports: { source: string; fingerprint: string };
  policy_changes: {
    seq: number;
    service: string;
    stage: string;
    changed_by: string;
    reason: string;
    previous: string | null;
    policy: string;
    created_at: string;
  };
}

export interface MachineTables {
  instances: { id: string; record: string };
  proxies: { service: string; stage: string; record: string };
}
