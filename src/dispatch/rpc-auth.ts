import { LbError } from "../errors.js";
import { bearerToken } from "../http/auth-header.js";
import { type Credentials, hasScope, type Principal, type Scope } from "../http/principal.js";

/** Reads a request header by (lower-case) name: a WHATWG Headers, or the fast path's h2 headers. */
export interface HeaderReader {
  get(name: string): string | null;
}

/**
 * Authenticates an RPC from its metadata: `authorization: Bearer <api key or admin JWT>`, or
 * `x-api-key` as the HTTP API accepts. Throws `invalid_api_key` (UNAUTHENTICATED) or
 * `insufficient_scope` (PERMISSION_DENIED), with the same messages the HTTP API uses.
 */
export async function authenticateCall(
  header: HeaderReader,
  creds: Credentials,
  scope: Scope,
): Promise<Principal> {
  const token = bearerToken(header.get("authorization")) ?? header.get("x-api-key")?.trim();
  if (!token)
    throw new LbError("invalid_api_key", "Missing API key: send 'authorization: Bearer <key>' metadata.");
  let principal = creds.apiKey(token);
  if (!principal && creds.session && token.split(".").length === 3) principal = await creds.session(token);
  if (!principal) throw new LbError("invalid_api_key", "Invalid or revoked API key.");
  if (!hasScope(principal, scope))
    throw new LbError("insufficient_scope", `This key lacks the '${scope}' scope.`);
  return principal;
}
