import { describe, expect, it } from "vitest";
import type { NodeSnapshot } from "../../../src/nodes/types.js";
import { createSeededRng } from "../../../src/selector/rng.js";
import { FleetState } from "../../../src/selector/state/fleet-state.js";
import { adaptiveFeatures, createAdaptiveModel } from "../../../src/selector/state/node-record.js";
import type { SelectionRequest } from "../../../src/selector/types.js";
import { makeNode, makeRequest, makeStrategy, picks, tally, testClock } from "./factory.js";

// Seed 003 (EasyRemote load-balancing design): resource_aware, latency_based, cost_aware,
// smart_adaptive — with the per-request requirements of its @remote(...) examples.

const labels = (costPerHourUsd?: number) =>
  costPerHourUsd === undefined ? { region: "r", tier: "t" } : { region: "r", tier: "t", costPerHourUsd };

type Case = [string, NodeSnapshot[], SelectionRequest, string, string];

describe("resource_aware", () => {
  const cases: Case[] = [
    [
      "the seed's monitor picture (45 %, 78 %, 23 % load) → the 23 % node",
      [
        makeNode("gpu-node-1", { gpuUsagePercent: 45 }),
        makeNode("gpu-node-2", { gpuUsagePercent: 78 }),
        makeNode("gpu-node-3", { gpuUsagePercent: 23 }),
      ],
      makeRequest(),
      "gpu-node-3",
      "resource_fit",
    ],
    [
      "VRAM and slot headroom count too",
      [
        makeNode("tight", { gpuUsagePercent: 20, vramUsagePercent: 95, inFlight: 50 }),
        makeNode("roomy", { gpuUsagePercent: 30, vramUsagePercent: 40, inFlight: 2 }),
      ],
      makeRequest(),
      "roomy",
      "resource_fit",
    ],
    [
      "gpu_memory >= 16GB excludes the idle 10 GB card",
      [
        makeNode("3080", { gpu: "rtx3080", gpuUsagePercent: 5 }),
        makeNode("4090", { gpu: "rtx4090", gpuUsagePercent: 60 }),
      ],
      makeRequest({ requirements: { gpuMemoryGb: 16 } }),
      "4090",
      "resource_fit",
    ],
    [
      "nothing meets gpu_memory >= 100GB: best headroom, partial fit",
      [
        makeNode("3080", { gpu: "rtx3080", gpuUsagePercent: 5 }),
        makeNode("4090", { gpu: "rtx4090", gpuUsagePercent: 60 }),
      ],
      makeRequest({ requirements: { gpuMemoryGb: 100 } }),
      "3080",
      "resource_partial_fit",
    ],
    [
      "a cost limit is a requirement as well",
      [
        makeNode("dear", { gpu: "h100", gpuUsagePercent: 5, labels: labels(3.5) }),
        makeNode("cheap", { gpuUsagePercent: 50, labels: labels(0.8) }),
      ],
      makeRequest({ requirements: { maxCostPerHourUsd: 1 } }),
      "cheap",
      "resource_fit",
    ],
  ];
  it.each(cases)("%s", (_name, nodes, request, expected, reason) => {
    expect(makeStrategy("resource_aware").select(request, nodes)).toMatchObject({
      node: { id: expected },
      reason,
    });
  });
});

describe("latency_based: avg latency × (1 + load × 0.5)", () => {
  const a = makeNode("a", { avgResponseMs: 100, inFlight: 0 }); // 100 × 1.0 = 100
  const b = makeNode("b", { avgResponseMs: 80, inFlight: 48 }); // 80 × 1.375 = 110
  const c = makeNode("c", { avgResponseMs: 80, inFlight: 16 }); // 80 × 1.125 = 90
  const cases: Case[] = [
    ["load turns the faster node into the slower one", [a, b], makeRequest(), "a", "lowest_latency"],
    ["lightly loaded fast node wins", [a, b, c], makeRequest(), "c", "lowest_latency"],
    [
      "max_latency 105: only a qualifies",
      [b, a],
      makeRequest({ requirements: { maxLatencyMs: 105 } }),
      "a",
      "lowest_latency",
    ],
    [
      "max_latency 95: nobody qualifies, best effort",
      [b, a],
      makeRequest({ requirements: { maxLatencyMs: 95 } }),
      "a",
      "latency_over_limit",
    ],
    [
      "an untried node is assumed as fast as the fastest measured one",
      [makeNode("a16", { avgResponseMs: 100, inFlight: 16 }), makeNode("new")],
      makeRequest(),
      "new",
      "lowest_latency",
    ],
  ];
  it.each(cases)("%s", (_name, nodes, request, expected, reason) => {
    expect(makeStrategy("latency_based").select(request, nodes)).toMatchObject({
      node: { id: expected },
      reason,
    });
  });
});

describe("cost_aware: performance per cost within budget", () => {
  // Decode tokens/s priors for an 8B model: 4090 ≈ 44, A100-80GB ≈ 89, H100 ≈ 147.
  const rtx = makeNode("4090", { gpu: "rtx4090", labels: labels(0.79) }); // 56 tok/s per $/h
  const a100 = makeNode("a100", { gpu: "a100", labels: labels(1.99) }); // 45
  const h100 = makeNode("h100", { gpu: "h100", labels: labels(3.5) }); // 42
  const cases: Case[] = [
    ["the cheap consumer card is the best value", [h100, a100, rtx], makeRequest(), "4090", "best_value"],
    [
      "a busy cheap card loses its edge (throughput shared with 60 jobs)",
      [h100, a100, makeNode("4090", { gpu: "rtx4090", labels: labels(0.79), inFlight: 60 })],
      makeRequest(),
      "a100",
      "best_value",
    ],
    [
      "budget $3/h excludes the H100 even when it is the only idle one",
      [h100, makeNode("a100", { gpu: "a100", labels: labels(1.99), inFlight: 63 })],
      makeRequest({ requirements: { maxCostPerHourUsd: 3 } }),
      "a100",
      "best_value",
    ],
    [
      "nothing within $0.50/h: the cheapest, flagged",
      [h100, a100, rtx],
      makeRequest({ requirements: { maxCostPerHourUsd: 0.5 } }),
      "4090",
      "budget_exceeded",
    ],
    [
      "an unpriced H100 is valued at the mean known price ($2.15), neither free nor excluded",
      [makeNode("unpriced", { gpu: "h100" }), h100, rtx],
      makeRequest(),
      "unpriced",
      "best_value",
    ],
  ];
  it.each(cases)("%s", (_name, nodes, request, expected, reason) => {
    expect(makeStrategy("cost_aware").select(request, nodes)).toMatchObject({
      node: { id: expected },
      reason,
    });
  });
});

describe("smart_adaptive: online-learned duration per node", () => {
  // Ground truth of a node ~2.5× slower than its RTX 4090 prior: 40 ms + 0.3 ms per prompt token
  // + 45 ms per output token + 0.6 ms per output token per concurrent job.
  const truth = (prompt: number, output: number, batch: number) =>
    40 + 0.3 * prompt + 45 * output + 0.6 * output * batch;

  it("its prediction error shrinks as outcomes arrive", () => {
    const clock = testClock();
    const fleet = new FleetState({
      now: clock.now,
      prefixes: false,
      prefixCapacity: 16,
      prefixBlockTokens: 0,
      learnSpeeds: false,
      adaptive: true,
    });
    const rec = fleet.record(makeNode("n1", { gpu: "rtx4090" }));
    const stats = rec.statsFor("llama-3.1-8b");
    stats.adaptive = createAdaptiveModel(stats); // what the scorer creates for an untried node
    const rng = createSeededRng(9);
    // One job at a time, so the concurrency the fleet state sees (1) is the truth's.
    const sample = () => [100 + rng() * 3900, 10 + rng() * 490, 1] as const;
    const holdout = Array.from({ length: 200 }, sample);
    const x = new Float64Array(4);
    const meanError = () => {
      let sum = 0;
      for (const [p, o, b] of holdout)
        sum += Math.abs((stats.adaptive?.predict(adaptiveFeatures(p, o, b, x)) ?? 0) - truth(p, o, b));
      return sum / holdout.length;
    };
    const errors = [meanError()];
    for (let i = 1; i <= 400; i++) {
      const [p, o, batch] = sample();
      fleet.dispatch(makeRequest({ promptTokens: p, maxTokens: o }), "n1");
      clock.t += 10;
      fleet.outcome({
        nodeId: "n1",
        model: "llama-3.1-8b",
        ok: true,
        promptTokens: p,
        completionTokens: o,
        cachedPromptTokens: 0,
        ttftMs: 40 + 0.3 * p,
        durationMs: truth(p, o, batch) * (1 + (rng() - 0.5) * 0.1), // ±5 % noise
      });
      if (i === 20 || i === 400) errors.push(meanError());
    }
    const [e0, e20, e400] = errors as [number, number, number];
    expect(e0).toBeGreaterThan(2_000); // the prior is far off for this node
    expect(e20).toBeLessThan(e0 / 5);
    expect(e400).toBeLessThan(e20);
    expect(e400).toBeLessThan(100); // < 1 % of a typical 12 s job, under ±5 % noise
  });

  it("learns to avoid a node that turns out slower than its GPU suggests", () => {
    const clock = testClock();
    const strategy = makeStrategy("smart_adaptive", {}, clock);
    const nodes = [makeNode("fast", { gpu: "rtx4090" }), makeNode("slow", { gpu: "rtx4090" })];
    const request = makeRequest({ promptTokens: 500, maxTokens: 200 });
    for (let i = 0; i < 60; i++) {
      const id = i % 2 === 0 ? "fast" : "slow";
      strategy.onDispatch?.(request, id);
      clock.t += 100;
      strategy.onOutcome?.({
        nodeId: id,
        model: request.model,
        ok: true,
        promptTokens: 500,
        completionTokens: 200,
        cachedPromptTokens: 0,
        ttftMs: 60,
        durationMs: id === "fast" ? 4_000 : 12_000,
      });
    }
    const counts = tally(picks(strategy, request, nodes, 50));
    expect(counts).toEqual({ fast: 50 });
    expect(strategy.select(request, nodes)?.reason).toBe("learned_latency");
  });

  it("starts from the GPU prior: an untried H100 beats an untried RTX 3080", () => {
    const nodes = [makeNode("3080", { gpu: "rtx3080" }), makeNode("h100", { gpu: "h100" })];
    expect(makeStrategy("smart_adaptive").select(makeRequest(), nodes)?.node.id).toBe("h100");
  });
});
