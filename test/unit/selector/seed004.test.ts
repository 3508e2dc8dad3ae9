import { describe, expect, it } from "vitest";
import { instanceWeight, nodeWeight } from "../../../src/selector/registry.js";
import { makeNode, makeRequest, makeStrategy, picks, tally } from "./factory.js";

// Seed 004 (GPU Proxy load balancing guide): round_robin, equal_weighted, weighted_round_robin,
// least_connections, least_response_time. The guide's own load table is the fixture:
//   vast-12345  active 3  total 150  avg 250 ms
//   vast-67890  active 2  total 120  avg 230 ms
//   ionet-abc   active 1  total  80  avg 180 ms
const guideTable = () => [
  makeNode("vast-12345", { inFlight: 3, totalRequests: 150, avgResponseMs: 250, ewmaResponseMs: 245 }),
  makeNode("vast-67890", { inFlight: 2, totalRequests: 120, avgResponseMs: 230, ewmaResponseMs: 230 }),
  makeNode("ionet-abc", { inFlight: 1, totalRequests: 80, avgResponseMs: 180, ewmaResponseMs: 180 }),
];

describe("round_robin", () => {
  it("each of 3 nodes serves 3 of 9 requests, in order (seed T003)", () => {
    const ids = picks(makeStrategy("round_robin"), makeRequest(), guideTable(), 9);
    expect(ids).toEqual([
      "vast-12345",
      "vast-67890",
      "ionet-abc",
      "vast-12345",
      "vast-67890",
      "ionet-abc",
      ...ids.slice(6),
    ]);
    expect(Object.values(tally(ids))).toEqual([3, 3, 3]);
  });

  it("ignores load figures entirely", () => {
    const nodes = [makeNode("hot", { gpuUsagePercent: 100, inFlight: 60 }), makeNode("cold")];
    expect(picks(makeStrategy("round_robin"), makeRequest(), nodes, 4)).toEqual([
      "hot",
      "cold",
      "hot",
      "cold",
    ]);
  });
});

describe("seed-004 instance weight", () => {
  it.each([
    [80, undefined, 3],
    [141, undefined, 3],
    [80, 0.99, 3.6],
    [40, undefined, 2],
    [48, 2.5, 2],
    [24, undefined, 1.5],
    [24, 0.79, 1.8],
    [16, undefined, 1],
    [10, 0.5, 1.2],
    [Number.NaN, Number.NaN, 1],
  ] as const)("%d GB at $%s/h → ×%d", (gb, cost, weight) => {
    expect(instanceWeight(gb, cost)).toBeCloseTo(weight, 10);
  });

  it.each([
    ["h100", undefined, 3],
    ["a100", 1.99, 3],
    ["rtx4090", 0.79, 1.8],
    ["rtx4090", undefined, 1.5],
    ["rtx3080", undefined, 1],
  ] as const)("node with %s at $%s/h → ×%d", (gpu, cost, weight) => {
    const labels =
      cost === undefined ? { region: "r", tier: "t" } : { region: "r", tier: "t", costPerHourUsd: cost };
    expect(nodeWeight(makeNode("n", { gpu, labels }))).toBeCloseTo(weight, 10);
  });
});

describe("weighted_round_robin (smooth, as nginx)", () => {
  it("3:1 interleaves A A B A", () => {
    const nodes = [makeNode("a100", { gpu: "a100" }), makeNode("3080", { gpu: "rtx3080" })];
    expect(picks(makeStrategy("weighted_round_robin"), makeRequest(), nodes, 8)).toEqual([
      "a100",
      "a100",
      "3080",
      "a100",
      "a100",
      "a100",
      "3080",
      "a100",
    ]);
  });

  it("3 : 1.5 : 1 over 1,100 picks gives 600 : 300 : 200", () => {
    const nodes = [
      makeNode("h100", { gpu: "h100" }),
      makeNode("4090", { gpu: "rtx4090" }),
      makeNode("3080", { gpu: "rtx3080" }),
    ];
    const counts = tally(picks(makeStrategy("weighted_round_robin"), makeRequest(), nodes, 1100));
    expect(counts).toEqual({ h100: 600, "4090": 300, "3080": 200 });
  });

  it("the cheap-price bonus shifts share (24 GB at $0.79 ×1.8 vs 24 GB ×1.5)", () => {
    const cheap = makeNode("cheap", { labels: { region: "r", tier: "t", costPerHourUsd: 0.79 } });
    const dear = makeNode("dear", { labels: { region: "r", tier: "t", costPerHourUsd: 1.5 } });
    const counts = tally(picks(makeStrategy("weighted_round_robin"), makeRequest(), [cheap, dear], 330));
    expect(counts).toEqual({ cheap: 180, dear: 150 });
  });
});

describe("equal_weighted (fewest total connections)", () => {
  it("picks the node with the fewest connections ever (guide table → ionet-abc)", () => {
    expect(makeStrategy("equal_weighted").select(makeRequest(), guideTable())?.node.id).toBe("ionet-abc");
  });

  it("breaks ties at random, evenly", () => {
    const nodes = [
      makeNode("a", { totalRequests: 5 }),
      makeNode("b", { totalRequests: 5 }),
      makeNode("c", { totalRequests: 6 }),
    ];
    const counts = tally(picks(makeStrategy("equal_weighted"), makeRequest(), nodes, 2000));
    expect(counts.c).toBeUndefined();
    expect(counts.a).toBeGreaterThan(900);
    expect(counts.b).toBeGreaterThan(900);
  });
});

describe("least_connections", () => {
  it.each([
    ["guide table → fewest active", guideTable(), "ionet-abc"],
    [
      "ignores total history",
      [makeNode("old", { inFlight: 0, totalRequests: 9999 }), makeNode("new", { inFlight: 1 })],
      "old",
    ],
    [
      "ignores GPU figures",
      [
        makeNode("hot", { inFlight: 0, gpuUsagePercent: 100 }),
        makeNode("cold", { inFlight: 2, gpuUsagePercent: 0 }),
      ],
      "hot",
    ],
  ])("%s", (_name, nodes, expected) => {
    const selection = makeStrategy("least_connections").select(makeRequest(), nodes);
    expect(selection?.node.id).toBe(expected);
    expect(selection?.reason).toBe("least_connections");
  });
});

describe("least_response_time", () => {
  it("guide table → the lowest EWMA response time", () => {
    const selection = makeStrategy("least_response_time").select(makeRequest(), guideTable());
    expect(selection).toMatchObject({ node: { id: "ionet-abc" }, reason: "least_response_time" });
  });

  it("tries an untried node first, then goes to the fastest", () => {
    const strategy = makeStrategy("least_response_time");
    const nodes = [...guideTable(), makeNode("fresh")];
    expect(strategy.select(makeRequest(), nodes)).toMatchObject({
      node: { id: "fresh" },
      reason: "untried_node",
    });
    const measured = [...guideTable(), makeNode("fresh", { ewmaResponseMs: 400 })];
    expect(strategy.select(makeRequest(), measured)?.node.id).toBe("ionet-abc");
  });

  it("falls back to the mean, then its own EWMA of outcomes, when the store has no EWMA", () => {
    const strategy = makeStrategy("least_response_time");
    const a = makeNode("a", { avgResponseMs: 300 });
    const b = makeNode("b");
    for (const node of [a, b]) strategy.onDispatch?.(makeRequest(), node.id);
    strategy.onOutcome?.({
      nodeId: "b",
      model: "llama-3.1-8b",
      ok: true,
      promptTokens: 10,
      completionTokens: 10,
      cachedPromptTokens: 0,
      ttftMs: 5,
      durationMs: 120,
    });
    expect(strategy.select(makeRequest(), [a, b])?.node.id).toBe("b");
  });
});
