import { randomBytes } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";
import type { Store } from "../store/db.js";
import { StoreError } from "../store/errors.js";
import type { UserRecord, UserRole, UserStore } from "./users.js";

/** Who a valid admin JWT speaks for, as the database says now (not as the token claimed). */
export interface JwtIdentity {
  readonly userId: string;
  readonly username: string;
  readonly role: UserRole;
}

/** Issues and checks the admin API's session tokens (HS256). */
export interface JwtIssuer {
  /** Signs a token for an enabled user; `expiresAt` is epoch ms. */
  issueToken(user: UserRecord): Promise<{ token: string; expiresAt: number }>;
  /** The identity behind a token; undefined if forged, expired, not HS256, or the user changed since. */
  verifyToken(token: string): Promise<JwtIdentity | undefined>;
}

/** Options of {@link createJwtIssuer}. */
export interface JwtOptions {
  /** The configured secret (LLMLB_JWT_SECRET, ≥ 32 bytes); empty or absent: generated and stored. */
  readonly secret?: string | undefined;
  /** Token lifetime (default 12 h). */
  readonly ttlSeconds?: number;
  /** Clock in epoch ms (tests). */
  readonly now?: () => number;
}

/** The settings key under which a generated secret is kept. */
export const JWT_SECRET_SETTING = "jwt_secret";
/** Default token lifetime: a working day. */
export const DEFAULT_JWT_TTL_SECONDS = 12 * 60 * 60;
const ISSUER = "llmlb";
const AUDIENCE = "llmlb-admin";
const MIN_SECRET_BYTES = 32;

/**
 * The HMAC key: the configured secret, else the one stored in `settings`, else 32 fresh random
 * bytes stored there (first writer wins, so concurrent first starts agree) and kept across restarts.
 */
export function resolveJwtSecret(store: Store, configured?: string): Uint8Array {
  if (configured !== undefined && configured !== "") {
    const bytes = new TextEncoder().encode(configured);
    // HS256 is only as strong as its key; a short one can be brute-forced from any issued token.
    if (bytes.length < MIN_SECRET_BYTES) {
      throw new StoreError("invalid_argument", `the JWT secret must be at least ${MIN_SECRET_BYTES} bytes`);
    }
    return bytes;
  }
  const stored = store.setSettingIfAbsent(JWT_SECRET_SETTING, randomBytes(32).toString("base64url"));
  return Buffer.from(stored, "base64url");
}

/** A JWT issuer bound to a store's users and secret. */
export function createJwtIssuer(store: Store, users: UserStore, options: JwtOptions = {}): JwtIssuer {
  const key = resolveJwtSecret(store, options.secret);
  const ttl = options.ttlSeconds ?? DEFAULT_JWT_TTL_SECONDS;
  if (!Number.isFinite(ttl) || ttl <= 0) throw new StoreError("invalid_argument", "JWT ttl must be positive");
  const now = options.now ?? Date.now;

  return {
    async issueToken(user) {
      if (user.disabled) throw new StoreError("invalid_argument", "cannot issue a token to a disabled user");
      const iat = Math.floor(now() / 1000);
      const exp = iat + Math.ceil(ttl);
      const token = await new SignJWT({ username: user.username, role: user.role, ver: user.tokenVersion })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(user.id)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .sign(key);
      return { token, expiresAt: exp * 1000 };
    },
    async verifyToken(token) {
      if (typeof token !== "string" || token === "") return undefined;
      let payload: Record<string, unknown>;
      try {
        // algorithms pins HS256: "none" and every other alg (HS512, RS256 key confusion) fail.
        ({ payload } = await jwtVerify(token, key, {
          algorithms: ["HS256"],
          issuer: ISSUER,
          audience: AUDIENCE,
          requiredClaims: ["sub", "exp", "iat"],
          currentDate: new Date(now()),
        }));
      } catch {
        return undefined;
      }
      if (typeof payload.sub !== "string") return undefined;
      const user = users.getUser(payload.sub);
      // Deleted, disabled, or password changed since the token was issued.
      if (user === undefined || user.disabled || payload.ver !== user.tokenVersion) return undefined;
      return { userId: user.id, username: user.username, role: user.role };
    },
  };
}
