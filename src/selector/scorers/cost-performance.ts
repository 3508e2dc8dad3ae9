import type { NodeSnapshot } from "../../nodes/types.js";
import { costPerHour, slotLoad } from "../node-figures.js";
import type { Scorer } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";

/** Price floor ($/h): free or mislabelled nodes must not divide by zero and win everything. */
const MIN_COST = 0.01;

/**
 * Imputes a price for nodes without a `costPerHourUsd` label: the mean of the labelled
 * candidates, or $1/h when none is labelled (then price is constant and performance decides).
 */
export function meanKnownCost(nodes: readonly NodeSnapshot[], n: number): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const c = costPerHour(nodes[i] as NodeSnapshot);
    if (c !== undefined) {
      sum += c;
      count++;
    }
  }
  return count > 0 ? sum / count : 1;
}

/**
 * Seed 003 cost_aware: best performance per cost. Performance is the decode throughput this
 * request can expect (tokens/s from the node's learned or prior decode speed for the model,
 * shared with the jobs already in its slots); cost is $/h. Score = value / best value.
 */
export function createCostPerformanceScorer(_params: unknown, env: PluginEnv): Scorer {
  return {
    name: "cost-performance",
    score(request, nodes, n, out) {
      const fallbackCost = meanKnownCost(nodes, n);
      let best = 0;
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeSnapshot;
        const decodeMs = env.fleet.recordAt(i, node).hot(request.model, false).decodeMsPerToken;
        const tokensPerSecond = 1000 / (decodeMs * (1 + slotLoad(node)));
        const value = tokensPerSecond / Math.max(MIN_COST, costPerHour(node) ?? fallbackCost);
        out[i] = Number.isFinite(value) ? value : 0;
        if ((out[i] as number) > best) best = out[i] as number;
      }
      for (let i = 0; i < n; i++) out[i] = best > 0 ? (out[i] as number) / best : 1;
    },
  };
}
