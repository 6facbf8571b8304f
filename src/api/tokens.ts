/** API tokens: made by an admin, each with one role, shown once, kept only as a hash. */
import { z } from "zod";
import { defineRoute, roles } from "./contract.js";

export const tokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(roles),
  createdAt: z.string(),
  createdBy: z.string(),
  revokedAt: z.string().nullable(),
  revokedBy: z.string().nullable(),
});
export type TokenView = z.output<typeof tokenSchema>;

export const listTokens = defineRoute({
  method: "GET",
  path: "/v1/tokens",
  role: "admin",
  tag: "tokens",
  summary: "Every token made with `waybill tokens create`, revoked ones too; never their secrets",
  response: { status: 200, schema: z.object({ tokens: z.array(tokenSchema) }) },
});

export const createToken = defineRoute({
  method: "POST",
  path: "/v1/tokens",
  role: "admin",
  tag: "tokens",
  summary: "Make a token with one role; the answer is the only time the token is shown",
  body: z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, {
      message: "a name is letters, digits and . _ @ -, at most 64 characters",
    }),
    role: z.enum(roles),
  }),
  response: { status: 201, schema: tokenSchema.extend({ token: z.string() }) },
});

export const revokeToken = defineRoute({
  method: "DELETE",
  path: "/v1/tokens/:token",
  role: "admin",
  tag: "tokens",
  summary: "Revoke a token, by its id or its name; it is refused from then on",
  params: z.strictObject({ token: z.string().min(1) }),
  response: { status: 200, schema: tokenSchema },
});

export const tokenRoutes = [listTokens, createToken, revokeToken];
