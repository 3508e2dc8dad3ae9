import type { FastifyInstance } from "fastify";
import type { Auth, LoginThrottle } from "../../auth/index.js";
import { userToPublic } from "../../auth/index.js";
import { LbError } from "../../errors.js";
import { principalOf, requireScope } from "../guard.js";
import type { Credentials } from "../principal.js";
import { ADMIN_BODY_LIMIT_BYTES, loginBody } from "./schemas.js";

/** What the login routes need. */
export interface AuthRouteDeps {
  credentials: Credentials;
  auth: Auth;
  throttle: LoginThrottle;
}

// One message for "no such user", "wrong password" and "disabled": the answer says nothing about
// which usernames exist. Timing is equalised by the store (one argon2 verify on every path).
const LOGIN_FAILED = "Invalid username or password.";

/** `POST /v0/auth/login` (username + password → JWT) and `GET /v0/auth/me`. */
export function registerAuthRoutes(app: FastifyInstance, deps: AuthRouteDeps): void {
  app.post<{ Body: { username: string; password: string } }>(
    "/v0/auth/login",
    { bodyLimit: ADMIN_BODY_LIMIT_BYTES, schema: { body: loginBody } },
    async (req, reply) => {
      const { username, password } = req.body;
      const decision = deps.throttle.check(username, req.ip);
      if (!decision.allowed) {
        // Refused before argon2 runs, so a guessing loop costs us nothing.
        throw new LbError("rate_limit_exceeded", "Too many failed logins; retry later.", {
          retryAfterSeconds: decision.retryAfterSeconds,
        });
      }
      const user = await deps.auth.users.verifyLogin(username, password);
      if (!user) {
        deps.throttle.recordFailure(username, req.ip);
        req.log.info({ ip: req.ip }, "login failed");
        throw new LbError("invalid_credentials", LOGIN_FAILED);
      }
      deps.throttle.recordSuccess(username, req.ip);
      const { token, expiresAt } = await deps.auth.jwt.issueToken(user);
      req.log.info({ userId: user.id }, "login");
      reply.header("cache-control", "no-store");
      return {
        token,
        token_type: "Bearer",
        expires_at: new Date(expiresAt).toISOString(),
        user: userToPublic(user),
      };
    },
  );

  app.get("/v0/auth/me", { onRequest: requireScope(deps.credentials, "inference") }, async (req) => {
    const p = principalOf(req);
    const user = deps.auth.users.getUser(p.userId);
    return {
      user_id: p.userId,
      username: user?.username ?? null,
      role: user?.role ?? null,
      via: p.via,
      scopes: [...p.scopes].sort(),
      key_id: p.via === "api_key" ? p.keyId : null,
    };
  });
}
