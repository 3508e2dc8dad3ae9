import { describe, expect, it } from "vitest";
import { createRateLimiter } from "../../../src/auth/index.js";
import { manualClock } from "../store/temp-db.js";

describe("rate limiter", () => {
  it("lets unlimited keys through without keeping state", () => {
    const limiter = createRateLimiter();
    for (let i = 0; i < 100; i++) expect(limiter.check("k", undefined, undefined, 1e9)).toEqual({ ok: true });
    limiter.record("k", 1e9);
    expect(limiter.trackedKeys()).toBe(0);
  });

  it("enforces requests per minute over a sliding window", () => {
    const clock = manualClock();
    const limiter = createRateLimiter({ now: clock.now });
    expect(limiter.check("k", 3, undefined, 0).ok).toBe(true); // t = 0
    clock.advance(10_000);
    expect(limiter.check("k", 3, undefined, 0).ok).toBe(true); // t = 10 s
    expect(limiter.check("k", 3, undefined, 0).ok).toBe(true);
    clock.advance(5_000); // t = 15 s
    expect(limiter.check("k", 3, undefined, 0)).toEqual({ ok: false, limit: "rpm", retryAfterSeconds: 45 });
    // Other keys have their own budget.
    expect(limiter.check("other", 3, undefined, 0).ok).toBe(true);
    clock.advance(45_000); // t = 60 s: the first request leaves the window
    expect(limiter.check("k", 3, undefined, 0).ok).toBe(true);
    expect(limiter.check("k", 3, undefined, 0)).toEqual({ ok: false, limit: "rpm", retryAfterSeconds: 10 });
  });

  it("reserves estimated tokens and settles them with the actual count", () => {
    const clock = manualClock();
    const limiter = createRateLimiter({ now: clock.now });
    expect(limiter.check("k", undefined, 1000, 600).ok).toBe(true);
    // The 600 reserved tokens count before the request finishes.
    expect(limiter.check("k", undefined, 1000, 500)).toMatchObject({ ok: false, limit: "tpm" });
    clock.advance(1_000);
    limiter.record("k", 100); // it used far fewer
    expect(limiter.check("k", undefined, 1000, 500).ok).toBe(true); // 100 + 500
    limiter.record("k", 800); // this one used more: 900 in the window
    const refused = limiter.check("k", undefined, 1000, 200);
    // Freeing 100 tokens needs the first entry (t = 0) to leave: 59 s from t = 1 s.
    expect(refused).toEqual({ ok: false, limit: "tpm", retryAfterSeconds: 59 });
    clock.advance(59_000);
    expect(limiter.check("k", undefined, 1000, 200).ok).toBe(true);
  });

  it("admits a request larger than the whole budget only into an empty window", () => {
    const clock = manualClock();
    const limiter = createRateLimiter({ now: clock.now });
    expect(limiter.check("k", undefined, 100, 5000).ok).toBe(true);
    limiter.record("k", 5000);
    expect(limiter.check("k", undefined, 100, 5000)).toEqual({
      ok: false,
      limit: "tpm",
      retryAfterSeconds: 60,
    });
    clock.advance(60_000);
    expect(limiter.check("k", undefined, 100, 5000).ok).toBe(true);
  });

  it("applies both limits, rpm first", () => {
    const limiter = createRateLimiter({ now: manualClock().now });
    expect(limiter.check("k", 1, 10, 1).ok).toBe(true);
    expect(limiter.check("k", 1, 10, 100)).toMatchObject({ ok: false, limit: "rpm" });
    expect(limiter.check("k2", 5, 10, 5).ok).toBe(true);
    expect(limiter.check("k2", 5, 10, 6)).toMatchObject({ ok: false, limit: "tpm" });
  });

  it("treats bad token counts as zero and ignores records for unknown keys", () => {
    const limiter = createRateLimiter({ now: manualClock().now });
    expect(limiter.check("k", undefined, 10, Number.NaN).ok).toBe(true);
    limiter.record("k", -5);
    limiter.record("never-checked", 100);
    expect(limiter.check("k", undefined, 10, 10).ok).toBe(true);
    expect(limiter.trackedKeys()).toBe(1);
  });

  it("forgets keys whose window emptied", () => {
    const clock = manualClock();
    const limiter = createRateLimiter({ now: clock.now });
    for (let i = 0; i < 100; i++) limiter.check(`idle-${i}`, 10, undefined, 0);
    expect(limiter.trackedKeys()).toBe(100);
    clock.advance(61_000);
    for (let i = 0; i < 2000; i++) limiter.check("busy", 1_000_000, undefined, 0);
    expect(limiter.trackedKeys()).toBe(1);
  });
});
