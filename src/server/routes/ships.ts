import type { FastifyInstance } from "fastify";
import { createShip } from "../../api/ships.js";
import type { Deliveries } from "../../engine/deliveries.js";
import { publicRun } from "../../engine/run-views.js";
import { actorOf } from "../actor.js";
import { registerRoute } from "../route.js";

export interface ShipRouteDependencies {
  deliveries: Pick<Deliveries, "ship">;
}

export function registerShipRoutes(app: FastifyInstance, deps: ShipRouteDependencies): void {
  registerRoute(app, createShip, async ({ body, request }) => {
    const ship = await deps.deliveries.ship(body, actorOf(request));
    return { shipId: ship.shipId, runs: ship.runs.map(publicRun) };
  });
}
