/** Whether a login attempt may proceed, and if not, for how long to wait. */
export interface ThrottleDecision {
  readonly allowed: boolean;
  /** 0 when allowed. */
  readonly retryAfterSeconds: number;
}

/** Limits failed logins per (username, client IP) over a sliding window, in memory. */
export interface LoginThrottle {
  /** Call before checking the password; a refused attempt must not reach argon2. */
  check(username: string, ip: string): ThrottleDecision;
  /** Counts a failed attempt. */
  recordFailure(username: string, ip: string): void;
  /** Clears the failures of this pair after a successful login. */
  recordSuccess(username: string, ip: string): void;
}

/** Options of {@link createLoginThrottle}. */
export interface LoginThrottleOptions {
  /** Failures allowed within the window (default 5). */
  readonly maxAttempts?: number;
  /** Window length (default 60 s). */
  readonly windowMs?: number;
  /** Pairs remembered at most; the oldest are forgotten first, so random usernames cannot exhaust memory. */
  readonly maxEntries?: number;
  /** Clock in epoch ms (tests). */
  readonly now?: () => number;
}

/** Creates an empty login throttle. */
export function createLoginThrottle(options: LoginThrottleOptions = {}): LoginThrottle {
  const maxAttempts = options.maxAttempts ?? 5;
  const windowMs = options.windowMs ?? 60_000;
  const maxEntries = options.maxEntries ?? 100_000;
  const now = options.now ?? Date.now;
  /** Failure times per pair, oldest first; Map order is insertion order, oldest pair first. */
  const failures = new Map<string, number[]>();

  // Usernames are case-insensitive in the store, so "Admin" and "admin" share one budget.
  const keyOf = (username: string, ip: string): string => `${username.toLowerCase()}\u0000${ip}`;

  const live = (key: string, at: number): number[] | undefined => {
    const times = failures.get(key);
    if (times === undefined) return undefined;
    const kept = times.filter((t) => t > at - windowMs);
    if (kept.length === 0) {
      failures.delete(key);
      return undefined;
    }
    failures.set(key, kept);
    return kept;
  };

  return {
    check(username, ip) {
      const at = now();
      const times = live(keyOf(username, ip), at);
      if (times === undefined || times.length < maxAttempts) return { allowed: true, retryAfterSeconds: 0 };
      // Allowed again once enough failures have aged out of the window.
      const unblockAt = (times[times.length - maxAttempts] as number) + windowMs;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((unblockAt - at) / 1000)) };
    },
    recordFailure(username, ip) {
      const at = now();
      const key = keyOf(username, ip);
      const times = live(key, at) ?? [];
      times.push(at);
      // Re-insert so the Map's first entry is always the least recently failed pair.
      failures.delete(key);
      failures.set(key, times.slice(-maxAttempts));
      while (failures.size > maxEntries) {
        const oldest = failures.keys().next().value;
        if (oldest === undefined) break;
        failures.delete(oldest);
      }
    },
    recordSuccess(username, ip) {
      failures.delete(keyOf(username, ip));
    },
  };
}
