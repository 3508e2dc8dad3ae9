import { describe, expect, it } from "vitest";
import { QUEUE_POLICY_NAMES, type QueueItem } from "../../../src/queue/index.js";
import { anyModel, drainIds, item, makeQueue, prng } from "./fixtures.js";

// One suite every policy must pass (hono's common.case pattern): the policies differ only in which
// user goes next, never in FIFO order, bounds, removal, re-queueing or head-of-line behaviour.
describe.each(QUEUE_POLICY_NAMES)("FairQueue conformance: %s", (policy) => {
  it("pop on an empty queue returns undefined", () => {
    const q = makeQueue(policy);
    expect(q.pop(anyModel)).toBeUndefined();
    expect(q.size).toBe(0);
  });

  it("keeps FIFO order within a user, across models too", () => {
    const q = makeQueue(policy);
    for (const [id, model] of [
      ["1", "a"],
      ["2", "b"],
      ["3", "a"],
      ["4", "c"],
      ["5", "b"],
    ] as const) {
      q.push(item(id, "u", model));
    }
    expect(drainIds(q)).toEqual(["1", "2", "3", "4", "5"]);
  });

  it("serves every admitted item exactly once", () => {
    const q = makeQueue(policy, { weightOf: (u) => (u === "u0" ? 3 : 1) });
    const pushed: string[] = [];
    for (let i = 0; i < 60; i++) {
      const id = `i${i}`;
      q.push(item(id, `u${i % 4}`, `m${i % 3}`, 1 + (i % 7) * 100));
      pushed.push(id);
    }
    expect(drainIds(q).sort()).toEqual(pushed.sort());
  });

  describe("bounds", () => {
    const cases: {
      name: string;
      maxPerUser: number;
      maxTotal: number;
      pushes: [string, string][];
      expected: ("ok" | "user_queue_full" | "queue_full")[];
    }[] = [
      {
        name: "per-user bound",
        maxPerUser: 2,
        maxTotal: 10,
        pushes: [
          ["1", "a"],
          ["2", "a"],
          ["3", "a"],
          ["4", "b"],
        ],
        expected: ["ok", "ok", "user_queue_full", "ok"],
      },
      {
        name: "global bound",
        maxPerUser: 10,
        maxTotal: 3,
        pushes: [
          ["1", "a"],
          ["2", "b"],
          ["3", "c"],
          ["4", "d"],
        ],
        expected: ["ok", "ok", "ok", "queue_full"],
      },
      {
        name: "per-user reason wins when both bounds are hit",
        maxPerUser: 2,
        maxTotal: 2,
        pushes: [
          ["1", "a"],
          ["2", "a"],
          ["3", "a"],
          ["4", "b"],
        ],
        expected: ["ok", "ok", "user_queue_full", "queue_full"],
      },
      {
        name: "zero bound admits nothing",
        maxPerUser: 0,
        maxTotal: 5,
        pushes: [["1", "a"]],
        expected: ["user_queue_full"],
      },
    ];
    it.each(cases)("$name", ({ maxPerUser, maxTotal, pushes, expected }) => {
      const q = makeQueue(policy, { maxPerUser, maxTotal });
      const got = pushes.map(([id, user]) => {
        const r = q.push(item(id, user));
        return r.ok ? "ok" : r.reason;
      });
      expect(got).toEqual(expected);
      expect(q.size).toBe(expected.filter((r) => r === "ok").length);
      for (const [i, [id]] of pushes.entries()) expect(q.has(id)).toBe(expected[i] === "ok");
    });

    it("frees room when an item leaves", () => {
      const q = makeQueue(policy, { maxPerUser: 1, maxTotal: 1 });
      expect(q.push(item("1", "a"))).toEqual({ ok: true });
      expect(q.push(item("2", "b"))).toEqual({ ok: false, reason: "queue_full" });
      expect(q.pop(anyModel)?.id).toBe("1");
      expect(q.push(item("2", "b"))).toEqual({ ok: true });
      expect(q.remove("2")?.id).toBe("2");
      expect(q.push(item("3", "a"))).toEqual({ ok: true });
    });

    it.each([
      { maxPerUser: -1, maxTotal: 1 },
      { maxPerUser: 1, maxTotal: Number.NaN },
    ])("rejects invalid bounds %o", (bounds) => {
      expect(() => makeQueue(policy, bounds)).toThrow(RangeError);
    });
  });

  describe("remove", () => {
    it("takes an item out wherever it is and keeps the rest in order", () => {
      const q = makeQueue(policy);
      for (const id of ["1", "2", "3", "4"]) q.push(item(id, "u"));
      expect(q.remove("2")?.id).toBe("2");
      expect(q.remove("4")?.id).toBe("4");
      expect(q.has("2")).toBe(false);
      expect(q.size).toBe(2);
      expect(q.sizeOf("u")).toBe(2);
      expect(drainIds(q)).toEqual(["1", "3"]);
    });

    it("returns undefined for unknown or already removed ids", () => {
      const q = makeQueue(policy);
      q.push(item("1", "u"));
      expect(q.remove("nope")).toBeUndefined();
      expect(q.remove("1")?.id).toBe("1");
      expect(q.remove("1")).toBeUndefined();
      expect(q.pop(anyModel)).toBeUndefined();
    });

    it("cleans up a user's and a model's structures when their last item goes", () => {
      const q = makeQueue(policy);
      q.push(item("1", "a", "x"));
      q.push(item("2", "b", "y"));
      q.remove("1");
      expect(q.sizeOf("a")).toBe(0);
      expect(q.debugCounts()).toMatchObject({ items: 1, users: 1, userHeap: 1, lanes: 1, models: 1 });
      q.remove("2");
      expect(q.debugCounts()).toMatchObject({ items: 0, users: 0, userHeap: 0, lanes: 0, models: 0 });
    });
  });

  describe("pushFront", () => {
    it("puts the item at the head of its user's queue, across models", () => {
      const q = makeQueue(policy);
      q.push(item("1", "u", "a"));
      q.push(item("2", "u", "b"));
      q.pushFront(item("r1", "u", "b"));
      q.pushFront(item("r2", "u", "c"));
      // The latest re-queued job is the one that just failed over: it goes first.
      expect(drainIds(q)).toEqual(["r2", "r1", "1", "2"]);
    });

    it("re-queues a popped item for a user with nothing else waiting", () => {
      const q = makeQueue(policy);
      q.push(item("1", "u", "m", 50));
      const popped = q.pop(anyModel);
      expect(popped?.id).toBe("1");
      if (popped !== undefined) q.pushFront(popped);
      expect(q.has("1")).toBe(true);
      expect(q.pop(anyModel)?.id).toBe("1");
    });

    it("bypasses both bounds: the job was already admitted", () => {
      const q = makeQueue(policy, { maxPerUser: 1, maxTotal: 1 });
      q.push(item("1", "u"));
      q.pushFront(item("r", "u"));
      expect(q.size).toBe(2);
      expect(q.sizeOf("u")).toBe(2);
      expect(drainIds(q)).toEqual(["r", "1"]);
    });

    it("rejects an id that is already waiting", () => {
      const q = makeQueue(policy);
      q.push(item("1", "u"));
      expect(() => q.push(item("1", "v"))).toThrow(/already queued/);
      expect(() => q.pushFront(item("1", "u"))).toThrow(/already queued/);
      expect(q.size).toBe(1);
    });
  });

  describe("no head-of-line blocking", () => {
    const cases: {
      name: string;
      pushes: [id: string, user: string, model: string][];
      servable: string[];
      firstPops: string[];
    }[] = [
      {
        name: "a user's oldest item is unservable: their next servable one goes",
        pushes: [
          ["x1", "u", "x"],
          ["y1", "u", "y"],
          ["y2", "u", "y"],
        ],
        servable: ["y"],
        firstPops: ["y1", "y2"],
      },
      {
        name: "one user waits on an unservable model: another user's item goes",
        pushes: [
          ["x1", "a", "x"],
          ["x2", "a", "x"],
          ["y1", "b", "y"],
        ],
        servable: ["y"],
        firstPops: ["y1"],
      },
      {
        name: "nothing servable: pop returns nothing and keeps everything",
        pushes: [
          ["x1", "a", "x"],
          ["z1", "b", "z"],
        ],
        servable: [],
        firstPops: [],
      },
    ];
    it.each(cases)("$name", ({ pushes, servable, firstPops }) => {
      const q = makeQueue(policy);
      for (const [id, user, model] of pushes) q.push(item(id, user, model));
      const ok = new Set(servable);
      expect(drainIds(q, (m) => ok.has(m))).toEqual(firstPops);
      // What stayed is served later in its users' FIFO order.
      const rest = pushes.map(([id]) => id).filter((id) => !firstPops.includes(id));
      expect(q.size).toBe(rest.length);
      const later = drainIds(q);
      expect([...later].sort()).toEqual([...rest].sort());
      for (const user of new Set(pushes.map(([, u]) => u))) {
        const own = pushes.filter(([id, u]) => u === user && rest.includes(id)).map(([id]) => id);
        expect(later.filter((id) => own.includes(id))).toEqual(own);
      }
    });

    it("asks canServe only about models with waiting items, once each per pop", () => {
      const q = makeQueue(policy);
      for (let i = 0; i < 30; i++) q.push(item(`i${i}`, `u${i % 5}`, `m${i % 3}`));
      q.pop(anyModel);
      const asked: string[] = [];
      q.pop((m) => {
        asked.push(m);
        return m === "m2";
      });
      expect([...asked].sort()).toEqual(["m0", "m1", "m2"]);
    });
  });

  it("snapshot reports depth, models and waits from the injected clock", () => {
    let t = 1_000;
    const q = makeQueue(policy, { now: () => t });
    q.push(item("1", "b", "x", 1, 900));
    q.push(item("2", "a", "y", 1, 950));
    q.push(item("3", "a", "x", 1, 990));
    q.pushFront(item("r", "a", "y", 1, 800));
    t = 1_100;
    expect(q.snapshot()).toEqual({
      total: 4,
      oldestWaitMs: 300,
      users: [
        { userId: "a", depth: 3, byModel: { x: 1, y: 2 }, oldestWaitMs: 300 },
        { userId: "b", depth: 1, byModel: { x: 1 }, oldestWaitMs: 200 },
      ],
    });
    drainIds(q);
    expect(q.snapshot()).toEqual({ total: 0, users: [], oldestWaitMs: 0 });
  });

  it("leaks nothing over 100k mixed operations", () => {
    const rand = prng(42);
    const userCount = 40;
    const q = makeQueue(policy, { maxPerUser: 50, maxTotal: 400, weightOf: (u) => 1 + (u.length % 3) });
    const popped: QueueItem[] = [];
    let next = 0;
    let served = 0;
    const models = ["m0", "m1", "m2", "m3"];
    for (let op = 0; op < 100_000; op++) {
      const r = rand();
      if (r < 0.45) {
        const user = `u${Math.floor(rand() * userCount)}`;
        q.push(
          item(`j${next++}`, user, models[Math.floor(rand() * 4)] ?? "m0", 1 + Math.floor(rand() * 2000)),
        );
      } else if (r < 0.75) {
        const down = models[Math.floor(rand() * 4)];
        const it = q.pop((m) => m !== down);
        if (it !== undefined) {
          served++;
          if (popped.length < 64) popped.push(it);
        }
      } else if (r < 0.85) {
        q.remove(`j${Math.floor(rand() * next)}`);
      } else if (r < 0.9) {
        // A node was lost before the first token: the job comes back at its user's head.
        const it = popped.pop();
        if (it !== undefined) q.pushFront(it);
      } else {
        const it = popped.shift();
        if (it !== undefined) q.charge(it.userId, Math.floor(it.cost * rand()));
      }
      if (op % 997 === 0) {
        const c = q.debugCounts();
        expect(c.items).toBe(q.size);
        expect(c.userHeap).toBe(c.users);
        expect(c.lanes).toBeGreaterThanOrEqual(c.users);
        expect(c.lanes).toBeLessThanOrEqual(c.items);
      }
    }
    expect(served).toBeGreaterThan(10_000);
    for (const it of popped) q.charge(it.userId, it.cost);
    drainIds(q);
    const c = q.debugCounts();
    expect(c).toMatchObject({ items: 0, users: 0, userHeap: 0, lanes: 0, models: 0 });
    // Weighted / VTC remember at most one counter per distinct user (those above virtual time).
    expect(c.policyAccounts).toBeLessThanOrEqual(userCount);
    expect(q.snapshot()).toEqual({ total: 0, users: [], oldestWaitMs: 0 });
  });
});

describe("createFairQueue options", () => {
  it("rejects an unknown policy name", () => {
    expect(() => makeQueue("lottery" as never)).toThrow(/unknown policy/);
  });
});
