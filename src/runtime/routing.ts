/**
 * The routing decision of a stage proxy, kept pure so that every rule is table-tested: which
 * instance serves a request, given the stage's routes, the request's pin header and a random
 * draw.
 */
import type { Routes } from "./types.js";

/** A request header pinning the request to one side, e.g. to try a blue-green candidate first. */
export const ROUTE_HEADER = "x-waybill-route";
/**
 * `plain` sends a request of a stage with mutual TLS to the instance's plain port instead, so the
 * test can measure what TLS adds on the same instance. It reaches nothing a local process could
 * not reach already: the proxy and the app's plain port both listen on loopback only.
 */
export const TRANSPORT_HEADER = "x-waybill-transport";

export type RouteSide = "stable" | "candidate";

export interface RouteChoice {
  instanceId: string;
  side: RouteSide;
}

/**
 * @param pinnedSide the value of the x-waybill-route header, if any
 * @param draw a uniform random number in [0, 1)
 * @returns the chosen instance, or null when nothing serves this request
 */
export function chooseRoute(
  routes: Routes,
  pinnedSide: string | undefined,
  draw: number,
): RouteChoice | null {
  // The usual spellings compare as they are; only others pay for a normalised copy.
  const pinned =
    pinnedSide === undefined || pinnedSide === "candidate" || pinnedSide === "stable"
      ? pinnedSide
      : pinnedSide.trim().toLowerCase();
  // A pinned request never falls back to the other side: testing a candidate must not silently
  // test the stable version instead.
  if (pinned === "candidate") return sideChoice(routes.candidate, "candidate");
  if (pinned === "stable") return sideChoice(routes.stable, "stable");

  if (routes.candidate === null) return sideChoice(routes.stable, "stable");
  const weight = Math.min(100, Math.max(0, routes.candidateWeight));
  if (routes.stable === null) return weight > 0 ? sideChoice(routes.candidate, "candidate") : null;
  return draw * 100 < weight
    ? sideChoice(routes.candidate, "candidate")
    : sideChoice(routes.stable, "stable");
}

function sideChoice(instanceId: string | null, side: RouteSide): RouteChoice | null {
  return instanceId === null ? null : { instanceId, side };
}

/** Why a set of routes is unusable, or null when it is valid. */
export function routesProblem(routes: Routes): string | null {
  const weight = routes.candidateWeight;
  if (!Number.isFinite(weight) || weight < 0 || weight > 100) {
    return `candidateWeight must be between 0 and 100, got ${weight}`;
  }
  if (routes.stable !== null && routes.stable === routes.candidate) {
    return `stable and candidate are the same instance (${routes.stable})`;
  }
  return null;
}
