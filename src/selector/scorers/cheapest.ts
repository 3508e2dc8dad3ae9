import type { NodeSnapshot } from "../../nodes/types.js";
import { costPerHour } from "../node-figures.js";
import type { Scorer } from "../pipeline.js";
import { meanKnownCost } from "./cost-performance.js";

/**
 * Lowest price per hour wins (score = cheapest / own). cost_aware falls back to it when no node
 * fits the request's budget: the least over-budget node, reported as `budget_exceeded`.
 */
export function createCheapestScorer(): Scorer {
  return {
    name: "cheapest",
    score(_request, nodes, n, out) {
      const fallback = meanKnownCost(nodes, n);
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const c = Math.max(0.01, costPerHour(nodes[i] as NodeSnapshot) ?? fallback);
        out[i] = c;
        if (c < min) min = c;
      }
      for (let i = 0; i < n; i++) out[i] = min / (out[i] as number);
    },
  };
}
