import { createRateLimiter, type RateLimiter } from "../auth/index.js";
import { LbError } from "../errors.js";
import type { Principal } from "../http/principal.js";

/** Settles an admitted request with the tokens it really used; safe to call more than once. */
export type SettleTokens = (actualTokens: number) => void;

/** Per-key RPM/TPM admission for the inference edges (OpenAI facade, Dispatch). */
export interface KeyLimits {
  /**
   * Admits a request against its key's limits or throws 429 `rate_limit_exceeded` with Retry-After.
   * Returns the settle function for limited keys, undefined for unlimited ones.
   */
  admit(principal: Principal, estimatedTokens: number): SettleTokens | undefined;
  readonly limiter: RateLimiter;
}

/** Builds the admission check over one in-memory sliding-window limiter. */
export function createKeyLimits(limiter: RateLimiter = createRateLimiter()): KeyLimits {
  return {
    limiter,
    admit(principal, estimatedTokens) {
      const { keyId, rpmLimit, tpmLimit } = principal;
      if (rpmLimit === undefined && tpmLimit === undefined) return undefined;
      const d = limiter.check(keyId, rpmLimit, tpmLimit, estimatedTokens);
      if (!d.ok) {
        const what = d.limit === "rpm" ? `${rpmLimit} requests` : `${tpmLimit} tokens`;
        throw new LbError("rate_limit_exceeded", `This key is limited to ${what} per minute; retry later.`, {
          retryAfterSeconds: d.retryAfterSeconds,
        });
      }
      let settled = false;
      // The reservation holds the estimate until the job ends; settle it once with the real count.
      return (actual) => {
        if (settled) return;
        settled = true;
        limiter.record(keyId, actual);
      };
    },
  };
}
