/** Recall: which deployments, current and past, carry a package or an advisory; and the fix. */
import { z } from "zod";
import { versionLabelSchema } from "../spec/version-label.js";
import { defineRoute } from "./contract.js";
import { runSchema } from "./runs.js";

export const driftSchema = z.object({
  purl: z.string(),
  variants: z.array(
    z.object({
      alg: z.string(),
      content: z.string(),
      artifacts: z.array(z.object({ service: z.string(), digest: z.string() })),
    }),
  ),
});

export const recallSchema = z.object({
  query: z.string(),
  advisory: z.object({ id: z.string(), aliases: z.array(z.string()) }).nullable(),
  matches: z.array(
    z.object({
      service: z.string(),
      stage: z.string(),
      target: z.string(),
      digest: z.string(),
      version: z.string(),
      component: z.string(),
      from: z.string(),
      until: z.string().nullable(),
    }),
  ),
  drift: z.array(driftSchema),
});
export type RecallView = z.output<typeof recallSchema>;

export const findRecall = defineRoute({
  method: "GET",
  path: "/v1/recall",
  role: "viewer",
  tag: "recall",
  summary:
    "Every deployment, current and past, carrying a package in a purl range, or affected by an advisory",
  query: z.strictObject({ q: z.string().min(1) }),
  response: { status: 200, schema: recallSchema },
});

export const redeployRecall = defineRoute({
  method: "POST",
  path: "/v1/recall/redeploy",
  // It ships to every stage of every service the query finds: an admin's act, not a developer's.
  role: "admin",
  tag: "recall",
  summary: "Ship the fixed build to every stage that runs an affected one",
  body: z.strictObject({ q: z.string().min(1), version: versionLabelSchema }),
  response: { status: 201, schema: z.object({ runs: z.array(runSchema) }) },
});

export const listDrift = defineRoute({
  method: "GET",
  path: "/v1/drift",
  role: "viewer",
  tag: "recall",
  summary: "Packages recorded with more than one content hash across artifacts",
  response: { status: 200, schema: z.object({ drift: z.array(driftSchema) }) },
});

export const advisoriesSchema = z.object({
  advisories: z.record(z.string(), z.number()),
  newestModified: z.string().nullable(),
  source: z.string(),
});
export type AdvisoriesView = z.output<typeof advisoriesSchema>;

export const getAdvisories = defineRoute({
  method: "GET",
  path: "/v1/advisories",
  role: "viewer",
  tag: "recall",
  summary: "How many OSV advisories the store holds per ecosystem, and how new they are",
  response: { status: 200, schema: advisoriesSchema },
});

export const importAdvisories = defineRoute({
  method: "POST",
  path: "/v1/advisories/import",
  role: "admin",
  tag: "recall",
  summary: "Read the OSV advisories folder into the store again",
  body: z.strictObject({}).optional(),
  response: { status: 200, schema: advisoriesSchema.extend({ imported: z.number() }) },
});

export const recallRoutes = [findRecall, redeployRecall, listDrift, getAdvisories, importAdvisories];
