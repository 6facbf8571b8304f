/**
 * The one error shape of the API, RFC 9457 problem details (`application/problem+json`): `type`
 * names the kind of problem, `title` says it in a few words, `status` is the HTTP status, and
 * `detail` is the one-paragraph message a person acts on (the CLI prints it as it is). A bad
 * waybill.yaml adds `issues`, each with its file:line:col; a refused policy change adds `weakened`.
 */
import { z } from "zod";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";
const PROBLEM_TYPE_BASE = "https://waybill.dev/problems/";

export const problemKinds = {
  "bad-request": { status: 400, title: "Bad request" },
  unauthorized: { status: 401, title: "A valid bearer token is required" },
  forbidden: { status: 403, title: "Not allowed for this role" },
  "policy-weakened": { status: 403, title: "The change would weaken a stage policy" },
  "not-found": { status: 404, title: "Not found" },
  conflict: { status: 409, title: "Conflict with the current state" },
  "too-large": { status: 413, title: "Request body too large" },
  internal: { status: 500, title: "Internal error" },
} as const;

export type ProblemKind = keyof typeof problemKinds;

export const problemSchema = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int().min(400).max(599),
  detail: z.string(),
  instance: z.string().optional(),
  issues: z
    .array(
      z.object({
        file: z.string(),
        line: z.number(),
        col: z.number(),
        path: z.string(),
        message: z.string(),
      }),
    )
    .optional(),
});

export type Problem = z.output<typeof problemSchema>;

export function problem(kind: ProblemKind, detail: string, extra: Record<string, unknown> = {}): Problem {
  const { status, title } = problemKinds[kind];
  return { type: `${PROBLEM_TYPE_BASE}${kind}`, title, status, detail, ...extra };
}

/** The kind a 4xx status stands for, where an error carries only its status */
export function kindOfStatus(status: number): ProblemKind {
  const known = (Object.keys(problemKinds) as ProblemKind[]).find(
    (kind) => problemKinds[kind].status === status && kind !== "policy-weakened",
  );
  return known ?? (status >= 500 ? "internal" : "bad-request");
}

/** A response body read back as a problem; null when it is not one. */
export function parseProblem(body: string): Problem | null {
  try {
    const parsed = problemSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
