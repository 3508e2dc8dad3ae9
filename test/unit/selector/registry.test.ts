import { describe, expect, it } from "vitest";
import {
  createStrategy,
  DEFAULT_STRATEGY,
  isStrategyName,
  STRATEGY_NAMES,
  strategySummary,
} from "../../../src/selector/registry.js";
import { makeNode, makeRequest, SEED_THRESHOLDS } from "./factory.js";

describe("strategy registry", () => {
  it("lists all twelve strategies, the seed default first", () => {
    expect([...STRATEGY_NAMES]).toEqual([
      "metrics",
      "round_robin",
      "weighted_round_robin",
      "equal_weighted",
      "least_connections",
      "least_response_time",
      "resource_aware",
      "latency_based",
      "cost_aware",
      "queue_weighted",
      "smart_adaptive",
      "gpu_aware",
    ]);
    expect(DEFAULT_STRATEGY).toBe("metrics");
    for (const name of STRATEGY_NAMES)
      if (isStrategyName(name)) expect(strategySummary(name).length).toBeGreaterThan(10);
  });

  it.each([
    ["gpu_aware", true],
    ["metrics", true],
    ["GPU_AWARE", false],
    ["toString", false],
    ["", false],
  ])("isStrategyName(%j) → %s", (name, known) => {
    expect(isStrategyName(name)).toBe(known);
  });

  it("rejects an unknown name with the valid ones in the message", () => {
    expect(() => createStrategy("fastest", SEED_THRESHOLDS)).toThrow(
      /unknown .*"fastest".*metrics, round_robin.*gpu_aware/,
    );
    expect(() => createStrategy("__proto__", SEED_THRESHOLDS)).toThrow(Error);
  });

  it("creates independent instances with the given name", () => {
    const a = createStrategy("round_robin", SEED_THRESHOLDS);
    const b = createStrategy("round_robin", SEED_THRESHOLDS);
    const nodes = [makeNode("x"), makeNode("y")];
    expect(a.name).toBe("round_robin");
    a.select(makeRequest(), nodes);
    expect(b.select(makeRequest(), nodes)?.node.id).toBe("x");
  });

  it("tolerates non-finite thresholds by falling back to the seed defaults", () => {
    const strategy = createStrategy("metrics", {
      gpuThreshold: Number.NaN,
      vramThreshold: 90,
      activeRequestThreshold: 10,
    });
    const hot = makeNode("hot", { gpuUsagePercent: 85, vramUsagePercent: 10 });
    const ok = makeNode("ok", { gpuUsagePercent: 75, vramUsagePercent: 10, inFlight: 3 });
    expect(strategy.select(makeRequest(), [hot, ok])?.node.id).toBe("ok");
  });
});
