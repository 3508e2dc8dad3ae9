import type { FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import { LbError } from "../errors.js";
import { authenticate, type Credentials, type Principal, type Scope } from "./principal.js";

const principals = new WeakMap<FastifyRequest, Principal>();

/**
 * An onRequest hook that authenticates before the body is read or validated: an anonymous caller
 * gets 401, never a 400 that describes the route's schema, and never makes us parse a large body.
 */
export function requireScope(credentials: Credentials, scope: Scope): onRequestAsyncHookHandler {
  return async (req) => {
    principals.set(req, await authenticate(req, credentials, scope));
  };
}

/** The principal {@link requireScope} resolved for this request. */
export function principalOf(req: FastifyRequest): Principal {
  const p = principals.get(req);
  // A route without the hook is a programming error, not a client's: fail closed.
  if (!p) throw new LbError("internal", "Internal error.");
  return p;
}
