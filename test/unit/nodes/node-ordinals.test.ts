import { afterEach, describe, expect, it } from "vitest";
import { NodeOrdinals, nextNodeGeneration } from "../../../src/nodes/node-ordinals.js";
import { NodeStore } from "../../../src/nodes/node-store.js";

describe("NodeOrdinals", () => {
  it("hands out 0, 1, 2, … and reuses released ordinals, most recent first", () => {
    const o = new NodeOrdinals();
    expect([o.allocate(), o.allocate(), o.allocate(), o.allocate()]).toEqual([0, 1, 2, 3]);
    o.release(1);
    o.release(3);
    expect(o.held).toBe(2);
    expect([o.allocate(), o.allocate(), o.allocate()]).toEqual([3, 1, 4]);
    expect(o.limit).toBe(5);
  });

  it.each([
    ["never handed out", 7],
    ["negative", -1],
    ["not an integer", 0.5],
  ])("refuses to release an ordinal %s", (_what, ordinal) => {
    const o = new NodeOrdinals();
    o.allocate();
    expect(() => o.release(ordinal)).toThrow(/not held/);
  });

  it("refuses to release an ordinal twice (two live nodes would share it)", () => {
    const o = new NodeOrdinals();
    o.allocate();
    o.release(0);
    expect(() => o.release(0)).toThrow(/not held/);
  });
});

describe("nextNodeGeneration", () => {
  it("never repeats", () => {
    const seen = new Set(Array.from({ length: 1000 }, () => nextNodeGeneration()));
    expect(seen.size).toBe(1000);
  });
});

describe("NodeStore ordinals and generations", () => {
  const stores: NodeStore[] = [];
  const store = () => {
    const s = new NodeStore({ staleMs: 60_000, offlineGraceMs: 60_000 });
    stores.push(s);
    return s;
  };
  afterEach(() => {
    for (const s of stores.splice(0)) s.close();
  });

  it("gives each live node its own ordinal, and a resumed node keeps it", () => {
    const s = store();
    const a = s.upsert("a").node;
    const b = s.upsert("b").node;
    expect([a.ordinal, b.ordinal]).toEqual([0, 1]);
    const again = s.upsert("a");
    expect(again.resumed).toBe(true);
    expect(again.node.ordinal).toBe(0);
    expect(s.ordinalLimit).toBe(2);
  });

  it("reuses a removed node's ordinal with a generation never seen before", () => {
    const s = store();
    const a = s.upsert("a").node;
    s.announce(a, false);
    const before = a.generation;
    s.upsert("b");
    s.remove("a");
    const c = s.upsert("c").node;
    s.announce(c, false);
    expect(c.ordinal).toBe(a.ordinal);
    expect(c.generation).not.toBe(before);
    expect(s.ordinalLimit).toBe(2);
  });

  it("gives a node a new generation at each registration (its GPUs and labels may change)", () => {
    const s = store();
    const { node } = s.upsert("a");
    s.announce(node, false);
    const first = node.generation;
    s.announce(s.upsert("a").node, true);
    expect(node.generation).not.toBe(first);
    expect(node.ordinal).toBe(0);
  });

  it("generations differ across stores", () => {
    const x = store().upsert("a").node;
    const y = store().upsert("a").node;
    expect(x.ordinal).toBe(y.ordinal);
    expect(x.generation).not.toBe(y.generation);
  });
});
