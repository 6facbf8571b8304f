/**
 * Every kind of target, described once: how its targets are named, what artifact a ship
 * carries to it, and what a stage deploying to it needs from waybill.yaml. The spec's checks,
 * deliveries, `ship`, the views and the control plane's target factory all ask here, so a third
 * kind is one more entry (and its implementation in `src/targets/`), not five edits.
 */

export type TargetKindName = "local" | "kube";

export interface TargetKind {
  kind: TargetKindName;
  /** A target name of this kind, whole */
  pattern: RegExp;
  /** How a person writes one, for error messages and help */
  written: string;
  /** What one ship carries to it: a folder the local runtime runs, or an image a cluster pulls */
  artifact: "folder" | "image";
  /** Where a person reads what it is, e.g. "the local target", "Kubernetes" */
  described: string;
  /** What a stage deploying to it needs from the spec, or undefined when it has it */
  missingFromSpec(spec: SpecFacts): { path: string; message: string } | undefined;
}

/** The parts of a spec the kinds' checks read */
export interface SpecFacts {
  runCommand: unknown;
  image: string | undefined;
}

export const LOCAL_TARGET = "local";

export const targetKinds: readonly TargetKind[] = [
  {
    kind: "local",
    pattern: /^local$/,
    written: "local",
    artifact: "folder",
    described: "the local target",
    missingFromSpec: (spec) =>
      spec.runCommand === undefined ? { path: "run", message: "run.command is required" } : undefined,
  },
  {
    kind: "kube",
    pattern: /^kube:[^/\s]+(\/[a-z0-9]([-a-z0-9]*[a-z0-9])?)?$/,
    written: "kube:<context>[/<namespace>]",
    artifact: "image",
    described: "Kubernetes",
    missingFromSpec: (spec) =>
      spec.image === undefined ? { path: "run", message: "run.image or build.image is required" } : undefined,
  },
];

/** Every target name any kind takes, for schemas */
export const targetNamePattern = new RegExp(
  `^(${targetKinds.map((kind) => kind.pattern.source.replace(/^\^|\$$/g, "")).join("|")})$`,
);
export const targetNameMessage = `expected ${targetKinds.map((kind) => `'${kind.written}'`).join(" or ")}`;

export function targetKindOf(name: string): TargetKind {
  const kind = targetKinds.find((candidate) => candidate.pattern.test(name));
  if (kind === undefined) throw new Error(`"${name}" is no kind of target (${targetNameMessage})`);
  return kind;
}

/** What one ship of these targets carries: each kind's artifact, the same for all */
export function artifactKindOf(targetNames: readonly string[]): "folder" | "image" | "mixed" {
  const kinds = new Set(targetNames.map((name) => targetKindOf(name).artifact));
  if (kinds.size > 1) return "mixed";
  return kinds.has("image") ? "image" : "folder";
}
