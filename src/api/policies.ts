/** Stage policies: the protected part of a stage that only an admin changes. */
import { z } from "zod";
import { policyChangeSchema } from "../policy/policy-change.js";
import { requirementSchema } from "../spec/schema.js";
import { defineRoute } from "./contract.js";

const nameLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const protectedPolicySchema = z.object({
  approval: z.object({ pass: z.enum(["automatic", "manual"]), warning: z.enum(["automatic", "manual"]) }),
  requires: z.array(requirementSchema),
  gate: z.boolean(),
  targets: z.array(z.string()).optional(),
});

export const effectivePolicySchema = z.object({
  service: z.string(),
  stage: z.string(),
  policy: protectedPolicySchema,
  inherited: z.boolean(),
  changedBy: z.string(),
  changedAt: z.string(),
});
export type EffectivePolicyView = z.output<typeof effectivePolicySchema>;

export const policyChangeRecordSchema = z.object({
  service: z.string(),
  stage: z.string(),
  by: z.string(),
  reason: z.enum(["set", "first ship", "admin ship"]),
  previous: protectedPolicySchema.nullable(),
  policy: protectedPolicySchema,
  changedAt: z.string(),
});
export type PolicyChangeView = z.output<typeof policyChangeRecordSchema>;

const policyParams = z.strictObject({
  service: z.union([
    z.literal("*"),
    z.string().regex(nameLabel, { message: "a service name is a DNS label" }),
  ]),
  stage: z.string().regex(nameLabel, { message: "a stage name is a DNS label" }),
});

export const listPolicies = defineRoute({
  method: "GET",
  path: "/v1/policies",
  role: "viewer",
  tag: "policies",
  summary: "The policies in force, for one service (or `*`, the defaults for every service) or all",
  query: z.strictObject({ service: z.string().min(1).optional() }),
  response: { status: 200, schema: z.object({ policies: z.array(effectivePolicySchema) }) },
});

export const getPolicy = defineRoute({
  method: "GET",
  path: "/v1/policies/:service/:stage",
  role: "viewer",
  tag: "policies",
  summary: "A stage's policy in force and its history, newest first",
  params: z.strictObject({ service: z.string().min(1), stage: z.string().min(1) }),
  response: {
    status: 200,
    schema: z.object({
      current: effectivePolicySchema.nullable(),
      history: z.array(policyChangeRecordSchema),
    }),
  },
});

export const setPolicy = defineRoute({
  method: "PUT",
  path: "/v1/policies/:service/:stage",
  role: "admin",
  tag: "policies",
  summary: "Change a stage's protected policy; fields left out keep their value",
  params: policyParams,
  body: policyChangeSchema,
  response: {
    status: 200,
    schema: z.object({ changed: z.boolean(), current: policyChangeRecordSchema.nullable() }),
  },
});

export const policyRoutes = [listPolicies, getPolicy, setPolicy];
