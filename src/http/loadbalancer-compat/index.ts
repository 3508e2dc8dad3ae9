import type { FastifyInstance } from "fastify";
import { LbError } from "../../errors.js";
import type { StrategyBook } from "../../jobs/strategy-book.js";
import type { NodeStore } from "../../nodes/node-store.js";
import { ADMIN_BODY_LIMIT_BYTES } from "../admin/schemas.js";
import { principalOf, requireScope } from "../guard.js";
import type { Credentials } from "../principal.js";
import { instanceLoadJson } from "./load-json.js";

export { type InstanceLoadJson, instanceLoadJson } from "./load-json.js";

/** What the seed-004 routes need. */
export interface LoadbalancerCompatDeps {
  credentials: Credentials;
  nodes: NodeStore;
  strategies: StrategyBook;
}

const strategyBody = {
  type: "object",
  properties: { strategy: { type: "string", minLength: 1, maxLength: 64 } },
  required: ["strategy"],
} as const;

const loadQuery = {
  type: "object",
  properties: { instance_id: { type: "string", minLength: 1, maxLength: 256 } },
  required: ["instance_id"],
} as const;

/**
 * Seed 004's load-balancer API with its JSON shapes (`X-API-Key` or Bearer, admin scope: these
 * routes change or reveal how the fleet is routed).
 */
export function registerLoadbalancerCompatRoutes(app: FastifyInstance, deps: LoadbalancerCompatDeps): void {
  const { nodes, strategies } = deps;
  const onRequest = requireScope(deps.credentials, "admin");

  app.get("/api/v1/loadbalancer/strategy", { onRequest }, async () => {
    return { strategy: strategies.current };
  });

  app.put<{ Body: { strategy: string } }>(
    "/api/v1/loadbalancer/strategy",
    { onRequest, bodyLimit: ADMIN_BODY_LIMIT_BYTES, schema: { body: strategyBody } },
    async (req) => {
      const p = principalOf(req);
      // StrategyBook.set answers an unknown name with a 400 that lists the valid ones.
      strategies.set(req.body.strategy);
      req.log.info({ userId: p.userId, strategy: strategies.current }, "load balancing strategy changed");
      return { strategy: strategies.current, message: "Load balancing strategy updated" };
    },
  );

  app.get("/api/v1/loadbalancer/loads", { onRequest }, async () => {
    const list = [...nodes.all()].sort((a, b) => a.id.localeCompare(b.id));
    const loads: Record<string, ReturnType<typeof instanceLoadJson>> = {};
    for (const n of list) loads[n.id] = instanceLoadJson(n);
    return { strategy: strategies.current, count: list.length, loads };
  });

  app.get<{ Querystring: { instance_id: string } }>(
    "/api/v1/loadbalancer/load",
    { onRequest, schema: { querystring: loadQuery } },
    async (req) => {
      const n = nodes.get(req.query.instance_id);
      if (!n) throw new LbError("not_found", "No such instance.", { param: "instance_id" });
      return instanceLoadJson(n);
    },
  );
}
