/** What an admin may set of a stage's protected policy; fields left out keep their current value. */
import { z } from "zod";
import { requirementSchema } from "../spec/schema.js";
import { targetNameMessage, targetNamePattern } from "../spec/target-kinds.js";

const approvalMode = z.enum(["automatic", "manual"]);
const targetName = z.string().regex(targetNamePattern, { message: targetNameMessage });

export const policyChangeSchema = z.strictObject({
  approval: z.strictObject({ pass: approvalMode.optional(), warning: approvalMode.optional() }).optional(),
  requires: z.array(requirementSchema).optional(),
  gate: z.boolean().optional(),
  targets: z.array(targetName).min(1).optional(),
});
export type PolicyChange = z.infer<typeof policyChangeSchema>;
