import { describe, expect, it } from "vitest";
import { createLoginThrottle } from "../../../src/auth/index.js";
import { manualClock } from "../store/temp-db.js";

describe("login throttle", () => {
  it("blocks a username+ip pair after 5 failures in a minute, then lets it retry", () => {
    const clock = manualClock();
    const throttle = createLoginThrottle({ maxAttempts: 5, windowMs: 60_000, now: clock.now });
    for (let i = 0; i < 5; i++) {
      expect(throttle.check("admin", "10.0.0.1")).toEqual({ allowed: true, retryAfterSeconds: 0 });
      throttle.recordFailure("admin", "10.0.0.1");
      clock.advance(1_000);
    }
    // t = 5 s; the first failure (t = 0) leaves the window at 60 s.
    expect(throttle.check("admin", "10.0.0.1")).toEqual({ allowed: false, retryAfterSeconds: 55 });
    expect(throttle.check("ADMIN", "10.0.0.1").allowed).toBe(false);
    expect(throttle.check("admin", "10.0.0.2").allowed).toBe(true);
    expect(throttle.check("alice", "10.0.0.1").allowed).toBe(true);
    clock.advance(55_000);
    expect(throttle.check("admin", "10.0.0.1").allowed).toBe(true);
    throttle.recordFailure("admin", "10.0.0.1");
    expect(throttle.check("admin", "10.0.0.1")).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it("clears a pair on success", () => {
    const throttle = createLoginThrottle({ maxAttempts: 2, now: manualClock().now });
    throttle.recordFailure("u", "ip");
    throttle.recordSuccess("u", "ip");
    throttle.recordFailure("u", "ip");
    expect(throttle.check("u", "ip").allowed).toBe(true);
    throttle.recordFailure("u", "ip");
    expect(throttle.check("u", "ip").allowed).toBe(false);
  });

  it("does not confuse pairs whose parts run together", () => {
    const throttle = createLoginThrottle({ maxAttempts: 1, now: manualClock().now });
    throttle.recordFailure("ab", "c");
    expect(throttle.check("a", "bc").allowed).toBe(true);
    expect(throttle.check("ab", "c").allowed).toBe(false);
  });

  it("remembers at most maxEntries pairs, forgetting the least recent first", () => {
    const throttle = createLoginThrottle({ maxAttempts: 1, maxEntries: 3, now: manualClock().now });
    for (const u of ["a", "b", "c", "d"]) throttle.recordFailure(u, "ip");
    expect(throttle.check("a", "ip").allowed).toBe(true);
    for (const u of ["b", "c", "d"]) expect(throttle.check(u, "ip").allowed).toBe(false);
  });
});
