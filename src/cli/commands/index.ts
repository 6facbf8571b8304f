/**
 * Every command by name, with its one-line summary. A command's module, and what it imports,
 * loads only when that command runs (as npm/cli loads lib/commands/<name>.js), so `waybill
 * status` does not pay for the Kubernetes client, the SBOM library or the control plane.
 */
import type { CliCommand } from "../command.js";

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<CliCommand>;
}

export const commands: CommandEntry[] = [
  {
    name: "init",
    summary: "write a commented waybill.yaml for a project (detects node, jvm, go, python)",
    load: async () => (await import("./init.js")).initCommand,
  },
  {
    name: "import",
    summary: "write a waybill.yaml from a Keptn shipyard (with its slo.yaml and sli.yaml) or OpenSLO objects",
    load: async () => (await import("./import.js")).importCommand,
  },
  {
    name: "validate",
    summary: "check a waybill.yaml (or a Keptn slo.yaml); errors give file:line:col",
    load: async () => (await import("./validate.js")).validateCommand,
  },
  {
    name: "serve",
    summary: "run the control plane: the API, the engine and the local runtime",
    load: async () => (await import("./serve.js")).serveCommand,
  },
  {
    name: "migrate",
    summary: "bring the control plane's database (--database or the state folder's) to this binary's schema",
    load: async () => (await import("./migrate.js")).migrateCommand,
  },
  {
    name: "ship",
    summary: "build the service, record its artifact, and deliver it through its stages",
    load: async () => (await import("./ship.js")).shipCommand,
  },
  {
    name: "status",
    summary: "show each service's stages: state, live version and URL",
    load: async () => (await import("./status.js")).statusCommand,
  },
  {
    name: "runs",
    summary: "list runs, oldest first",
    load: async () => (await import("./runs.js")).runsCommand,
  },
  {
    name: "run",
    summary: "show one run and its event timeline",
    load: async () => (await import("./run.js")).runCommand,
  },
  {
    name: "approve",
    summary: "approve a run that waits for approval; it goes on to release",
    load: async () => (await import("./approve.js")).approveCommand,
  },
  {
    name: "reject",
    summary: "reject a run that waits for approval; its stage is rolled back",
    load: async () => (await import("./reject.js")).rejectCommand,
  },
  {
    name: "dora",
    summary:
      "DORA's four keys per service and stage: deployment frequency, lead time, change failure rate, time to restore",
    load: async () => (await import("./dora.js")).doraCommand,
  },
  {
    name: "rollback",
    summary: "put a stage's previous release back, and wait until it is live",
    load: async () => (await import("./rollback.js")).rollbackCommand,
  },
  {
    name: "tokens",
    summary: "list, create (shown once) or revoke API tokens, each with one role (admin)",
    load: async () => (await import("./tokens.js")).tokensCommand,
  },
  {
    name: "login",
    summary: "use a shared control plane with your own token (or set WAYBILL_URL and WAYBILL_TOKEN)",
    load: async () => (await import("./login.js")).loginCommand,
  },
  {
    name: "logout",
    summary: "forget the shared control plane waybill login saved",
    load: async () => (await import("./logout.js")).logoutCommand,
  },
  {
    name: "policy",
    summary:
      "show or (as an admin) set a stage's protected policy: approval, required evidence, gate, targets",
    load: async () => (await import("./policy.js")).policyCommand,
  },
  {
    name: "rightsize",
    summary:
      "find the smallest CPU and memory limits at which every SLO still passes, by experiment under the stage's test load",
    load: async () => (await import("./rightsize.js")).rightsizeCommand,
  },
  {
    name: "logs",
    summary: "print the stdout (or stderr) of a stage's live deployment",
    load: async () => (await import("./logs.js")).logsCommand,
  },
  {
    name: "down",
    summary: "stop the local control plane and every app process it runs (the next start brings them back)",
    load: async () => (await import("./down.js")).downCommand,
  },
  {
    name: "loadtest",
    summary:
      "put load on an http:// URL with the built-in generator and report latency, errors and throughput",
    load: async () => (await import("./loadtest.js")).loadtestCommand,
  },
  {
    name: "evaluate",
    summary: "judge SLI values against a Keptn slo.yaml and earlier results, as a standalone quality gate",
    load: async () => (await import("./evaluate.js")).evaluateCommand,
  },
  {
    name: "judge",
    summary: "compare a canary's metric samples with the baseline's, as Kayenta's Mann-Whitney judge does",
    load: async () => (await import("./judge.js")).judgeCommand,
  },
  {
    name: "signature",
    summary: "compare two builds' performance signatures: what moved most, and whether it is significant",
    load: async () => (await import("./signature.js")).signatureCommand,
  },
  {
    name: "keys",
    summary: "generate a signing key pair for attestations (ed25519 or ECDSA P-256)",
    load: async () => (await import("./keys.js")).keysCommand,
  },
  {
    name: "attest",
    summary: "sign a predicate about an artifact as an in-toto statement in a DSSE envelope",
    load: async () => (await import("./attest.js")).attestCommand,
  },
  {
    name: "verify",
    summary: "verify a signed attestation (DSSE envelope or .intoto.jsonl bundle) against trusted keys",
    load: async () => (await import("./verify.js")).verifyCommand,
  },
  {
    name: "sbom",
    summary: "CycloneDX 1.6 SBOM of a folder, read from its lockfiles and jars",
    load: async () => (await import("./sbom.js")).sbomCommand,
  },
  {
    name: "vulns",
    summary: "match a folder's dependencies (or a CycloneDX SBOM) against OSV advisories",
    load: async () => (await import("./vulns.js")).vulnsCommand,
  },
  {
    name: "advisories",
    summary: "list the OSV advisories the vulnerability scans use, or import more (admin)",
    load: async () => (await import("./advisories.js")).advisoriesCommand,
  },
  {
    name: "evidence",
    summary: "an artifact's whole waybill: its attestations, whether they verify, and where it has run",
    load: async () => (await import("./evidence.js")).evidenceCommand,
  },
  {
    name: "recall",
    summary: "which deployments, current and past, carry a package version range or an advisory's packages",
    load: async () => (await import("./recall.js")).recallCommand,
  },
  {
    name: "webhooks",
    summary:
      "list webhook subscriptions and dead letters; (as an admin) add or remove one, or retry a dead letter",
    load: async () => (await import("./webhooks.js")).webhooksCommand,
  },
  {
    name: "render",
    summary: "print a stage as plain Kubernetes manifests (Deployment, Service, routes)",
    load: async () => (await import("./render.js")).renderCommand,
  },
  {
    name: "upgrade-check",
    summary: "list objects whose API a Kubernetes release removes, with the replacement",
    load: async () => (await import("./upgrade-check.js")).upgradeCheckCommand,
  },
];
