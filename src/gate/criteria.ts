/**
 * Keptn SLO criteria strings: an operator, then a number, as in `<=200`, `<+10%`, `>=-5`, `=0`.
 * A leading `+` or `-` or a trailing `%` makes the criterion relative to the earlier results; a `%`
 * without a sign means an increase (Keptn issue #1498). Whitespace anywhere is ignored.
 */

export type Operator = "<" | "<=" | "=" | ">=" | ">";

export type Criterion =
  | { kind: "fixed"; operator: Operator; threshold: number }
  | {
      kind: "relative";
      operator: Operator;
      /** The allowed change: an amount in the SLI's unit, or a percentage of the baseline */
      change: number;
      percent: boolean;
      direction: "increase" | "decrease";
    };

export class CriteriaSyntaxError extends Error {
  constructor(
    readonly criteria: string,
    readonly reason: string,
    /** The objective the criteria belongs to, once known */
    readonly sli?: string,
  ) {
    super(`${sli === undefined ? "" : `objective "${sli}": `}invalid criteria "${criteria}": ${reason}`);
    this.name = "CriteriaSyntaxError";
  }
}

// Longest first, so "<=" is not read as "<" followed by "=5".
const operators: readonly Operator[] = ["<=", ">=", "<", ">", "="];
const numberPattern = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export function parseCriteria(text: string): Criterion {
  let rest = text.replace(/\s+/g, "");
  const operator = operators.find((candidate) => rest.startsWith(candidate));
  if (operator === undefined) {
    throw new CriteriaSyntaxError(text, "expected it to start with <, <=, =, >= or >");
  }
  rest = rest.slice(operator.length);

  const percent = rest.endsWith("%");
  if (percent) rest = rest.slice(0, -1);
  const sign = rest[0] === "+" || rest[0] === "-" ? rest[0] : undefined;
  if (sign !== undefined) rest = rest.slice(1);

  if (!numberPattern.test(rest)) {
    throw new CriteriaSyntaxError(text, "expected a number after the operator, such as <=200, <+10% or >=-5");
  }
  const value = Number(rest);
  if (!percent && sign === undefined) return { kind: "fixed", operator, threshold: value };
  return {
    kind: "relative",
    operator,
    change: value,
    percent,
    direction: sign === "-" ? "decrease" : "increase",
  };
}

/** The threshold a relative criterion sets, given the aggregate of the earlier results. */
export function relativeTarget(
  criterion: Extract<Criterion, { kind: "relative" }>,
  baseline: number,
): number {
  // Keptn's order of operations, so a target such as 10 · 110 / 100 comes out exactly 11.
  if (criterion.percent) {
    const factor = criterion.direction === "increase" ? 100 + criterion.change : 100 - criterion.change;
    return (baseline * factor) / 100;
  }
  return criterion.direction === "increase" ? baseline + criterion.change : baseline - criterion.change;
}

export function compare(value: number, operator: Operator, target: number): boolean {
  switch (operator) {
    case "<":
      return value < target;
    case "<=":
      return value <= target;
    case "=":
      return value === target;
    case ">=":
      return value >= target;
    case ">":
      return value > target;
  }
}
