/** The answer to "may this request start now?". */
export type RateDecision =
  | { readonly ok: true }
  | { readonly ok: false; readonly retryAfterSeconds: number; readonly limit: "rpm" | "tpm" };

/** Per-key request and token budgets over a sliding minute, in memory. */
export interface RateLimiter {
  /**
   * Admits a request or says when to retry. Admitting counts the request against `rpmLimit` and
   * reserves `estimatedTokens` against `tpmLimit` until {@link record} settles it. Undefined
   * limits are unlimited. A request larger than the whole token budget is admitted only when the
   * key has used no tokens in the window (otherwise it could never run).
   */
  check(
    keyId: string,
    rpmLimit: number | undefined,
    tpmLimit: number | undefined,
    estimatedTokens: number,
  ): RateDecision;
  /**
   * Settles the key's oldest open reservation with the tokens actually used (call it once per
   * admitted request, with 0 if it failed before any token); without one, adds the tokens.
   */
  record(keyId: string, actualTokens: number): void;
  /** Keys with live state (for tests and metrics). */
  trackedKeys(): number;
}

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Window length (default 60 s, the "per minute" of rpm/tpm). */
  readonly windowMs?: number;
  /** Clock in epoch ms (tests). */
  readonly now?: () => number;
}

interface Entry {
  readonly at: number;
  tokens: number;
  open: boolean;
}

interface KeyState {
  entries: Entry[];
  /** Index of the oldest live entry; the array is compacted lazily. */
  head: number;
  /** Sum of live entries' tokens, kept so a check is O(expired entries), not O(window). */
  tokens: number;
}

const SWEEP_EVERY = 1024;

function tokensOf(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** Creates an empty sliding-window limiter. */
export function createRateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  const windowMs = options.windowMs ?? 60_000;
  const now = options.now ?? Date.now;
  const keys = new Map<string, KeyState>();
  let calls = 0;

  const prune = (s: KeyState, at: number): void => {
    const cutoff = at - windowMs;
    while (s.head < s.entries.length && (s.entries[s.head] as Entry).at <= cutoff) {
      s.tokens -= (s.entries[s.head] as Entry).tokens;
      s.head++;
    }
    if (s.head > 64 && s.head * 2 > s.entries.length) {
      s.entries = s.entries.slice(s.head);
      s.head = 0;
    }
  };

  // Keys that stop sending keep their state until a sweep finds their window empty.
  const sweep = (at: number): void => {
    for (const [id, s] of keys) {
      prune(s, at);
      if (s.head === s.entries.length) keys.delete(id);
    }
  };

  const retryAfter = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

  return {
    check(keyId, rpmLimit, tpmLimit, estimatedTokens) {
      if (rpmLimit === undefined && tpmLimit === undefined) return { ok: true };
      const at = now();
      if (++calls % SWEEP_EVERY === 0) sweep(at);
      let s = keys.get(keyId);
      if (s === undefined) {
        s = { entries: [], head: 0, tokens: 0 };
        keys.set(keyId, s);
      }
      prune(s, at);
      const live = s.entries.length - s.head;
      if (rpmLimit !== undefined && live >= rpmLimit) {
        // The oldest request leaving the window frees a slot (limit ≥ 1, so one exists).
        const oldest = s.entries[s.entries.length - rpmLimit] ?? (s.entries[s.head] as Entry);
        return { ok: false, limit: "rpm", retryAfterSeconds: retryAfter(oldest.at + windowMs - at) };
      }
      const estimate = tokensOf(estimatedTokens);
      if (tpmLimit !== undefined && s.tokens > 0 && s.tokens + estimate > tpmLimit) {
        // Walk from the oldest entry until enough tokens would have left the window.
        const excess = s.tokens + Math.min(estimate, tpmLimit) - tpmLimit;
        let freed = 0;
        let until = at + windowMs;
        for (let i = s.head; i < s.entries.length; i++) {
          const e = s.entries[i] as Entry;
          freed += e.tokens;
          if (freed >= excess) {
            until = e.at + windowMs;
            break;
          }
        }
        return { ok: false, limit: "tpm", retryAfterSeconds: retryAfter(until - at) };
      }
      s.entries.push({ at, tokens: estimate, open: true });
      s.tokens += estimate;
      return { ok: true };
    },
    record(keyId, actualTokens) {
      const s = keys.get(keyId);
      if (s === undefined) return;
      const actual = tokensOf(actualTokens);
      for (let i = s.head; i < s.entries.length; i++) {
        const e = s.entries[i] as Entry;
        if (e.open) {
          s.tokens += actual - e.tokens;
          e.tokens = actual;
          e.open = false;
          return;
        }
      }
      s.entries.push({ at: now(), tokens: actual, open: false });
      s.tokens += actual;
    },
    trackedKeys: () => keys.size,
  };
}
