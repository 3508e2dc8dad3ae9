import { describe, expect, it } from "vitest";
import type { NodeSnapshot } from "../../../src/nodes/types.js";
import { createMaxScorePicker } from "../../../src/selector/pickers/max-score.js";
import { createRoundRobinPicker } from "../../../src/selector/pickers/round-robin.js";
import { createPipeline, type Picker, predicateFilter, type Scorer } from "../../../src/selector/pipeline.js";
import { createSeededRng } from "../../../src/selector/rng.js";
import { makeNode, makeRequest, tally } from "./factory.js";

// The runner: profiles in order, in-place filters, weighted scores clamped to 0..1, seeded
// tie-breaks, per-plugin timing, reasons from scorers.

/** A scorer that returns fixed values per node id. */
function fixed(
  name: string,
  values: Record<string, number>,
  reason?: (id: string) => string | undefined,
): Scorer {
  let last: readonly NodeSnapshot[] = [];
  return {
    name,
    score(_request, nodes, n, out) {
      last = nodes;
      for (let i = 0; i < n; i++) out[i] = values[(nodes[i] as NodeSnapshot).id] ?? 0;
    },
    ...(reason ? { reason: (index: number) => reason((last[index] as NodeSnapshot).id) } : {}),
  };
}

const nodes = [makeNode("a"), makeNode("b"), makeNode("c")];
const max = createMaxScorePicker();

describe("pipeline runner", () => {
  it.each([
    ["weights add up", [fixed("s1", { a: 0.5, b: 0.4 }), fixed("s2", { a: 0, b: 0.3 })], [1, 1], "b"],
    ["weights scale", [fixed("s1", { a: 0.5, b: 0.4 }), fixed("s2", { a: 0, b: 0.3 })], [1, 0.1], "a"],
    [
      "scores above 1 are clamped (5 → 1)",
      [fixed("s1", { a: 5, b: 0.9 }), fixed("s2", { a: 0, b: 0.2 })],
      [1, 1],
      "b",
    ],
    ["NaN and negatives count as 0", [fixed("s1", { a: Number.NaN, b: -3, c: 0.1 })], [1], "c"],
  ] as const)("%s", (_name, scorers, weights, expected) => {
    const strategy = createPipeline({
      name: "t",
      rng: createSeededRng(1),
      profiles: [
        {
          reason: "r",
          filters: [],
          scorers: scorers.map((scorer, k) => ({ scorer, weight: weights[k] ?? 1 })),
          picker: max,
        },
      ],
    });
    expect(strategy.select(makeRequest(), nodes)?.node.id).toBe(expected);
  });

  it("breaks ties uniformly with the seeded RNG, reproducibly", () => {
    const make = () =>
      createPipeline({
        name: "t",
        rng: createSeededRng(5),
        profiles: [{ reason: "r", filters: [], scorers: [], picker: max }],
      });
    const run = (s: ReturnType<typeof make>) =>
      Array.from({ length: 3000 }, () => s.select(makeRequest(), nodes)?.node.id ?? "");
    const first = run(make());
    expect(run(make())).toEqual(first);
    for (const count of Object.values(tally(first))) expect(count).toBeGreaterThan(900);
  });

  it("falls through to the next profile when filters leave nothing, and filters compose", () => {
    const onlyB = predicateFilter("only-b", (_r, n) => n.id === "b");
    const none = predicateFilter("none", () => false);
    const strategy = createPipeline({
      name: "t",
      rng: createSeededRng(1),
      profiles: [
        { reason: "first", filters: [onlyB, none], scorers: [], picker: max },
        { reason: "second", filters: [onlyB], scorers: [], picker: max },
      ],
    });
    expect(strategy.select(makeRequest(), nodes)).toMatchObject({ node: { id: "b" }, reason: "second" });
  });

  it("a picker answering -1 means busy: undefined after the last profile", () => {
    const never: Picker = { name: "never", pick: () => -1 };
    const strategy = createPipeline({
      name: "t",
      rng: Math.random,
      profiles: [{ reason: "r", filters: [], scorers: [], picker: never }],
    });
    expect(strategy.select(makeRequest(), nodes)).toBeUndefined();
  });

  it("a scorer's reason overrides the profile's for the node picked", () => {
    const scorer = fixed("s", { a: 1 }, (id) => (id === "a" ? "special_a" : undefined));
    const strategy = createPipeline({
      name: "t",
      rng: createSeededRng(1),
      profiles: [{ reason: "plain", filters: [], scorers: [{ scorer, weight: 1 }], picker: max }],
    });
    expect(strategy.select(makeRequest(), nodes)?.reason).toBe("special_a");
  });

  it("times every plugin through the observe hook, labelled by stage and plugin", () => {
    const seen: [string, string, number][] = [];
    const strategy = createPipeline({
      name: "t",
      rng: createSeededRng(1),
      observe: (stage, plugin, seconds) => seen.push([stage, plugin, seconds]),
      profiles: [
        {
          reason: "r",
          filters: [predicateFilter("keep-all", () => true)],
          scorers: [{ scorer: fixed("s", { a: 1 }), weight: 1 }],
          picker: createRoundRobinPicker(),
        },
      ],
    });
    strategy.select(makeRequest(), nodes);
    expect(seen.map(([stage, plugin]) => `${stage}:${plugin}`)).toEqual([
      "filter:keep-all",
      "score:s",
      "pick:round-robin",
    ]);
    for (const [, , seconds] of seen) expect(seconds).toBeGreaterThanOrEqual(0);
  });

  it("does not touch the candidates array", () => {
    const candidates = [...nodes];
    const strategy = createPipeline({
      name: "t",
      rng: createSeededRng(1),
      profiles: [
        {
          reason: "r",
          filters: [predicateFilter("not-a", (_r, n) => n.id !== "a")],
          scorers: [],
          picker: max,
        },
      ],
    });
    strategy.select(makeRequest(), candidates);
    expect(candidates).toEqual(nodes);
  });
});
