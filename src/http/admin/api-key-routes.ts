import type { FastifyInstance, FastifyRequest } from "fastify";
import { type ApiKeyRecord, type ApiKeyScope, type ApiKeyStore, apiKeyToPublic } from "../../auth/index.js";
import { LbError } from "../../errors.js";
import { principalOf, requireScope } from "../guard.js";
import { type Credentials, hasScope, type Principal } from "../principal.js";
import { ADMIN_BODY_LIMIT_BYTES, createApiKeyBody, idParams } from "./schemas.js";

/** What the API key routes need. */
export interface ApiKeyRouteDeps {
  credentials: Credentials;
  apiKeys: ApiKeyStore;
}

interface CreateKey {
  name?: string;
  scopes?: ApiKeyScope[];
  owner_user_id?: string;
  rpm_limit?: number | null;
  tpm_limit?: number | null;
}

/**
 * `/v0/api-keys`: create (the plain key is in this one response only), list, get, revoke. Admins
 * manage every key; a signed-in user manages their own inference keys. An inference API key cannot
 * manage keys at all, so a leaked one cannot mint successors that outlive its revocation.
 */
export function registerApiKeyRoutes(app: FastifyInstance, deps: ApiKeyRouteDeps): void {
  const { apiKeys } = deps;
  const onRequest = requireScope(deps.credentials, "inference");

  const caller = (req: FastifyRequest): { p: Principal; admin: boolean } => {
    const p = principalOf(req);
    const admin = hasScope(p, "admin");
    if (!admin && p.via !== "jwt") {
      throw new LbError("insufficient_scope", "Managing API keys needs a login session or an admin key.");
    }
    return { p, admin };
  };
  // Another user's key answers like a missing one: ids of others' keys are not confirmed.
  const visible = (id: string, p: Principal, admin: boolean): ApiKeyRecord => {
    const key = apiKeys.getApiKey(id);
    if (!key || (!admin && key.ownerUserId !== p.userId))
      throw new LbError("not_found", "No such API key.", { param: "id" });
    return key;
  };

  app.post<{ Body: CreateKey | null }>(
    "/v0/api-keys",
    { onRequest, bodyLimit: ADMIN_BODY_LIMIT_BYTES, schema: { body: createApiKeyBody } },
    async (req, reply) => {
      const { p, admin } = caller(req);
      const b = req.body ?? {};
      const owner = b.owner_user_id ?? p.userId;
      const scopes = b.scopes ?? ["inference"];
      if (!admin && owner !== p.userId)
        throw new LbError("insufficient_scope", "You may create keys only for yourself.");
      if (!admin && scopes.includes("admin"))
        throw new LbError("insufficient_scope", "Only admins may create admin keys.");
      const { key, record } = apiKeys.createApiKey({
        name: b.name ?? `key ${new Date().toISOString()}`,
        ownerUserId: owner,
        scopes,
        rpmLimit: b.rpm_limit ?? undefined,
        tpmLimit: b.tpm_limit ?? undefined,
      });
      req.log.info({ userId: p.userId, keyId: record.id, owner, scopes: record.scopes }, "API key created");
      reply.code(201).header("cache-control", "no-store");
      return { key, api_key: apiKeyToPublic(record) };
    },
  );

  app.get<{ Querystring: { owner_user_id?: string } }>(
    "/v0/api-keys",
    {
      onRequest,
      schema: {
        querystring: {
          type: "object",
          properties: { owner_user_id: { type: "string", minLength: 1, maxLength: 256 } },
        },
      },
    },
    async (req) => {
      const { p, admin } = caller(req);
      const owner = admin ? req.query.owner_user_id : p.userId;
      return { api_keys: apiKeys.listApiKeys(owner).map(apiKeyToPublic) };
    },
  );

  app.get<{ Params: { id: string } }>(
    "/v0/api-keys/:id",
    { onRequest, schema: { params: idParams } },
    async (req) => {
      const { p, admin } = caller(req);
      return { api_key: apiKeyToPublic(visible(req.params.id, p, admin)) };
    },
  );

  app.delete<{ Params: { id: string } }>(
    "/v0/api-keys/:id",
    { onRequest, schema: { params: idParams } },
    async (req) => {
      const { p, admin } = caller(req);
      const key = visible(req.params.id, p, admin);
      if (key.source === "static") {
        throw new LbError("conflict", "Static keys come from LLMLB_API_KEYS; remove them there and restart.");
      }
      const revoked = apiKeys.revokeApiKey(key.id);
      if (!revoked) throw new LbError("not_found", "No such API key.", { param: "id" });
      req.log.info({ userId: p.userId, keyId: key.id }, "API key revoked");
      return { api_key: apiKeyToPublic(revoked) };
    },
  );
}
