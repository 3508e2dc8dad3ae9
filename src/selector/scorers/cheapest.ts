import type { NodeSnapshot } from "../../nodes/types.js";
import type { Scorer } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";
import { meanKnownCost } from "./cost-performance.js";

/**
 * Lowest price per hour wins (score = cheapest / own). cost_aware falls back to it when no node
 * fits the request's budget: the least over-budget node, reported as `budget_exceeded`.
 */
export function createCheapestScorer(_params: unknown, env: PluginEnv): Scorer {
  return {
    name: "cheapest",
    score(_request, nodes, n, out, slots) {
      const facts = env.fleet.facts;
      const fallback = meanKnownCost(facts, nodes, n, slots);
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const known = facts.costAt(slots[i] as number, nodes[i] as NodeSnapshot);
        const c = Math.max(0.01, Number.isNaN(known) ? fallback : known);
        out[i] = c;
        if (c < min) min = c;
      }
      for (let i = 0; i < n; i++) out[i] = min / (out[i] as number);
    },
  };
}
