/**
 * The dashboard's session: a token pasted once becomes an HttpOnly cookie, and a CSRF token the
 * page sends back in the `x-waybill-csrf` header with every request that changes something.
 */
import { z } from "zod";
import { defineRoute, roles } from "./contract.js";

/** The header a cookie-authenticated POST, PUT or DELETE must carry */
export const CSRF_HEADER = "x-waybill-csrf";
export const SESSION_COOKIE = "waybill_session";

const sessionSchema = z.object({
  name: z.string(),
  role: z.enum(roles),
  /** The session's CSRF token; null when the request came with a bearer token, not the cookie */
  csrf: z.string().nullable(),
});
export type SessionView = z.output<typeof sessionSchema>;

export const createSession = defineRoute({
  method: "POST",
  path: "/v1/session",
  role: "viewer",
  public: true,
  tag: "session",
  summary:
    "Log in with a token: answers with a session cookie (HttpOnly, SameSite=Strict) and its CSRF token",
  body: z.strictObject({ token: z.string().min(1).max(512) }),
  response: { status: 201, schema: sessionSchema },
});

export const getSession = defineRoute({
  method: "GET",
  path: "/v1/session",
  role: "viewer",
  tag: "session",
  summary: "Who the session (or token) is, and the session's CSRF token",
  response: { status: 200, schema: sessionSchema },
});

export const deleteSession = defineRoute({
  method: "DELETE",
  path: "/v1/session",
  role: "viewer",
  tag: "session",
  summary: "Log out: forget the session and clear its cookie",
  response: { status: 200, schema: z.object({ loggedOut: z.literal(true) }) },
});

export const sessionRoutes = [createSession, getSession, deleteSession];
