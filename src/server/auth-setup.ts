import type { Logger } from "pino";
import { type createAuth as CreateAuth, createAuth } from "../auth/index.js";
import type { ServerConfig } from "../config/server-config.js";
import type { Credentials, Principal, Scope } from "../http/principal.js";
import { openStore, type Store } from "../store/index.js";

/** The auth stack the control plane runs on: SQLite store, users, keys, node tokens, JWT. */
export type Auth = ReturnType<typeof CreateAuth>;

/** Owner of config-supplied keys when no admin user exists (a fair-queue user like any other). */
const OPERATOR_USER = "operator";
const DEMO_PASSWORD = "test";

/**
 * Opens the store, creates the first admin from config, registers the static keys and tokens, and
 * returns the Credentials the HTTP and gRPC edges check against.
 */
export async function setupAuth(
  config: ServerConfig,
  logger: Logger,
): Promise<{ store: Store; auth: Auth; credentials: Credentials }> {
  const store = openStore(config.db);
  const auth = createAuth(store, { jwtSecret: config.jwtSecret || undefined });
  let owner = OPERATOR_USER;
  if (config.adminUser && config.adminPassword) {
    const { created, user } = await auth.users.ensureAdmin(config.adminUser, config.adminPassword);
    owner = user.id;
    if (created) logger.info({ user: user.username }, "created the first admin user");
    if (config.adminPassword === DEMO_PASSWORD) {
      logger.warn(`admin password is the demo password '${DEMO_PASSWORD}': change it before exposing llmlb`);
    }
  }
  if (config.apiKeys.length > 0) auth.apiKeys.addStaticAdminKeys(config.apiKeys, owner);
  if (config.nodeTokens.length > 0) auth.nodeTokens.addStaticNodeTokens(config.nodeTokens);
  const credentials: Credentials = {
    apiKey(plain) {
      const rec = auth.apiKeys.verifyApiKey(plain);
      if (!rec) return undefined;
      const p: Principal = {
        userId: rec.ownerUserId,
        keyId: rec.id,
        scopes: new Set(rec.scopes as Scope[]),
        via: "api_key",
        ...(rec.rpmLimit !== undefined ? { rpmLimit: rec.rpmLimit } : {}),
        ...(rec.tpmLimit !== undefined ? { tpmLimit: rec.tpmLimit } : {}),
      };
      return p;
    },
    async session(token) {
      const claims = await auth.jwt.verifyToken(token);
      if (!claims) return undefined;
      const scopes: Scope[] = claims.role === "admin" ? ["admin", "inference"] : ["inference"];
      return {
        userId: claims.userId,
        keyId: `session:${claims.userId}`,
        scopes: new Set(scopes),
        via: "jwt",
      };
    },
    nodeToken(plain) {
      return auth.nodeTokens.verifyNodeToken(plain)?.id;
    },
  };
  return { store, auth, credentials };
}
