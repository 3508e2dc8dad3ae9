import type { FastifyInstance } from "fastify";
import { type NodeTokenStore, nodeTokenToPublic } from "../../auth/index.js";
import { LbError } from "../../errors.js";
import { principalOf, requireScope } from "../guard.js";
import type { Credentials } from "../principal.js";
import { ADMIN_BODY_LIMIT_BYTES, createNodeTokenBody, idParams } from "./schemas.js";

/** What the node token routes need. */
export interface NodeTokenRouteDeps {
  credentials: Credentials;
  nodeTokens: NodeTokenStore;
}

/**
 * `/v0/node-tokens` (admin): create (the plain token is in this one response only), list, get,
 * revoke. Revoking closes the streams that token opened at once (the control plane listens).
 */
export function registerNodeTokenRoutes(app: FastifyInstance, deps: NodeTokenRouteDeps): void {
  const { nodeTokens } = deps;
  const onRequest = requireScope(deps.credentials, "admin");
  const find = (id: string) => {
    const t = nodeTokens.getNodeToken(id);
    if (!t) throw new LbError("not_found", "No such node token.", { param: "id" });
    return t;
  };

  app.post<{ Body: { name?: string } | null }>(
    "/v0/node-tokens",
    { onRequest, bodyLimit: ADMIN_BODY_LIMIT_BYTES, schema: { body: createNodeTokenBody } },
    async (req, reply) => {
      const p = principalOf(req);
      const { token, record } = nodeTokens.createNodeToken(
        req.body?.name ?? `node token ${new Date().toISOString()}`,
      );
      req.log.info({ userId: p.userId, tokenId: record.id }, "node token created");
      reply.code(201).header("cache-control", "no-store");
      return { token, node_token: nodeTokenToPublic(record) };
    },
  );

  app.get("/v0/node-tokens", { onRequest }, async () => {
    return { node_tokens: nodeTokens.listNodeTokens().map(nodeTokenToPublic) };
  });

  app.get<{ Params: { id: string } }>(
    "/v0/node-tokens/:id",
    { onRequest, schema: { params: idParams } },
    async (req) => {
      return { node_token: nodeTokenToPublic(find(req.params.id)) };
    },
  );

  app.delete<{ Params: { id: string } }>(
    "/v0/node-tokens/:id",
    { onRequest, schema: { params: idParams } },
    async (req) => {
      const p = principalOf(req);
      const token = find(req.params.id);
      if (token.source === "static") {
        throw new LbError(
          "conflict",
          "Static tokens come from LLMLB_NODE_TOKENS; remove them there and restart.",
        );
      }
      const revoked = nodeTokens.revokeNodeToken(token.id);
      if (!revoked) throw new LbError("not_found", "No such node token.", { param: "id" });
      req.log.info({ userId: p.userId, tokenId: token.id }, "node token revoked");
      return { node_token: nodeTokenToPublic(revoked) };
    },
  );
}
