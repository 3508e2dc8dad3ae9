import { describe, expect, it } from "vitest";
import { jainIndex, type QueuePolicyName } from "../../../src/queue/index.js";
import { anyModel, item, makeQueue, prng } from "./fixtures.js";

/**
 * The fairness benchmark's situation in miniature: `slots` slots, one heavy user who always has
 * requests waiting, and light users who each keep exactly one request in the system and send the
 * next one just after the previous one ends — after the scheduler has already refilled the freed
 * slot. Job lengths are random (seeded). Returns tokens served per user: [heavy, ...lights].
 */
function closedLoop(
  policy: QueuePolicyName,
  opts: { slots: number; lights: number; jobs: number },
): number[] {
  const q = makeQueue(policy);
  const rnd = prng(7);
  const users = ["heavy", ...Array.from({ length: opts.lights }, (_, i) => `light-${i}`)];
  const served = new Map(users.map((u) => [u, 0]));
  const running: { userId: string; endsAt: number; tokens: number }[] = [];
  let n = 0;
  const push = (userId: string) => q.push(item(`${userId}-${n++}`, userId, "m", 100));
  for (let i = 0; i < 64; i++) push("heavy");
  for (const u of users.slice(1)) push(u);
  const fill = (now: number) => {
    while (running.length < opts.slots) {
      const it = q.pop(anyModel);
      if (it === undefined) return;
      running.push({ userId: it.userId, endsAt: now + 0.5 + rnd(), tokens: 100 });
    }
  };
  fill(0);
  for (let done = 0; done < opts.jobs; done++) {
    running.sort((a, b) => a.endsAt - b.endsAt);
    const job = running.shift();
    if (job === undefined) break;
    q.charge(job.userId, job.tokens);
    served.set(job.userId, (served.get(job.userId) ?? 0) + job.tokens);
    fill(job.endsAt); // the scheduler refills the slot at once…
    push(job.userId); // …and only then does the client's next request arrive
    if (job.userId === "heavy") push("heavy");
    fill(job.endsAt);
  }
  return users.map((u) => served.get(u) ?? 0);
}

describe("closed-loop light users against a backlogged heavy user", () => {
  it.each([
    ["round_robin", 0.95],
    ["vtc", 0.99],
  ] as const)("%s: every user gets its share of the slots (Jain >= %s)", (policy, target) => {
    const served = closedLoop(policy, { slots: 4, lights: 4, jobs: 4000 });
    const [heavy = 0, ...lights] = served;
    expect(jainIndex(served)).toBeGreaterThanOrEqual(target);
    // 5 users on 4 slots: nobody may take much more than a fifth of the service.
    const total = served.reduce((a, b) => a + b, 0);
    expect(heavy / total).toBeLessThan(0.25);
    for (const l of lights) expect(l / total).toBeGreaterThan(0.17);
  });

  it("the light users' head start is one request: a returning user cannot bank credit (vtc)", () => {
    const q = makeQueue("vtc");
    let n = 0;
    const push = (u: string) => q.push(item(`${u}-${n++}`, u, "m", 100));
    for (let i = 0; i < 20; i++) push("heavy");
    push("burst");
    // Both served for a while; "burst" then goes quiet while "heavy" is served 10 more times.
    const order: string[] = [];
    for (let i = 0; i < 2; i++) order.push(q.pop(anyModel)?.userId ?? "");
    for (let i = 0; i < 10; i++) order.push(q.pop(anyModel)?.userId ?? "");
    expect(order.filter((u) => u === "burst")).toHaveLength(1);
    // It comes back with 8 requests: one goes first, then the two alternate.
    for (let i = 0; i < 8; i++) push("burst");
    const next = Array.from({ length: 6 }, () => q.pop(anyModel)?.userId);
    expect(next).toEqual(["burst", "heavy", "burst", "heavy", "burst", "heavy"]);
  });

  it("the credit is the returning user's own last request, not the largest anyone sent (vtc)", () => {
    const q = makeQueue("vtc");
    let n = 0;
    const push = (u: string, cost: number) => q.push(item(`${u}-${n++}`, u, "m", cost));
    push("big", 10_000); // one huge request, served
    expect(q.pop(anyModel)?.userId).toBe("big");
    for (let i = 0; i < 20; i++) push("heavy", 10);
    push("small", 10);
    const first = Array.from({ length: 4 }, () => q.pop(anyModel)?.userId);
    expect(first).toContain("small"); // served, then quiet
    // Back with 6 requests of 10 tokens: a head start of one of them, not of 10,000 tokens.
    for (let i = 0; i < 6; i++) push("small", 10);
    const next = Array.from({ length: 6 }, () => q.pop(anyModel)?.userId);
    expect(next).toEqual(["small", "heavy", "small", "heavy", "small", "heavy"]);
  });

  it("round robin orders by least recently served: a returning user keeps its place once", () => {
    const q = makeQueue("round_robin");
    let n = 0;
    const push = (u: string) => q.push(item(`${u}-${n++}`, u, "m", 1));
    for (let i = 0; i < 10; i++) push("heavy");
    push("light");
    expect(q.pop(anyModel)?.userId).toBe("heavy"); // light joined after heavy
    expect(q.pop(anyModel)?.userId).toBe("light"); // light goes idle
    expect(q.pop(anyModel)?.userId).toBe("heavy");
    push("light"); // served before heavy's last service: it goes first…
    push("light");
    expect(q.pop(anyModel)?.userId).toBe("light");
    expect(q.pop(anyModel)?.userId).toBe("heavy"); // …once; then the ring goes on
    expect(q.pop(anyModel)?.userId).toBe("light");
  });

  it("users served straight away (nothing waiting) move the virtual time, so a newcomer gets no backlog of credit (vtc)", () => {
    const q = makeQueue("vtc");
    let n = 0;
    const lights = ["l0", "l1", "l2", "l3"];
    // An idle fleet: each light user's 40 requests find a free slot and never wait.
    for (let r = 0; r < 40; r++)
      for (const l of lights) {
        q.dispatchedDirectly(item(`${l}-${n++}`, l, "m", 63));
        q.charge(l, 63);
      }
    // The heavy user arrives with 64 requests; 4 slots, 8 of its jobs end and are replaced.
    for (let i = 0; i < 64; i++) q.push(item(`h-${n++}`, "h", "m", 63));
    for (let i = 0; i < 4; i++) q.pop(anyModel);
    for (let i = 0; i < 8; i++) {
      q.charge("h", 63);
      q.pop(anyModel);
    }
    // The light users come back: they are served next, not after the heavy user's 160 requests of "credit".
    for (const l of lights) q.push(item(`${l}-${n++}`, l, "m", 63));
    const next = Array.from({ length: 4 }, () => q.pop(anyModel)?.userId).sort();
    expect(next).toEqual(lights);
  });
});
