import type { FastifyInstance } from "fastify";
import type { UserStore } from "../../auth/index.js";
import { LbError } from "../../errors.js";
import type { Scheduler } from "../../jobs/scheduler.js";
import type { NodeStore } from "../../nodes/node-store.js";
import { principalOf, requireScope } from "../guard.js";
import type { Credentials } from "../principal.js";
import { nodeToDetailJson, nodeToJson } from "./node-json.js";
import { ADMIN_BODY_LIMIT_BYTES, drainBody, idParams } from "./schemas.js";

/** Anything that can be asked to drain (a node stream session). */
export interface Drainable {
  drain(reason: string): void;
}

/** What the node and queue routes need. */
export interface NodeRouteDeps {
  credentials: Credentials;
  nodes: NodeStore;
  scheduler: Scheduler;
  /** Open node streams by node id. */
  sessions: ReadonlyMap<string, Drainable>;
  /** Resolves user ids to names in the queue view, when accounts are stored. */
  users?: Pick<UserStore, "getUser">;
}

/** `GET /v0/nodes`, `GET /v0/nodes/{id}`, `POST /v0/nodes/{id}/drain`, `GET /v0/queue` (admin). */
export function registerNodeRoutes(app: FastifyInstance, deps: NodeRouteDeps): void {
  const { nodes } = deps;
  const onRequest = requireScope(deps.credentials, "admin");
  const find = (id: string) => {
    const n = nodes.get(id);
    if (!n) throw new LbError("not_found", "No such node.", { param: "id" });
    return n;
  };

  app.get("/v0/nodes", { onRequest }, async () => {
    const list = [...nodes.all()].sort((a, b) => a.id.localeCompare(b.id));
    return { nodes: list.map(nodeToJson) };
  });

  app.get<{ Params: { id: string } }>(
    "/v0/nodes/:id",
    { onRequest, schema: { params: idParams } },
    async (req) => nodeToDetailJson(find(req.params.id)),
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } | null | undefined }>(
    "/v0/nodes/:id/drain",
    { onRequest, bodyLimit: ADMIN_BODY_LIMIT_BYTES, schema: { params: idParams, body: drainBody } },
    async (req) => {
      const node = find(req.params.id);
      const session = deps.sessions.get(node.id);
      if (!session) throw new LbError("conflict", `Node ${node.id} is not connected (state: ${node.state}).`);
      if (node.state !== "draining") {
        session.drain(req.body?.reason ?? "drained by an operator");
        req.log.info({ nodeId: node.id, userId: principalOf(req).userId }, "node drain requested");
      }
      return {
        id: node.id,
        state: node.state,
        message: "Node is draining: it finishes its in-flight jobs and takes no new ones.",
      };
    },
  );

  app.get("/v0/queue", { onRequest }, async () => {
    const snap = deps.scheduler.queueSnapshot();
    const byModel: Record<string, number> = {};
    for (const u of snap.users) {
      for (const [model, depth] of Object.entries(u.byModel)) byModel[model] = (byModel[model] ?? 0) + depth;
    }
    return {
      total: snap.total,
      oldest_wait_ms: Math.round(snap.oldestWaitMs),
      by_model: byModel,
      users: snap.users.map((u) => ({
        user_id: u.userId,
        username: deps.users?.getUser(u.userId)?.username ?? null,
        depth: u.depth,
        by_model: u.byModel,
        oldest_wait_ms: Math.round(u.oldestWaitMs),
      })),
    };
  });
}
