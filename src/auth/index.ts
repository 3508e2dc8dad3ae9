export {
  API_KEY_SCOPES,
  type ApiKeyPublic,
  type ApiKeyRecord,
  type ApiKeyScope,
  type ApiKeyStore,
  type ApiKeyStoreOptions,
  apiKeyToPublic,
  type CreateApiKeyInput,
  createApiKeyStore,
  hasScope,
} from "./api-keys.js";
export { LAST_USED_RESOLUTION_MS } from "./credentials.js";
export {
  createJwtIssuer,
  DEFAULT_JWT_TTL_SECONDS,
  type JwtIdentity,
  type JwtIssuer,
  type JwtOptions,
  resolveJwtSecret,
} from "./jwt.js";
export {
  createLoginThrottle,
  type LoginThrottle,
  type LoginThrottleOptions,
  type ThrottleDecision,
} from "./login-throttle.js";
export {
  createNodeTokenStore,
  type NodeTokenPublic,
  type NodeTokenRecord,
  type NodeTokenStore,
  type NodeTokenStoreOptions,
  nodeTokenToPublic,
} from "./node-tokens.js";
export {
  createRateLimiter,
  type RateDecision,
  type RateLimiter,
  type RateLimiterOptions,
} from "./rate-limit.js";
export {
  type CreateUserInput,
  createUserStore,
  type UserPublic,
  type UserRecord,
  type UserRole,
  type UserStore,
  type UserStoreOptions,
  userToPublic,
} from "./users.js";

import type { Store } from "../store/db.js";
import { type ApiKeyStore, createApiKeyStore } from "./api-keys.js";
import { createJwtIssuer, type JwtIssuer } from "./jwt.js";
import { createNodeTokenStore, type NodeTokenStore } from "./node-tokens.js";
import { createUserStore, type UserStore } from "./users.js";

/** Everything the server needs to authenticate, bound to one open store. */
export interface Auth {
  readonly users: UserStore;
  readonly apiKeys: ApiKeyStore;
  readonly nodeTokens: NodeTokenStore;
  readonly jwt: JwtIssuer;
}

/** Options of {@link createAuth}; typed config values, never read from the environment here. */
export interface AuthOptions {
  /** LLMLB_JWT_SECRET; empty or absent: generated once and kept in the store. */
  readonly jwtSecret?: string | undefined;
  readonly jwtTtlSeconds?: number;
  /** Clock in epoch ms (tests). */
  readonly now?: () => number;
}

/** Builds the user, API key, node token and JWT services over one store. */
export function createAuth(store: Store, options: AuthOptions = {}): Auth {
  const clock = options.now === undefined ? {} : { now: options.now };
  const users = createUserStore(store, clock);
  return {
    users,
    apiKeys: createApiKeyStore(store, clock),
    nodeTokens: createNodeTokenStore(store, clock),
    jwt: createJwtIssuer(store, users, {
      secret: options.jwtSecret,
      ...clock,
      ...(options.jwtTtlSeconds !== undefined && { ttlSeconds: options.jwtTtlSeconds }),
    }),
  };
}
