/**
 * CVSS v3.x base score, computed with the formulas of the CVSS v3.1 specification
 * (https://www.first.org/cvss/v3.1/specification-document, section 7), including its Roundup
 * that avoids floating-point artefacts. 3.0 vectors are scored the same way; the two versions
 * differ only in edge cases of rounding.
 */

export type Severity = "none" | "low" | "medium" | "high" | "critical";

export type CvssResult = { ok: true; score: number; severity: Severity } | { ok: false; error: string };

const weights = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  UI: { N: 0.85, R: 0.62 },
  C: { H: 0.56, L: 0.22, N: 0 },
  I: { H: 0.56, L: 0.22, N: 0 },
  A: { H: 0.56, L: 0.22, N: 0 },
} as const;

// Privileges Required weighs more when the scope changes
const privilegeWeights = {
  U: { N: 0.85, L: 0.62, H: 0.27 },
  C: { N: 0.85, L: 0.68, H: 0.5 },
} as const;

const baseMetrics = ["AV", "AC", "PR", "UI", "S", "C", "I", "A"] as const;

/** The smallest number with one decimal that is >= value, computed in integers as the spec requires. */
export function roundUp(value: number): number {
  const scaled = Math.round(value * 100_000);
  return scaled % 10_000 === 0 ? scaled / 100_000 : (Math.floor(scaled / 10_000) + 1) / 10;
}

export function severityOfScore(score: number): Severity {
  if (score === 0) return "none";
  if (score < 4) return "low";
  if (score < 7) return "medium";
  if (score < 9) return "high";
  return "critical";
}

function weight<T extends Record<string, number>>(table: T, value: string | undefined): number | undefined {
  return value !== undefined && Object.hasOwn(table, value) ? table[value as keyof T] : undefined;
}

export function cvss3BaseScore(vector: string): CvssResult {
  const parts = vector.trim().split("/");
  const prefix = parts.shift();
  if (prefix !== "CVSS:3.1" && prefix !== "CVSS:3.0") {
    return { ok: false, error: `not a CVSS v3 vector: ${vector}` };
  }
  const metrics = new Map<string, string>();
  for (const part of parts) {
    const [metric, value, ...rest] = part.split(":");
    if (metric === undefined || value === undefined || rest.length > 0 || metrics.has(metric)) {
      return { ok: false, error: `malformed CVSS metric "${part}" in ${vector}` };
    }
    metrics.set(metric, value);
  }
  const missing = baseMetrics.filter((metric) => !metrics.has(metric));
  if (missing.length > 0) return { ok: false, error: `CVSS vector lacks ${missing.join(", ")}: ${vector}` };
  const scope = metrics.get("S");
  if (scope !== "U" && scope !== "C") return { ok: false, error: `bad CVSS scope in ${vector}` };
  const attackVector = weight(weights.AV, metrics.get("AV"));
  const attackComplexity = weight(weights.AC, metrics.get("AC"));
  const privileges = weight(privilegeWeights[scope], metrics.get("PR"));
  const userInteraction = weight(weights.UI, metrics.get("UI"));
  const confidentiality = weight(weights.C, metrics.get("C"));
  const integrity = weight(weights.I, metrics.get("I"));
  const availability = weight(weights.A, metrics.get("A"));
  if (
    attackVector === undefined ||
    attackComplexity === undefined ||
    privileges === undefined ||
    userInteraction === undefined ||
    confidentiality === undefined ||
    integrity === undefined ||
    availability === undefined
  ) {
    return { ok: false, error: `unknown CVSS metric value in ${vector}` };
  }
  const impactSubScore = 1 - (1 - confidentiality) * (1 - integrity) * (1 - availability);
  const impact =
    scope === "U"
      ? 6.42 * impactSubScore
      : 7.52 * (impactSubScore - 0.029) - 3.25 * Math.pow(impactSubScore - 0.02, 15);
  const exploitability = 8.22 * attackVector * attackComplexity * privileges * userInteraction;
  const score =
    impact <= 0
      ? 0
      : scope === "U"
        ? roundUp(Math.min(impact + exploitability, 10))
        : roundUp(Math.min(1.08 * (impact + exploitability), 10));
  return { ok: true, score, severity: severityOfScore(score) };
}
