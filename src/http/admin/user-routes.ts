import type { FastifyInstance } from "fastify";
import { type UserRole, type UserStore, userToPublic } from "../../auth/index.js";
import { LbError } from "../../errors.js";
import { principalOf, requireScope } from "../guard.js";
import { type Credentials, hasScope } from "../principal.js";
import { ADMIN_BODY_LIMIT_BYTES, createUserBody, idParams, patchUserBody } from "./schemas.js";

/** What the user routes need. */
export interface UserRouteDeps {
  credentials: Credentials;
  users: UserStore;
}

interface PatchUser {
  role?: UserRole;
  disabled?: boolean;
  password?: string;
}

/** Users CRUD under `/v0/users` (admin), plus a signed-in user changing their own password. */
export function registerUserRoutes(app: FastifyInstance, deps: UserRouteDeps): void {
  const { users } = deps;
  const admin = requireScope(deps.credentials, "admin");
  const anyone = requireScope(deps.credentials, "inference");
  const find = (id: string) => {
    const u = users.getUser(id);
    if (!u) throw new LbError("not_found", "No such user.", { param: "id" });
    return u;
  };

  app.get("/v0/users", { onRequest: admin }, async () => ({ users: users.listUsers().map(userToPublic) }));

  app.post<{ Body: { username: string; password: string; role?: UserRole } }>(
    "/v0/users",
    { onRequest: admin, bodyLimit: ADMIN_BODY_LIMIT_BYTES, schema: { body: createUserBody } },
    async (req, reply) => {
      const user = await users.createUser(req.body);
      req.log.info({ userId: principalOf(req).userId, created: user.id, role: user.role }, "user created");
      reply.code(201);
      return { user: userToPublic(user) };
    },
  );

  app.get<{ Params: { id: string } }>(
    "/v0/users/:id",
    { onRequest: admin, schema: { params: idParams } },
    async (req) => ({
      user: userToPublic(find(req.params.id)),
    }),
  );

  app.patch<{ Params: { id: string }; Body: PatchUser }>(
    "/v0/users/:id",
    {
      onRequest: anyone,
      bodyLimit: ADMIN_BODY_LIMIT_BYTES,
      schema: { params: idParams, body: patchUserBody },
    },
    async (req) => {
      const p = principalOf(req);
      const { id } = req.params;
      const body = req.body;
      // A signed-in user may change their own password (and nothing else); the rest is admin work.
      // Not with an API key: a leaked key must not be able to take over the account.
      const selfPassword =
        p.via === "jwt" && p.userId === id && Object.keys(body).every((k) => k === "password");
      if (!selfPassword && !hasScope(p, "admin"))
        throw new LbError("insufficient_scope", "This key lacks the 'admin' scope.");
      find(id);
      // Role and disabled first: they may be refused (last admin), and then the password is untouched.
      if (body.role !== undefined) users.setRole(id, body.role);
      if (body.disabled !== undefined) users.setDisabled(id, body.disabled);
      if (body.password !== undefined) await users.setPassword(id, body.password);
      req.log.info({ userId: p.userId, target: id, fields: Object.keys(body) }, "user updated");
      return { user: userToPublic(find(id)) };
    },
  );

  app.delete<{ Params: { id: string } }>(
    "/v0/users/:id",
    { onRequest: admin, schema: { params: idParams } },
    async (req) => {
      const user = find(req.params.id);
      if (!users.deleteUser(user.id)) throw new LbError("not_found", "No such user.", { param: "id" });
      req.log.info({ userId: principalOf(req).userId, deleted: user.id }, "user deleted");
      return { id: user.id, deleted: true };
    },
  );
}
