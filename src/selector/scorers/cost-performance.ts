import type { NodeSnapshot } from "../../nodes/types.js";
import { slotLoad } from "../node-figures.js";
import type { Scorer } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";
import type { NodeFacts } from "../state/node-facts.js";

/** Price floor ($/h): free or mislabelled nodes must not divide by zero and win everything. */
const MIN_COST = 0.01;

/**
 * Imputes a price for nodes without a `costPerHourUsd` label: the mean of the labelled
 * candidates, or $1/h when none is labelled (then price is constant and performance decides).
 * Leaves every candidate's facts loaded, so callers read `facts.costPerHour[slot]` after it.
 */
export function meanKnownCost(
  facts: NodeFacts,
  nodes: readonly NodeSnapshot[],
  n: number,
  slots: Int32Array,
): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const c = facts.costAt(slots[i] as number, nodes[i] as NodeSnapshot);
    if (!Number.isNaN(c)) {
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
    score(request, nodes, n, out, slots) {
      const fleet = env.fleet;
      const facts = fleet.facts;
      const table = fleet.table;
      // One pass reads the nodes: throughput into out[], and the mean known price on the way
      // (meanKnownCost, fused); the second pass divides by the price.
      const model = request.model;
      const modelId = table.modelId(model);
      let sum = 0;
      let count = 0;
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeSnapshot;
        const slot = slots[i] as number;
        const ix = fleet.indexAt(slot, node);
        fleet.hotAt(ix, modelId, model, false);
        const decodeMs = table.decodeMsPerToken[ix] as number;
        out[i] = 1000 / (decodeMs * (1 + slotLoad(node)));
        const c = facts.costAt(slot, node);
        if (!Number.isNaN(c)) {
          sum += c;
          count++;
        }
      }
      const fallbackCost = count > 0 ? sum / count : 1;
      let best = 0;
      for (let i = 0; i < n; i++) {
        const known = facts.costPerHour[slots[i] as number] as number;
        const value = (out[i] as number) / Math.max(MIN_COST, Number.isNaN(known) ? fallbackCost : known);
        out[i] = Number.isFinite(value) ? value : 0;
        if ((out[i] as number) > best) best = out[i] as number;
      }
      for (let i = 0; i < n; i++) out[i] = best > 0 ? (out[i] as number) / best : 1;
    },
  };
}
