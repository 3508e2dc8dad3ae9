import type { FastifyInstance } from "fastify";
import type { Credentials } from "../http/principal.js";
import { EventHub, type EventHubDeps } from "./event-hub.js";
import { registerEventsRoute } from "./events-route.js";
import { loadAssets, registerStaticAssets } from "./static-assets.js";

export { type EventClient, EventHub, type EventHubDeps } from "./event-hub.js";
export { bucketQuantile, type FleetFiguresJson } from "./fleet-figures.js";

/** What the dashboard needs: the hub's sources plus the credentials its stream checks. */
export interface DashboardDeps extends EventHubDeps {
  credentials: Credentials;
}

/** The dashboard's live parts, for shutdown and tests. */
export interface Dashboard {
  readonly hub: EventHub;
}

/**
 * Serves the operator dashboard: the page and its assets at `/` (no auth; they hold no data) and
 * the live `/v0/events` stream (admin). Every figure the page shows comes from the admin API.
 */
export function registerDashboard(app: FastifyInstance, deps: DashboardDeps): Dashboard {
  const hub = new EventHub(deps);
  registerStaticAssets(app, loadAssets());
  registerEventsRoute(app, deps.credentials, hub);
  // Before the server closes: open event streams would otherwise hold the close up.
  app.addHook("preClose", async () => hub.close());
  return { hub };
}
