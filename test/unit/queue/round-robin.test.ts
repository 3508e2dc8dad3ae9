import { describe, expect, it } from "vitest";
import { anyModel, item, makeQueue } from "./fixtures.js";

// Steps: "push ID USER" or "pop ID" (the id pop must return).
const cases: { name: string; steps: string[] }[] = [
  {
    name: "two users alternate, FIFO within each",
    steps: ["push a1 a", "push a2 a", "push a3 a", "push b1 b", "push b2 b", "push b3 b"].concat(
      ["a1", "b1", "a2", "b2", "a3", "b3"].map((id) => `pop ${id}`),
    ),
  },
  {
    name: "users with uneven depths drop out of the ring when empty",
    steps: ["push a1 a", "push a2 a", "push a3 a", "push b1 b", "push c1 c", "push c2 c"].concat(
      ["a1", "b1", "c1", "a2", "c2", "a3"].map((id) => `pop ${id}`),
    ),
  },
  {
    name: "a newcomer joins at the back of the ring",
    steps: ["push a1 a", "push a2 a", "push b1 b", "pop a1", "push c1 c", "pop b1", "pop a2", "pop c1"],
  },
  {
    name: "a user who comes back after leaving the ring rejoins at the back",
    steps: ["push a1 a", "push b1 b", "push b2 b", "pop a1", "push a2 a", "pop b1", "pop a2", "pop b2"],
  },
];

describe("round_robin policy", () => {
  it.each(cases)("$name", ({ steps }) => {
    const q = makeQueue("round_robin");
    for (const step of steps) {
      const [op, id, user] = step.split(" ");
      if (op === "push") expect(q.push(item(id ?? "", user ?? ""))).toEqual({ ok: true });
      else expect(q.pop(anyModel)?.id, step).toBe(id);
    }
    expect(q.size).toBe(0);
  });

  it("ignores cost and weights: one request per user per turn", () => {
    const q = makeQueue("round_robin", { weightOf: (u) => (u === "big" ? 10 : 1) });
    for (let i = 0; i < 10; i++) {
      q.push(item(`big${i}`, "big", "m", 10_000));
      q.push(item(`small${i}`, "small", "m", 1));
    }
    const users = Array.from({ length: 20 }, () => q.pop(anyModel)?.userId);
    expect(users).toEqual(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? "big" : "small")));
  });

  it("keeps rotating when a user's items are spread over models", () => {
    const q = makeQueue("round_robin");
    q.push(item("a1", "a", "x"));
    q.push(item("a2", "a", "y"));
    q.push(item("b1", "b", "y"));
    q.push(item("b2", "b", "x"));
    expect([1, 2, 3, 4].map(() => q.pop(anyModel)?.id)).toEqual(["a1", "b1", "a2", "b2"]);
  });
});
