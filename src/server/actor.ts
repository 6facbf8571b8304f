import type { FastifyRequest } from "fastify";
import type { Actor } from "../engine/policies.js";
import { allows } from "./auth.js";

/** Who asks; only an admin may ship a spec that weakens a stage's protected policy. */
export function actorOf(request: FastifyRequest): Actor {
  const principal = request.principal;
  return {
    name: principal?.name ?? "unknown",
    mayChangePolicy: principal !== undefined && allows(principal.role, "admin"),
  };
}
