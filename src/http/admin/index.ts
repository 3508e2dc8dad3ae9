import type { FastifyInstance } from "fastify";
import { type Auth, createLoginThrottle, type LoginThrottle } from "../../auth/index.js";
import type { Scheduler } from "../../jobs/scheduler.js";
import type { NodeStore } from "../../nodes/node-store.js";
import type { Credentials } from "../principal.js";
import { registerApiKeyRoutes } from "./api-key-routes.js";
import { registerAuthRoutes } from "./auth-routes.js";
import { type Drainable, registerNodeRoutes } from "./node-routes.js";
import { registerNodeTokenRoutes } from "./node-token-routes.js";
import { registerUserRoutes } from "./user-routes.js";

export { type NodeDetailJson, type NodeJson, nodeToDetailJson, nodeToJson } from "./node-json.js";

/** What the admin API needs from the control plane. */
export interface AdminRouteDeps {
  credentials: Credentials;
  nodes: NodeStore;
  scheduler: Scheduler;
  sessions: ReadonlyMap<string, Drainable>;
  /** The stored accounts; without it only the node and queue routes exist. */
  auth?: Auth | undefined;
  /** Failed-login limiter (default: 5 failures per username and IP per minute). */
  loginThrottle?: LoginThrottle;
}

/**
 * Registers the admin API under /v0: login and me, nodes, drain, queue, users, API keys and node
 * tokens. Every route but login authenticates (JWT or admin key) before it reads anything.
 */
export function registerAdminRoutes(app: FastifyInstance, deps: AdminRouteDeps): void {
  const { credentials, auth } = deps;
  registerNodeRoutes(app, {
    credentials,
    nodes: deps.nodes,
    scheduler: deps.scheduler,
    sessions: deps.sessions,
    ...(auth ? { users: auth.users } : {}),
  });
  if (!auth) return;
  registerAuthRoutes(app, { credentials, auth, throttle: deps.loginThrottle ?? createLoginThrottle() });
  registerUserRoutes(app, { credentials, users: auth.users });
  registerApiKeyRoutes(app, { credentials, apiKeys: auth.apiKeys });
  registerNodeTokenRoutes(app, { credentials, nodeTokens: auth.nodeTokens });
}
