import type { FastifyRequest } from "fastify";
import { LbError } from "../errors.js";
import { bearerToken } from "./auth-header.js";

/** Scopes a credential may carry; `admin` implies every other. */
export type Scope = "inference" | "admin";

/** Who is calling: resolved from an API key or an admin JWT. */
export interface Principal {
  /** The fair-queue user (the key's owner). */
  readonly userId: string;
  readonly keyId: string;
  readonly scopes: ReadonlySet<Scope>;
  readonly via: "api_key" | "jwt";
  readonly rpmLimit?: number;
  readonly tpmLimit?: number;
}

/** Resolves credentials presented on requests and streams. */
export interface Credentials {
  /** An API key, or undefined when unknown or revoked. */
  apiKey(plain: string): Principal | undefined;
  /** An admin session token (JWT), or undefined when invalid. */
  session?(token: string): Promise<Principal | undefined>;
  /** A node token's id, or undefined when unknown or revoked. */
  nodeToken(plain: string): string | undefined;
}

/** Whether the principal holds a scope (admin implies all). */
export function hasScope(p: Principal, scope: Scope): boolean {
  return p.scopes.has("admin") || p.scopes.has(scope);
}

/**
 * Authenticates a request: `Authorization: Bearer <key or JWT>`, or `X-API-Key` (seed 004).
 * Throws 401 for a missing/unknown credential and 403 for one without the scope.
 */
export async function authenticate(
  req: FastifyRequest,
  creds: Credentials,
  scope: Scope,
): Promise<Principal> {
  const headerKey = req.headers["x-api-key"];
  const token =
    bearerToken(req.headers.authorization) ?? (typeof headerKey === "string" ? headerKey.trim() : undefined);
  if (!token) {
    throw new LbError("invalid_api_key", "Missing API key: send 'Authorization: Bearer <key>'.");
  }
  let principal = creds.apiKey(token);
  if (!principal && creds.session && token.split(".").length === 3) principal = await creds.session(token);
  if (!principal) throw new LbError("invalid_api_key", "Invalid or revoked API key.");
  if (!hasScope(principal, scope)) {
    throw new LbError("insufficient_scope", `This key lacks the '${scope}' scope.`);
  }
  return principal;
}
