import { describe, expect, it } from "vitest";
import type { FairQueue, QueueItem } from "../../../src/queue/index.js";
import { anyModel, item, makeQueue } from "./fixtures.js";

/** Pop `pops` times while every user keeps items waiting; count pops per user after each one. */
function servePops(q: FairQueue<QueueItem>, users: string[], pops: number, cost = 1): Map<string, number>[] {
  let n = 0;
  const counts = new Map(users.map((u) => [u, 0]));
  const history: Map<string, number>[] = [];
  for (let i = 0; i < pops; i++) {
    for (const u of users) while (q.sizeOf(u) < 3) q.push(item(`${u}-${n++}`, u, "m", cost));
    const it = q.pop(anyModel);
    if (it === undefined) throw new Error("queue unexpectedly empty");
    counts.set(it.userId, (counts.get(it.userId) ?? 0) + 1);
    history.push(new Map(counts));
  }
  return history;
}

const shareCases: { name: string; weights: Record<string, number>; pops: number }[] = [
  { name: "2:1", weights: { a: 2, b: 1 }, pops: 3000 },
  { name: "3:2:1", weights: { a: 3, b: 2, c: 1 }, pops: 600 },
  { name: "equal weights", weights: { a: 1, b: 1, c: 1, d: 1 }, pops: 400 },
  { name: "fractional weights 0.5:1.5", weights: { a: 0.5, b: 1.5 }, pops: 800 },
];

describe("weighted policy", () => {
  it.each(shareCases)("serves users in proportion to weight: $name", ({ weights, pops }) => {
    const users = Object.keys(weights);
    const total = Object.values(weights).reduce((s, w) => s + w, 0);
    const q = makeQueue("weighted", { weightOf: (u) => weights[u] ?? 1 });
    const history = servePops(q, users, pops);
    // Stride scheduling is smooth: every prefix, not just the total, stays within a pop or two of the share.
    for (const [i, counts] of history.entries()) {
      for (const u of users) {
        const expected = ((i + 1) * (weights[u] ?? 1)) / total;
        expect(
          Math.abs((counts.get(u) ?? 0) - expected),
          `user ${u} after ${i + 1} pops`,
        ).toBeLessThanOrEqual(2);
      }
    }
  });

  it("counts requests, not tokens", () => {
    const q = makeQueue("weighted");
    for (let i = 0; i < 50; i++) {
      q.push(item(`big${i}`, "big", "m", 10_000));
      q.push(item(`small${i}`, "small", "m", 1));
    }
    const users = Array.from({ length: 100 }, () => q.pop(anyModel)?.userId);
    expect(users.filter((u) => u === "big")).toHaveLength(50);
    expect(users.slice(0, 10).filter((u) => u === "big")).toHaveLength(5);
  });

  it("a user returning after idling gets its share, not a burst", () => {
    const q = makeQueue("weighted");
    servePops(q, ["a", "b"], 1000);
    for (let i = 0; i < 30; i++) q.push(item(`c${i}`, "c", "m"));
    const next = servePops(q, ["a", "b"], 30).at(-1);
    // a and b's counters are ~500; without the lift c (counter 0) would take all 30 pops.
    const cServed = 30 - (next?.get("a") ?? 0) - (next?.get("b") ?? 0);
    expect(cServed).toBeGreaterThanOrEqual(9);
    expect(cServed).toBeLessThanOrEqual(11);
  });

  it("treats invalid weights as 1", () => {
    const q = makeQueue("weighted", { weightOf: (u) => (u === "a" ? Number.NaN : u === "b" ? 0 : -3) });
    const counts = servePops(q, ["a", "b", "c"], 300).at(-1);
    expect([...(counts?.values() ?? [])]).toEqual([100, 100, 100]);
  });
});
